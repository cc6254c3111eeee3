"""A checkpoint's ``meta`` validated like its arrays: every field mlp uses is typed and ranged
before use, so a forged or foreign checkpoint is one ``CheckpointError``, never a traceback
or a run that continues from nonsense.

Fields that are absent take their defaults (older or weights-only checkpoints); fields that
are present must have the right type and range. Unknown fields are kept but never used.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import CheckpointError

Count = Annotated[int, Field(ge=0, le=2**62)]
Finite = float  # strict, finite (the models' config)
Number = Annotated[float, Field(allow_inf_nan=True)] | int | None  # a metric: display only, may be NaN
Word = Annotated[str, Field(max_length=200)]


class _Meta(BaseModel):
    model_config = ConfigDict(strict=True, allow_inf_nan=False, extra="ignore")


class Normalizer(_Meta):
    kind: Literal["none", "scale", "standard", "table"] = "none"
    scale: Finite | None = Field(None, gt=0)
    mean: list[Finite] | None = None
    std: list[Annotated[float, Field(gt=0)]] | None = None
    columns: list[dict[Word, Any]] | None = None  # table: the fitted encoding per column (mlpcli/preprocess.py)
    target: dict[Word, Any] | None = None

    @model_validator(mode="after")
    def _complete(self):
        if self.kind == "scale" and self.scale is None:
            raise ValueError("kind 'scale' needs a scale")
        if self.kind == "standard" and (self.mean is None or self.std is None or len(self.mean) != len(self.std)):
            raise ValueError("kind 'standard' needs mean and std of equal length")
        if self.kind == "table" and (self.columns is None or self.target is None):
            raise ValueError("kind 'table' needs columns and target")
        return self


class GeneratorState(_Meta):
    """numpy's PCG64 state (``Generator.bit_generator.state``)."""

    model_config = ConfigDict(strict=True, extra="forbid")
    bit_generator: Literal["PCG64"]
    state: dict[Literal["state", "inc"], Annotated[int, Field(ge=0, lt=2**128)]]
    has_uint32: Annotated[int, Field(ge=0, le=1)]
    uinteger: Annotated[int, Field(ge=0, lt=2**32)]

    @model_validator(mode="after")
    def _usable(self):
        if set(self.state) != {"state", "inc"}:
            raise ValueError("state needs 'state' and 'inc'")
        try:
            np.random.PCG64().state = self.model_dump()
        except (ValueError, TypeError, KeyError) as e:
            raise ValueError(f"not a PCG64 state: {e}") from None
        return self


class Rng(_Meta):
    shuffle: GeneratorState
    epoch_start: GeneratorState | None = None


class OptimizerState(_Meta):
    name: Word
    t: Count = 0
    velocity_lr: Finite | None = Field(None, gt=0)


class ScheduleState(_Meta):
    epoch: Count = 0
    plateau_lr: Finite = Field(ge=0)
    best: Finite | None = None
    num_bad_epochs: Count = 0
    cooldown_counter: Count = 0


class EarlyStoppingState(_Meta):
    best: Finite | None = None
    best_epoch: Count | None = None
    bad_epochs: Count = 0
    monitor: Word | None = None
    stop_reason: Word | None = None


class CallbackState(_Meta):
    """A callback's saved state: the built-ins' fields typed (patience, plateau), others kept as they are."""

    model_config = ConfigDict(strict=True, allow_inf_nan=False, extra="allow")
    best: Finite | None = None
    wait: Count = 0
    cooldown_counter: Count = 0


class TaskMeta(_Meta):
    """The task decided in training (task.py): its kind, and its class names or number of targets."""

    kind: Literal["classification", "regression"]
    classes: list[Word] | None = Field(None, max_length=1 << 20)
    n_targets: int = Field(1, ge=1, le=1 << 20)


class Partial(_Meta):
    loss_sum: Finite = 0.0
    metric_sum: Finite = 0.0
    seen: Count = 0
    seconds: Finite = Field(0.0, ge=0)
    sse: list[Finite] | None = None


class Meta(_Meta):
    epoch: Count = 0
    batch: Count = 0
    step: Count = 0
    task: TaskMeta | Literal["classification", "regression"] | None = None  # a kind only: older checkpoints
    normalizer: Normalizer | None = None
    rng: Rng | None = None
    optimizer: OptimizerState | None = None
    schedule: ScheduleState | None = None
    early_stopping: EarlyStoppingState | None = None
    partial: Partial | None = None
    history: list[dict[Word, Number]] | None = None
    callbacks: dict[Word, CallbackState] | None = None
    metrics: dict[Word, Number] | None = None
    has_best: bool = False
    saved_at: Word | None = None
    mlpcli_version: Word | None = None

    @model_validator(mode="after")
    def _consistent(self):
        if self.optimizer is not None and (self.rng is None or self.schedule is None or self.early_stopping is None):
            raise ValueError("training state (optimizer) without rng, schedule or early_stopping")
        if self.batch and (self.partial is None or self.rng is None or self.rng.epoch_start is None):
            raise ValueError(f"stopped mid-epoch (batch {self.batch}) without the epoch's partial sums and RNG state")
        return self


def validate_meta(meta: dict, cfg, path: str) -> dict:
    """``meta`` checked field by field against the config it holds; CheckpointError otherwise."""
    try:
        m = Meta.model_validate(meta)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        got = err.get("input")
        shown = f" (got {got!r})" if isinstance(got, (int, float, str, bool)) and len(repr(got)) < 60 else ""
        raise CheckpointError(f"{path}: meta{'.' + where if where else ''}: {msg}{shown}") from None
    n_in = cfg.model.layers[0]
    norm = m.normalizer
    if norm is not None and norm.kind == "standard" and len(norm.mean) != n_in:
        raise CheckpointError(f"{path}: meta.normalizer has {len(norm.mean)} means, the network has {n_in} inputs")
    if m.optimizer is not None and m.optimizer.name != cfg.optimizer.name:
        raise CheckpointError(f"{path}: meta.optimizer is {m.optimizer.name!r} but its config's optimizer is {cfg.optimizer.name!r}")
    if m.partial is not None and m.partial.sse is not None and len(m.partial.sse) != cfg.model.layers[-1]:
        raise CheckpointError(f"{path}: meta.partial.sse has {len(m.partial.sse)} entries, the network has {cfg.model.layers[-1]} outputs")
    return meta
