"""The configuration: a pydantic schema over the YAML file, validated before any work.

Every name (activation, loss, initialiser, optimiser, schedule, dataset) is checked against
its registry, and every parameter against the parameters that name takes, so the schema
never repeats a list of names. Errors name the file, the key path, the line and what was
expected, in one line: ``configs/x.yaml:7: optimizer.lr: must be > 0 (got -1)``.
"""

import os
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from . import sources, tabledata  # noqa: F401 - they register the datasets
from .activations import ACTIVATIONS
from .dataset import DATASETS
from .errors import ConfigError
from .initializers import INITIALIZERS
from .loggers import LOGGERS
from .losses import LOSSES
from .optimizers import OPTIMIZERS
from .schedules import SCHEDULES
from .sections import (
    AbsPath,
    Located,
    NamedSection,
    Section,
    also,
    check_name,
    field_error,
    format_error,
    registry_section,
)
from .yamlfile import apply_overrides, line_of, override_keys, read_yaml_file

# the loss an output activation implies and the output a loss implies, when only one is given
LOSS_FOR_OUTPUT = {"softmax": "cross_entropy", "sigmoid": "binary_cross_entropy"}
OUTPUT_FOR_LOSS = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid", "squared_error": "identity"}
MAX_ERROR_LINES = 10  # a config's errors are reported together, one line each, up to this many


class DataConfig(NamedSection):
    """The keys every dataset takes; each dataset's own parameters are registered with it (data.py, tabledata.py)."""

    registry = DATASETS
    normalize: Literal["none", "scale", "standard"] = Field(
        "none", description="Input normalisation, fitted on the training split: none, scale (divide by `scale`), standard (zero mean, unit variance).")
    scale: float = Field(255.0, gt=0, description="Divisor for `normalize: scale`.")
    validation_split: float = Field(0.0, ge=0, lt=1, description="Fraction of the training set held out for validation.")

    def source(self) -> str:
        """What the dataset's error messages name (a dataset's parameters may name its file instead)."""
        return f"data {self.name}"


class InitConfig(NamedSection):
    """A weight initialiser by name; its parameters are registered with it (initializers.py)."""

    registry = INITIALIZERS
    path: ClassVar[None] = None  # no starting weights: they are drawn


class InitFrom(Section):
    """Explicit starting weights instead of an initialiser."""

    name: ClassVar[None] = None
    path: AbsPath = Field(alias="from", description="Explicit starting weights (.npz with checkpoint keys W1, b1, ...).")

    @model_validator(mode="before")
    @classmethod
    def _only_from(cls, v):
        if isinstance(v, dict) and set(v) - {"from"}:
            raise field_error("init_from", "'from' gives the weights; it takes no initialiser name or parameters")
        return v


class OptimizerConfig(NamedSection):
    """The keys every optimiser takes; each optimiser's own parameters are registered with it (optimizers.py)."""

    registry = OPTIMIZERS
    lr: float = Field(0.1, gt=0, description="Learning rate (the schedule's starting rate).")

    def hyperparams(self) -> dict:
        """The optimiser's own parameters (all but lr), as its class takes them."""
        return self.params()


class ScheduleConfig(NamedSection):
    """The keys every schedule takes; each schedule's own parameters are registered with it (schedules.py)."""

    registry = SCHEDULES
    warmup_epochs: int = Field(0, ge=0, description="Linear warm-up: lr * (e+1)/W for the first W epochs.")


INIT_HELP = "Weight initialiser: a name, {name: normal, std: 0.1} or {from: PATH.npz}."


class ModelConfig(Section):
    layers: list[int | Literal["auto"]] = Field(
        [2, 4, 1], min_length=2, description="Layer widths, input first and output last, e.g. [784, 256, 10]; the first and "
        "last may be auto: the input width from the data, the output width from the task.")
    activation: Any = Field("tanh", json_schema_extra=lambda s: s.update(_activation_schema(output=False)), description=f"Hidden activation, or a list with one per hidden layer: {', '.join(a for a in ACTIVATIONS if not ACTIVATIONS[a].output_only)}; leaky_relu as {{name: leaky_relu, alpha: 0.1}}.")
    output: Any = Field(None, json_schema_extra=lambda s: s.update(_activation_schema(output=True)), description="Output activation (default: the one the loss implies: softmax for cross_entropy, sigmoid for binary_cross_entropy, identity for squared_error; without a loss, the task's: sigmoid for two classes, softmax for more, identity for regression).")
    bias: bool = Field(True, description="Layers with biases (false: z = W a).")
    init: registry_section(InitConfig, INIT_HELP, {"from": InitFrom}) = Field(default_factory=dict, description=INIT_HELP)

    @field_validator("layers", mode="before")
    @classmethod
    def _numbers_or_auto(cls, v):  # one message, not one per member of the union
        for w in v if isinstance(v, list) else ():
            if w != "auto" and (not isinstance(w, int) or isinstance(w, bool)):
                raise field_error("width", "layer widths are integers, or auto for the first and last (got {w!r})", w=w)
        return v

    @field_validator("layers")
    @classmethod
    def _widths(cls, v):
        for i, w in enumerate(v):
            if w == "auto" and 0 < i < len(v) - 1:
                raise field_error("width", "only the input and output widths can be auto; hidden widths are numbers (got {v})", v=v)
            if w != "auto" and w < 1:
                raise field_error("width", "layer widths must be >= 1 (got {v})", v=v)
        return v

    @field_validator("activation")
    @classmethod
    def _hidden(cls, v):
        items = v if isinstance(v, list) else [v]
        out = [_activation(a) for a in items]
        for a in out:
            name = a if isinstance(a, str) else a["name"]
            if ACTIVATIONS[name].output_only:
                raise field_error("output_only", "{name!r} is an output activation; it cannot be a hidden one", name=name)
        return out if isinstance(v, list) else out[0]

    @field_validator("output")
    @classmethod
    def _output(cls, v):
        return None if v is None else _activation(v)

    @model_validator(mode="after")
    def _count(self):
        if isinstance(self.activation, list) and len(self.activation) != len(self.layers) - 2:
            raise field_error("count", "{n} hidden layers need {n} hidden activations (got {k})",
                       n=len(self.layers) - 2, k=len(self.activation))
        return self

    def output_name(self) -> str:
        return self.output if isinstance(self.output, str) else self.output["name"]

    def all_activations(self) -> list:
        hidden = self.activation if isinstance(self.activation, list) else [self.activation] * (len(self.layers) - 2)
        return [*hidden, self.output]


def _activation_schema(output: bool) -> dict:
    """JSON Schema of an activation: a registry name, {name: ..., params}, or (hidden) a list of them."""
    names = [n for n, a in ACTIVATIONS.items() if output or not a.output_only]
    one = {"anyOf": [{"enum": names}, {"type": "object", "required": ["name"],
                                        "properties": {"name": {"enum": names}, "alpha": {"type": "number"}}}]}
    return {"anyOf": [*one["anyOf"], {"type": "array", "items": one}]} if not output else {"anyOf": [*one["anyOf"], {"type": "null"}]}


def _activation(v):
    if isinstance(v, dict):
        name = check_name("activation", v.get("name"), ACTIVATIONS)
        allowed = ACTIVATIONS[name].params
        for k, val in v.items():
            if k != "name" and k not in allowed:
                raise field_error("not_a_parameter", "activation {name!r} takes no parameter {k!r}", name=name, k=k)
            if k == "alpha" and (not isinstance(val, (int, float)) or isinstance(val, bool) or not 0 <= val < 1):
                raise field_error("range", "leaky_relu alpha must be a number in [0, 1) (got {v!r})", v=val)
        return dict(v)
    return check_name("activation", v, ACTIVATIONS)


MONITORS = ("val_loss", "train_loss", "val_accuracy", "train_accuracy")


class EarlyStoppingConfig(Section):
    monitor: Literal[MONITORS] = Field(
        "val_loss", description="Metric to watch (val_* needs data.validation_split or a validation split).")
    patience: int = Field(10, ge=0, description="Stop after this many epochs without improvement.")
    min_delta: float = Field(0.0, ge=0, description="Improvement smaller than this does not count.")
    restore_best: bool = Field(True, description="Finish with the weights of the best epoch.")


class TrainingConfig(Section):
    epochs: int = Field(100, ge=0, description="Epochs to train (0: write the initial weights and stop).")
    batch_size: int | str = Field(32, description="Samples per step: an integer >= 1, or 'full' (batch gradient descent).")
    shuffle: bool = Field(True, description="Reshuffle the training set every epoch.")
    dtype: Literal["float32", "float64"] = Field("float32", description="Floating point precision of training.")
    early_stopping: EarlyStoppingConfig | None = Field(None, description="Stop when the monitored metric stops improving (true for the defaults).",
                                                       json_schema_extra=also({"type": "boolean"}))
    grad_tol: float | None = Field(None, gt=0, description="Stop when the full-batch gradient norm falls below this.")
    diagnostics: bool = Field(True, description="Per layer and epoch: gradient norms, update ratios, dead and saturated units (README \"Diagnostics\").")
    threads: int | str = Field("auto", description="BLAS threads for training: an integer >= 1 (what --threads sets), or 'auto': "
                               "$MLPCLI_THREADS if set, else tuned to the free cores.")

    @field_validator("batch_size", "threads", mode="before")
    @classmethod
    def _count_or_word(cls, v, info):
        word = {"batch_size": "full", "threads": "auto"}[info.field_name]  # an integer >= 1, or this word
        if v == word or (isinstance(v, int) and not isinstance(v, bool) and v >= 1):
            return v
        raise field_error(info.field_name, f"expected an integer >= 1 or '{word}' (got {{v!r}})", v=v)

    @field_validator("early_stopping", mode="before")
    @classmethod
    def _es(cls, v):
        if v is True:
            return {}
        return None if v is False else v


class OutputConfig(Section):
    dir: AbsPath | None = Field(None, description="Run directory (default runs/<config name>-<timestamp>).")
    log: list[Literal[tuple(LOGGERS)]] = Field([], description=f"Loggers (mlp train --log NAME): {', '.join(LOGGERS)} (README \"Loggers\").")


class CheckpointConfig(Section):
    every_seconds: float = Field(30.0, gt=0, description="Write last.npz (and best.npz) when this many seconds have passed since the previous save; always at the end, on Ctrl-C/SIGTERM and before a divergence exit.")
    every_epochs: int | None = Field(None, ge=1, description="Write them every this many epochs instead (1: every epoch).")


class Config(Section, Located):
    """The whole configuration of a run."""

    seed: int = Field(0, ge=0, description="Seed of every random stream (init, shuffling, data noise); >= 0.")
    data: registry_section(DataConfig, "What to train on.") = Field(default_factory=dict)
    model: ModelConfig = Field(default_factory=ModelConfig)
    loss: str | None = Field(None, description=f"Loss: {', '.join(LOSSES)} (default: the one the output activation implies; without one, the task's: "
                             "binary_cross_entropy for two classes, cross_entropy for more, squared_error for regression).",
                             json_schema_extra={"enum": [*LOSSES, None]})
    l2: float = Field(0.0, ge=0, description="L2 penalty lambda: adds lambda/2 * sum ||W||^2.")
    optimizer: registry_section(OptimizerConfig, "How each step updates the weights.") = Field(default_factory=dict)
    schedule: registry_section(ScheduleConfig, "Learning rate per epoch.") = Field(default_factory=dict)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    output: OutputConfig = Field(default_factory=OutputConfig, json_schema_extra=also({"type": "null"}))
    checkpoint: CheckpointConfig = Field(default_factory=CheckpointConfig, description="How often a run saves last.npz and best.npz.")

    @field_validator("loss")
    @classmethod
    def _loss(cls, v):
        return None if v is None else check_name("loss", v, LOSSES)

    @model_validator(mode="after")
    def _output_and_loss(self):
        m = self.model
        if self.loss is None and m.output is not None:
            self.loss = LOSS_FOR_OUTPUT.get(m.output_name(), "squared_error")
        if self.loss is None:  # neither given: the task decides both when the data is loaded (task.fit_config)
            return self._monitor_needs_validation()
        if m.output is None:
            m.output = OUTPUT_FOR_LOSS[self.loss]
        need = LOSSES[self.loss].requires_output
        if need and m.output_name() != need:
            raise field_error("loss_output", "loss {loss!r} needs output activation {need!r} (model.output is {got!r})",
                       loss=self.loss, need=need, got=m.output_name(), at="model.output" if "output" in m.model_fields_set else "loss")
        if self.loss == "cross_entropy" and m.layers[-1] != "auto" and m.layers[-1] < 2:
            raise field_error("loss_output", "cross_entropy needs >= 2 outputs; use binary_cross_entropy with one sigmoid output",
                       at="model.layers")
        return self._monitor_needs_validation()

    def _monitor_needs_validation(self):
        es = self.training.early_stopping
        if es is not None and self.training.epochs and es.monitor.startswith("val_") and not self.data.validation_split:
            raise field_error("monitor", "{m!r} needs data.validation_split > 0", m=es.monitor, at="training.early_stopping.monitor")
        return self

    @model_validator(mode="after")
    def _fits_memory(self):
        """Sizes are checked before anything is allocated (README: exit codes)."""
        from .memory import data_too_large, network_too_large

        d, t = self.data, self.training
        batch = t.batch_size if isinstance(t.batch_size, int) else 1
        too_large = network_too_large([1 if w == "auto" else w for w in self.model.layers], 4 if t.dtype == "float32" else 8, min(batch, 1 << 16))
        if d.name == "xor":
            too_large = too_large or data_too_large(4 * d.repeat, 3, "data.repeat")
        elif d.name == "regression":
            too_large = too_large or data_too_large(d.n_samples, 6, "data.n_samples")
        if too_large:
            raise field_error("memory", "{message}", message=too_large[1], at=too_large[0])
        return self

    # ------------------------------------------------------------------ helpers
    def to_dict(self) -> dict:
        """The resolved config, as saved in the run directory: every key that applies, defaults filled in."""
        d = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        if self.data.normalize != "scale":
            del d["data"]["scale"]
        return d


def _not_a_table(path) -> None:
    """``mlp train my.csv``: a newcomer's first try gets the command that writes a config for it."""
    if str(path).lower().endswith((".csv", ".tsv", ".csv.gz", ".tsv.gz", ".parquet")):
        raise ConfigError(f"{path}: a table, not a config; write a config for it with: "
                          f"mlp init my.yaml --data {path} --target COLUMN")


def relative_paths(raw, resolved, at=()):
    """(key path, value as written, absolute value) of each relative path of the raw config that
    validation made absolute in ``resolved`` (its ``to_dict()``)."""
    if isinstance(raw, dict) and isinstance(resolved, dict):
        for k, v in raw.items():
            yield from relative_paths(v, resolved.get(k), (*at, k))
    elif isinstance(raw, str) and isinstance(resolved, str) and resolved != raw and os.path.isabs(resolved):
        yield at, raw, resolved


def _check_paths_from_here(raw, resolved, path: Path, node) -> None:
    """A relative input path that names nothing from the current directory but a file beside the
    config (or in one of its parents, as data/ beside configs/) is the newcomer's cd mistake: say so."""
    here = path.resolve().parent
    for keys, value, absolute in relative_paths(raw, resolved):
        if keys[:1] == ("output",) or os.path.exists(absolute):
            continue  # outputs need not exist: a run directory beside the config is no mistake
        base = next((d for d in (here, *here.parents) if (d / value).exists()), None)
        if base is not None:
            line = line_of(node, list(keys))
            raise ConfigError(f"{path}{f':{line}' if line else ''}: {'.'.join(keys)}: {value} is not in the current "
                              f"directory ({os.getcwd()}), which relative paths resolve against; it is in {base}: "
                              f"run from there, or give {base / value}")


def _top_level(data, source: str) -> dict:
    """The file's top level as a mapping (an empty file is all defaults)."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of keys at the top level (got a {type(data).__name__})")
    return data


def validate(data, source: str = "<config>", node=None, overridden=()) -> Config:
    data = _top_level(data, source)
    try:
        cfg = Config.model_validate(data)
    except ValidationError as e:
        lines = list(dict.fromkeys(format_error(err, source, node, overridden) for err in e.errors()))
        lines.sort(key=lambda text: _line_number(text, source))  # in the file's order, --set ones first
        if len(lines) > MAX_ERROR_LINES:  # every error at once, but a screenful at most
            lines[MAX_ERROR_LINES - 1:] = [f"{source}: ... and {len(lines) - MAX_ERROR_LINES + 1} more errors"]
        raise ConfigError("\n".join(lines)) from None
    return cfg.located(source, node)


def _line_number(message: str, source: str) -> int:
    """The line of ``source:LINE: ...`` (0 for messages without one, such as --set errors)."""
    line = message[len(source) + 1:].partition(":")[0] if message.startswith(source + ":") else ""
    return int(line) if line.isdigit() else 0


def load_config(path=None, overrides=()) -> Config:
    """The validated config of a YAML file (or all defaults), with ``key.path=value`` overrides."""
    if path is None:
        data, node, source = {}, None, "<defaults>"
    else:
        _not_a_table(path)
        data, node = read_yaml_file(path)
        source = str(path)
        data = _top_level(data, source)  # the overrides need a mapping to go into
    overrides = list(overrides)
    apply_overrides(data, overrides)
    overridden = override_keys(overrides)
    cfg = validate(data, source, node, overridden)
    if path is not None:
        _check_paths_from_here(data, cfg.to_dict(), Path(path), node)
    return cfg.located(source, node, Path(path).stem if path is not None else "default")


def config_name(cfg) -> str:
    return cfg.run_name or "run"


def json_schema() -> dict:
    schema = Config.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "mlpcli config"
    return schema
