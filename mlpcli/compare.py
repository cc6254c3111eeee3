"""``mlp compare``: runs side by side, from their run directories.

For each run: the config keys in which the runs differ (the resolved ``config.yaml``), the
epochs run and the best epoch, the final train/val/test metrics (of the weights the run
ended with: ``best.npz`` when early stopping restored the best epoch, else ``last.npz``)
and the seconds spent training (the sum of ``metrics.csv``'s epoch times).
"""

from __future__ import annotations

import os

from .errors import RunDirError
from .metrics import HEADLINE
from .safeio import resolved


def flatten(d: dict, prefix: str = "") -> dict:
    """{"optimizer": {"lr": 0.1}} -> {"optimizer.lr": 0.1}"""
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def config_differences(configs: list[dict]) -> dict:
    """key path -> the value in each run, for the keys whose values are not all equal (a key a
    run does not have counts as None); the run directory itself is left out."""
    flat = [flatten(c) for c in configs]
    keys = list(dict.fromkeys(k for f in flat for k in f))
    diff = {k: [f.get(k) for f in flat] for k in keys if k != "output.dir"}
    return {k: vals for k, vals in diff.items() if any(v != vals[0] for v in vals[1:])}


def final_checkpoint(run_dir: str, meta: dict) -> str:
    """The checkpoint holding the weights the run ended with."""
    es = meta["config"]["training"].get("early_stopping")
    best = os.path.join(run_dir, "best.npz")
    return best if es and es.get("restore_best") and os.path.isfile(best) else os.path.join(run_dir, "last.npz")


def summarize_run(run_dir) -> dict:
    from .data import load_data
    from .dataset import target_units
    from .evaluation import data_config_for
    from .model import split_metrics
    from .runs import read_metrics
    from .trained import load_checkpoint

    run_dir = os.fspath(run_dir)
    if not os.path.isfile(os.path.join(run_dir, "last.npz")):
        raise RunDirError(f"{run_dir}: not a run directory (no last.npz); give directories written by mlp train")
    last = load_checkpoint(os.path.join(run_dir, "last.npz"))
    meta = last.meta
    path = final_checkpoint(run_dir, meta)
    net = last if path.endswith("last.npz") else load_checkpoint(path)
    metrics_csv = os.path.join(run_dir, "metrics.csv")
    history = read_metrics(metrics_csv) if os.path.isfile(metrics_csv) else meta.get("history") or []
    ds = load_data(data_config_for(net), normalizer=net.normalizer, task=net.task)
    metrics = split_metrics(net.model, ds, target_units(ds.normalizer))
    es = meta.get("early_stopping") or {}
    return {
        "run_dir": resolved(run_dir), "config": meta["config"], "epochs": int(meta.get("epoch", len(history))),
        "best_epoch": es.get("best_epoch"), "stop_reason": es.get("stop_reason"), "checkpoint": resolved(path),
        "seconds": round(sum(r.get("seconds") or 0.0 for r in history), 3), "metrics": metrics,
        "history": history,
    }


def compare_runs(run_dirs) -> dict:
    """The runs' summaries and the config keys in which they differ."""
    runs = [summarize_run(d) for d in run_dirs]
    return {"differences": config_differences([r["config"] for r in runs]), "runs": runs}


def comparison_table(report: dict, number):
    """A Rich table: one column per run; config differences, then epochs, metrics and seconds.
    ``number`` formats a metric."""
    from rich.markup import escape  # paths and config values are text, never markup
    from rich.table import Table

    runs = report["runs"]
    t = Table()
    t.add_column("")
    for label in run_labels([r["run_dir"] for r in runs]):
        t.add_column(escape(label), justify="right")
    for key, values in report["differences"].items():
        t.add_row(escape(key), *("-" if v is None else escape(str(v)) for v in values))
    if report["differences"]:
        t.add_section()
    t.add_row("epochs", *(str(r["epochs"]) for r in runs))
    t.add_row("stopped by", *(str(r["stop_reason"] or "-") for r in runs))
    t.add_row("best epoch", *("-" if r["best_epoch"] is None else str(r["best_epoch"]) for r in runs))
    names = list(dict.fromkeys(f"{split} {k}" for r in runs for split, m in r["metrics"].items() for k in m
                               if k in HEADLINE))  # the headline numbers; --json has every one
    for name in names:
        split, k = name.split(" ", 1)
        t.add_row(name, *(number(r["metrics"][split][k]) if k in r["metrics"].get(split, {}) else "-" for r in runs))
    t.add_row("seconds", *(number(r["seconds"]) for r in runs))
    return t


def run_labels(run_dirs) -> list[str]:
    """Short names for runs: their directory names, or their paths when those repeat."""
    names = [os.path.basename(os.path.normpath(os.fspath(d))) or os.fspath(d) for d in run_dirs]
    return names if len(set(names)) == len(names) else [os.fspath(d) for d in run_dirs]


def plot_comparison(run_dirs, out) -> str:
    """compare_learning_curves.png in ``out``: the runs' learning curves overlaid."""
    from .plots import check_matplotlib, compare_curves
    from .runs import read_metrics

    check_matplotlib()
    histories = {}
    for label, d in zip(run_labels(run_dirs), run_dirs, strict=True):
        path = os.path.join(os.fspath(d), "metrics.csv")
        if not os.path.isfile(path):
            raise RunDirError(f"{os.fspath(d)}: no metrics.csv; give run directories written by mlp train")
        histories[label] = read_metrics(path)
    os.makedirs(out, exist_ok=True)
    return compare_curves(histories, os.path.join(os.fspath(out), "compare_learning_curves.png"))
