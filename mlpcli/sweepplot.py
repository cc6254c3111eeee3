"""``mlp plot SWEEP_DIR``: ``sweep.png``, the metric of each trial with the best-so-far line,
and the metric against each searched parameter. Read from ``sweep.csv`` and ``sweep.yaml``
alone, so it needs matplotlib (the ``plot`` extra) but not Optuna."""

from __future__ import annotations

import csv
import math
import os

import yaml

from .errors import RunDirError


def is_sweep_dir(path) -> bool:
    return os.path.isfile(os.path.join(path, "sweep.yaml")) and os.path.isfile(os.path.join(path, "sweep.csv"))


def _float(v):
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def read_sweep_dir(sweep_dir):
    """(the validated sweep file, the rows of sweep.csv)."""
    from .sweepfile import SweepSpec

    try:
        with open(os.path.join(sweep_dir, "sweep.yaml")) as f:
            spec = SweepSpec.model_validate(yaml.safe_load(f))
        with open(os.path.join(sweep_dir, "sweep.csv"), newline="") as f:
            rows = list(csv.DictReader(f))
    except (OSError, ValueError, yaml.YAMLError) as e:
        raise RunDirError(f"{sweep_dir}: cannot read the sweep: {e}") from None
    return spec, rows


def best_so_far(values, maximize: bool) -> list:
    """The running best of ``values`` (None where nothing finished yet)."""
    out, best = [], None
    for v in values:
        if v is not None and (best is None or (v > best if maximize else v < best)):
            best = v
        out.append(best)
    return out


def plot_sweep(sweep_dir, out=None) -> list[str]:
    from .plots import _pyplot, _save

    plt = _pyplot()
    sweep_dir = os.fspath(sweep_dir)
    spec, rows = read_sweep_dir(sweep_dir)
    m = spec.metric
    rows = [r for r in rows if r["state"] in ("complete", "pruned") and _float(r[m]) is not None]
    if not rows:
        raise RunDirError(f"{sweep_dir}: no trial has finished yet; nothing to plot")
    keys = list(spec.space)
    n = 1 + len(keys)
    cols = min(n, 3)
    nrows = math.ceil(n / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(4.6 * cols, 3.8 * nrows), squeeze=False, constrained_layout=True)
    for ax in axes.flat[n:]:
        ax.axis("off")
    done = [r for r in rows if r["state"] == "complete"]
    pruned = [r for r in rows if r["state"] == "pruned"]
    ax = axes.flat[0]
    for group, style, label in ((done, {"marker": "o", "color": "tab:blue"}, "complete"),
                                (pruned, {"marker": "x", "color": "tab:gray"}, "pruned (last epoch's value)")):
        if group:
            ax.scatter([int(r["trial"]) for r in group], [float(r[m]) for r in group], s=22, label=label, **style)
    trials = [int(r["trial"]) for r in done]
    if done:
        ax.step(trials, best_so_far([float(r[m]) for r in done], spec.direction == "maximize"), where="post",
                color="tab:red", label="best so far")
    ax.set(title=f"{m} per trial ({spec.direction})", xlabel="trial", ylabel=m)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    for ax, key in zip(axes.flat[1:], keys, strict=False):
        dist = spec.space[key]
        for group, style in ((done, {"marker": "o", "color": "tab:blue"}), (pruned, {"marker": "x", "color": "tab:gray"})):
            ys = [float(r[m]) for r in group]
            if dist.kind == "choice":
                labels = [str(c) if not isinstance(c, (list, dict)) else yaml.safe_dump(c, default_flow_style=True).strip()
                          for c in dist.choice]
                stored = [r[key] for r in group]
                index = {_choice_key(c): i for i, c in enumerate(dist.choice)}
                xs = [index.get(s, -1) for s in stored]
                ax.set_xticks(range(len(labels)), labels, rotation=20, fontsize=8)
                ax.set_xlim(-0.5, len(labels) - 0.5)
            else:
                xs = [float(r[key]) for r in group]
            if group:
                ax.scatter(xs, ys, s=22, **style)
        if dist.kind == "log_uniform":
            ax.set_xscale("log")
        ax.set(title=f"{m} against {key}", xlabel=key, ylabel=m)
        ax.grid(alpha=0.3)
    path = os.path.join(os.fspath(out) if out is not None else os.path.join(sweep_dir, "plots"), "sweep.png")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return [_save(fig, path)]


def _choice_key(value) -> str:
    """A choice as sweep.csv writes it."""
    from .sweepfile import _label

    v = _label(value)
    return str(v) if not isinstance(v, float) else f"{v:.6g}"
