"""Optimisers, keyed by config name, following PyTorch's update rules exactly.

An optimiser updates the model's parameters ``p`` in place from the gradient ``g``; both
are single flat vectors (each ``W_l``, ``b_l`` is a view into them), so one step is a few
vectorised NumPy calls with no allocation. The state (momentum buffers, moment estimates)
is kept in flat vectors of the same layout, named ``slots``.

Every ``FLUSH_EVERY`` steps the state's subnormal entries (below the dtype's smallest
normal number, 1.2e-38 in float32) are set to zero, as a CPU's flush-to-zero mode would do.
A weight whose gradient is exactly zero for a while (an input pixel that is 0 in every
image of a stretch of batches) has its momentum decay geometrically through the subnormal
range, where each multiply is ~100x slower; on MNIST this had made the optimiser step
several times slower than the rest of training. Entries that small move no weight.
"""

import math

import numpy as np
from pydantic import Field, field_validator, model_validator

from .errors import ConfigError, unknown_name
from .registry import Params, Registry

FLUSH_EVERY = 16  # steps between sweeps of the state for subnormal entries


class Optimizer:
    name = ""
    Params = Params  # the optimiser's parameters and their defaults (lr is common to all)
    slots: tuple = ()

    def __init__(self, size: int, dtype, **hp):
        for k, v in self.Params(**hp).model_dump().items():
            setattr(self, k, v)
        self.t = 0  # steps taken
        self.state = {s: np.zeros(size, dtype) for s in self.slots}
        self._work = np.empty(size, dtype)
        self._subnormal = np.empty(size, bool) if self.slots else None
        self._tiny = np.finfo(dtype).tiny  # the smallest normal number

    def step(self, p, g, lr):
        """Update ``p`` in place from ``g`` (``grad_scale`` times dL/dp); every FLUSH_EVERY steps,
        set the state's subnormal entries to zero."""
        self._step(p, g, lr)
        if self._subnormal is not None and self.t % FLUSH_EVERY == 0:
            w, small = self._work, self._subnormal
            for s in self.state.values():
                np.less(np.abs(s, out=w), self._tiny, out=small)
                np.copyto(s, 0, where=small)

    def grad_scale(self, lr) -> float:
        """The factor the model puts on every gradient it hands to ``step`` (see SGD)."""
        return 1.0

    def _step(self, p, g, lr):
        raise NotImplementedError

    def extra_state(self) -> dict:
        return {"t": self.t}

    def load_extra_state(self, s: dict) -> None:
        self.t = int(s["t"])


class SGD(Optimizer):
    """torch's SGD: buf = momentum*buf + g; p -= lr * (g + momentum*buf if nesterov else buf).

    Computed in fewer passes over the parameters: the model hands over gradients already
    multiplied by lr (``grad_scale``), and the state is the velocity v = lr*buf, rescaled
    when the schedule changes the rate. Then v = momentum*v + lr*g and p -= v: the same update.
    """

    name = "sgd"

    class Params(Params):
        momentum: float = Field(0.0, ge=0, lt=1, description="momentum")
        nesterov: bool = Field(False, description="Nesterov momentum")

        @model_validator(mode="after")
        def _nesterov(self):
            if self.nesterov and not self.momentum:
                raise ValueError("nesterov needs momentum > 0")
            return self

    def __init__(self, size, dtype, **hp):
        self.slots = ("velocity",) if hp.get("momentum", 0.0) else ()
        super().__init__(size, dtype, **hp)
        self.velocity_lr = None  # the rate the velocity is scaled with

    def grad_scale(self, lr) -> float:
        return lr

    def _step(self, p, g, lr):  # g = lr * dL/dp
        self.t += 1
        if not self.momentum:
            p -= g
            return
        v = self.state["velocity"]
        if self.velocity_lr is not None and lr != self.velocity_lr:
            v *= lr / self.velocity_lr  # keep v = lr * buf under the new rate
        self.velocity_lr = lr
        v *= self.momentum  # the first step gives v = lr*g, as torch's buf = clone(g)
        v += g
        if self.nesterov:
            np.multiply(v, self.momentum, out=self._work)
            self._work += g
            p -= self._work
        else:
            p -= v

    def extra_state(self) -> dict:
        return {"t": self.t, "velocity_lr": self.velocity_lr}

    def load_extra_state(self, s: dict) -> None:
        self.t, self.velocity_lr = int(s["t"]), s.get("velocity_lr")


class Adam(Optimizer):
    """Kingma & Ba: m, v moving averages of g and g^2; p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)."""

    name = "adam"

    class Params(Params):
        betas: tuple[float, float] = Field((0.9, 0.999), description="decay rates of the moment estimates")
        eps: float = Field(1e-8, gt=0, description="added to the denominator")

        @field_validator("betas")
        @classmethod
        def _betas(cls, v):
            if not all(0 <= b < 1 for b in v):
                raise ValueError(f"betas must both be in [0, 1) (got {list(v)})")
            return v
    slots = ("exp_avg", "exp_avg_sq")

    def _step(self, p, g, lr):
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
        w /= math.sqrt(1.0 - b2**self.t)  # a Python float: np.sqrt's float64 would cast w to float64 and back
        w += self.eps
        np.divide(m, w, out=w)
        w *= lr / (1.0 - b1**self.t)
        p -= w


class RMSprop(Optimizer):
    """v = alpha*v + (1-alpha)*g^2; p -= lr * g / (sqrt(v) + eps), optionally through a momentum buffer."""

    name = "rmsprop"

    class Params(Params):
        alpha: float = Field(0.99, gt=0, lt=1, description="smoothing constant")
        eps: float = Field(1e-8, gt=0, description="added to the denominator")
        momentum: float = Field(0.0, ge=0, lt=1, description="momentum")

    def __init__(self, size, dtype, **hp):
        self.slots = ("square_avg", "momentum_buffer") if hp.get("momentum", 0.0) else ("square_avg",)
        super().__init__(size, dtype, **hp)

    def _step(self, p, g, lr):
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


OPTIMIZERS = Registry("optimizer", default="sgd")
OPTIMIZERS.register("sgd", SGD, SGD.Params, "stochastic gradient descent, with optional (Nesterov) momentum")
OPTIMIZERS.register("adam", Adam, Adam.Params, "Adam (Kingma & Ba)")
OPTIMIZERS.register("rmsprop", RMSprop, RMSprop.Params, "RMSprop, with optional momentum")


def get_optimizer(name: str, size: int, dtype, **hp) -> Optimizer:
    if name not in OPTIMIZERS:
        raise ConfigError(unknown_name("optimizer", name, list(OPTIMIZERS)))
    return OPTIMIZERS[name](size, dtype, **hp)
