"""Gradient check: backpropagation against central differences, in float64.

For each parameter tensor ``p`` the numerical gradient at entry i is
``(L(p + eps e_i) - L(p - eps e_i)) / (2 eps)``; the tensor's relative error is
``||a - n|| / max(||a|| + ||n||, tiny)`` over the checked entries (a = backprop,
n = numerical). Large tensors are checked on a seeded random subset of entries.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TINY = 1e-30


@dataclass
class TensorCheck:
    name: str
    shape: tuple
    checked: int
    rel_error: float
    max_abs_diff: float

    def as_dict(self):
        return {"name": self.name, "shape": list(self.shape), "checked": self.checked,
                "rel_error": self.rel_error, "max_abs_diff": self.max_abs_diff}


def gradcheck(model, X, y, *, eps: float = 1e-6, max_entries: int = 64, seed: int = 0) -> list[TensorCheck]:
    """Check ``model.loss_and_gradients`` against central differences on (X, y), in float64."""
    net = model.astype(np.float64)
    X = np.asarray(X, dtype=np.float64)
    _, grads = net.loss_and_gradients(X, y)
    rng = np.random.default_rng(seed)
    results = []
    for name in net.names:
        p, a = net.params[name].reshape(-1), grads[name].reshape(-1)
        idx = np.arange(p.size) if p.size <= max_entries else rng.choice(p.size, max_entries, replace=False)
        num = np.empty(len(idx))
        for j, i in enumerate(idx):
            old = p[i]
            p[i] = old + eps
            f_plus = net.compute_loss(X, y)
            p[i] = old - eps
            f_minus = net.compute_loss(X, y)
            p[i] = old
            num[j] = (f_plus - f_minus) / (2 * eps)
        diff = a[idx] - num
        rel = float(np.linalg.norm(diff) / max(np.linalg.norm(a[idx]) + np.linalg.norm(num), TINY))
        results.append(TensorCheck(name, net.params[name].shape, len(idx), rel, float(np.abs(diff).max(initial=0.0))))
    return results


def random_batch(layers, loss_name: str, n: int = 8, seed: int = 0):
    """A small seeded batch shaped by the network: inputs N(0, 1), targets fitting the loss."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, layers[0]))
    k = layers[-1]
    if loss_name == "cross_entropy":
        y = rng.integers(0, k, size=n)
    elif loss_name == "binary_cross_entropy":
        y = rng.integers(0, 2, size=(n, k)).astype(np.float64)
    else:
        y = rng.normal(size=(n, k))
    return X, y
