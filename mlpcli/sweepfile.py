"""The sweep file: what ``mlp sweep`` searches and how, validated like a config.

```yaml
metric: val_loss                  # any key of a metrics row (README: metrics.csv)
direction: minimize               # default: maximize for *_acc / *_r2, else minimize
trials: 40
sampler: {name: tpe, seed: 0}     # tpe | random | grid
pruner: median                    # none | median | hyperband
space:
  optimizer.lr: {log_uniform: [1.0e-4, 1.0e-1]}
  model.layers: {choice: [[auto, 64, auto], [auto, 128, 64, auto]]}
```

Errors name the file, the line and the key (``sweep.yaml:7: space.optimizer.lrr: ...``)
with the closest valid name. Each space key must be a config key, and every value the
space can take (both ends of a range, every choice) must give a valid config on its own,
so a typo or an impossible range fails before the first trial.
"""

from __future__ import annotations

import copy
import json
import math
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from .errors import ConfigError, did_you_mean
from .sections import Located, Section, check_name, field_error, format_error
from .yamlfile import apply_overrides, line_of, read_yaml_file

# a distribution's name in the sweep file -> its attribute (``int`` is a builtin's name)
DISTRIBUTIONS = {"log_uniform": "log_uniform", "uniform": "uniform", "int": "integer", "choice": "choice"}
SAMPLERS = ("tpe", "random", "grid")
# pruner name -> the parameters it takes (Optuna's names: MedianPruner, HyperbandPruner)
PRUNERS = {"none": (), "median": ("n_startup_trials", "n_warmup_steps", "interval_steps", "n_min_trials"),
           "hyperband": ("min_resource", "max_resource", "reduction_factor", "bootstrap_count")}
# the keys of a metrics row (README: metrics.csv); other columns may appear, so a name close
# to one of these is taken for a typo, any other is checked against the first epoch's row
METRICS = ("train_loss", "train_acc", "train_mse", "train_r2", "val_loss", "val_acc", "val_mse", "val_r2", "grad_norm")
MAXIMIZED = ("_acc", "_accuracy", "_r2")


class Distribution(Section):
    """One searched key: exactly one of ``log_uniform``, ``uniform``, ``int`` or ``choice``."""

    log_uniform: tuple[float, float] | None = Field(None, description="[lo, hi], lo > 0: sampled uniformly in log space.")
    uniform: tuple[float, float] | None = Field(None, description="[lo, hi]: sampled uniformly.")
    integer: tuple[int, int] | None = Field(None, alias="int", description="[lo, hi]: an integer, both ends included.")
    choice: list[Any] | None = Field(None, min_length=1, description="Values to choose from (numbers, strings, lists such as layer shapes).")

    @model_validator(mode="after")
    def _one_kind(self):
        given = [k for k, attr in DISTRIBUTIONS.items() if getattr(self, attr) is not None]
        if len(given) != 1:
            raise field_error("distribution", "give exactly one of {kinds} (got {given})",
                              kinds=", ".join(DISTRIBUTIONS), given=", ".join(given) or "none")
        lo_hi = getattr(self, DISTRIBUTIONS[given[0]])
        if given[0] != "choice":
            lo, hi = lo_hi
            if not (math.isfinite(lo) and math.isfinite(hi)) or lo >= hi:
                raise field_error("range", "{what}: expected [lo, hi] with lo < hi (got {v})", what=given[0], v=list(lo_hi))
            if given[0] == "log_uniform" and lo <= 0:
                raise field_error("range", "log_uniform: lo must be > 0 (got {v})", v=list(lo_hi))
        else:
            keys = [_label(c) for c in self.choice]
            if len(set(keys)) != len(keys):
                raise field_error("choice", "choice: the values must differ (got {v})", v=keys)
        return self

    @property
    def kind(self) -> str:
        return next(k for k, attr in DISTRIBUTIONS.items() if getattr(self, attr) is not None)

    @property
    def bounds(self) -> tuple:
        return getattr(self, DISTRIBUTIONS[self.kind])

    def values(self) -> list:
        """The values whose validity stands for the whole range: both ends, or every choice."""
        return list(self.choice) if self.kind == "choice" else list(self.bounds)

    def grid(self) -> list | None:
        """Every value, for the grid sampler (a choice or an int range); None for a continuous range."""
        if self.kind == "choice":
            return [_label(c) for c in self.choice]
        if self.kind == "int":
            lo, hi = self.integer
            return list(range(lo, hi + 1))
        return None


def _label(value) -> Any:
    """A choice as Optuna stores it: numbers, strings and booleans as they are, lists and maps as JSON."""
    return value if value is None or isinstance(value, (bool, int, float, str)) else json.dumps(value)


class SamplerConfig(Section):
    name: str = Field("tpe", description="tpe, random or grid.", json_schema_extra={"enum": list(SAMPLERS)})
    seed: int | None = Field(0, description="Seed of the sampler (null: a fresh one each run).")

    @field_validator("name")
    @classmethod
    def _name(cls, v):
        return check_name("sampler", v, SAMPLERS)


class PrunerConfig(Section):
    name: str = Field("none", description="none, median or hyperband.", json_schema_extra={"enum": list(PRUNERS)})
    n_startup_trials: int | None = Field(None, ge=0, description="median: trials finished before any is pruned (Optuna's default 5).")
    n_warmup_steps: int | None = Field(None, ge=0, description="median: epochs of each trial before it may be pruned (default 0).")
    interval_steps: int | None = Field(None, ge=1, description="median: epochs between pruning checks (default 1).")
    n_min_trials: int | None = Field(None, ge=1, description="median: trials that reached an epoch before pruning at it (default 1).")
    min_resource: int | None = Field(None, ge=1, description="hyperband: fewest epochs of a trial (default 1).")
    max_resource: int | Literal["auto"] | None = Field(None, description="hyperband: most epochs of a trial (default auto).")
    reduction_factor: int | None = Field(None, ge=2, description="hyperband: how many trials compete per promotion (default 3).")
    bootstrap_count: int | None = Field(None, ge=0, description="hyperband: trials a bracket waits for (default 0).")

    @field_validator("name")
    @classmethod
    def _name(cls, v):
        return check_name("pruner", v, PRUNERS)

    @model_validator(mode="after")
    def _keys_fit_name(self):
        self._only_keys_of(self.name, PRUNERS[self.name])
        return self

    def params(self) -> dict:
        """The parameters given, by Optuna's names (the rest keep Optuna's defaults)."""
        return {k: getattr(self, k) for k in PRUNERS[self.name] if getattr(self, k) is not None}


class SweepSpec(Section, Located):
    """The whole sweep file."""

    metric: str = Field("val_loss", description="The metrics-row key to optimise (its best value over a trial's epochs).")
    direction: Literal["minimize", "maximize"] | None = Field(None, description="Default: maximize for *_acc and *_r2, else minimize.")
    trials: int = Field(20, ge=1, description="Trials in the sweep (finished ones count on a re-run).")
    sampler: SamplerConfig = Field(default_factory=SamplerConfig)
    pruner: PrunerConfig = Field(default_factory=PrunerConfig, description="none, median or hyperband (or {name: median, n_warmup_steps: 5}): stop unpromising trials early.")
    space: dict[str, Distribution] = Field(..., min_length=1, description="Dotted config keys and what to draw them from.")

    @field_validator("sampler", "pruner", mode="before")
    @classmethod
    def _named(cls, v):
        return {"name": v} if isinstance(v, str) else v  # `sampler: random` is {name: random}

    @field_validator("metric")
    @classmethod
    def _metric(cls, v):
        if v not in METRICS and did_you_mean(v, METRICS):  # other columns may exist; a near miss is a typo
            raise field_error("unknown_name", "unknown metric {v!r}{hint}", v=v, hint=did_you_mean(v, METRICS))
        return v

    @model_validator(mode="after")
    def _defaults(self):
        if self.direction is None:
            self.direction = "maximize" if self.metric.endswith(MAXIMIZED) else "minimize"
        if self.sampler.name == "grid":
            for key, dist in self.space.items():
                if dist.grid() is None:
                    raise field_error("grid", "the grid sampler needs choice or int ranges ({what} is continuous)",
                                      what=dist.kind, at=f"space.{key}")
        return self

    def values_of(self, params: dict) -> dict:
        """A trial's parameters as config values (a choice as written in the sweep file, not as Optuna stores it)."""
        out = {}
        for key, v in params.items():
            dist = self.space.get(key)
            if dist is not None and dist.kind == "choice":
                labels = [_label(c) for c in dist.choice]
                v = dist.choice[labels.index(v)] if v in labels else v
            out[key] = v
        return out

    def to_dict(self) -> dict:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def read_sweep(path, trials: int | None = None) -> tuple[SweepSpec, Any]:
    """The validated sweep file (``trials`` overrides its ``trials``) and its YAML node tree."""
    data, node = read_yaml_file(path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level (got a {type(data).__name__})")
    if trials is not None:
        if trials < 1:
            raise ConfigError(f"--trials must be >= 1 (got {trials})")
        data["trials"] = trials
    try:
        spec = SweepSpec.model_validate(data)
    except ValidationError as e:
        errors = e.errors()
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ConfigError(format_error(errors[0], str(path), node, ()) + more) from None
    return spec.located(str(path), node), node


# ---------------------------------------------------------------------------- configs of trials
def with_params(base: dict, params: dict) -> dict:
    """A copy of the raw config ``base`` with each dotted key set, as ``--set key=value`` would."""
    data = copy.deepcopy(base)
    apply_overrides(data, [f"{k}={json.dumps(v)}" for k, v in params.items()], source="space")
    return data


def config_for(base: dict, params: dict, source: str):
    """The validated config of one trial: ``base`` with the sampled ``params``."""
    from .config import validate

    return validate(with_params(base, params), source)


def check_space(spec: SweepSpec, base: dict, base_source: str, validation_split: float | None = None) -> None:
    """Every value the space can take gives a valid config on its own, and the base config has the
    split the metric is measured on (before any trial)."""
    for key, dist in spec.space.items():
        line = line_of(spec.node, ["space", key])
        where = f"{spec.source}:{line}" if line else spec.source
        for value in dist.values():
            try:
                config_for(base, {key: value}, base_source)
            except ConfigError as e:
                raise ConfigError(f"{where}: space.{key}: {json.dumps(value)} gives an invalid config: {e}") from None
    if validation_split is None:  # the caller that has validated the base passes its value
        validation_split = config_for(base, {}, base_source).data.validation_split
    if spec.metric.startswith("val_") and "data.validation_split" not in spec.space and not validation_split:
        line = line_of(spec.node, ["metric"])
        where = f"{spec.source}:{line}" if line else spec.source
        what = f"metric: {spec.metric!r}" if line else f"metric (default {spec.metric!r})"
        raise ConfigError(f"{where}: {what} is measured on the validation split, and {base_source} has "
                          f"none: set data.validation_split (e.g. 0.2) there, or use a train_ metric")


def absolute_paths(raw, resolved):
    """``raw`` with each relative path replaced by the absolute one the validated config holds.

    Trials may run in other processes or on other machines, whose current directory differs;
    the resolved config has every path made absolute, so each string of the raw config that
    the config turned into an absolute path takes that value.
    """
    from .config import relative_paths

    out = copy.deepcopy(raw)
    for keys, _, absolute in relative_paths(raw, resolved):
        if not keys:
            return absolute
        node = out
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = absolute
    return out
