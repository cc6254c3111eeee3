"""``mlp plot``: what the notes draw, from a run directory.

``learning_curves.png`` (loss, accuracy or R^2, and the learning rate per epoch),
``diagnostics.png`` (per layer: gradient norm, update ratio, dead or saturated units; README "Diagnostics"),
``weights.png`` (first-layer weights: image tiles for square-image inputs, else a heat map),
``confusion_matrix.png`` (classification), ``decision_boundary.png`` (2-D inputs, classification)
and ``pred_vs_true.png`` (regression). Needs the ``plot`` extra (matplotlib).
"""

from __future__ import annotations

import math
import os

import numpy as np

from .errors import RunDirError, require

MAX_TILES = 64
DPI = 100


def _pyplot():
    """matplotlib's pyplot (Agg, no display needed), or the README's install command when it is missing."""
    require("matplotlib", "plot", "plots need matplotlib").use("Agg")
    return require("matplotlib.pyplot", "plot", "plots need matplotlib")


def check_matplotlib() -> None:
    """Fail now, not after training, when plots are asked for and matplotlib is missing."""
    _pyplot()


def _save(fig, path) -> str:
    fig.savefig(path, dpi=DPI)
    _pyplot().close(fig)
    return str(path)


METRIC_NAMES = {"acc": "accuracy", "r2": "R²", "mse": "mean squared error"}


def _metric_of(history: list[dict]) -> str | None:
    return next((m for m in ("acc", "r2", "mse") if any(r.get(f"train_{m}") is not None for r in history)), None)


def _column(history: list[dict], key: str) -> list:
    return [np.nan if r.get(key) is None else r[key] for r in history]


def learning_curves(history: list[dict], path) -> str:
    """Loss, accuracy (or R²) and learning rate per epoch of one run."""
    return compare_curves({"": history}, path)


def compare_curves(histories: dict, path) -> str:
    """The learning curves of several runs (label -> metrics.csv rows) overlaid in one PNG."""
    return _save(curves_figure(histories), path)


def curves_figure(histories: dict):
    """Loss, accuracy or R², and the learning rate per epoch: one colour per run, train solid,
    validation dashed."""
    from matplotlib.ticker import MaxNLocator, ScalarFormatter

    plt = _pyplot()
    rows = [r for h in histories.values() for r in h]
    metric = _metric_of(rows)
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), constrained_layout=True)
    for i, (label, history) in enumerate(histories.items()):
        epochs = [int(r["epoch"]) for r in history]
        color = f"C{i % 10}"
        for ax, key in ((axes[0], "loss"), (axes[1], metric)):
            for split, style in (("train", "-"), ("val", "--")):
                ys = _column(history, f"{split}_{key}")
                if key and not np.all(np.isnan(ys)):
                    ax.plot(epochs, ys, style, color=color, label=f"{label} {split}".strip())
        axes[2].plot(epochs, _column(history, "lr"), color=color if len(histories) > 1 else "tab:green", label=label or None)
    for ax, title in zip(axes, ("loss", METRIC_NAMES.get(metric, ""), "learning rate"), strict=True):
        ax.set(title=title, xlabel="epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8 if len(histories) > 2 else None)
    losses = np.array([v for r in rows for v in (r.get("train_loss"), r.get("val_loss")) if v is not None], dtype=float)
    if losses.size and np.all(losses[np.isfinite(losses)] > 0):
        axes[0].set_yscale("log")
    if metric == "r2":  # the part near 1 that matters, not the first epochs' large negative R²
        r2 = np.array([v for r in rows for v in (r.get("train_r2"), r.get("val_r2")) if v is not None], dtype=float)
        r2 = r2[np.isfinite(r2)]
        if r2.size:
            low = max(float(r2.min()), -0.1)
            axes[1].set_ylim(low - 0.02 * (1 - low), 1 + 0.02 * (1 - low))
    lr = np.array([r["lr"] for r in rows if r.get("lr") is not None], dtype=float)
    if lr.size and lr.max() > 0:  # from 0, so a constant rate is a flat line at its value, not noise around it
        axes[2].set_ylim(0, 1.15 * lr.max())
        axes[2].yaxis.set_major_formatter(ScalarFormatter(useOffset=False))
    return fig


DIAGNOSTIC_PANELS = ((r"grad_norm_W(\d+)", "gradient norm ||dL/dW_l|| on the probe batch", "log"),
                     (r"update_ratio_W(\d+)", "update ratio ||ΔW_l|| / ||W_l|| (last step)", "log"),
                     (r"(dead|saturated)_(\d+)", "fraction of dead (ReLU) / saturated units", "linear"))


def diagnostics(history: list[dict], path) -> str | None:
    """Per layer and epoch: ||dL/dW_l||, the update ratio and the fraction of dead (ReLU) or
    saturated (sigmoid, tanh) units (README "Diagnostics"); None when the run has none."""
    import re

    from matplotlib.ticker import MaxNLocator

    columns = list(dict.fromkeys(k for r in history for k in r))
    if not any(re.fullmatch(DIAGNOSTIC_PANELS[0][0], k) for k in columns):
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), constrained_layout=True)
    epochs = [int(r["epoch"]) for r in history]
    for ax, (pattern, title, scale) in zip(axes, DIAGNOSTIC_PANELS, strict=True):
        for k in columns:
            if (m := re.fullmatch(pattern, k)) is not None:
                layer = int(m.groups()[-1])
                label = f"layer {layer}" + (f" {m.group(1)}" if len(m.groups()) > 1 else "")
                ax.plot(epochs, _column(history, k), "--" if k.startswith("saturated") else "-", label=label,
                        color=f"C{(layer - 1) % 10}")  # one colour per layer in every panel
        ax.set(title=title, xlabel="epoch", yscale=scale)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    axes[2].set_ylim(-0.02, 1.02)
    return _save(fig, path)


def weight_tiles(W1, max_tiles: int = MAX_TILES):
    """The first rows of W1 as square images (unit j's weights over the input pixels), or None."""
    side = math.isqrt(W1.shape[1])
    if side * side != W1.shape[1] or side < 4:
        return None
    return W1[:max_tiles].reshape(-1, side, side)


def weights(W1, path) -> str:
    plt = _pyplot()
    tiles = weight_tiles(W1)
    if tiles is not None:
        k = len(tiles)
        cols = math.ceil(math.sqrt(k))
        rows = math.ceil(k / cols)
        fig, axes = plt.subplots(rows, cols, figsize=(8, 8 * rows / cols + 0.6), squeeze=False,
                                 gridspec_kw={"wspace": 0.05, "hspace": 0.05})
        fig.subplots_adjust(left=0.01, right=0.88, bottom=0.01, top=0.93)
        v = float(np.abs(tiles).max()) or 1.0  # one symmetric scale: positive and negative weights comparable
        for ax in axes.flat:
            ax.axis("off")
        for ax, tile in zip(axes.flat, tiles, strict=False):
            im = ax.imshow(tile, cmap="RdBu_r", vmin=-v, vmax=v, interpolation="nearest")
        fig.suptitle(f"first-layer weights: units 1-{k} of {W1.shape[0]}, one tile per unit (red +, blue -)")
        fig.colorbar(im, cax=fig.add_axes((0.90, 0.2, 0.025, 0.6)))
    else:
        fig, ax = plt.subplots(figsize=(8, 5), constrained_layout=True)
        v = float(np.abs(W1).max()) or 1.0
        im = ax.imshow(W1, cmap="RdBu_r", vmin=-v, vmax=v, aspect="auto", interpolation="nearest")
        ax.set(title="first-layer weights W1", xlabel="input", ylabel="hidden unit")
        fig.colorbar(im, ax=ax)
    return _save(fig, path)


def confusion(cm, path, split: str) -> str:
    plt = _pyplot()
    k = len(cm)
    per_class = np.diag(cm) / np.maximum(cm.sum(1), 1)
    fig, ax = plt.subplots(figsize=(7, 6), constrained_layout=True)
    ax.imshow(cm / np.maximum(cm.sum(1, keepdims=True), 1), cmap="Blues", vmin=0, vmax=1)
    ax.set_yticks(range(k), [f"{i}  ({a:.1%})" for i, a in enumerate(per_class)])
    ax.set_xticks(range(k))
    ax.set(xlabel="predicted class", ylabel="true class (per-class accuracy)",
           title=f"{split} split: accuracy {np.trace(cm) / max(cm.sum(), 1):.2%} on {cm.sum()} samples")
    if k <= 20:
        size = _cell_fontsize(fig, ax, k, len(str(int(cm.max()))))
        for i in range(k):
            for j in range(k):
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=size,
                        color="white" if cm[i, j] > 0.5 * max(cm[i].sum(), 1) else "black")
    return _save(fig, path)


def _cell_fontsize(fig, ax, k: int, digits: int) -> float:
    """A font size (points) at which ``digits`` digits (about 0.64 em wide each) fill at most
    ~65% of a cell's width and 40% of its height, capped at 16 points."""
    fig.canvas.draw()  # the final layout, so the axes' size is known
    box = ax.get_window_extent()
    cell = min(box.width, box.height) / k * 72 / fig.dpi  # points
    return float(min(16.0, 0.4 * cell, 0.65 * cell / (0.64 * max(digits, 1))))


def decision_boundary(net, X, y, path, normalized: bool = False) -> str:
    plt = _pyplot()
    X = np.asarray(X, dtype=np.float64)
    lo, hi = X.min(0), X.max(0)
    pad = 0.25 * np.maximum(hi - lo, 1e-3)
    g0, g1 = np.meshgrid(np.linspace(lo[0] - pad[0], hi[0] + pad[0], 300), np.linspace(lo[1] - pad[1], hi[1] + pad[1], 300))
    A = net.forward(np.c_[g0.ravel(), g1.ravel()])
    fig, ax = plt.subplots(figsize=(6, 5), constrained_layout=True)
    if A.shape[1] == 1:  # the probability of class 1, and the 0.5 line
        surf = ax.contourf(g0, g1, A[:, 0].reshape(g0.shape), levels=np.linspace(0, 1, 21), cmap="RdBu_r", alpha=0.8)
        ax.contour(g0, g1, A[:, 0].reshape(g0.shape), levels=[0.5], colors="k", linewidths=1.5)
        fig.colorbar(surf, ax=ax, label="output (class 1 above 0.5)", ticks=np.linspace(0, 1, 5))
    else:
        ax.contourf(g0, g1, A.argmax(1).reshape(g0.shape), levels=np.arange(A.shape[1] + 1) - 0.5, cmap="tab10", alpha=0.4)
    from .metrics import true_classes

    labels = true_classes(y)
    for c in np.unique(labels):  # one marker per class, white-edged so points stand out on any region
        pts = X[labels == c]
        ax.scatter(pts[:, 0], pts[:, 1], marker="o^sDvP*Xph"[c % 10], s=70, c="k", edgecolors="w", linewidths=1.5,
                   label=f"class {c}")
    ax.legend(loc="upper right", framealpha=0.8)
    from matplotlib.ticker import MaxNLocator

    for axis in (ax.xaxis, ax.yaxis):  # round steps (0.25, 0.5, 1, ...), about six of them
        axis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))
    unit = " (normalised)" if normalized else ""
    ax.set(title="decision boundary and data", xlabel=f"x1{unit}", ylabel=f"x2{unit}")
    return _save(fig, path)


def pred_vs_true(A, y, path, split: str) -> str:
    plt = _pyplot()
    A, Y = np.asarray(A).reshape(len(A), -1), np.asarray(y, dtype=np.float64).reshape(len(A), -1)
    k = min(A.shape[1], 4)
    fig, axes = plt.subplots(1, k, figsize=(4 * k, 4), squeeze=False, constrained_layout=True)
    from .metrics import regression_metrics

    for j, ax in enumerate(axes[0]):
        r2 = regression_metrics(A[:, j], Y[:, j])["r2"]
        ax.scatter(Y[:, j], A[:, j], s=8, alpha=0.6)
        lims = [min(Y[:, j].min(), A[:, j].min()), max(Y[:, j].max(), A[:, j].max())]
        ax.plot(lims, lims, "k--", lw=1)
        ax.set(title=f"output {j + 1}: R² {r2:.4f}", xlabel="true", ylabel="predicted")
    fig.suptitle(f"{split} split")
    return _save(fig, path)


def plot_run(run_dir, out=None) -> list[str]:
    """Write every plot that applies to the run into ``out`` (default RUN_DIR/plots); return the paths."""
    from .checkpoint import find_checkpoint
    from .data import load_data
    from .evaluation import data_config_for
    from .model import evaluate
    from .runs import read_metrics
    from .trained import load_checkpoint

    _pyplot()
    ckpt = find_checkpoint(run_dir)  # a run directory's best.npz (else last.npz), or the checkpoint given
    if not os.path.isfile(ckpt):
        raise RunDirError(f"{ckpt}: no such run directory or checkpoint; give the directory mlp train wrote")
    run_dir = os.path.dirname(ckpt)
    out = os.fspath(out) if out is not None else os.path.join(run_dir, "plots")
    os.makedirs(out, exist_ok=True)
    written = []
    metrics = os.path.join(run_dir, "metrics.csv")
    history = read_metrics(metrics) if os.path.exists(metrics) else []
    if history:
        written.append(learning_curves(history, os.path.join(out, "learning_curves.png")))
        written += [p for p in [diagnostics(history, os.path.join(out, "diagnostics.png"))] if p]
    net = load_checkpoint(ckpt)
    written.append(weights(net.params["W1"], os.path.join(out, "weights.png")))
    ds = load_data(data_config_for(net), normalizer=net.normalizer, task=net.task)
    split = next(s for s in ("test", "val", "train") if getattr(ds, s) is not None)
    s = getattr(ds, split)
    if net.task.classification:  # the task decided in training, stored in the checkpoint
        _, cm = evaluate(net.model, s.X, s.y, net.task, confusion=True)
        written.append(confusion(cm, os.path.join(out, "confusion_matrix.png"), split))
        if net.layers[0] == 2:
            Xs = s.X[:] if not isinstance(s.X, np.ndarray) else s.X
            written.append(decision_boundary(net, Xs, s.y, os.path.join(out, "decision_boundary.png"),
                                             normalized=net.normalizer.get("kind", "none") != "none"))
    else:
        written.append(pred_vs_true(net.forward(s.X), s.y, os.path.join(out, "pred_vs_true.png"), split))
    return written
