"""What ``mlp train --resume`` continues with (README: Commands).

A resume needs no config: it continues with the run's saved one. A config (or ``--set``)
given alongside may change only what a resume can honour — the number of epochs, early
stopping, the output directory and the checkpoint cadence — and any other difference is
named. ``--epochs N`` sets the total, ``--more N`` trains N epochs past the checkpoint.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from .compare import flatten
from .errors import ConfigError

# keys a resumed run can take from a new config: everything else must match the checkpoint's
RESUMABLE = ("training.epochs", "training.early_stopping", "training.threads", "output", "checkpoint")


@dataclass
class ResumePlan:
    checkpoint: str
    cfg: object = None
    done: int = 0  # epochs completed in the checkpoint
    nothing_to_do: str | None = None  # why there is nothing to train, when there is not


def _changed(saved: dict, new: dict) -> list[str]:
    a, b = flatten(saved), flatten(new)
    keys = [k for k in dict.fromkeys([*a, *b]) if a.get(k) != b.get(k)]
    return [k for k in keys if not any(k == r or k.startswith(r + ".") for r in RESUMABLE)]


def plan_resume(resume, config=None, overrides=(), epochs=None, more=None) -> ResumePlan:
    """The checkpoint and config a resume continues with, or why there is nothing to do."""
    from .checkpoint import find_checkpoint, read_checkpoint
    from .config import load_config, validate
    from .task import fit_config, from_meta
    from .yamlfile import apply_overrides

    path = find_checkpoint(resume, prefer=("last.npz", "best.npz"))
    _, meta, _ = read_checkpoint(path)
    saved = meta["config"]
    if config is not None:
        layers = saved["model"]["layers"]  # the run's widths and head, where the new config leaves them to the data
        new = fit_config(load_config(config, overrides), from_meta(meta, layers[-1]), layers[0]).to_dict()
        source = str(config)
    else:
        new = apply_overrides(copy.deepcopy(saved), list(overrides))
        source = "--set"
    new.setdefault("output", {}).pop("dir", None)  # the run directory comes from --resume/--out
    changed = _changed({**saved, "output": {}}, new)
    if changed:
        a, b = flatten(saved), flatten(new)
        diffs = ", ".join(f"{k} ({a.get(k)!r} in the run, {b.get(k)!r} in {source})" for k in changed[:5])
        more_keys = f" and {len(changed) - 5} more" if len(changed) > 5 else ""
        raise ConfigError(f"{path}: a resume continues the run as it was; {source} differs in {diffs}{more_keys}. "
                          f"A resume can change only {', '.join(RESUMABLE)}: start a new run for the rest, "
                          "or leave the config out to continue with the run's own")
    merged = copy.deepcopy(saved)
    for key in ("early_stopping", "epochs"):
        if key in new.get("training", {}) or key in merged["training"]:
            merged["training"][key] = new.get("training", {}).get(key)
    merged["checkpoint"] = new.get("checkpoint", merged.get("checkpoint"))
    if "log" in new.get("output", {}):  # the loggers (--log) may change too
        merged.setdefault("output", {})["log"] = new["output"]["log"]
    merged = {k: v for k, v in merged.items() if v is not None}
    merged["training"] = {k: v for k, v in merged["training"].items() if v is not None}
    done, mid_epoch = int(meta.get("epoch", 0)), bool(meta.get("batch"))
    if epochs is not None and more is not None:
        raise ConfigError("--epochs sets the total and --more adds to the checkpoint's epochs: give one of them")
    if more is not None:
        merged["training"]["epochs"] = done + more
    elif epochs is not None:
        merged["training"]["epochs"] = epochs
    total = merged["training"]["epochs"]
    plan = ResumePlan(path, done=done)
    es = merged["training"].get("early_stopping")
    wait = ((meta.get("callbacks") or {}).get("early_stopping") or {}).get("wait", 0)
    if es and wait > es.get("patience", 10) and not mid_epoch:  # early stopping ended the run, and would again
        monitor = (meta.get("early_stopping") or {}).get("monitor", es.get("monitor"))
        plan.nothing_to_do = (f"the run stopped early after epoch {done}: {monitor} did not improve for {wait} epochs; "
                              "to train on, raise training.early_stopping.patience (--set) or turn it off, with --more N")
    elif total <= done and not mid_epoch:
        plan.nothing_to_do = f"{done} of {total} epochs done; add --more N"
    source = f"{path} (its config)"
    plan.cfg = validate(merged, source).located(source, name="resumed")
    return plan

