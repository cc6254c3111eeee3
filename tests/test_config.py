import os

import pytest

import mlpcli
from mlpcli.config import json_schema, load_config
from mlpcli.data import load_data
from mlpcli.errors import ConfigError
from mlpcli.task import fit_config
from mlpcli.yamlfile import MAX_CONFIG_BYTES


def cfg_file(tmp_path, text, name="c.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def error_of(tmp_path, text, overrides=()):
    with pytest.raises(ConfigError) as e:
        load_config(cfg_file(tmp_path, text), overrides)
    return str(e.value)


def test_defaults_are_valid_and_documented():
    cfg = load_config()
    assert cfg.data.name == "xor" and cfg.loss is None and cfg.model.output is None  # the task decides them
    ds = load_data(cfg)
    shaped = fit_config(cfg, ds.task, ds.train.X.shape[1])  # two classes: one sigmoid unit
    assert shaped.loss == "binary_cross_entropy" and shaped.model.output == "sigmoid"
    assert cfg.optimizer.lr == 0.1 and cfg.training.batch_size == 32 and cfg.training.dtype == "float32"


def test_unknown_key_suggests_and_names_line(tmp_path):
    msg = error_of(tmp_path, "seed: 1\noptimiser:\n  lr: 0.1\n")
    assert ":2: optimiser: unknown key 'optimiser'; did you mean 'optimizer'?" in msg


def test_nested_unknown_key(tmp_path):
    msg = error_of(tmp_path, "training:\n  epochs: 3\n  batchsize: 4\n")
    assert ":3: training.batchsize:" in msg and "did you mean 'batch_size'" in msg


def test_wrong_type_and_range(tmp_path):
    assert ":2: training.epochs:" in error_of(tmp_path, "training:\n  epochs: many\n")
    assert "training.epochs" in error_of(tmp_path, "training:\n  epochs: -1\n")
    assert "batch_size: expected an integer >= 1 or 'full' (got 0)" in error_of(tmp_path, "training: {batch_size: 0}\n")
    assert "data.validation_split" in error_of(tmp_path, "data: {validation_split: 1.5}\n")


def test_unknown_names_list_the_registry(tmp_path):
    msg = error_of(tmp_path, "model:\n  activation: relux\n")
    assert "model.activation: unknown activation 'relux'; did you mean 'relu'?" in msg and "valid: identity" in msg
    assert "unknown optimizer 'adamw'; did you mean 'adam'?" in error_of(tmp_path, "optimizer: adamw\n")
    assert "unknown loss" in error_of(tmp_path, "loss: mse\n")
    assert "unknown schedule" in error_of(tmp_path, "schedule: {name: cosin}\n")


def test_parameter_of_another_name_is_refused(tmp_path):
    msg = error_of(tmp_path, "optimizer:\n  name: sgd\n  betas: [0.9, 0.99]\n")
    assert "'betas' is not a parameter of 'sgd'" in msg and "momentum" in msg


def test_softmax_is_output_only_and_loss_fits_output(tmp_path):
    assert "output activation" in error_of(tmp_path, "model: {activation: softmax}\n")
    assert "needs output activation 'softmax'" in error_of(tmp_path, "loss: cross_entropy\nmodel: {output: sigmoid, layers: [2, 3]}\n")


def test_output_and_loss_imply_each_other():
    assert load_config(None, ["loss=cross_entropy", "model.layers=[2,3]"]).model.output == "softmax"
    assert load_config(None, ["model.output=softmax", "model.layers=[2,3]"]).loss == "cross_entropy"
    assert load_config(None, ["model.output=identity"]).loss == "squared_error"


def test_overrides_are_yaml_typed():
    cfg = load_config(None, ["model.layers=[3, 5, 2]", "training.batch_size=full", "training.early_stopping=true",
                             "data.validation_split=0.2", "optimizer=adam", "optimizer.lr=1e-3"])
    assert cfg.model.layers == [3, 5, 2] and cfg.training.batch_size == "full"
    assert cfg.training.early_stopping.patience == 10 and cfg.optimizer.name == "adam" and cfg.optimizer.lr == 0.001


def test_override_errors_say_set():
    with pytest.raises(ConfigError, match="--set optimizer.lr: .*greater than 0"):
        load_config(None, ["optimizer.lr=-2"])
    with pytest.raises(ConfigError, match="expected key.path=value"):
        load_config(None, ["optimizer.lr"])


def test_relative_paths_resolve_against_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = load_config(None, ["data.name=mnist", "data.path=mydata", "output.dir=out/r"])
    assert cfg.data.path == os.path.join(str(tmp_path), "mydata") and cfg.output.dir == str(tmp_path / "out" / "r")


def test_resolved_config_roundtrips():
    cfg = load_config(None, ["optimizer=adam", "schedule=plateau", "training.early_stopping=true", "data.validation_split=0.5"])
    again = mlpcli.config.validate(cfg.to_dict())
    assert again.to_dict() == cfg.to_dict()


def test_safe_yaml_refuses_python_tags_without_running_them(tmp_path):
    marker = tmp_path / "pwned"
    text = f"seed: !!python/object/apply:os.system ['touch {marker}']\n"
    msg = error_of(tmp_path, text)
    assert "invalid YAML" in msg and not marker.exists()


def test_duplicate_keys_are_errors(tmp_path):
    assert "duplicate key 'seed' (first at line 1)" in error_of(tmp_path, "seed: 1\nseed: 2\n")


def test_alias_bomb_and_size_cap_refused_quickly(tmp_path):
    import time

    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 10):
        prev = chr(ord("a") + i - 1)
        cur = chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]")
    t = time.perf_counter()
    assert "alias bomb" in error_of(tmp_path, "\n".join(lines) + "\n")
    big = cfg_file(tmp_path, "seed: 1\n" + "#" * (MAX_CONFIG_BYTES + 10) + "\n", "big.yaml")
    with pytest.raises(ConfigError, match="too large"):
        load_config(big)
    assert time.perf_counter() - t < 1.0


def test_top_level_must_be_a_mapping(tmp_path):
    assert "expected a mapping" in error_of(tmp_path, "- 1\n- 2\n")
    assert "invalid YAML" in error_of(tmp_path, "seed: [1, 2\n")


def test_schema_lists_registry_names():
    s = json_schema()
    assert "relu" in str(s["$defs"]["ModelConfig"]["properties"]["activation"]) and "adam" in str(s)


def test_json_schema_validates_what_the_loader_accepts(tmp_path):
    """Editors using `mlp schema` accept every shipped config and starter, shorthands included,
    and flag what the loader refuses."""
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    from mlpcli.starter import starter_config

    from .conftest import ROOT

    validator = jsonschema.Draft202012Validator(json_schema())
    docs = [yaml.safe_load(p.read_text()) for p in sorted((ROOT / "configs").glob("*.yaml"))]
    docs += [yaml.safe_load(starter_config(d)) for d in ("xor", "regression", "mnist", "npy")]
    docs += [{"model": {"init": "he", "activation": [{"name": "leaky_relu", "alpha": 0.1}, "tanh"], "layers": [2, 3, 3, 1]},
              "optimizer": "adam", "schedule": "cosine", "training": {"early_stopping": True, "batch_size": "full"}}]
    for doc in docs:
        errors = [e.message for e in validator.iter_errors(doc)]
        assert not errors, (doc, errors)
    for bad in ({"optimizer": {"name": "adamw"}}, {"optimiser": {}}, {"model": {"activation": "relux"}},
                {"training": {"epochs": "many"}}):
        assert list(validator.iter_errors(bad)), bad


def test_a_table_given_as_the_config_points_at_mlp_init(tmp_path):
    p = tmp_path / "my.csv"
    p.write_text("a,y\n1,2\n")
    with pytest.raises(ConfigError, match=r"my.csv: a table, not a config; .*mlp init my.yaml --data .*my.csv --target COLUMN"):
        load_config(p)


def test_a_path_beside_the_config_but_not_here_names_the_directory_to_run_from(tmp_path, monkeypatch):
    project = tmp_path / "project"
    (project / "configs").mkdir(parents=True)
    (project / "data").mkdir()
    (project / "data" / "t.csv").write_text("a,y\n1,0\n2,1\n")
    cfg = project / "configs" / "c.yaml"
    cfg.write_text("data:\n  name: table\n  target: y\n  train: data/t.csv\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    with pytest.raises(ConfigError) as e:
        load_config(cfg)
    assert str(e.value) == (f"{cfg}:4: data.train: data/t.csv is not in the current directory ({elsewhere}), which relative "
                            f"paths resolve against; it is in {project}: run from there, or give {project / 'data' / 't.csv'}")
    (project / "runs" / "r").mkdir(parents=True)  # an output beside the config is not an input to find
    assert load_config(cfg, [f"data.train={project / 'data' / 't.csv'}", "output.dir=runs/r"]).output.dir == \
        str(elsewhere / "runs" / "r")
    monkeypatch.chdir(project)
    assert load_config(cfg).data.train == str(project / "data" / "t.csv")  # from there it loads
    monkeypatch.chdir(elsewhere)
    assert load_config(cfg, [f"data.train={project / 'data' / 't.csv'}"]).data.train == str(project / "data" / "t.csv")
