"""The sweep file: validated like a config (file:line: key, did-you-mean), its space checked
against the base config before any trial, and the configs trials get from it."""

import pytest

from mlpcli.errors import ConfigError
from mlpcli.sweepfile import absolute_paths, check_space, config_for, read_sweep, with_params

from .conftest import write_yaml

BASE = {"data": {"name": "xor"}, "model": {"layers": [2, 4, 1]}, "optimizer": {"name": "sgd", "lr": 0.1},
        "training": {"epochs": 2}}


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # messages name the file as given: sweep.yaml


def sweep(tmp_path, text, trials=None):
    write_yaml(tmp_path / "sweep.yaml", text)
    return read_sweep("sweep.yaml", trials)[0]


def error(tmp_path, text, base=BASE):
    with pytest.raises(ConfigError) as e:
        spec = sweep(tmp_path, text)
        check_space(spec, base, "base.yaml")
    return str(e.value)


def test_the_spec_example_reads_with_its_defaults(tmp_path):
    spec = sweep(tmp_path, """\
metric: val_loss
direction: minimize
trials: 40
sampler: {name: tpe, seed: 0}
pruner: median
space:
  optimizer.lr: {log_uniform: [1.0e-4, 1.0e-1]}
  l2: {log_uniform: [1.0e-6, 1.0e-2]}
  model.layers: {choice: [[2, 64, 1], [2, 128, 64, 1]]}
  training.batch_size: {choice: [32, 128]}
""")
    assert (spec.metric, spec.direction, spec.trials, spec.sampler.name, spec.sampler.seed, spec.pruner.name) == \
        ("val_loss", "minimize", 40, "tpe", 0, "median")
    assert spec.space["model.layers"].kind == "choice" and spec.space["l2"].bounds == (1e-6, 1e-2)
    minimal = sweep(tmp_path, "space: {optimizer.lr: {uniform: [0.01, 0.1]}}")
    assert (minimal.metric, minimal.direction, minimal.sampler.name, minimal.pruner.name) == ("val_loss", "minimize", "tpe", "none")
    assert sweep(tmp_path, "metric: val_acc\nspace: {l2: {uniform: [0, 1]}}").direction == "maximize"
    assert sweep(tmp_path, "sampler: random\nspace: {l2: {uniform: [0, 1]}}", trials=3).trials == 3


@pytest.mark.parametrize("text, expected", [
    ("metrc: val_loss\nspace: {l2: {uniform: [0, 1]}}", "sweep.yaml:1: metrc: unknown key 'metrc'; did you mean 'metric'?"),
    ("space:\n  l2: {uniform: [0, 1]}\npruner: medain\n", "sweep.yaml:3: pruner.name: unknown pruner 'medain'; did you mean 'median'?"),
    ("pruner: {name: median, reduction_factor: 3}\nspace: {l2: {uniform: [0, 1]}}",
     "sweep.yaml:1: pruner: 'reduction_factor' is not a parameter of 'median' (its parameters: n_startup_trials, n_warmup_steps"),
    ("sampler: {name: tpe, sed: 1}\nspace: {l2: {uniform: [0, 1]}}", "sweep.yaml:1: sampler.sed: unknown key 'sed'; did you mean 'seed'?"),
    ("metric: val_los\nspace: {l2: {uniform: [0, 1]}}", "sweep.yaml:1: metric: unknown metric 'val_los'; did you mean 'val_loss'?"),
    ("space:\n  l2: {uniform: [1, 0]}\n", "sweep.yaml:2: space.l2: uniform: expected [lo, hi] with lo < hi (got [1.0, 0.0])"),
    ("space:\n  l2: {log_uniform: [0, 1]}\n", "sweep.yaml:2: space.l2: log_uniform: lo must be > 0"),
    ("space:\n  l2: {uniform: [0, 1], choice: [1]}\n", "sweep.yaml:2: space.l2: give exactly one of log_uniform, uniform, int, choice (got uniform, choice)"),
    ("space:\n  l2: {unifrom: [0, 1]}\n", "sweep.yaml:2: space.l2.unifrom: unknown key 'unifrom'; did you mean 'uniform'?"),
    ("space:\n  l2: {choice: [1, 1]}\n", "sweep.yaml:2: space.l2: choice: the values must differ"),
    ("trials: 0\nspace: {l2: {uniform: [0, 1]}}", "sweep.yaml:1: trials: Input should be greater than or equal to 1"),
    ("sampler: grid\nspace:\n  l2: {uniform: [0, 1]}\n", "sweep.yaml:3: space.l2: the grid sampler needs choice or int ranges"),
    ("metric: val_loss\n", "sweep.yaml: space: required key is missing"),
])
def test_sweep_file_errors_name_file_line_and_key(tmp_path, text, expected):
    assert error(tmp_path, text).startswith(expected)


@pytest.mark.parametrize("space, expected", [
    ("optimizer.lrr: {log_uniform: [0.001, 0.1]}", "sweep.yaml:2: space.optimizer.lrr: 0.001 gives an invalid config: "
                                                   "base.yaml: optimizer.lrr: unknown key 'lrr'; did you mean 'lr'?"),
    ("optimizer.momentum: {uniform: [0.0, 1.5]}", "sweep.yaml:2: space.optimizer.momentum: 1.5 gives an invalid config"),
    ("model.layers: {choice: [[2, 4, 1], [2, 0, 1]]}", "sweep.yaml:2: space.model.layers: [2, 0, 1] gives an invalid config"),
    ("optimizer.betas: {choice: [[0.9, 0.99]]}", "'betas' is not a parameter of 'sgd'"),
])
def test_every_value_of_the_space_is_checked_against_the_config(tmp_path, space, expected):
    assert expected in error(tmp_path, f"space:\n  {space}\n")


def test_trial_configs_are_the_base_with_the_values_set(tmp_path):
    params = {"optimizer.lr": 0.0123, "model.layers": [2, 16, 1], "training.batch_size": "full", "optimizer.name": "adam"}
    cfg = config_for(BASE, params, "base.yaml")
    assert cfg.optimizer.lr == 0.0123 and cfg.optimizer.name == "adam" and cfg.model.layers == [2, 16, 1]
    assert cfg.training.batch_size == "full" and cfg.training.epochs == 2
    assert BASE["optimizer"] == {"name": "sgd", "lr": 0.1}  # the base is never changed
    assert with_params({"optimizer": "adam"}, {"optimizer.lr": 0.5}) == {"optimizer": {"name": "adam", "lr": 0.5}}


def test_relative_paths_of_the_base_become_absolute(tmp_path):
    import mlpcli

    raw = {"data": {"name": "mnist", "path": "data/mnist"}, "model": {"init": "xavier", "layers": [784, 10]}}
    resolved = mlpcli.config.validate(raw).to_dict()
    out = absolute_paths(raw, resolved)
    assert out["data"]["path"] == str(tmp_path / "data/mnist") and out["model"] == raw["model"]


@pytest.mark.parametrize("metric_line, expected", [
    ("metric: val_acc\n", "sweep.yaml:1: metric: 'val_acc' is measured on the validation split, and base.yaml has none"),
    ("", "sweep.yaml: metric (default 'val_loss') is measured on the validation split"),
])
def test_a_val_metric_without_a_validation_split_is_refused_before_any_trial(tmp_path, metric_line, expected):
    assert expected in error(tmp_path, metric_line + "space:\n  optimizer.lr: {log_uniform: [0.001, 0.1]}\n")
    with_val = {**BASE, "data": {"name": "xor", "validation_split": 0.25}}
    check_space(sweep(tmp_path, metric_line + "space:\n  optimizer.lr: {log_uniform: [0.001, 0.1]}\n"), with_val, "base.yaml")
    searched = sweep(tmp_path, metric_line + "space:\n  data.validation_split: {choice: [0.25, 0.5]}\n")
    check_space(searched, BASE, "base.yaml")  # the space gives every trial a validation split
    check_space(sweep(tmp_path, "metric: train_loss\nspace:\n  optimizer.lr: {uniform: [0.01, 0.1]}\n"), BASE, "base.yaml")
