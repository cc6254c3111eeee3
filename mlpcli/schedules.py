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
    """``lr`` is the rate of the current epoch; call ``end_epoch()`` after each epoch.

    ``plateau``'s rate, ``plateau_lr``, is lowered by its PlateauSchedule callback
    (mlpcli/callbacks.py), which watches ``monitor`` (in training, the monitor early stopping
    shares). Used alone, ``end_epoch(loss)`` feeds the schedule's own monitor."""

    def __init__(self, name: str, lr: float, epochs: int, warmup_epochs: int = 0, monitor=None, **params):
        if name not in SCHEDULES:
            raise ConfigError(unknown_name("schedule", name, list(SCHEDULES)))
        self.name, self.base_lr, self.epochs, self.warmup = name, float(lr), int(epochs), int(warmup_epochs)
        self.params = {**SCHEDULE_PARAMS[name], **params}
        self.epoch = 0  # the epoch about to run
        self.plateau_lr, self.plateau = self.base_lr, None
        if name == "plateau":
            from .callbacks import PlateauSchedule
            from .monitor import Monitor

            self.plateau = PlateauSchedule(monitor or Monitor("loss"), self, **self.params)

    @property
    def lr(self) -> float:
        e, W = self.epoch, self.warmup
        if e < W:
            return self.base_lr * (e + 1) / W
        if self.name == "plateau":
            return self.plateau_lr
        return SCHEDULES[self.name](e - W, self.base_lr, self.epochs - W, **self.params)

    def end_epoch(self, monitored_loss: float | None = None) -> None:
        self.epoch += 1
        if monitored_loss is not None and self.plateau is not None:
            self.plateau.monitor.update({"epoch": self.epoch, "loss": monitored_loss})
            self.plateau.on_epoch_end(None, None)

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "plateau_lr": self.plateau_lr}

    def load_state_dict(self, s: dict) -> None:
        self.epoch, self.plateau_lr = int(s["epoch"]), float(s["plateau_lr"])
