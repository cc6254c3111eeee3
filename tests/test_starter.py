"""`mlp init` states exactly the defaults that apply, and so does the README's key table.

Both are checked against what validation resolves when a key is left out, not against the
starter's own notion of the defaults.
"""

import copy
import os
import re

import numpy as np
import pytest
import yaml

from mlpcli.config import load_config, validate
from mlpcli.data import load_data
from mlpcli.errors import ConfigError, DataError
from mlpcli.keytable import rows
from mlpcli.starter import PRESETS, starter_config

from .conftest import ROOT

NOTE = re.compile(r"^(\s*)([A-Za-z_][A-Za-z0-9_]*):(?: (.*?))?(?:  # default: (.*))?$")


def leaves(d: dict, prefix=()):
    for k, v in d.items():
        if isinstance(v, dict):
            yield from leaves(v, (*prefix, k))  # an empty section (output: {}) has no keys to check
        else:
            yield (*prefix, k), v


def resolved(data: dict, path):
    d = validate(data, "test").to_dict()
    for part in path:
        if not isinstance(d, dict) or part not in d:
            return None
        d = d[part]
    return d


def annotated_lines(text: str) -> dict:
    """key path -> the value a starter line gives and its `# default:` note (or None)."""
    out, stack = {}, []
    for line in text.splitlines():
        m = NOTE.match(line)
        if not m or line.lstrip().startswith("#"):
            continue
        depth = len(m.group(1)) // 2
        stack[depth:] = [m.group(2)]
        out[tuple(stack)] = (m.group(3), m.group(4))
    return out


@pytest.mark.parametrize("name", [n for n in PRESETS if n != "npy"])
def test_starter_marks_exactly_the_values_that_are_not_defaults(name):
    text = starter_config(name)
    data = yaml.safe_load(text)
    lines = annotated_lines(text)
    defaults = validate({}, "defaults").to_dict()
    checked = 0
    for path, value in leaves(data):
        if value is None:  # a section whose keys are all commented out (output:)
            continue
        shown, note = lines[path]
        without = copy.deepcopy(data)
        parent = without
        for part in path[:-1]:
            parent = parent[part]
        del parent[path[-1]]
        try:
            default = resolved(without, path)
        except ConfigError:  # a name others depend on (adam's betas): the default config's name
            default = resolved({}, path)
        if note is None:
            assert value == default, f"{'.'.join(path)}: {value!r} is not the default {default!r} and says nothing"
        else:
            assert yaml.safe_load(note) == default != value, f"{'.'.join(path)}: '# default: {note}', default is {default!r}"
        checked += 1
    assert checked >= 20 and defaults["optimizer"]["lr"] == 0.1


def test_xor_starter_says_lr_and_epochs_differ():
    text = starter_config("xor")
    assert "lr: 0.05  # default: 0.1" in text and "epochs: 300  # default: 100" in text
    assert "# early_stopping: {monitor: val_loss, patience: 10, min_delta: 0.0, restore_best: true}  # default: off" in text


def readme_key_table():
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("| key | default | meaning |"):]
    table = table[: table.index("\n\n")]
    generated = set(rows())  # a registry entry's parameters: checked against the registry by tests/test_readme.py
    for row in table.splitlines()[2:]:
        if row in generated:
            continue
        keys_cell, default_cell = (c.strip() for c in row.strip("|").split(" | ")[:2])
        yield re.findall(r"`([^`]+)`", keys_cell), default_cell


# a config in which each README key applies (dataset, optimiser and schedule keys need their name)
CONTEXTS = [{}, {"data": "regression"}, {"data": {"normalize": "scale"}}, {"data": "mnist"}, {"optimizer": "adam"}, {"optimizer": "rmsprop"},
            {"optimizer": {"name": "sgd", "momentum": 0.9}}, {"schedule": "plateau"}, {"schedule": "step"},
            {"schedule": "cosine"}, {"training": {"early_stopping": True}, "data": {"validation_split": 0.1}}]


def default_of(key: str):
    path = key.split(".")
    for ctx in CONTEXTS:
        d = validate(ctx, "test").to_dict()
        for part in path:
            d = d.get(part) if isinstance(d, dict) else None
        if d is not None:
            return d.get("name") if isinstance(d, dict) and "name" in d else d
    return None


def test_readme_key_table_states_the_defaults():
    rows = list(readme_key_table())
    assert len(rows) > 20
    for keys, cell in rows:
        literals = re.findall(r"`([^`]+)`", re.sub(r"\(.*?\)", "", cell))  # remarks in parentheses aside
        if cell.startswith(("from", "—")):
            continue  # implied by another key, or required by its dataset
        if cell == "off":
            assert all(resolved({}, k.split(".")) is None for k in keys), keys
            continue
        assert len(literals) == len(keys), f"{keys}: {cell}"
        for key, text in zip(keys, literals, strict=True):
            want = yaml.safe_load(text)
            got = default_of(key)
            if isinstance(got, str) and os.path.isabs(got):
                want = os.path.abspath(want)
            assert (float(want) if isinstance(got, float) else want) == got, f"README says {key} defaults to {text}, it is {got!r}"


def test_readme_key_table_covers_every_key_that_applies():
    documented = {k for keys, _ in readme_key_table() for k in keys} | {k for r in rows() for k in re.findall(r"`([^`]+)`", r.split(" | ")[0])}
    for ctx in CONTEXTS:
        for path, _ in leaves(validate(ctx, "test").to_dict()):
            key = ".".join(path)
            assert key in documented or key.removesuffix(".name") in documented, f"{key} is not in the README's key table"


def test_a_whole_number_quantity_in_a_small_table_starts_as_regression(tmp_path):
    """linnerud-like: 20 rows whose integer target has 16 values (weights) are not 16 classes that no test split
    can stratify; the starter says task: regression and the config trains. Integer labels with rows to spare stay
    classes."""
    from mlpcli.starter import table_starter

    rng = np.random.default_rng(0)
    x = rng.integers(1, 20, 20)
    weight = tmp_path / "w.csv"
    weight.write_text("chins,weight\n" + "".join(f"{a},{150 + 3 * a + i % 2}.0\n" for i, a in enumerate(x)))
    text = table_starter(str(weight), "weight")
    assert "predicting 'weight': regression" in text and "task: regression  # default: auto" in text
    cfg = load_config(None, [f"data.train={weight}", "data.name=table", "data.target=weight", "data.task=auto"])
    with pytest.raises(DataError, match="set data.task: regression"):  # what task: auto alone would do
        load_data(cfg)
    labels = tmp_path / "l.csv"
    labels.write_text("a,label\n" + "".join(f"{i},{i % 3}\n" for i in range(60)))
    assert "classification, 3 classes: 0, 1, 2" in table_starter(str(labels), "label")
