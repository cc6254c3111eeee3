"""Config error messages: user text and braces in them are never read as format placeholders."""

import pytest

from mlpcli.config import load_config
from mlpcli.errors import ConfigError
from mlpcli.sections import field_error, safe_format


def error_of(tmp_path, text, overrides=()):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_config(p, overrides)
    return str(e.value)


def test_safe_format_substitutes_only_the_given_names():
    assert safe_format("{a!r} and {b}", a="x", b=1) == "'x' and 1"
    assert safe_format("needs {x: PATH.npy} or {y}", y=2) == "needs {x: PATH.npy} or 2"
    assert safe_format("{key}", key="{other}", other="no") == "{other}"  # a value is never re-read
    assert safe_format("unbalanced { and }") == "unbalanced { and }"


def test_field_error_message_is_final_text():
    err = field_error("k", "key {key!r} near {valid}", key="{valid}", valid="x, y", at="data")
    assert err.message() == "key '{valid}' near x, y"


def test_npy_without_train_names_the_key_and_keeps_its_braces(tmp_path):
    msg = error_of(tmp_path, "data: {name: npy}\n")
    assert msg == f"{tmp_path / 'c.yaml'}:1: data.train: dataset 'npy' needs data.train: {{x: PATH.npy, y: PATH.npy}} or an .npz path"


def test_braces_in_user_keys_and_values_are_text(tmp_path):
    assert "unknown key '{x}'" in error_of(tmp_path, "data:\n  '{x}': 1\n")
    assert "'{name}'" in error_of(tmp_path, "model: {activation: '{name}'}\n")
    assert "'{0}'" in error_of(tmp_path, "seed: 1\n", ["optimizer.name='{0}'"])
