"""``mlp plot``: what the notes draw, from a run directory.

``learning_curves.png`` (loss, accuracy or R^2, and the learning rate per epoch),
``weights.png`` (first-layer weights: image tiles for square-image inputs, else a heat map),
``confusion_matrix.png`` (classification), ``decision_boundary.png`` (2-D inputs, classification)
and ``pred_vs_true.png`` (regression). Needs the ``plot`` extra (matplotlib).
"""

from __future__ import annotations

import math
import os

import numpy as np

from .errors import DependencyError, RunDirError

MAX_TILES = 64
DPI = 100


def _pyplot():
    """matplotlib's pyplot (Agg, no display needed), or the README's install command when it is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise DependencyError('plots need matplotlib: python -m pip install -e ".[plot]"') from None
    return plt


def check_matplotlib() -> None:
    """Fail now, not after training, when plots are asked for and matplotlib is missing."""
    _pyplot()


def _save(fig, path) -> str:
    fig.savefig(path, dpi=DPI)
    _pyplot().close(fig)
    return str(path)


def learning_curves(history: list[dict], path) -> str:
    plt = _pyplot()
    epochs = [int(r["epoch"]) for r in history]
    metric = next((m for m in ("acc", "r2", "mse") if any(r.get(f"train_{m}") is not None for r in history)), None)
    names = {"acc": "accuracy", "r2": "R²", "mse": "mean squared error"}
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), constrained_layout=True)
    for ax, key, title in ((axes[0], "loss", "loss"), (axes[1], metric, names.get(metric, ""))):
        for split, style in (("train", "-"), ("val", "--")):
            ys = [r.get(f"{split}_{key}") for r in history]
            if key and any(v is not None for v in ys):
                ax.plot(epochs, [np.nan if v is None else v for v in ys], style, label=split)
        ax.set(title=title, xlabel="epoch")
        ax.legend()
        ax.grid(alpha=0.3)
    if history and all(r.get("train_loss", 0) > 0 for r in history):
        axes[0].set_yscale("log")
    axes[2].plot(epochs, [r["lr"] for r in history], color="tab:green")
    axes[2].set(title="learning rate", xlabel="epoch")
    axes[2].grid(alpha=0.3)
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
    if k <= 20:
        for i in range(k):
            for j in range(k):
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if cm[i, j] > 0.5 * max(cm[i].sum(), 1) else "black")
    ax.set_yticks(range(k), [f"{i}  ({a:.1%})" for i, a in enumerate(per_class)])
    ax.set_xticks(range(k))
    ax.set(xlabel="predicted class", ylabel="true class (per-class accuracy)",
           title=f"{split} split: accuracy {np.trace(cm) / max(cm.sum(), 1):.2%} on {cm.sum()} samples")
    return _save(fig, path)


def decision_boundary(net, X, y, path, normalized: bool = False) -> str:
    plt = _pyplot()
    X = np.asarray(X, dtype=np.float64)
    lo, hi = X.min(0), X.max(0)
    pad = 0.25 * np.maximum(hi - lo, 1e-3)
    g0, g1 = np.meshgrid(np.linspace(lo[0] - pad[0], hi[0] + pad[0], 300), np.linspace(lo[1] - pad[1], hi[1] + pad[1], 300))
    A = net.forward(np.c_[g0.ravel(), g1.ravel()])
    fig, ax = plt.subplots(figsize=(6, 5), constrained_layout=True)
    if A.shape[1] == 1:  # the probability of class 1, and the 0.5 line
        surf = ax.contourf(g0, g1, A[:, 0].reshape(g0.shape), levels=20, cmap="RdBu_r", alpha=0.8)
        ax.contour(g0, g1, A[:, 0].reshape(g0.shape), levels=[0.5], colors="k", linewidths=1.5)
        fig.colorbar(surf, ax=ax, label="output (class 1 above 0.5)")
    else:
        ax.contourf(g0, g1, A.argmax(1).reshape(g0.shape), levels=np.arange(A.shape[1] + 1) - 0.5, cmap="tab10", alpha=0.4)
    from .metrics import true_classes

    labels = true_classes(y)
    for c in np.unique(labels):  # one marker per class, white-edged so points stand out on any region
        pts = X[labels == c]
        ax.scatter(pts[:, 0], pts[:, 1], marker="o^sDvP*Xph"[c % 10], s=70, c="k", edgecolors="w", linewidths=1.5,
                   label=f"class {c}")
    ax.legend(loc="upper right", framealpha=0.8)
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
    net = load_checkpoint(ckpt)
    written.append(weights(net.params["W1"], os.path.join(out, "weights.png")))
    ds = load_data(data_config_for(net), normalizer=net.normalizer)
    split = next(s for s in ("test", "val", "train") if getattr(ds, s) is not None)
    s = getattr(ds, split)
    if ds.task == "classification":
        _, cm = evaluate(net.model, s.X, s.y, ds.task, confusion=True)
        written.append(confusion(cm, os.path.join(out, "confusion_matrix.png"), split))
        if net.layers[0] == 2:
            Xs = s.X[:] if not isinstance(s.X, np.ndarray) else s.X
            written.append(decision_boundary(net, Xs, s.y, os.path.join(out, "decision_boundary.png"),
                                             normalized=net.normalizer.get("kind", "none") != "none"))
    else:
        written.append(pred_vs_true(net.forward(s.X), s.y, os.path.join(out, "pred_vs_true.png"), split))
    return written
