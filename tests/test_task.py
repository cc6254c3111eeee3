"""The task is decided once, from the config and the data, and every command uses that one answer."""

import importlib.util
import json

import numpy as np
import pytest
from typer.testing import CliRunner

import mlpcli
from mlpcli.cli import app
from mlpcli.data import load_data
from mlpcli.errors import DataError
from mlpcli.table import Column
from mlpcli.task import Task, classes_task, fit_config, from_meta, head, of_arrays, of_column

from .conftest import ROOT, write_yaml

runner = CliRunner()


def test_table_column_rule_text_integer_and_float_targets():
    num = lambda v, integer: Column("y", np.asarray(v, float), None, integer)  # noqa: E731
    assert of_column(Column("y", np.array([0, 1, 0], np.int32), ["a", "b"])) == classes_task(["a", "b"])
    assert of_column(num([3, 1, 2, 1], True)).classes == ("1", "2", "3")
    assert of_column(num(np.arange(50), True)).classification  # 50 distinct integers: still classes
    assert of_column(num(np.arange(51), True)) == Task("regression")  # more than 50 integers: a quantity
    assert of_column(num([0.5, 1.5], False)) == Task("regression")
    # 0.0/1.0 is how pandas writes an integer column with a missing value: the same labels as 0/1
    assert of_column(num([0.0, 1.0, np.nan, 1.0], False)).classes == ("0", "1")
    assert of_column(num([1.0, 2.0, 2.5], False)) == Task("regression")
    assert of_column(num([0.0, 2.0, 1.0], False), "classification").classes == ("0", "1", "2")  # whole floats are labels
    with pytest.raises(DataError, match=r"target 'y' holds numbers that are not whole \(0.5, 1.5, \.\.\.\).*data.categorical"):
        of_column(num([0.5, 1.5, 2.0], False), "classification")  # measurements, not labels: refused as scikit-learn does
    assert of_column(num([0, 1, 2], True), "regression") == Task("regression")
    with pytest.raises(DataError, match="one class only"):
        of_column(num([1, 1, np.nan], True))
    with pytest.raises(DataError, match="cannot be regressed"):
        of_column(Column("y", np.array([0, 1], np.int32), ["a", "b"]), "regression")


def test_arrays_decide_from_labels_and_loss():
    y = np.array([0, 2, 1, 2])
    assert of_arrays(y) == classes_task(["0", "1", "2"])  # largest label + 1
    assert of_arrays(y, "squared_error", 5).classes == ("0", "1", "2", "3", "4")  # an explicit width
    assert of_arrays(np.array([0, 1, 1]), None, 1).n_outputs == 1  # two classes: one sigmoid unit
    assert of_arrays(np.array([0.0, 1.0]), "binary_cross_entropy").classification
    assert of_arrays(np.eye(3), "cross_entropy").classes == ("0", "1", "2")  # one-hot rows
    assert of_arrays(np.zeros((4, 3))) == Task("regression", n_targets=3)
    assert of_arrays(np.zeros(4)) == Task("regression", n_targets=1)


def test_head_follows_the_task():
    assert head(classes_task("abc"), 3) == ("softmax", "cross_entropy")
    assert head(classes_task(["no", "yes"]), 1) == ("sigmoid", "binary_cross_entropy")
    assert head(Task("regression", n_targets=2), 2) == ("identity", "squared_error")


def test_fit_config_fills_only_what_the_data_decides():
    cfg = mlpcli.load_config(None, ["model.layers=[auto, 8, auto]"])
    assert cfg.loss is None and cfg.model.output is None  # neither given: left to the task
    three = fit_config(cfg, classes_task("abc"), 5)
    assert three.model.layers == [5, 8, 3] and (three.model.output, three.loss) == ("softmax", "cross_entropy")
    two = fit_config(cfg, classes_task("ab"), 5)
    assert two.model.layers == [5, 8, 1] and (two.model.output, two.loss) == ("sigmoid", "binary_cross_entropy")
    reg = fit_config(cfg, Task("regression", n_targets=2), 4)
    assert reg.model.layers == [4, 8, 2] and (reg.model.output, reg.loss) == ("identity", "squared_error")
    ce = mlpcli.load_config(None, ["model.layers=[auto, 8, auto]", "loss=cross_entropy"])
    assert fit_config(ce, classes_task("ab"), 2).model.layers == [2, 8, 2]  # softmax needs two units
    explicit = mlpcli.load_config(None, ["model.layers=[2, 8, 1]", "loss=squared_error"])
    assert fit_config(explicit, classes_task("abc"), 2) is explicit  # nothing left to the data
    with pytest.raises(mlpcli.ConfigError, match="only the input and output widths can be auto"):
        mlpcli.load_config(None, ["model.layers=[2, auto, 1]"])


def test_description_roundtrip_and_old_checkpoints():
    t = classes_task(["setosa", "versicolor", "virginica"])
    assert t.describe() == "classification, 3 classes: setosa, versicolor, virginica"
    assert Task("regression", n_targets=2).describe() == "regression, 2 targets"
    assert Task.from_dict(json.loads(json.dumps(t.to_dict()))) == t and t.kind == "classification"
    assert t != "classification" and len({t, classes_task(t.classes)}) == 1  # a task is a value, not its kind's name
    assert from_meta({"task": "classification"}, 1).classes == ("0", "1")  # a checkpoint that stored only the kind
    assert from_meta({"task": "regression"}, 3) == Task("regression", n_targets=3)
    assert from_meta({}, 3) == classes_task("012")  # one written before the task was stored
    assert from_meta({"task": {"kind": "classification", "classes": ["no", "yes"]}}, 2).classes == ("no", "yes")  # 2 softmax units
    old_table = {"task": "classification", "normalizer": {"kind": "table", "columns": [], "target": {
        "names": ["y"], "task": "classification", "classes": ["no", "yes"]}}}  # its class names in the preprocessing
    assert from_meta(old_table, 1) == classes_task(["no", "yes"])
    with pytest.raises(ValueError, match="3 classes: .* does not fit the network's 5 output"):
        from_meta({"task": t.to_dict()}, 5)  # a forged or mismatched meta


def test_forged_task_in_a_checkpoint_is_refused(tmp_path):
    from mlpcli.checkpoint import read_checkpoint, save_checkpoint

    mlpcli.train(mlpcli.load_config(None, ["training.epochs=1"]), run_dir=tmp_path / "run")
    arrays, meta, _ = read_checkpoint(tmp_path / "run" / "last.npz")
    assert meta["task"] == {"kind": "classification", "classes": ["0", "1"]}
    meta["task"] = {"kind": "classification", "classes": ["a", "b", "c"]}
    save_checkpoint(tmp_path / "forged.npz", arrays, meta)
    r = runner.invoke(app, ["inspect", str(tmp_path / "forged.npz")])
    assert r.exit_code == 2 and "meta.task: classification, 3 classes" in r.stderr


def test_squared_error_on_integer_labels_is_one_task_everywhere(tmp_path):
    """A squared-error network with an identity output trained on integer labels: the data says
    classification, and eval, predict, inspect and plot all say so (they used to disagree)."""
    run = tmp_path / "run"
    cfg = mlpcli.load_config(None, ["loss=squared_error", "model.layers=[2,8,1]", "training.epochs=150",
                                    "optimizer=adam", "optimizer.lr=0.05", "training.batch_size=full"])
    assert cfg.model.output == "identity"
    mlpcli.train(cfg, run_dir=run)
    ckpt = str(run / "last.npz")

    ev = json.loads(runner.invoke(app, ["eval", ckpt, "--json"]).stdout)
    assert "accuracy" in ev and "per_class" in ev and "r2" not in ev
    X = tmp_path / "x.npy"
    np.save(X, np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64))
    out = tmp_path / "pred.npy"
    assert runner.invoke(app, ["predict", ckpt, str(X), "--out", str(out)]).exit_code == 0
    pred = np.load(out)
    assert pred.dtype.kind == "i" and set(pred.tolist()) <= {0, 1}  # classes, not raw outputs
    assert mlpcli.load_checkpoint(ckpt).predict(np.load(X)).dtype.kind == "i"  # the API agrees
    info = json.loads(runner.invoke(app, ["inspect", ckpt, "--json"]).stdout)
    assert info["task"] == "classification" and info["classes"] == ["0", "1"]
    if importlib.util.find_spec("matplotlib"):  # plot needs the plot extra
        r = runner.invoke(app, ["plot", str(run), "--out", str(tmp_path / "p")])
        assert r.exit_code == 0 and "confusion_matrix.png" in r.stdout and "pred_vs_true" not in r.stdout


def _trained(tmp_path, name, *overrides):
    """Train one epoch of ``[auto, 8, auto]`` with neither loss nor output given; the resolved config."""
    cfg = mlpcli.load_config(None, ["model.layers=[auto, 8, auto]", "training.epochs=1", *overrides])
    result = mlpcli.train(cfg, run_dir=tmp_path / name)
    run = mlpcli.load_checkpoint(result.run_dir)
    assert run.config.model.layers == result.model.layers  # the saved config is the resolved one
    return run


def test_the_ends_follow_the_data_for_every_dataset(tmp_path):
    """model.layers: [auto, h, auto] and the head from the task, for xor, regression, npy and a table."""
    xor = _trained(tmp_path, "xor")
    assert xor.layers == [2, 8, 1] and (xor.loss.name, xor.activations[-1].name) == ("binary_cross_entropy", "sigmoid")
    reg = _trained(tmp_path, "reg", "data.name=regression", "data.n_samples=50")  # quadratic: 2 -> 3
    assert reg.layers == [2, 8, 3] and (reg.loss.name, reg.activations[-1].name) == ("squared_error", "identity")
    assert reg.task == Task("regression", n_targets=3)
    rng = np.random.default_rng(0)
    np.save(tmp_path / "x.npy", rng.normal(size=(30, 5)))
    np.save(tmp_path / "y.npy", np.arange(30) % 4)
    npy = _trained(tmp_path, "npy", "data.name=npy", f"data.train={{x: {tmp_path / 'x.npy'}, y: {tmp_path / 'y.npy'}}}")
    assert npy.layers == [5, 8, 4] and (npy.loss.name, npy.activations[-1].name) == ("cross_entropy", "softmax")
    assert npy.task.classes == ("0", "1", "2", "3")
    iris = _trained(tmp_path, "iris", "data.name=table", f"data.train={ROOT / 'data/iris.csv'}", "data.target=species")
    assert iris.layers == [4, 8, 3] and (iris.loss.name, iris.activations[-1].name) == ("cross_entropy", "softmax")
    assert iris.task.classes == ("setosa", "versicolor", "virginica")


def test_the_ends_follow_mnist(tmp_path):
    """The mnist dataset (a small stand-in in its file layout: images (n, 28, 28), labels 0-9)."""
    rng = np.random.default_rng(0)
    for split, n in (("train", 40), ("test", 10)):
        np.save(tmp_path / f"{split}_images.npy", rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8))
        np.save(tmp_path / f"{split}_labels.npy", np.arange(n, dtype=np.uint8) % 10)
    cfg = mlpcli.load_config(None, ["data.name=mnist", f"data.path={tmp_path}", "data.normalize=scale",
                                    "model.layers=[auto, 8, auto]"])
    ds = load_data(cfg)
    shaped = fit_config(cfg, ds.task, ds.train.X.shape[1])
    assert shaped.model.layers == [784, 8, 10] and shaped.loss == "cross_entropy" and shaped.model.output == "softmax"


@pytest.mark.parametrize("overrides,message", [
    (["loss=squared_error"], r"is classification \(3 classes\), but loss is squared_error"),  # a table's classes
    (["model.layers=[auto, 8, 2]"], r"labels range over \[0, 2\] but the output layer \(2 units\)"),
    (["model.layers=[5, 8, auto]"], r"the table gives 4 inputs .* but model.layers\[0\] is 5"),
    (["data.task=regression"], "holds text"),
])
def test_an_explicit_choice_that_contradicts_the_data_is_an_error(tmp_path, overrides, message):
    cfg = mlpcli.load_config(None, ["data.name=table", f"data.train={ROOT / 'data/iris.csv'}", "data.target=species",
                                    "model.layers=[auto, 8, auto]", *overrides])
    with pytest.raises(DataError, match=message):
        mlpcli.train(cfg, run_dir=tmp_path / "never")
    assert not (tmp_path / "never").exists()


def test_auto_widths_need_the_data(tmp_path):
    with pytest.raises(mlpcli.ConfigError, match="auto widths come from the data"):
        mlpcli.MLP.from_config(mlpcli.load_config(None, ["model.layers=[auto, 8, 1]"]))
    assert mlpcli.MLP.from_config(mlpcli.load_config(None, ["model.layers=[2, 8, 3]"])).loss.name == "cross_entropy"


def test_a_run_resumes_under_the_config_that_left_its_ends_to_the_data(tmp_path):
    """The saved config is the resolved one; the config given with --resume may still say auto."""
    cfg = write_yaml(tmp_path / "auto.yaml", "model: {layers: [auto, 4, auto]}\ntraining: {epochs: 2}\n")
    assert runner.invoke(app, ["train", str(cfg), "--out", str(tmp_path / "r"), "--quiet"]).exit_code == 0
    r = runner.invoke(app, ["train", str(cfg), "--resume", str(tmp_path / "r"), "--more", "1", "--quiet", "--json"])
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["epochs_run"] == 3
    saved = mlpcli.load_checkpoint(tmp_path / "r").config
    assert saved.model.layers == [2, 4, 1] and saved.loss == "binary_cross_entropy"


def test_a_float_target_with_explicit_classification_is_refused_naming_the_column(tmp_path):
    """A continuous target trained as classes would make a class of almost every row; the categorical
    route the message names gives its values as class names."""
    table = tmp_path / "t.csv"
    table.write_text("x,price\n" + "".join(f"{i},{i * 1.25 + 0.1:.2f}\n" for i in range(30)))
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"data: {{name: table, train: {table}, target: price, task: classification}}\n"
                   "model: {layers: [auto, 4, auto]}\ntraining: {epochs: 1}\n")
    r = runner.invoke(app, ["train", str(cfg), "--out", str(tmp_path / "run"), "--quiet"])
    assert r.exit_code == 2 and r.stderr.count("\n") == 1, r.stderr
    assert "t.csv: target 'price' holds numbers that are not whole (0.1, 1.35, 2.6, ...)" in r.stderr
    assert not (tmp_path / "run").exists()


def test_a_table_checkpoint_of_an_earlier_version_loads_with_its_class_names(tmp_path):
    """Earlier versions stored only the task's kind in meta and kept the class names in the table's
    preprocessing: such a checkpoint evaluates and predicts as the one it was rewritten from."""
    from mlpcli.checkpoint import read_checkpoint, save_checkpoint

    iris = ROOT / "data/iris.csv"
    _trained(tmp_path, "run", "data.name=table", f"data.train={iris}", "data.target=species")
    arrays, meta, _ = read_checkpoint(tmp_path / "run" / "last.npz")
    assert meta["normalizer"]["target"] == {"names": ["species"]}  # the classes are the task's only
    meta["task"] = "classification"
    meta["normalizer"]["target"].update(task="classification", classes=["setosa", "versicolor", "virginica"])
    save_checkpoint(tmp_path / "old.npz", arrays, meta)
    assert mlpcli.load_checkpoint(tmp_path / "old.npz").task == classes_task(["setosa", "versicolor", "virginica"])
    for command in (["eval", "--json"], ["predict", str(iris)]):
        new, old = (runner.invoke(app, [command[0], str(p), *command[1:]]) for p in (tmp_path / "run" / "last.npz", tmp_path / "old.npz"))
        assert old.exit_code == 0 and new.exit_code == 0, old.stderr
        if command[0] == "eval":
            new, old = json.loads(new.stdout), json.loads(old.stdout)
            assert list(old["per_class"]) == ["setosa", "versicolor", "virginica"]
            assert {**old, "checkpoint": None} == {**new, "checkpoint": None}
        else:
            assert old.stdout == new.stdout and "versicolor" in old.stdout
