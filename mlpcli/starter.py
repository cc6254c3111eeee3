"""``mlp init``: a starter config rendered from the schema, every key with its meaning.

The comments are the schema's own field descriptions, so the starter never drifts from
what the validator accepts.
"""

from __future__ import annotations

import typing

import yaml
from pydantic import BaseModel, ValidationError

from .config import Config, validate
from .errors import ConfigError

PRESETS = {
    "xor": {"data": {"name": "xor"}, "model": {"layers": [2, 8, 1], "activation": "tanh", "output": "sigmoid"},
            "loss": "binary_cross_entropy", "optimizer": {"name": "adam", "lr": 0.05},
            "training": {"epochs": 300, "batch_size": "full"}},
    "regression": {"data": {"name": "regression", "function": "quadratic"},
                   "model": {"layers": [2, 64, 3], "activation": "relu", "init": "he"}, "loss": "squared_error",
                   "optimizer": {"name": "adam", "lr": 0.01}, "schedule": {"name": "cosine"},
                   "training": {"epochs": 200, "batch_size": 32}},
    "mnist": {"data": {"name": "mnist", "normalize": "scale", "validation_split": 0.1},
              "model": {"layers": [784, 256, 256, 10], "activation": "relu", "init": "he"}, "loss": "cross_entropy",
              "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9}, "training": {"epochs": 15, "batch_size": 128}},
    "npy": {"data": {"name": "npy", "train": {"x": "train_x.npy", "y": "train_y.npy"}, "test": {"x": "test_x.npy", "y": "test_y.npy"},
                     "normalize": "standard", "validation_split": 0.1},
            "model": {"layers": [10, 64, 2], "activation": "relu", "init": "he"}, "loss": "cross_entropy",
            "optimizer": {"name": "adam", "lr": 0.001}, "training": {"epochs": 50, "batch_size": 64,
                                                                     "early_stopping": {"patience": 5}}},
}
SECTIONS = {
    "seed": None, "data": "What to train on.", "model": "The network: a = g(W a_prev + b) per layer.",
    "loss": None, "l2": None, "optimizer": "How each step updates the weights.",
    "schedule": "Learning rate per epoch.", "training": "The loop.", "output": "Where the run goes.",
}


def _section_class(annotation):
    for a in (annotation, *typing.get_args(annotation)):
        if isinstance(a, type) and issubclass(a, BaseModel):
            return a
    return None


def _render(section, data: dict, defaults: dict, indent: int, lines: list) -> None:
    """``data`` (a resolved config, or one of its sections) as YAML, each key under its description;
    ``section`` is the validated model it came from (or its class), whose fields give the descriptions."""
    pad, cls = " " * indent, section if isinstance(section, type) else type(section)
    by_key = {(f.alias or n): (n, f) for n, f in cls.model_fields.items()}
    registry = getattr(cls, "registry", None)
    if registry is not None:  # a registry's section: every entry, with its parameters' defaults
        lines.append(f"{pad}# {registry.kind}: {choices(registry)}")
    for key, val in data.items():
        name, field = by_key[key]
        desc = SECTIONS.get(key) if cls is Config and SECTIONS.get(key) else field.description
        value = None if isinstance(section, type) else getattr(section, name, None)
        sub = value if isinstance(value, BaseModel) else _section_class(field.annotation)
        if desc:
            lines.append(f"{pad}# {desc}")
        default = defaults.get(key)
        if sub is not None and isinstance(val, dict) and (isinstance(default, dict) or key not in defaults):
            own = _own_defaults(_section_class(field.annotation)) if key not in defaults and field.default is None else None
            lines.append(f"{pad}{key}:" + ("  # default: off" if own is not None else ""))  # off unless given
            _render(sub, val, own if own is not None else default or {}, indent + 2, lines)
        else:
            # a value other than the default says so; keys without one (loss, model.output) follow from others
            note = f"  # default: {_flow(default)}" if key in defaults and field.default is not None and default != val else ""
            lines.append(f"{pad}{key}: {_flow(val)}{note}")
    for key, (_, field) in by_key.items():  # optional keys left unset (off by default): shown commented out
        if key not in data and key in EXAMPLES:
            example, default = EXAMPLES[key]()
            lines.append(f"{pad}# {field.description}")
            lines.append(f"{pad}# {key}: {_flow(example)}  # default: {default}")


def choices(registry) -> str:
    """Every entry of a registry with its parameters' defaults: ``sgd (momentum: 0.0, ...); adam (...)``."""
    out = []
    for e in registry.entries():
        params = ", ".join(k if v is None else f"{k}: {_flow(list(v) if isinstance(v, tuple) else v)}"
                           for k, v in e.written_defaults().items())
        out.append(f"{e.name} ({params})" if params else e.name)
    return "; ".join(out)


def _own_defaults(cls) -> dict | None:
    """The defaults of a section that is off unless given (early stopping), or None when it has required keys."""
    try:
        return cls().model_dump(mode="json", by_alias=True)
    except ValidationError:
        return None


def _early_stopping() -> tuple:
    from .config import EarlyStoppingConfig

    return EarlyStoppingConfig().model_dump(), "off"


# optional keys that are off unless given: (an example value, what applies without it)
EXAMPLES = {"early_stopping": _early_stopping, "grad_tol": lambda: (1e-4, "off"),
            "dir": lambda: ("runs/my-run", "runs/<config name>-<timestamp>"), "every_epochs": lambda: (1, "off")}


def _flow(val) -> str:
    text = yaml.safe_dump(val, default_flow_style=True, width=1000, sort_keys=False, allow_unicode=True).strip()  # column names as written, not \x-escaped
    return text.removesuffix("...").strip()


HEADER = ("# Every key that applies, with this starter's value; `# default: ...` marks a value that is",
          "# not the default (leave such a key out to get its default). `mlp schema` prints the JSON Schema.")


def starter_config(dataset: str = "xor", target: str | None = None) -> str:
    from .table import SUFFIXES

    if dataset.lower().endswith(SUFFIXES):
        return table_starter(dataset, target)
    if dataset not in PRESETS:
        raise ConfigError(f"--data {dataset!r}: choose one of {', '.join(PRESETS)}, or give a table file ({', '.join(SUFFIXES)})")
    preset = PRESETS[dataset]
    cfg = validate(preset, f"starter {dataset}")
    d = cfg.to_dict()
    d["data"].update(preset["data"])  # paths as the user would write them, relative to where training runs
    lines = [f"# mlpcli config: {dataset} starter (mlp init). Train with: mlp train <this file>",
             *HEADER, ""]
    _render(cfg, d, defaults_like(d), 0, lines)
    return "\n".join(lines) + "\n"


def defaults_like(d: dict) -> dict:
    """The resolved defaults for a config with the same dataset, optimiser and schedule as ``d``
    (so that e.g. adam's ``betas`` have a default); the names themselves get the overall defaults."""
    from .dataset import DATASETS

    base = validate({}, "defaults").to_dict()
    ref = validate({s: {"name": d[s]["name"]} for s in ("optimizer", "schedule")}, "defaults").to_dict()
    own = DATASETS.entry(d["data"]["name"]).defaults()  # written once, in the dataset's parameter model
    ref["data"] = {**base["data"], **{k: list(v) if isinstance(v, tuple) else v for k, v in own.items()}}
    for s in ("data", "optimizer", "schedule"):
        ref[s]["name"] = base[s]["name"]
    return ref


ROW_NUMBER_NAME = r"(?i)unnamed: \d+|index|row(_?(id|num|number))?|(.*[\s_-])?id"


def _numbers_the_rows(name: str, col, n_rows: int) -> bool:
    """An identifier-named integer column holding n consecutive numbers in some order (a row number or
    an exported index: ``id`` 1000..1568, ``Unnamed: 0``): it says where a row sits, not what it is.
    Both tests, so that a feature ``x`` of 1, 2, ..., n or a ``year`` per row stays an input."""
    import re

    import numpy as np

    v = col.values
    if not re.fullmatch(ROW_NUMBER_NAME, name.strip()) or not col.numeric or not col.integer or n_rows < 3 or col.missing.any():
        return False
    return bool(v.max() - v.min() == n_rows - 1 and len(np.unique(v)) == n_rows)


def _measured_in_whole_numbers(col) -> bool:
    """An integer target that ``task: auto`` would take as classes, but whose values are mostly held by
    fewer than ``RARE`` rows each (weights, ages, counts in a small table): a quantity, not labels, and
    too rare to hold a stratified test split out; the starter says ``task: regression``."""
    import numpy as np

    from .task import MAX_AUTO_CLASSES

    if not col.numeric:
        return False
    values, counts = np.unique(col.values[~col.missing], return_counts=True)
    whole = np.array_equal(values, np.round(values))  # 191.0 too, as task: auto reads it
    return whole and 2 < len(counts) <= MAX_AUTO_CLASSES and (counts < RARE).mean() > 0.5


RARE = 5  # a class held by fewer rows has at most one in a 0.2 test split


def table_starter(path: str, target: str | None) -> str:
    """A starter for the user's own table: its columns listed, the categorical ones detected, the
    task decided, and the network's ends sized by the encoded data."""
    from .data import load_for_model
    from .table import read_table

    table = read_table(path)
    if target is None:
        raise ConfigError(f"--data {path}: give the column to predict with --target (columns: {', '.join(table.columns)})")
    table.column(target)
    # text with a different value in every row names the row (an identifier): not an input
    ids = [n for n, c in table.columns.items() if not c.numeric and len(c.categories) == table.n_rows and n != target]
    ids += [n for n, c in table.columns.items() if c.missing.all() and n != target]  # an empty column: nothing to learn
    ids += [n for n, c in table.columns.items() if n != target and _numbers_the_rows(n, c, table.n_rows)]
    categorical = [n for n, c in table.columns.items() if not c.numeric and n != target and n not in ids]
    data = {"name": "table", "train": path, "target": target, "features": [n for n in table.columns if n != target and n not in ids],
            "drop": ids, "categorical": categorical, "test_fraction": 0.2,
            **({"task": "regression"} if _measured_in_whole_numbers(table.column(target)) else {}),
            "validation_split": 0.1 if table.n_rows >= 100 else 0.0}  # a handful of rows has none to spare
    preset = {"data": data, "model": {"layers": ["auto", 32, "auto"], "activation": "relu", "init": "he"},
              "optimizer": {"name": "adam", "lr": 0.001},
              "training": {"epochs": 100, "batch_size": 32,
                           **({"early_stopping": {"patience": 10}} if data["validation_split"] else {})}}
    cfg = validate(preset, f"starter {path}")
    shaped, ds = load_for_model(cfg)  # the task decided and the inputs encoded as training will
    width, k = shaped.model.layers[0], shaped.model.layers[-1]
    d = cfg.to_dict()
    d["data"]["train"] = path  # as the user gave it, relative to where training runs
    lines = [f"# mlpcli config for {path}, predicting {target!r}: {ds.task.describe()}. Train with: mlp train <this file>",
             f"# model.layers [auto, 32, auto] is {shaped.model.layers} for this table: {width} inputs (numeric columns"
             f"{', then one per category of ' + ', '.join(categorical) if categorical else ''}), {k} output{'s' if k > 1 else ''}; "
             f"loss and output follow the task: {shaped.model.output} + {shaped.loss}.",
             *HEADER, ""]
    _render(cfg, d, defaults_like(d), 0, lines)
    return "\n".join(lines) + "\n"
