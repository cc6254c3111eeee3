"""Learning-rate schedules, per epoch, keyed by config name; parameter names as in PyTorch.

A closed-form schedule is a function ``rule(e, lr, T, **params)`` giving the rate of epoch
``e`` (from 0) of a run of ``T`` epochs. ``plateau`` is the notes' "start big and halve
until the loss decreases" (torch's ReduceLROnPlateau with an absolute ``min_delta``).
With ``warmup_epochs: W`` the rate rises linearly, ``lr * (e+1)/W`` for ``e < W`` (torch's
LinearLR), and the schedule proper starts at epoch W as if it were its epoch 0.
"""

from __future__ import annotations

import math

from .errors import ConfigError, unknown_name


def constant(e, lr, T):
    return lr


def step(e, lr, T, step_size=10, gamma=0.1):
    return lr * gamma ** (e // step_size)


def exponential(e, lr, T, gamma=0.95):
    return lr * gamma**e


def cosine(e, lr, T, min_lr=0.0):
    return min_lr + (lr - min_lr) * (1 + math.cos(math.pi * e / max(T, 1))) / 2


SCHEDULES = {"constant": constant, "step": step, "exponential": exponential, "cosine": cosine, "plateau": None}
SCHEDULE_PARAMS = {
    "constant": {},
    "step": {"step_size": 10, "gamma": 0.1},
    "exponential": {"gamma": 0.95},
    "cosine": {"min_lr": 0.0},
    "plateau": {"factor": 0.5, "patience": 10, "min_delta": 0.0, "min_lr": 0.0, "cooldown": 0},
}


class Schedule:
    """``lr`` is the rate of the current epoch; call ``end_epoch(loss)`` after each epoch."""

    def __init__(self, name: str, lr: float, epochs: int, warmup_epochs: int = 0, **params):
        if name not in SCHEDULES:
            raise ConfigError(unknown_name("schedule", name, list(SCHEDULES)))
        self.name, self.base_lr, self.epochs, self.warmup = name, float(lr), int(epochs), int(warmup_epochs)
        self.params = {**SCHEDULE_PARAMS[name], **params}
        self.epoch = 0  # the epoch about to run
        # plateau state, as torch's ReduceLROnPlateau
        self.plateau_lr, self.best, self.num_bad_epochs, self.cooldown_counter = self.base_lr, math.inf, 0, 0

    @property
    def lr(self) -> float:
        e, W = self.epoch, self.warmup
        if e < W:
            return self.base_lr * (e + 1) / W
        if self.name == "plateau":
            return self.plateau_lr
        return SCHEDULES[self.name](e - W, self.base_lr, self.epochs - W, **self.params)

    def end_epoch(self, monitored_loss: float | None = None) -> None:
        if self.name == "plateau" and self.epoch >= self.warmup and monitored_loss is not None:
            self._plateau_step(monitored_loss)
        self.epoch += 1

    def _plateau_step(self, current: float) -> None:
        p = self.params
        if current < self.best - p["min_delta"]:
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > p["patience"]:
            new_lr = max(self.plateau_lr * p["factor"], p["min_lr"])
            if self.plateau_lr - new_lr > 1e-8:
                self.plateau_lr = new_lr
            self.cooldown_counter, self.num_bad_epochs = p["cooldown"], 0

    def state_dict(self) -> dict:
        best = None if math.isinf(self.best) else self.best
        return {"epoch": self.epoch, "plateau_lr": self.plateau_lr, "best": best,
                "num_bad_epochs": self.num_bad_epochs, "cooldown_counter": self.cooldown_counter}

    def load_state_dict(self, s: dict) -> None:
        self.epoch, self.plateau_lr = int(s["epoch"]), float(s["plateau_lr"])
        self.best = math.inf if s["best"] is None else float(s["best"])
        self.num_bad_epochs, self.cooldown_counter = int(s["num_bad_epochs"]), int(s["cooldown_counter"])
