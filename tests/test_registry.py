"""Registries: one entry (implementation + parameter model) is all a new schedule or dataset needs;
validation, `mlp schema` and `mlp init` pick it up."""

import numpy as np
import pytest
from pydantic import Field

import mlpcli
from mlpcli.config import json_schema, load_config
from mlpcli.data import DATASETS, load_data
from mlpcli.keytable import rows
from mlpcli.registry import Params, Registry
from mlpcli.schedules import SCHEDULES, Schedule
from mlpcli.starter import starter_config


class HalvingParams(Params):
    every: int = Field(3, ge=1, description="halve the rate every this many epochs")


def halving(e, lr, T, every):
    return lr * 0.5 ** (e // every)


class LineParams(Params):
    n: int = Field(8, ge=2, description="points on the line y = 2x")


def line(d, rng):
    x = np.linspace(-1, 1, d.n).reshape(-1, 1)
    return (x, 2 * x), (x, 2 * x)


@pytest.fixture
def toys():
    SCHEDULES.register("halving", halving, HalvingParams, "halve the rate every few epochs")
    DATASETS.register("line", line, LineParams, "points on a line")
    yield
    SCHEDULES.unregister("halving")
    DATASETS.unregister("line")


def test_a_registered_entry_is_a_config_name_with_its_parameters(toys):
    cfg = load_config(None, ["schedule=halving", "data.name=line", "model.layers=[1,4,1]", "model.output=identity"])
    assert cfg.schedule.params() == {"every": 3} and cfg.data.n == 8
    s = Schedule("halving", 1.0, 10, every=2)
    rates = []
    for _ in range(5):
        rates.append(s.lr)
        s.end_epoch()
    assert rates == [1.0, 1.0, 0.5, 0.5, 0.25]
    ds = load_data(cfg)
    assert ds.task.kind == "regression" and len(ds.train) == 8
    with pytest.raises(mlpcli.ConfigError, match=r"schedule.every: .*greater than or equal to 1"):
        load_config(None, ["schedule=halving", "schedule.every=0"])
    with pytest.raises(mlpcli.ConfigError, match="'gamma' is not a parameter of 'halving' .its parameters: every"):
        load_config(None, ["schedule=halving", "schedule.gamma=0.5"])
    with pytest.raises(mlpcli.ConfigError, match="unknown schedule 'halvin'; did you mean 'halving'"):
        load_config(None, ["schedule=halvin"])


def test_schema_starter_and_readme_table_list_a_registered_entry(toys):
    props = json_schema()["properties"]
    (toy,) = [s for s in props["schedule"]["anyOf"] if s.get("title") == "ScheduleConfig_halving"]
    assert toy["properties"]["every"]["default"] == 3 and toy["properties"]["name"]["const"] == "halving"
    assert "halving" in props["schedule"]["anyOf"][-2]["enum"]
    (line_schema,) = [s for s in props["data"]["anyOf"] if s.get("title") == "DataConfig_line"]
    assert line_schema["properties"]["n"]["default"] == 8
    text = starter_config("xor")
    assert "halving (every: 3)" in text and "line (n: 8)" in text
    table = rows()  # the README's key table
    assert "| `schedule.every` | `3` | halving: `every`: halve the rate every this many epochs |" in table
    assert "| `data.n` | `8` | line: `n`: points on the line y = 2x |" in table
    assert "`halving`: halve the rate every few epochs" in next(r for r in table if r.startswith("| `schedule.name`"))


def test_entries_unregister_cleanly():
    assert "halving" not in SCHEDULES and "halving" not in str(json_schema())
    with pytest.raises(mlpcli.ConfigError, match="unknown schedule"):
        load_config(None, ["schedule=halving"])


def test_registry_is_a_mapping_of_implementations():
    r = Registry("thing", default="a")
    r.register("a", len)
    assert dict(r) == {"a": len} and r.entry("a").defaults() == {}
    with pytest.raises(ValueError, match="registered already"):
        r.register("a", len)


def test_defaults_are_written_once_in_the_parameter_models():
    """The config's defaults are the registries' parameter models, nothing else."""
    cfg = load_config(None, ["optimizer=adam", "schedule=step", "model.init=normal", "data.name=regression"])
    assert cfg.optimizer.params() == {"betas": (0.9, 0.999), "eps": 1e-8}
    assert cfg.schedule.params() == SCHEDULES.entry("step").defaults() == {"step_size": 10, "gamma": 0.1}
    assert cfg.model.init.params() == {"std": 0.01}
    assert load_config(None, ["schedule=exponential"]).schedule.params() == {"gamma": 0.95}
    assert cfg.data.n_samples == DATASETS.entry("regression").defaults()["n_samples"]


def test_parameter_names_follow_the_registry():
    """The names each entry takes are worked out once per registry version, so an entry registered
    after a config was validated is known to the next validation, and forgotten once unregistered."""
    assert SCHEDULES.param_names()["step"] == ("step_size", "gamma")
    load_config(None, ["schedule=step"])
    SCHEDULES.register("halving", halving, HalvingParams, "halve the rate every few epochs")
    try:
        assert SCHEDULES.param_names()["halving"] == ("every",)
        with pytest.raises(mlpcli.ConfigError, match="'every' is not a parameter of 'step' .its parameters: step_size, gamma"):
            load_config(None, ["schedule=step", "schedule.every=2"])
    finally:
        SCHEDULES.unregister("halving")
    assert "halving" not in SCHEDULES.param_names()
    with pytest.raises(mlpcli.ConfigError, match="unknown key 'every'"):
        load_config(None, ["schedule=step", "schedule.every=2"])
