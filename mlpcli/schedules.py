"""Learning-rate schedules, per epoch, keyed by config name; parameter names as in PyTorch.

A closed-form schedule is a function ``rule(e, lr, T, **params)`` giving the rate of epoch
``e`` (from 0) of a run of ``T`` epochs. ``plateau`` is the notes' "start big and halve
until the loss decreases" (torch's ReduceLROnPlateau with an absolute ``min_delta``).
With ``warmup_epochs: W`` the rate rises linearly, ``lr * (e+1)/W`` for ``e < W`` (torch's
LinearLR), and the schedule proper starts at epoch W as if it were its epoch 0.
"""

import math

from pydantic import Field

from .errors import ConfigError, unknown_name
from .hooks import Callback
from .monitor import Monitor, Patience
from .registry import Params, Registry


def constant(e, lr, T):
    return lr


class StepParams(Params):
    step_size: int = Field(10, ge=1, description="multiply the rate by gamma every step_size epochs")
    gamma: float = Field(0.1, gt=0, le=1, description="decay factor")


def step(e, lr, T, step_size, gamma):
    return lr * gamma ** (e // step_size)


class ExponentialParams(Params):
    gamma: float = Field(0.95, gt=0, le=1, description="decay factor per epoch")


def exponential(e, lr, T, gamma):
    return lr * gamma**e


class CosineParams(Params):
    min_lr: float = Field(0.0, ge=0, description="lowest rate, reached at the last epoch")


def cosine(e, lr, T, min_lr):
    return min_lr + (lr - min_lr) * (1 + math.cos(math.pi * e / max(T, 1))) / 2


class PlateauParams(Params):
    factor: float = Field(0.5, gt=0, lt=1, description="multiply the rate by factor ...")
    patience: int = Field(10, ge=0, description="... after this many epochs without improvement of the monitored metric "
                          "(early stopping's monitor, else val_loss with a validation split, else train_loss)")
    min_delta: float = Field(0.0, ge=0, description="improvement smaller than this does not count")
    min_lr: float = Field(0.0, ge=0, description="lowest rate")
    cooldown: int = Field(0, ge=0, description="epochs to wait after a reduction")


SCHEDULES = Registry("schedule", default="constant")
SCHEDULES.register("constant", constant, description="the same rate every epoch")
SCHEDULES.register("step", step, StepParams, "multiply the rate by gamma every step_size epochs")
SCHEDULES.register("exponential", exponential, ExponentialParams, "multiply the rate by gamma every epoch")
SCHEDULES.register("cosine", cosine, CosineParams, "cosine from lr down to min_lr over the configured epochs")
# plateau has no closed form: its PlateauSchedule callback lowers the rate (torch's ReduceLROnPlateau)
SCHEDULES.register("plateau", None, PlateauParams, "multiply the rate by factor when the monitored metric stops improving")


class Schedule:
    """``lr`` is the rate of the current epoch; call ``end_epoch()`` after each epoch.

    ``plateau``'s rate, ``plateau_lr``, is lowered by its PlateauSchedule callback
    (mlpcli/callbacks.py), which watches ``monitor`` (in training, the monitor early stopping
    shares). Used alone, ``end_epoch(loss)`` feeds the schedule's own monitor."""

    def __init__(self, name: str, lr: float, epochs: int, warmup_epochs: int = 0, monitor=None, **params):
        if name not in SCHEDULES:
            raise ConfigError(unknown_name("schedule", name, list(SCHEDULES)))
        self.name, self.base_lr, self.epochs, self.warmup = name, float(lr), int(epochs), int(warmup_epochs)
        self.params = SCHEDULES.entry(name).params(**params).model_dump()  # defaults: the entry's parameter model
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

    def __init__(self, monitor: Monitor, schedule, *, factor, patience, min_delta, min_lr, cooldown):  # PlateauParams
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
