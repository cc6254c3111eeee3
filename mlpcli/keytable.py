"""The README's key-table rows of every registry entry's parameters, generated from the
entries' parameter models: registering an optimiser, schedule, initialiser or dataset is
all it takes to document its keys. ``python -m mlpcli.keytable`` prints the rows;
tests/test_readme.py checks that the README holds each of them."""

from __future__ import annotations

import yaml

from .config import Config  # noqa: F401 - imports every registry's entries (the table dataset too)
from .dataset import DATASETS
from .initializers import INITIALIZERS
from .optimizers import OPTIMIZERS
from .schedules import SCHEDULES

REGISTRIES = (("data", DATASETS), ("model.init", INITIALIZERS), ("optimizer", OPTIMIZERS), ("schedule", SCHEDULES))


def _cell(value) -> str:
    if value is None:
        return "—"
    text = yaml.safe_dump(list(value) if isinstance(value, tuple) else value, default_flow_style=True, width=1000,
                          sort_keys=False).strip()
    return f"`{text.removesuffix('...').strip()}`"


def rows() -> list[str]:
    """One row naming each registry's entries, then one row per entry with parameters."""
    out = []
    for prefix, registry in REGISTRIES:
        names = "; ".join(f"`{e.name}`: {e.description}" for e in registry.entries())
        out.append(f"| `{prefix}.name` | `{registry.default}` | {names} |")
        for e in registry.entries():
            fields = {f.alias or k: f for k, f in e.params.model_fields.items()}
            if not fields:
                continue
            keys = ", ".join(f"`{prefix}.{k}`" for k in fields)
            defaults = ", ".join(_cell(v) for v in e.written_defaults().values())
            meaning = "; ".join(f"`{k}`: {f.description}" for k, f in fields.items())
            out.append(f"| {keys} | {defaults} | {e.name}: {meaning} |")
    return out


if __name__ == "__main__":
    print("\n".join(rows()))
