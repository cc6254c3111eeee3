"""The configuration: a pydantic schema over the YAML file, validated before any work.

Every name (activation, loss, initialiser, optimiser, schedule, dataset) is checked against
its registry, and every parameter against the parameters that name takes, so the schema
never repeats a list of names. Errors name the file, the key path, the line and what was
expected, in one line: ``configs/x.yaml:7: optimizer.lr: must be > 0 (got -1)``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from .activations import ACTIVATIONS
from .errors import ConfigError
from .initializers import INIT_PARAMS
from .losses import LOSSES
from .optimizers import OPTIMIZERS
from .schedules import SCHEDULE_PARAMS
from .sections import Located, NamedSection, Section, also, check_name, field_error, format_error
from .table import NA_VALUES
from .yamlfile import apply_overrides, read_yaml_file

# the loss an output activation implies and the output a loss implies, when only one is given
LOSS_FOR_OUTPUT = {"softmax": "cross_entropy", "sigmoid": "binary_cross_entropy"}
OUTPUT_FOR_LOSS = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid", "squared_error": "identity"}

# dataset name -> the keys it takes beyond the common ones (name, normalize, scale, validation_split)
DATASET_KEYS = {
    "xor": ("repeat", "noise"),
    "regression": ("function", "n_samples", "noise", "x_scale", "test_fraction"),
    "mnist": ("path",),
    "npy": ("train", "test"),
    "table": ("train", "test", "target", "features", "drop", "categorical", "missing", "na_values", "task",
              "normalize_target", "test_fraction"),
}
REGRESSION_FUNCTIONS = ("quadratic", "sine", "linear")
MAX_ERROR_LINES = 10  # a config's errors are reported together, one line each, up to this many


class XY(Section):
    x: str = Field(description="Path of the inputs (.npy), or of an .npz holding x and y.")
    y: str | None = Field(None, description="Path of the targets (.npy); omitted for an .npz.")

    @model_validator(mode="before")
    @classmethod
    def _from_path(cls, v):
        return {"x": v} if isinstance(v, str) else v

    @field_validator("x", "y")
    @classmethod
    def _absolute(cls, v):
        return None if v is None else os.path.abspath(os.path.expanduser(v))


class MissingConfig(Section):
    numeric: Literal["mean", "median", "zero", "drop"] = Field(
        "mean", description="table: a missing number becomes the training mean, median or zero, or drops its row.")
    categorical: Literal["most_frequent", "missing_category", "drop"] = Field(
        "most_frequent", description="table: a missing category becomes the most frequent one, a category of its own, or drops its row.")


class DataConfig(NamedSection):
    kind, common = "dataset", ("normalize", "scale", "validation_split")
    name: str = Field("xor", description=f"Dataset: {', '.join(DATASET_KEYS)}.", json_schema_extra={"enum": list(DATASET_KEYS)})
    normalize: Literal["none", "scale", "standard"] = Field(
        "none", description="Input normalisation, fitted on the training split: none, scale (divide by `scale`), standard (zero mean, unit variance).")
    scale: float = Field(255.0, gt=0, description="Divisor for `normalize: scale`.")
    validation_split: float = Field(0.0, ge=0, lt=1, description="Fraction of the training set held out for validation.")
    repeat: int = Field(1, ge=1, description="xor: repeat the four points this many times.")
    noise: float = Field(0.0, ge=0, description="xor/regression: std of Gaussian noise (xor: on inputs; regression: on targets).")
    function: str = Field("quadratic", description=f"regression: {', '.join(REGRESSION_FUNCTIONS)}.",
                          json_schema_extra={"enum": list(REGRESSION_FUNCTIONS)})
    n_samples: int = Field(1000, ge=2, description="regression: number of samples (train + test).")
    x_scale: float = Field(20.0, gt=0, description="regression: inputs x in [-10, 10] are divided by x_scale (the notes' lab: 20).")
    test_fraction: float = Field(0.2, gt=0, lt=1, description="regression, table: fraction of samples held out as the test split "
                                 "(table: stratified by class, when no test file is given).")
    path: str = Field("data/mnist", description="mnist: directory with train_images.npy, train_labels.npy, test_images.npy, test_labels.npy.")
    train: XY | None = Field(None, description="npy: training data {x: PATH, y: PATH} or an .npz PATH; table: the table file "
                             "(.csv, .tsv, .csv.gz, .parquet).", json_schema_extra=also({"type": "string"}))
    test: XY | None = Field(None, description="npy: test data, as train; table: a test table (default: test_fraction of train).",
                            json_schema_extra=also({"type": "string"}))
    target: str | list[str] | None = Field(None, description="table: the target column (a list: multi-output regression).")
    features: list[str] | None = Field(None, description="table: the input columns (default: every column but the target and drop).")
    drop: list[str] = Field([], description="table: columns that are not inputs (identifiers).")
    categorical: Literal["auto"] | list[str] = Field(
        "auto", description="table: one-hot encoded columns; auto: the columns that hold text.")
    missing: MissingConfig = Field(default_factory=MissingConfig, description="table: what a missing value becomes.")
    na_values: list[str] = Field(list(NA_VALUES), description="table: the texts that mark a missing value (an empty field always does).")
    task: Literal["auto", "classification", "regression"] = Field(
        "auto", description="table: auto: a text or boolean target, or an integer one with at most 50 values, is classification; "
        "anything else regression.")
    normalize_target: bool = Field(True, description="table regression: fit standardised targets; predictions are in original units.")

    @classmethod
    def registry(cls):
        return DATASET_KEYS

    @field_validator("function")
    @classmethod
    def _function(cls, v):
        return check_name("regression function", v, REGRESSION_FUNCTIONS)

    @field_validator("path")
    @classmethod
    def _absolute(cls, v):
        return os.path.abspath(os.path.expanduser(v))

    def check(self):
        if self.name == "npy" and self.train is None:
            raise field_error("missing", "dataset 'npy' needs data.train: {x: PATH.npy, y: PATH.npy} or an .npz path", at="train")
        if self.name == "table":
            for key in ("train", "test"):
                if getattr(self, key) is not None and getattr(self, key).y is not None:
                    raise field_error("table_file", "a table is one file: data.{key}: PATH.csv", key=key, at=key)
            if self.train is None or self.target is None:
                raise field_error("missing", "dataset 'table' needs data.train (a table file) and data.target (a column)",
                                  at="train" if self.train is None else "target")
            if "normalize" not in self.model_fields_set:
                self.normalize = "standard"  # tables are standardised unless the config says otherwise
            if self.test is not None and "test_fraction" in self.model_fields_set:
                raise field_error("table_test", "give data.test or data.test_fraction, not both", at="test_fraction")


class InitConfig(Section):
    name: str | None = Field("xavier", description="Initialiser: normal, xavier/glorot, he.",
                             json_schema_extra={"enum": [*INIT_PARAMS, None]})
    std: float | None = Field(None, gt=0, description="normal: standard deviation (default 0.01).")
    path: str | None = Field(None, alias="from", description="Explicit starting weights (.npz with checkpoint keys W1, b1, ...).")

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, v):
        return {"name": v} if isinstance(v, str) else v

    @field_validator("path")
    @classmethod
    def _absolute(cls, v):
        return None if v is None else os.path.abspath(os.path.expanduser(v))

    @model_validator(mode="after")
    def _check(self):
        if self.path is not None:
            if "name" in self.model_fields_set or self.std is not None:
                raise field_error("init_from", "'from' gives the weights; it takes no initialiser name or std")
            self.name = None
            return self
        check_name("initialiser", self.name, INIT_PARAMS)
        self._only_keys_of(self.name, tuple(INIT_PARAMS[self.name]))
        return self

    def params(self) -> dict:
        """The parameters this initialiser takes, defaults filled in."""
        return {k: (self.std if k == "std" and self.std is not None else v) for k, v in INIT_PARAMS[self.name].items()}


class ModelConfig(Section):
    layers: list[int | Literal["auto"]] = Field(
        [2, 4, 1], min_length=2, description="Layer widths, input first and output last, e.g. [784, 256, 10]; the first and "
        "last may be auto: the input width from the data, the output width from the task.")
    activation: Any = Field("tanh", json_schema_extra=lambda s: s.update(_activation_schema(output=False)), description=f"Hidden activation, or a list with one per hidden layer: {', '.join(a for a in ACTIVATIONS if not ACTIVATIONS[a].output_only)}; leaky_relu as {{name: leaky_relu, alpha: 0.1}}.")
    output: Any = Field(None, json_schema_extra=lambda s: s.update(_activation_schema(output=True)), description="Output activation (default: the one the loss implies: softmax for cross_entropy, sigmoid for binary_cross_entropy, identity for squared_error; without a loss, the task's: sigmoid for two classes, softmax for more, identity for regression).")
    bias: bool = Field(True, description="Layers with biases (false: z = W a).")
    init: InitConfig = Field(default_factory=InitConfig, description="Weight initialiser: a name, {name: normal, std: 0.1} or {from: PATH.npz}.",
                             json_schema_extra=also({"enum": list(INIT_PARAMS)}))

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


class OptimizerConfig(NamedSection):
    kind, common = "optimizer", ("lr",)
    name: str = Field("sgd", description=f"Optimiser: {', '.join(OPTIMIZERS)}.", json_schema_extra={"enum": list(OPTIMIZERS)})
    lr: float = Field(0.1, gt=0, description="Learning rate (the schedule's starting rate).")
    momentum: float = Field(0.0, ge=0, lt=1, description="sgd, rmsprop: momentum.")
    nesterov: bool = Field(False, description="sgd: Nesterov momentum.")
    betas: tuple[float, float] = Field((0.9, 0.999), description="adam: decay rates of the moment estimates.")
    eps: float = Field(1e-8, gt=0, description="adam, rmsprop: added to the denominator.")
    alpha: float = Field(0.99, gt=0, lt=1, description="rmsprop: smoothing constant.")

    @classmethod
    def registry(cls):
        return {name: tuple(o.hyperparams) for name, o in OPTIMIZERS.items()}

    @field_validator("betas")
    @classmethod
    def _betas(cls, v):
        if not all(0 <= b < 1 for b in v):
            raise field_error("range", "betas must both be in [0, 1) (got {v})", v=list(v))
        return v

    def check(self):
        if self.nesterov and not self.momentum:
            raise field_error("nesterov", "nesterov needs momentum > 0")

    def hyperparams(self) -> dict:
        return {k: getattr(self, k) for k in OPTIMIZERS[self.name].hyperparams}


class ScheduleConfig(NamedSection):
    kind, common = "schedule", ("warmup_epochs",)
    name: str = Field("constant", description=f"Learning-rate schedule, per epoch: {', '.join(SCHEDULE_PARAMS)}.",
                      json_schema_extra={"enum": list(SCHEDULE_PARAMS)})
    warmup_epochs: int = Field(0, ge=0, description="Linear warm-up: lr * (e+1)/W for the first W epochs.")
    step_size: int = Field(10, ge=1, description="step: multiply by gamma every step_size epochs.")
    gamma: float | None = Field(None, gt=0, le=1, description="step (default 0.1), exponential (default 0.95): decay factor.")
    min_lr: float = Field(0.0, ge=0, description="cosine, plateau: lowest rate.")
    factor: float = Field(0.5, gt=0, lt=1, description="plateau: multiply the rate by factor ...")
    patience: int = Field(10, ge=0, description="plateau: ... after this many epochs without improvement.")
    min_delta: float = Field(0.0, ge=0, description="plateau: improvement smaller than this does not count.")
    cooldown: int = Field(0, ge=0, description="plateau: epochs to wait after a reduction.")

    @classmethod
    def registry(cls):
        return SCHEDULE_PARAMS

    def params(self) -> dict:
        """The parameters this schedule takes, defaults filled in."""
        given = {k: getattr(self, k) for k in SCHEDULE_PARAMS[self.name]}
        return {k: v if v is not None else SCHEDULE_PARAMS[self.name][k] for k, v in given.items()}


MONITORS = ("val_loss", "train_loss", "val_accuracy", "train_accuracy")


class EarlyStoppingConfig(Section):
    monitor: Literal["val_loss", "train_loss", "val_accuracy", "train_accuracy"] = Field(
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
    dir: str | None = Field(None, description="Run directory (default runs/<config name>-<timestamp>).")

    @field_validator("dir")
    @classmethod
    def _absolute(cls, v):
        return None if v is None else os.path.abspath(os.path.expanduser(v))


class CheckpointConfig(Section):
    every_seconds: float = Field(30.0, gt=0, description="Write last.npz (and best.npz) when this many seconds have passed since the previous save; always at the end, on Ctrl-C/SIGTERM and before a divergence exit.")
    every_epochs: int | None = Field(None, ge=1, description="Write them every this many epochs instead (1: every epoch).")


class Config(Section, Located):
    """The whole configuration of a run."""

    seed: int = Field(0, ge=0, description="Seed of every random stream (init, shuffling, data noise); >= 0.")
    data: DataConfig = Field(default_factory=DataConfig, json_schema_extra=also({"enum": list(DATASET_KEYS)}))
    model: ModelConfig = Field(default_factory=ModelConfig)
    loss: str | None = Field(None, description=f"Loss: {', '.join(LOSSES)} (default: the one the output activation implies; without one, the task's: "
                             "binary_cross_entropy for two classes, cross_entropy for more, squared_error for regression).",
                             json_schema_extra={"enum": [*LOSSES, None]})
    l2: float = Field(0.0, ge=0, description="L2 penalty lambda: adds lambda/2 * sum ||W||^2.")
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig, json_schema_extra=also({"enum": list(OPTIMIZERS)}))
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig, json_schema_extra=also({"enum": list(SCHEDULE_PARAMS)}))
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
        keep = ("name", "normalize", "validation_split", *DATASET_KEYS[self.data.name])
        d["data"] = {k: v for k, v in d["data"].items() if k in keep or (k == "scale" and self.data.normalize == "scale")}
        if self.data.name == "table":  # a table is one file: its path, not {x: path}
            d["data"].update({k: d["data"][k]["x"] for k in ("train", "test") if k in d["data"]})
        init = self.model.init
        d["model"]["init"] = {"from": init.path} if init.path else {"name": init.name, **init.params()}
        d["optimizer"] = {"name": self.optimizer.name, "lr": self.optimizer.lr,
                          **{k: list(v) if isinstance(v, tuple) else v for k, v in self.optimizer.hyperparams().items()}}
        d["schedule"] = {"name": self.schedule.name, "warmup_epochs": self.schedule.warmup_epochs, **self.schedule.params()}
        return d


def _not_a_table(path) -> None:
    """``mlp train my.csv``: a newcomer's first try gets the command that writes a config for it."""
    if str(path).lower().endswith((".csv", ".tsv", ".csv.gz", ".tsv.gz", ".parquet")):
        raise ConfigError(f"{path}: a table, not a config; write a config for it with: "
                          f"mlp init my.yaml --data {path} --target COLUMN")


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
    overridden = [str(o).partition("=")[0].strip() for o in overrides]
    cfg = validate(data, source, node, overridden)
    return cfg.located(source, node, Path(path).stem if path is not None else "default")


def config_name(cfg) -> str:
    return cfg.run_name or "run"


def json_schema() -> dict:
    schema = Config.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "mlpcli config"
    return schema
