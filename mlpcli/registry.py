"""One registry per concept (optimiser, schedule, initialiser, dataset): name -> implementation
and the small pydantic model of that entry's own parameters, where each default is written once.

The config's sections are built from the registries (``sections.registry_section``): a
section is a union of one model per entry, told apart by ``name``, so ``mlp schema``,
``mlp init`` and the README's key table all list what is registered. Adding a schedule or a
dataset is one ``register`` call next to its implementation::

    class StepParams(Params):
        step_size: int = Field(10, ge=1, description="multiply by gamma every step_size epochs")
        gamma: float = Field(0.1, gt=0, le=1, description="decay factor")

    SCHEDULES.register("step", step, StepParams, "multiply the rate by gamma every step_size epochs")
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError


class Params(BaseModel):
    """The parameters one registry entry takes (none, unless a subclass declares fields)."""

    # defer_build: an entry's validator is built when it is first used, so a run pays for the entries its config names only
    model_config = ConfigDict(extra="forbid", populate_by_name=True, validate_default=True, defer_build=True)


@dataclass(frozen=True)
class Entry:
    name: str
    impl: Any
    params: type[Params]
    description: str = ""
    whole: bool = False  # a dataset that builds the whole Dataset itself: impl(cfg, rng, fitted normaliser, task)

    def defaults(self) -> dict:
        """The entry's parameters with their defaults, by config name, validated (paths made
        absolute); as written when the entry has required parameters (None for those)."""
        try:
            return self.params().model_dump(by_alias=True)
        except ValidationError:
            return self.written_defaults()

    def written_defaults(self) -> dict:
        """The defaults as the parameter model writes them (``data/mnist``, not an absolute path)."""
        out = {}
        for k, f in self.params.model_fields.items():
            v = None if f.is_required() else f.get_default(call_default_factory=True)
            out[f.alias or k] = v.model_dump() if isinstance(v, BaseModel) else v
        return out

    def param_names(self) -> tuple[str, ...]:
        """The entry's parameters by config name, read from its model's fields (nothing validated)."""
        return tuple(f.alias or k for k, f in self.params.model_fields.items())


class Registry(Mapping):
    """name -> implementation (a read-only mapping), with each entry's parameter model in ``entry(name)``."""

    def __init__(self, kind: str, default: str):
        self.kind, self.default = kind, default
        self._entries: dict[str, Entry] = {}
        self.version = 0  # bumped on every change: the sections built from the registry follow it
        self._param_names: tuple[int, dict] = (-1, {})

    def register(self, name: str, impl, params: type[Params] = Params, description: str = "", *, whole=False) -> None:
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered already")
        self._entries[name] = Entry(name, impl, params, description, whole)
        self.version += 1

    def unregister(self, name: str) -> None:
        del self._entries[name]
        self.version += 1

    def entry(self, name: str) -> Entry:
        return self._entries[name]

    def entries(self) -> list[Entry]:
        return list(self._entries.values())

    def param_names(self) -> dict[str, tuple[str, ...]]:
        """Each entry's parameter names (``Entry.param_names``), worked out once per version of the registry."""
        if self._param_names[0] != self.version:
            self._param_names = (self.version, {n: e.param_names() for n, e in self._entries.items()})
        return self._param_names[1]

    def __getitem__(self, name):
        return self._entries[name].impl

    def __iter__(self):
        return iter(self._entries)

    def __len__(self):
        return len(self._entries)
