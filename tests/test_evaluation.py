"""mlp eval and mlp predict (mlpcli/evaluation.py) against references computed here: scikit-learn's
metrics on the written predictions, the input file's own text, onnxruntime and the sklearn wrapper."""

import csv
import json
import warnings

import numpy as np
import pytest
from typer.testing import CliRunner

from mlpcli.cli import app

from .conftest import write_yaml

runner = CliRunner()


def mlp(*args):
    return runner.invoke(app, [str(a) for a in args])


def train(tmp_path, config_text, name="run"):
    out = tmp_path / name
    r = mlp("train", write_yaml(tmp_path / f"{name}.yaml", config_text), "--out", out, "--quiet")
    assert r.exit_code == 0, r.stderr
    return out


@pytest.fixture(scope="module")
def diabetes(tmp_path_factory):
    """scikit-learn's bundled diabetes table (442 rows, target in its own units, ~25-346), split by hand."""
    datasets = pytest.importorskip("sklearn.datasets")
    d = tmp_path_factory.mktemp("diabetes")
    b = datasets.load_diabetes()
    names = [*b.feature_names, "progression"]
    for part, rows in (("train", slice(0, 350)), ("test", slice(350, None))):
        table = np.column_stack([b.data[rows], b.target[rows]])
        (d / f"{part}.csv").write_text(",".join(names) + "\n" + "".join(",".join(f"{v:.6g}" for v in r) + "\n" for r in table))
    out = train(d, f"""seed: 0
data: {{name: table, train: {d / 'train.csv'}, test: {d / 'test.csv'}, target: progression}}
model: {{layers: [10, 8, 1], activation: tanh, output: identity}}
loss: squared_error
optimizer: {{name: adam, lr: 0.01}}
training: {{epochs: 15, batch_size: 32}}
""")
    return d, out


def test_regression_metrics_are_in_the_targets_units_in_train_eval_and_predict(diabetes, tmp_path):
    """mse/rmse/mae/r2 of eval and of train's summary equal scikit-learn's on predict's output in the
    target's units; loss is the training objective on the standardised target: mse / (2 var(y_train))."""
    sk = pytest.importorskip("sklearn.metrics")
    d, run = diabetes
    ev = json.loads(mlp("eval", run / "last.npz", "--json").stdout)
    summary = json.loads(mlp("train", d / "run.yaml", "--out", tmp_path / "again", "--quiet", "--json").stdout)
    assert mlp("predict", run / "last.npz", d / "test.csv", "--out", tmp_path / "p.csv").exit_code == 0
    pred = np.array([float(r["progression"]) for r in csv.DictReader((tmp_path / "p.csv").open())])
    true = np.loadtxt(d / "test.csv", delimiter=",", skiprows=1)[:, -1]
    y_train = np.loadtxt(d / "train.csv", delimiter=",", skiprows=1)[:, -1]
    mse = sk.mean_squared_error(true, pred)
    assert mse > 1000  # the target's units (a standardised target would give about 1)
    assert ev["mse"] == pytest.approx(mse, rel=1e-5) and ev["rmse"] == pytest.approx(np.sqrt(mse), rel=1e-5)
    assert ev["mae"] == pytest.approx(sk.mean_absolute_error(true, pred), rel=1e-5)
    assert ev["r2"] == pytest.approx(sk.r2_score(true, pred), rel=1e-5, abs=1e-6)
    assert ev["loss"] == pytest.approx(mse / (2 * y_train.var()), rel=1e-5)
    for k in ("loss", "mse", "rmse", "mae", "r2"):  # the same seeded run: train's summary speaks in the same units
        assert summary["metrics"]["test"][k] == pytest.approx(ev[k], rel=1e-6), k
    text = mlp("eval", run / "last.npz").stdout
    assert "loss: the training objective, on the standardised target" in text


def test_proba_on_a_regression_model_is_refused(diabetes, tmp_path):
    d, run = diabetes
    r = mlp("predict", run, d / "test.csv", "--proba")
    assert r.exit_code == 2 and r.stderr.count("\n") == 1 and "--proba" in r.stderr and "regression" in r.stderr
    rng = np.random.default_rng(0)
    np.save(tmp_path / "x.npy", rng.normal(size=(40, 2)))
    np.save(tmp_path / "y.npy", rng.normal(size=40))
    npy = train(tmp_path, f"""data: {{name: npy, train: {{x: {tmp_path / 'x.npy'}, y: {tmp_path / 'y.npy'}}}}}
model: {{layers: [2, 3, 1], output: identity}}
loss: squared_error
training: {{epochs: 1}}
""")
    r = mlp("predict", npy, tmp_path / "x.npy", "--proba")
    assert r.exit_code == 2 and "--proba" in r.stderr and "regression" in r.stderr


def test_kept_columns_are_written_back_exactly_as_in_the_file(tmp_path):
    rows = [("0.0", "1.50", "a"), ("007", "2", "b"), ("1e3", "3.0", "a"), ("2.50", "4.000", "b"), ("9", "5", "a"),
            ("-0", "6.25", "b")]
    table = tmp_path / "t.csv"
    table.write_text("id,x,label\n" + "".join(f"{i},{x},{y}\n" for i, x, y in rows))
    run = train(tmp_path, f"""data: {{name: table, train: {table}, target: label, drop: [id], test_fraction: 0.34}}
model: {{layers: [1, 2, 1]}}
training: {{epochs: 1}}
""")
    r = mlp("predict", run, table, "--keep", "id", "--keep", "x", "--keep", "label", "--out", tmp_path / "p.csv")
    assert r.exit_code == 0, r.stderr
    got = list(csv.reader((tmp_path / "p.csv").open()))
    assert got[0] == ["id", "x", "true_label", "label"]
    assert [tuple(g[:3]) for g in got[1:]] == rows  # an identifier column and a numeric input, as written


def test_text_in_a_numeric_input_at_predict_and_eval_says_what_the_model_reads_as_missing(tmp_path):
    """The preprocessing comes from the checkpoint: the hint is about the data (the values the model reads as
    missing), and a column whose first rows are text is still read as the model's numbers."""
    rng = np.random.default_rng(0)
    table = tmp_path / "t.csv"
    table.write_text("x,label\n" + "".join(f"{v:.3f},{'ab'[int(v > 0)]}\n" for v in rng.normal(size=40)))
    run = train(tmp_path, f"""data: {{name: table, train: {table}, target: label, na_values: ['', '-']}}
model: {{layers: [1, 2, 1]}}
training: {{epochs: 1}}
""")
    new = tmp_path / "new.csv"
    new.write_text("x,label\n" + "oops,a\n" * 3 + "1.5,b\n")
    hint = ("column 'x': 'oops' is not a number, and the model was trained on numbers in this column (correct the value, "
            "or write one the model reads as missing: '', '-')")
    r = mlp("predict", run, new)
    assert r.exit_code == 2 and r.stderr == f"mlp: error: {new}:2: {hint}\n"
    r = mlp("eval", run, "--set", f"data.test={new}")
    assert r.exit_code == 2 and r.stderr == f"mlp: error: {new}:2: {hint}\n"


def test_train_json_gives_each_split_the_metrics_eval_gives(tmp_path):
    """One function computes a split's metrics: train's summary of the test split is eval's, key for key
    (eval's own numbers are checked against scikit-learn in test_metrics)."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(120, 2))
    table = tmp_path / "t.csv"
    table.write_text("a,b,label\n" + "".join(f"{a:.4f},{b:.4f},{'yes' if a + b + 0.5 * rng.normal() > 0 else 'no'}\n"
                                             for a, b in X))
    cfg = write_yaml(tmp_path / "c.yaml", f"data: {{name: table, train: {table}, target: label, test_fraction: 0.3}}\n"
                                          "model: {layers: [auto, 4, auto]}\ntraining: {epochs: 5}\n")
    r = mlp("train", cfg, "--out", tmp_path / "run", "--json", "--quiet")
    assert r.exit_code == 0, r.stderr
    trained = json.loads(r.stdout)["metrics"]
    evaluated = json.loads(mlp("eval", tmp_path / "run", "--json").stdout)
    assert trained["test"] == {k: v for k, v in evaluated.items() if k not in ("split", "checkpoint")}
    assert {"precision", "recall", "f1", "per_class", "roc_auc", "f1_weighted"} <= set(trained["train"])
    assert set(trained["train"]["per_class"]) == {"no", "yes"}


def test_binary_probabilities_have_two_columns_in_predict_onnx_and_sklearn(tmp_path):
    """One column per class, the second the probability of class 1, wherever the model runs."""
    run = train(tmp_path, "training: {epochs: 50, batch_size: full}\noptimizer: {lr: 0.5}\n")  # XOR, sigmoid output
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1], [0.3, 0.8]], np.float32)
    np.save(tmp_path / "x.npy", X)
    assert mlp("predict", run, tmp_path / "x.npy", "--proba", "--out", tmp_path / "p.npy").exit_code == 0
    P = np.load(tmp_path / "p.npy")
    import mlpcli

    p1 = mlpcli.load_checkpoint(run).forward(X).ravel()
    np.testing.assert_allclose(P, np.column_stack([1 - p1, p1]), rtol=1e-6)
    r = mlp("predict", run, tmp_path / "x.npy", "--proba", "--json")
    assert json.loads(r.stdout)["columns"] == ["proba_0", "proba_1"]
    ort = pytest.importorskip("onnxruntime")
    assert mlp("export", run, "--format", "onnx", "--out", tmp_path / "m.onnx").exit_code == 0
    proba, _ = ort.InferenceSession(str(tmp_path / "m.onnx")).run(None, {"input": X})
    np.testing.assert_allclose(proba, P, atol=1e-6)
    sk = pytest.importorskip("mlpcli.sklearn")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # five epochs do not converge, and need not
        clf = sk.MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(X[:4], [0, 1, 1, 0])
    assert clf.predict_proba(X).shape == (5, 2) and list(clf.classes_) == [0, 1]


def test_binary_table_probabilities_are_named_by_class(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=60)
    table = tmp_path / "t.csv"
    table.write_text("x,ok\n" + "".join(f"{v:.4f},{'yes' if v > 0 else 'no'}\n" for v in x))
    run = train(tmp_path, f"data: {{name: table, train: {table}, target: ok}}\nmodel: {{layers: [1, 3, 1]}}\ntraining: {{epochs: 2}}\n")
    r = mlp("predict", run, table, "--proba", "--out", tmp_path / "p.csv")
    assert r.exit_code == 0, r.stderr
    rows = list(csv.DictReader((tmp_path / "p.csv").open()))
    assert list(rows[0]) == ["ok", "proba_no", "proba_yes"]
    assert all(abs(float(r["proba_no"]) + float(r["proba_yes"]) - 1) < 1e-6 for r in rows)


def test_reports_are_not_wrapped_at_80_columns_off_a_terminal(tmp_path, monkeypatch):
    """Piped into a file, a long path stays on its line (Rich would wrap at 80 columns)."""
    monkeypatch.setenv("COLUMNS", "80")
    deep = tmp_path / "a_directory_name_long_enough_to_push_the_line_past_eighty_columns"
    deep.mkdir()
    run = train(deep, "training: {epochs: 1}\n")
    for args, whole in ((("gradcheck", run), f"gradient check of {run} (eps"), (("inspect", run), f"checkpoint {run}"),
                        (("eval", run), "confusion matrix (rows: true class, columns: predicted) and each class's precision, recall, F1")):
        out = mlp(*args).stdout
        assert any(whole in line for line in out.splitlines()), (args, out)
