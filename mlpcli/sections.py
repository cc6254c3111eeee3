"""How a config section validates, and how its errors read.

A ``Section`` refuses unknown keys with the closest valid one; a registry's section
(``registry_section``) is chosen by ``name`` and takes only that entry's parameters. ``format_error`` turns a
pydantic error into the one line users see: ``configs/x.yaml:7: optimizer.lr: must be > 0``.
The sections themselves, the config's keys, are in ``config.py``.
"""

import os
import re
import typing
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    PrivateAttr,
    create_model,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .errors import unknown_name
from .yamlfile import line_of

_PLACEHOLDER = re.compile(r"\{(\w+)(!r)?\}")


def safe_format(template: str, **values) -> str:
    """``template.format(**values)`` for the ``{name}`` and ``{name!r}`` placeholders named in
    ``values``; every other brace is text (``{x: PATH.npy}`` stays as written, no KeyError)."""

    def sub(m):
        if m.group(1) not in values:
            return m.group(0)
        v = values[m.group(1)]
        return repr(v) if m.group(2) else str(v)

    return _PLACEHOLDER.sub(sub, template)


def field_error(kind: str, template: str, **ctx):
    """A pydantic error whose message is ``template`` with ``ctx`` substituted (``!r`` and all).

    The message goes into the context last: pydantic substitutes the context's keys into the
    message in order, and nothing may be substituted into text that is already final."""
    return PydanticCustomError(kind, "{message}", {**ctx, "message": safe_format(template, **ctx)})


# What people write, coming from other tools, for a key path here or for a registry name
# (README: Configuration). Looked up with case, '-', '_' and spaces ignored.
KEY_SYNONYMS = {
    "learningrate": "optimizer.lr", "lr": "optimizer.lr", "momentum": "optimizer.momentum", "optimiser": "optimizer",
    "epochs": "training.epochs", "nepochs": "training.epochs", "numepochs": "training.epochs", "maxepochs": "training.epochs",
    "batchsize": "training.batch_size", "batch": "training.batch_size", "earlystopping": "training.early_stopping",
    "patience": "training.early_stopping.patience", "dtype": "training.dtype", "shuffle": "training.shuffle",
    "weightdecay": "l2", "l2reg": "l2", "lambda": "l2", "regularization": "l2", "regularisation": "l2",
    "layers": "model.layers", "hiddenlayers": "model.layers", "layersizes": "model.layers", "sizes": "model.layers",
    "activation": "model.activation", "outputactivation": "model.output", "init": "model.init",
    "initializer": "model.init", "initialiser": "model.init", "weightinit": "model.init",
    "scheduler": "schedule", "lrscheduler": "schedule", "lrschedule": "schedule", "dataset": "data",
    "outdir": "output.dir", "rundir": "output.dir", "logdir": "output.dir", "valsplit": "data.validation_split",
    "validationsplit": "data.validation_split", "normalise": "data.normalize", "normalization": "data.normalize",
    "criterion": "loss", "lossfunction": "loss", "randomseed": "seed",
}
NAME_SYNONYMS = {
    "mse": "squared_error", "meansquarederror": "squared_error", "l2": "squared_error", "bce": "binary_cross_entropy",
    "logloss": "binary_cross_entropy", "bcewithlogits": "binary_cross_entropy", "ce": "cross_entropy",
    "crossentropy": "cross_entropy", "categoricalcrossentropy": "cross_entropy", "nll": "cross_entropy",
    "softmaxcrossentropy": "cross_entropy", "linear": "identity", "none": "identity", "logistic": "sigmoid",
    "lrelu": "leaky_relu", "kaiming": "he", "kaimingnormal": "he", "henormal": "he", "glorotuniform": "xavier",
    "xavieruniform": "xavier", "gaussian": "normal", "steplr": "step", "exponentiallr": "exponential",
    "cosineannealing": "cosine", "cosineannealinglr": "cosine", "reducelronplateau": "plateau", "reduceonplateau": "plateau",
    "fixed": "constant", "momentum": "sgd",
}


def _fold(text) -> str:
    return "".join(c for c in str(text).lower() if c not in "-_ ")


def suggestion(given, valid, synonyms=NAME_SYNONYMS) -> str | None:
    """The valid name or key a user most likely meant: the same up to case and separators
    (``ReLu`` -> ``relu``), a common synonym (``mse`` -> ``squared_error``), else the closest spelling."""
    import difflib

    valid = [str(v) for v in valid]
    folded = {_fold(v): v for v in valid}
    if _fold(given) in folded:
        return folded[_fold(given)]
    target = synonyms.get(_fold(given))
    if target is not None and (target in valid or "." in target):
        return target
    close = difflib.get_close_matches(str(given).lower(), [v.lower() for v in valid], n=1, cutoff=0.6)
    return next(v for v in valid if v.lower() == close[0]) if close else None


def key_suggestion(key, valid, section: str) -> str | None:
    """``suggestion`` for a key of ``section`` (a dotted path, '' at the top level): a synonym
    that belongs to this section is named relative to it, one elsewhere by its full path."""
    target = KEY_SYNONYMS.get(_fold(key))
    if target is not None and section and target.startswith(section + "."):
        target = target[len(section) + 1:]
    if target is not None and target != key and (target in valid or "." in target):
        return target
    return suggestion(key, valid, synonyms={})


def check_name(kind: str, value, valid, at: str | None = None) -> str:
    """``value`` if it is one of ``valid``, else the error naming the valid ones (and the nearest);
    ``at``: the key the error points to, below the field being validated."""
    if not isinstance(value, str) or value not in valid:
        hint = suggestion(value, valid) if isinstance(value, str) else None
        raise field_error("unknown_name", "{text}", text=unknown_name(kind, value, list(valid),
                                                                      hint=f"; did you mean {hint!r}?" if hint else ""),
                          **({"at": at} if at else {}))
    return value


class UnknownKey:
    """Stands in for the value of a key its section does not have, so that pydantic reports every
    unknown key of a config at once (as extra_forbidden) and ``format_error`` can word each one."""

    def __init__(self, key, valid):
        self.key, self.valid = str(key), valid


# a path in a config: relative paths resolve against the current directory and are stored absolute
AbsPath = Annotated[str, AfterValidator(lambda v: os.path.abspath(os.path.expanduser(v)))]


def also(*alternatives):
    """json_schema_extra that lets a property also be one of ``alternatives`` (the string shorthands)."""

    def extend(schema: dict) -> None:
        options = schema.pop("anyOf", None) or [{"$ref": schema.pop("$ref")}]
        schema["anyOf"] = [*options, *alternatives]

    return extend


class Section(BaseModel):
    """A mapping of the config: unknown keys are errors that suggest the closest valid key.

    Types are strict, so a boolean is not a number (``epochs: true``) nor a number a boolean
    (``shuffle: 1``), and numbers are finite (``lr: .inf`` and ``1e400`` are refused).
    """

    # defer_build: validators are built on first use, so a section no validation reaches (a table's missing:) costs nothing
    model_config = ConfigDict(extra="forbid", populate_by_name=True, validate_default=True, strict=True, allow_inf_nan=False,
                              defer_build=True)

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data):
        if data is None:  # a section written with no keys (`output:`) takes every default
            return {}
        if isinstance(data, dict):
            data = _lists_as_tuples(cls, data)
            valid = [f.alias or n for n, f in cls.model_fields.items()]
            unknown = [key for key in data if key not in valid and key not in cls.model_fields]
            if unknown:  # each becomes its own error, worded by format_error
                data = {k: UnknownKey(k, valid) if k in unknown else v for k, v in data.items()}
        elif not isinstance(data, BaseModel):
            raise field_error("not_a_mapping", "expected a mapping of keys (got {got!r})", got=data)
        return data

    def _only_keys_of(self, name: str, allowed, common=()) -> None:
        """Refuse keys that the chosen ``name`` does not take (e.g. ``betas`` for sgd)."""
        for key in self.model_fields_set - {"name", *allowed, *common}:
            field = type(self).model_fields[key]
            raise field_error("not_a_parameter", "{key!r} is not a parameter of {name!r} (its parameters: {valid})",
                       key=field.alias or key, name=name, valid=", ".join(allowed) or "none")


def _lists_as_tuples(cls, data: dict) -> dict:
    """YAML and JSON have lists where a field is a tuple (``betas: [0.9, 0.999]``): strict types
    would refuse them, so they become tuples first."""
    keys = set()
    for name, f in cls.model_fields.items():
        if any(a is tuple or typing.get_origin(a) is tuple for a in (f.annotation, *typing.get_args(f.annotation))):
            keys.update({name, f.alias or name})
    if not keys & set(data):
        return data
    return {k: tuple(v) if k in keys and isinstance(v, list) else v for k, v in data.items()}


class NamedSection(Section):
    """The keys common to every entry of a registry's section (``lr`` for optimisers); the model
    of one entry adds that entry's parameters and ``name`` (see ``registry_section``)."""

    registry: ClassVar = None
    name: str  # one entry's model fixes it to the entry's name

    def params(self) -> dict:
        """The chosen entry's own parameters and their values."""
        return {k: getattr(self, k) for k in self.registry.entry(self.name).params.model_fields}


def registry_section(base: type[NamedSection], description: str = "", instead: dict | None = None):
    """The config type of a registry's section: a union of one model per entry (``base``'s common
    keys, the entry's parameters, ``name`` fixed to the entry), told apart by ``name``.

    The shorthand ``optimizer: adam`` is ``{name: adam}``; an omitted name is the registry's default.
    An unknown name suggests the closest one, and a parameter of another entry is refused by name
    (``'betas' is not a parameter of 'sgd'``). The models are built from the registry when used,
    so an entry registered later is validated, and listed by the schema, like the built-in ones.
    ``instead`` maps a key to a section that replaces the registry's when that key is given
    (``init: {from: PATH}``).
    """
    instead = instead or {}
    registry, built = base.registry, {}

    def variant(name: str) -> type[Section]:
        key = (name, registry.version)
        if key not in built:
            entry = registry.entry(name)
            default = name if name == registry.default else ...
            built[key] = create_model(
                f"{base.__name__}_{name}", __base__=(entry.params, base), __module__=base.__module__,
                name=(Literal[name], Field(default, description=entry.description or f"{registry.kind} {name}")))
        return built[key]

    def validate(v):
        if isinstance(v, (base, *instead.values())):  # a default, or a section validated already
            return v
        if v is None:  # a section written with no keys takes every default
            v = {}
        if isinstance(v, str):
            v = {"name": v}
        if not isinstance(v, dict):
            raise field_error("not_a_mapping", "expected a name or a mapping of keys (got {got!r})", got=v)
        for key, section in instead.items():
            if key in v:
                return section.model_validate(v)
        name = check_name(registry.kind, v.get("name", registry.default), list(registry), at="name" if "name" in v else None)
        keys = registry.param_names()
        own = keys[name]
        foreign = {k for entry_keys in keys.values() for k in entry_keys} - set(own)
        for key in v:
            if key in foreign:
                raise field_error("not_a_parameter", "{key!r} is not a parameter of {name!r} (its parameters: {valid})",
                                  key=str(key), name=name, valid=", ".join(own) or "none", at=str(key))
        return variant(name).model_validate({**v, "name": name})

    class Schema:
        """The JSON Schema of the union, generated from the registry's entries at the time."""

        @staticmethod
        def __get_pydantic_json_schema__(core_schema, handler):
            names = list(registry)
            options = [handler(m.__pydantic_core_schema__) for m in [*map(variant, names), *instead.values()]]
            return {"anyOf": [*options, {"enum": names}, {"type": "null"}], "description": description,
                    "default": registry.default}

    return Annotated[Any, PlainValidator(validate), Schema()]


def format_error(err: dict, source: str, node, overridden) -> str:
    ctx = err.get("ctx") or {}
    loc = [p for p in err["loc"] if p != "__root__"]
    if ctx.get("at"):  # an error about how keys fit together names the key it is about
        loc = [*loc, *ctx["at"].split(".")]
    path = ".".join(str(p) for p in loc) or "(top level)"
    msg = ctx.get("message", err["msg"])  # our own text, verbatim
    inp = err.get("input")
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
        if isinstance(inp, UnknownKey):
            hint = key_suggestion(inp.key, inp.valid, ".".join(str(p) for p in loc[:-1]))
            msg = f"unknown key {inp.key!r}" + (f"; did you mean {hint!r}?" if hint else "") + f" (valid: {', '.join(inp.valid)})"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if err["type"] not in ("extra_forbidden", "missing", "unknown_name", "not_a_parameter") and isinstance(inp, (int, float, str, bool)) and "got" not in msg:
        msg = f"{msg} (got {inp!r})"
    if err["type"] == "missing" and "message" not in ctx:
        msg = "required key is missing"
    if any(path == o or path.startswith((o + ".", o + "[")) for o in overridden):
        return f"{source}: --set {path}: {msg}"
    line = line_of(node, loc) if node is not None else None
    where = f"{source}:{line}" if line else source
    return f"{where}: {path}: {msg}"


class Located(BaseModel):
    """A whole file's model that remembers where it came from: the file (for messages), its
    parsed YAML node (for line numbers) and a name (a config's run name)."""

    _source: str | None = PrivateAttr(None)
    _node: object = PrivateAttr(None)
    _name: str | None = PrivateAttr(None)

    def located(self, source: str | None, node=None, name: str | None = None):
        self._source, self._node, self._name = source, node, name
        return self

    @property
    def source(self) -> str | None:
        return self._source

    @property
    def node(self):
        return self._node

    @property
    def run_name(self) -> str | None:
        return self._name

