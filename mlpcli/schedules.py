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
from .hooks import Callback
from .monitor import Monitor, Patience


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


class PlateauSchedule(Callback):
    """The ``plateau`` schedule: multiply the rate by ``factor`` when the monitored value has not
    improved for ``patience`` epochs (torch's ReduceLROnPlateau, absolute ``min_delta``)."""

    order, key = 0, "plateau"

    def __init__(self, monitor: Monitor, schedule, factor=0.5, patience=10, min_delta=0.0, min_lr=0.0, cooldown=0):
        self.monitor, self.schedule, self.patience = monitor, schedule, Patience(monitor, patience, min_delta)
        self.factor, self.min_lr, self.cooldown, self.cooldown_counter = factor, min_lr, int(cooldown), 0

    def on_epoch_end(self, trainer, row):
        if self.schedule.epoch - 1 < self.schedule.warmup:  # the schedule has moved on to the next epoch
            return
        self.patience.update()
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.patience.wait = 0
        if self.patience.wait > self.patience.patience:
            new_lr = max(self.schedule.plateau_lr * self.factor, self.min_lr)
            if self.schedule.plateau_lr - new_lr > 1e-8:
                self.schedule.plateau_lr = new_lr
            self.cooldown_counter, self.patience.wait = self.cooldown, 0

    def state_dict(self):
        return {**self.patience.state_dict(), "cooldown_counter": self.cooldown_counter}

    def load_state_dict(self, state):
        self.patience.load_state_dict(state)
        self.cooldown_counter = int(state["cooldown_counter"])
