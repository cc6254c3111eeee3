"""Diagnostics: the notes' vanishing gradients and dead neurons, made visible (README "Diagnostics").

Every epoch, per layer ``l``, into the epoch's row (metrics.csv, the loggers):

- ``grad_norm_W{l}``: ``||dL/dW_l||`` on the probe batch at the epoch's final weights, the l2 term
  included: the true gradient, whatever factor an optimiser folds into backprop (plain SGD's lr).
- ``update_ratio_W{l}``: ``||dW_l|| / ||W_l||`` of the epoch's last optimiser step, the change the
  step made relative to the weights it changed (around 1e-3 is healthy).
- ``dead_{l}`` (ReLU hidden layers): the fraction of units never active (output 0) on the probe batch.
- ``saturated_{l}`` (sigmoid and tanh hidden layers): the fraction of units whose output is within
  1% of an asymptote (sigmoid: below 0.01 or above 0.99; tanh: beyond +-0.98) on every probe sample.

The probe batch is fixed for the run: up to 1,024 training samples spread evenly over the
training set. One forward and backward pass on it gives the norms and the activations.
"""

from __future__ import annotations

import re

import numpy as np

from .hooks import Callback

PROBE_SIZE = 1024
SATURATION = {"sigmoid": (0.01, 0.99), "tanh": (-0.98, 0.98)}  # 1% of the output range from each asymptote
VANISHING = 1e-3  # the first layer's gradient norm below this times the last layer's
COLUMN = re.compile(r"(grad_norm_W|update_ratio_W|dead_|saturated_)\d+")  # the columns diagnostics add to a row


def probe_rows(n: int, size: int = PROBE_SIZE) -> np.ndarray:
    """Up to ``size`` row numbers spread evenly over ``n`` rows (all of them when n <= size)."""
    rows = np.linspace(0, n - 1, min(n, size)).round().astype(np.intp)
    return rows[np.concatenate(([True], rows[1:] != rows[:-1]))]  # sorted already: repeats dropped (np.unique imports numpy.ma)


def inactive_units(outputs: np.ndarray, activation: str) -> np.ndarray | None:
    """The units (columns of a layer's outputs A) that are dead (ReLU) or saturated (sigmoid, tanh)
    on every row; None for an activation without such a state."""
    if activation == "relu":  # outputs >= 0 (or NaN): a unit is never active when its column sums to 0, and
        # one GEMV finds the sums about ten times faster than a column-wise max over the probe's rows
        return np.flatnonzero(np.ones(len(outputs), outputs.dtype) @ outputs <= 0)
    if activation in SATURATION:
        lo, hi = SATURATION[activation]
        return np.flatnonzero(((outputs <= lo) | (outputs >= hi)).all(axis=0))
    return None


def update_ratio(W, W_before) -> float | None:
    """||W - W_before|| / ||W_before||: a step's change relative to the weights it changed (0 for zero weights)."""
    norm = float(np.linalg.norm(W_before))
    return finite(float(np.linalg.norm(W - W_before)) / norm) if norm > 0 else 0.0


def finite(x) -> float | None:
    """x as a float, or None (an empty metrics.csv cell, JSON null) when it overflowed."""
    x = float(x)
    return x if np.isfinite(x) else None


class Diagnostics(Callback):
    """Gradient norms, update ratios, dead and saturated units per layer and epoch (module docstring),
    with one warning line each, once, when a layer is mostly dead or the gradients vanish."""

    order, key = 40, "diagnostics"

    def __init__(self, warn=None):
        self.warn = warn or _stderr_warning
        self.inactive, self.warned = {}, set()  # layer -> unit numbers (last epoch); warnings given
        self.before = None  # the weights before the epoch's last step

    def on_train_start(self, trainer):
        m, rows = trainer.model, probe_rows(trainer.n)
        self.X = np.array(trainer.X[rows], dtype=m.dtype)  # an array, or a memory-mapped file's rows
        self.Y = np.ascontiguousarray(trainer.Y[rows])
        self.before = [W.copy() for W in m.W]

    def ensure_probe(self, trainer):
        if self.before is None:  # epochs run without on_train_start (benchmarks, tests)
            self.on_train_start(trainer)

    def keep_before(self, trainer):
        """Copy the weights when the next step is the epoch's last one."""
        if trainer.batch == trainer.n_batches - 1:
            self.ensure_probe(trainer)
            for dst, W in zip(self.before, trainer.model.W, strict=True):
                np.copyto(dst, W)

    def on_batch_end(self, trainer, loss):
        self.keep_before(trainer)

    def on_epoch_end(self, trainer, row):
        self.ensure_probe(trainer)
        m, ws = trainer.model, trainer.model.workspace(len(self.X))
        m.train_step(self.X, self.Y, ws, 1.0)  # scale 1: dL/dp itself, in m.grads
        layers = range(1, len(m.W) + 1)
        row.update({f"grad_norm_W{i}": finite(np.linalg.norm(dW)) for i, dW in zip(layers, m.dW, strict=True)})
        row.update({f"update_ratio_W{i}": update_ratio(W, W0) for i, W, W0 in zip(layers, m.W, self.before, strict=True)})
        self.inactive = {}
        for i in layers[:-1]:  # hidden layers: their outputs on the probe batch are in the workspace
            g = m.activations[i - 1].name
            units = inactive_units(ws.A[i - 1], g)
            if units is not None:
                self.inactive[i] = units.tolist()
                row[f"{'dead' if g == 'relu' else 'saturated'}_{i}"] = len(units) / m.layers[i]
        self.keep_before(trainer)
        self.check(row, len(m.W))

    def check(self, row, n_layers):
        """One warning line each, once per run (README "Diagnostics")."""
        for key, message in findings(row, n_layers):
            if key not in self.warned:
                self.warned.add(key)
                self.warn(f"epoch {row['epoch']}: {message}")

    def state_dict(self):
        return {"inactive": {str(k): v for k, v in self.inactive.items()}}

    def load_state_dict(self, state):
        self.inactive = {int(k): v for k, v in state.get("inactive", {}).items()}


def findings(row: dict, n_layers: int) -> list[tuple[str, str]]:
    """(key, message) of what an epoch's diagnostics call for: a layer with more than half of its
    units dead; the first layer's gradient norm below 1e-3 times the last layer's."""
    out = []
    for layer in range(1, n_layers):
        dead = row.get(f"dead_{layer}")
        if dead is not None and dead > 0.5:
            out.append((f"dead_{layer}", f"layer {layer}: {dead:.0%} of its ReLU units are dead (never active on the "
                        "probe batch); try leaky_relu or He initialisation (model.init: he), or a smaller optimizer.lr"))
    first, last = row.get("grad_norm_W1"), row.get(f"grad_norm_W{n_layers}")  # None when one overflowed
    if n_layers > 1 and first is not None and last is not None and first < VANISHING * last:
        out.append(("vanishing", f"layer 1: vanishing gradients: ||dL/dW1|| = {first:.2g} is below {VANISHING:g} x layer "
                    f"{n_layers}'s ({last:.2g}); try ReLU instead of sigmoid in deep networks (model.activation: relu, "
                    "model.init: he)"))
    return out


def summary(row: dict, layers: list, activations: list, inactive: dict) -> list[dict]:
    """Per layer, what the last epoch's diagnostics say (``mlp inspect``): empty without diagnostics."""
    if "grad_norm_W1" not in row:
        return []
    out = []
    for layer, (units, g) in enumerate(zip(layers[1:], activations, strict=True), start=1):
        kind = next((k for k in ("dead", "saturated") if f"{k}_{layer}" in row), None)
        out.append({"layer": layer, "units": units, "activation": g, "grad_norm": row.get(f"grad_norm_W{layer}"),
                    "update_ratio": row.get(f"update_ratio_W{layer}"), "inactive": kind,
                    "inactive_fraction": row.get(f"{kind}_{layer}") if kind else None,
                    "inactive_units": inactive.get(str(layer), []) if kind else []})
    return out


def summary_lines(layers: list[dict], row: dict) -> list[str]:
    """``summary`` as the text lines of ``mlp inspect``, and what it calls for."""
    if not layers:
        return []
    lines = [f"  diagnostics of epoch {row.get('epoch')} (probe batch of up to {PROBE_SIZE:,} training samples):",
             f"    {'layer':6s}{'units':>7s}  {'activation':11s}{'||dL/dW||':>10s}{'update ratio':>14s}  inactive units"]
    for d in layers:
        inactive = "-"
        if d["inactive"]:
            shown = ", ".join(map(str, d["inactive_units"][:8])) + (", ..." if len(d["inactive_units"]) > 8 else "")
            inactive = f"{d['inactive']} {d['inactive_fraction']:.1%}" + (f" (rows {shown} of W{d['layer']})" if shown else "")
        lines.append(f"    {d['layer']:<6d}{d['units']:>7d}  {d['activation']:11s}{_g(d['grad_norm']):>10s}"
                     f"{_g(d['update_ratio']):>14s}  {inactive}")
    lines += [f"    ! {message}" for _, message in findings(row, len(layers))]
    return lines


def _g(v) -> str:
    return "-" if v is None else f"{v:.2e}"


def _stderr_warning(message: str) -> None:
    import sys

    sys.stderr.write(f"mlp: warning: {message}\n")
