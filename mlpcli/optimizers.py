"""Optimisers, keyed by config name, following PyTorch's update rules exactly.

An optimiser updates the model's parameters ``p`` in place from the gradient ``g``; both
are single flat vectors (each ``W_l``, ``b_l`` is a view into them), so one step is a few
vectorised NumPy calls with no allocation. The state (momentum buffers, moment estimates)
is kept in flat vectors of the same layout, named ``slots``.
"""

from __future__ import annotations

import numpy as np

from .errors import ConfigError, unknown_name


class Optimizer:
    name = ""
    hyperparams: dict = {}  # config parameter -> default (lr is common to all)
    slots: tuple = ()

    def __init__(self, size: int, dtype, **hp):
        for k, v in {**self.hyperparams, **hp}.items():
            setattr(self, k, v)
        self.t = 0  # steps taken
        self.state = {s: np.zeros(size, dtype) for s in self.slots}
        self._work = np.empty(size, dtype)

    def step(self, p, g, lr):
        raise NotImplementedError


class SGD(Optimizer):
    """buf = momentum*buf + g; g = g + momentum*buf (nesterov) or buf; p -= lr*g."""

    name = "sgd"
    hyperparams = {"momentum": 0.0, "nesterov": False}

    def __init__(self, size, dtype, **hp):
        self.slots = ("momentum_buffer",) if hp.get("momentum", 0.0) else ()
        super().__init__(size, dtype, **hp)

    def step(self, p, g, lr):
        self.t += 1
        w = self._work
        if not self.momentum:
            np.multiply(g, lr, out=w)
        else:
            buf = self.state["momentum_buffer"]
            buf *= self.momentum  # the first step gives buf = g, as torch's clone
            buf += g
            if self.nesterov:
                np.multiply(buf, self.momentum, out=w)
                w += g
                w *= lr
            else:
                np.multiply(buf, lr, out=w)
        p -= w


class Adam(Optimizer):
    """Kingma & Ba: m, v moving averages of g and g^2; p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)."""

    name = "adam"
    hyperparams = {"betas": (0.9, 0.999), "eps": 1e-8}
    slots = ("exp_avg", "exp_avg_sq")

    def step(self, p, g, lr):
        self.t += 1
        b1, b2 = self.betas
        m, v, w = self.state["exp_avg"], self.state["exp_avg_sq"], self._work
        m *= b1
        np.multiply(g, 1.0 - b1, out=w)
        m += w
        v *= b2
        np.multiply(g, g, out=w)
        w *= 1.0 - b2
        v += w
        np.sqrt(v, out=w)
        w /= np.sqrt(1.0 - b2**self.t)
        w += self.eps
        np.divide(m, w, out=w)
        w *= lr / (1.0 - b1**self.t)
        p -= w


class RMSprop(Optimizer):
    """v = alpha*v + (1-alpha)*g^2; p -= lr * g / (sqrt(v) + eps), optionally through a momentum buffer."""

    name = "rmsprop"
    hyperparams = {"alpha": 0.99, "eps": 1e-8, "momentum": 0.0}

    def __init__(self, size, dtype, **hp):
        self.slots = ("square_avg", "momentum_buffer") if hp.get("momentum", 0.0) else ("square_avg",)
        super().__init__(size, dtype, **hp)

    def step(self, p, g, lr):
        self.t += 1
        v, w = self.state["square_avg"], self._work
        v *= self.alpha
        np.multiply(g, g, out=w)
        w *= 1.0 - self.alpha
        v += w
        np.sqrt(v, out=w)
        w += self.eps
        np.divide(g, w, out=w)
        if self.momentum:
            buf = self.state["momentum_buffer"]
            buf *= self.momentum
            buf += w
            np.multiply(buf, lr, out=w)
        else:
            w *= lr
        p -= w


OPTIMIZERS = {cls.name: cls for cls in (SGD, Adam, RMSprop)}


def get_optimizer(name: str, size: int, dtype, **hp) -> Optimizer:
    if name not in OPTIMIZERS:
        raise ConfigError(unknown_name("optimizer", name, list(OPTIMIZERS)))
    return OPTIMIZERS[name](size, dtype, **hp)
