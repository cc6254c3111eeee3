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


@pytest.mark.parametrize(("text", "expected"), [
    ("model: {activation: ReLu}\n", "model.activation: unknown activation 'ReLu'; did you mean 'relu'?"),
    ("optimizer: {name: Adam}\n", "optimizer.name: unknown optimizer 'Adam'; did you mean 'adam'?"),
    ("loss: mse\n", "loss: unknown loss 'mse'; did you mean 'squared_error'?"),
    ("model: {init: kaiming}\n", "unknown initialiser 'kaiming'; did you mean 'he'?"),
    ("schedule: ReduceLROnPlateau\n", "unknown schedule 'ReduceLROnPlateau'; did you mean 'plateau'?"),
    ("learning_rate: 0.1\n", "learning_rate: unknown key 'learning_rate'; did you mean 'optimizer.lr'?"),
    ("optimizer: {learning_rate: 0.1}\n", "optimizer.learning_rate: unknown key 'learning_rate'; did you mean 'lr'?"),
    ("epochs: 5\n", "epochs: unknown key 'epochs'; did you mean 'training.epochs'?"),
    ("training: {lr: 5}\n", "training.lr: unknown key 'lr'; did you mean 'optimizer.lr'?"),
    ("model: {Layers: [2, 3, 1]}\n", "model.Layers: unknown key 'Layers'; did you mean 'layers'?"),
    ("training: {epoch: 3}\n", "training.epoch: unknown key 'epoch'; did you mean 'epochs'?"),
])
def test_suggestions_ignore_case_and_know_synonyms(tmp_path, text, expected):
    assert expected in error_of(tmp_path, text)


def test_every_error_at_once_in_file_order_one_line_each(tmp_path):
    text = "epochs: 5\nmodel:\n  activation: ReLu\n  Bias: true\noptimizer:\n  lr: -1\ntraining: {batch_size: 0}\n"
    lines = error_of(tmp_path, text, ["data.nme=x"]).splitlines()
    src = str(tmp_path / "c.yaml")
    assert [line.split(": ", 2)[:2] for line in lines] == [
        [src, "--set data.nme"], [f"{src}:1", "epochs"], [f"{src}:3", "model.activation"], [f"{src}:4", "model.Bias"],
        [f"{src}:6", "optimizer.lr"], [f"{src}:7", "training.batch_size"]]


def test_at_most_ten_lines(tmp_path):
    text = "".join(f"bad{i}: 1\n" for i in range(14))
    lines = error_of(tmp_path, text).splitlines()
    assert len(lines) == 10 and lines[0].startswith(f"{tmp_path / 'c.yaml'}:1: bad0: unknown key 'bad0'")
    assert lines[-1] == f"{tmp_path / 'c.yaml'}: ... and 5 more errors"
