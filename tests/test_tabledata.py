"""The table dataset end to end: train, eval and predict a CSV through the mlp command."""

import csv
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from mlpcli.cli import app
from mlpcli.config import load_config
from mlpcli.data import load_data
from mlpcli.task import fit_config

from .conftest import ROOT, write_yaml

runner = CliRunner()


def mlp(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def table_config(tmp_path, data: str, model="[5, 8, 1]", loss="binary_cross_entropy", epochs=60, extra=""):
    return write_yaml(tmp_path / "t.yaml", f"""
seed: 1
data: {{name: table, {data}}}
model: {{layers: {model}, activation: tanh}}
loss: {loss}
optimizer: {{name: adam, lr: 0.05}}
training: {{epochs: {epochs}, batch_size: 16}}
{extra}""")


@pytest.fixture
def customers(tmp_path):
    """200 customers: bought = (income > 50) xor (plan == 'pro'), a few values missing."""
    rng = np.random.default_rng(0)
    rows = ["id,income,plan,age,bought"]
    for i in range(200):
        income, plan = rng.uniform(0, 100), rng.choice(["basic", "pro", "team"])
        bought = "yes" if (income > 50) != (plan == "pro") else "no"
        inc = "" if i % 37 == 5 else f"{income:.2f}"
        pl = "NA" if i % 41 == 7 else plan
        rows.append(f"c{i},{inc},{pl},{rng.integers(18, 80)},{bought}")
    p = tmp_path / "customers.csv"
    p.write_text("\n".join(rows) + "\n")
    return p


@pytest.fixture(scope="module")
def iris_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("iris") / "run"
    r = mlp("train", ROOT / "configs/iris.yaml", "--out", out, "--quiet", "--json")
    assert r.exit_code == 0, r.stderr
    return out, json.loads(r.stdout)


def test_iris_reaches_095_and_eval_speaks_class_names(iris_run):
    out, summary = iris_run
    assert summary["metrics"]["test"]["accuracy"] >= 0.95
    assert summary["task"] == "classification" and summary["classes"] == ["setosa", "versicolor", "virginica"]
    r = mlp("eval", out / "last.npz", "--json")
    m = json.loads(r.stdout)
    assert m["accuracy"] == summary["metrics"]["test"]["accuracy"] and m["n_samples"] == 30  # the same held-out rows
    assert set(m["per_class"]) == {"setosa", "versicolor", "virginica"}
    assert all(m["per_class"][c]["support"] == 10 for c in m["per_class"])  # stratified: 10 of each
    assert {"precision", "recall", "f1", "f1_weighted"} <= set(m) and "roc_auc" not in m
    text = mlp("eval", out / "last.npz").stdout
    assert "versicolor" in text and "precision" in text and "confusion matrix" in text


def test_predict_csv_with_names_probabilities_and_kept_columns(iris_run, tmp_path):
    out, _ = iris_run
    dest = tmp_path / "preds.csv"
    r = mlp("predict", out / "last.npz", ROOT / "data/iris.csv", "--out", dest, "--proba", "--keep", "species",
            "--keep", "petal_width", "--json")
    assert r.exit_code == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["n_samples"] == 150 and summary["classes"] == ["setosa", "versicolor", "virginica"]
    rows = list(csv.DictReader(dest.open()))
    assert list(rows[0]) == ["true_species", "petal_width", "species", "proba_setosa", "proba_versicolor", "proba_virginica"]
    P = np.array([[float(r[f"proba_{c}"]) for c in summary["classes"]] for r in rows])
    np.testing.assert_allclose(P.sum(1), 1, atol=1e-5)
    assert [r["species"] for r in rows] == [summary["classes"][i] for i in P.argmax(1)]
    assert np.mean([r["species"] == r["true_species"] for r in rows]) >= 0.95
    assert rows[0]["petal_width"] == "0.2"
    npy = tmp_path / "p.npy"
    assert mlp("predict", out / "last.npz", ROOT / "data/iris.csv", "--out", npy).exit_code == 0
    assert np.load(npy, allow_pickle=False).tolist() == [r["species"] for r in rows]


def test_predict_needs_the_trained_columns(iris_run, tmp_path):
    out, _ = iris_run
    p = tmp_path / "new.csv"
    p.write_text("sepal_length,sepal_width,petal_length\n5.1,3.5,1.4\n")
    r = mlp("predict", out / "last.npz", p)
    assert r.exit_code == 2 and "missing column 'petal_width'" in r.stderr
    p.write_text("sepal_length,sepal_width,petal_length,Petal Width\n5.1,3.5,1.4,0.2\n")  # renamed in a spreadsheet
    r = mlp("predict", out / "last.npz", p)
    assert r.exit_code == 2 and "missing column 'petal_width'; did you mean 'Petal Width'? (the model" in r.stderr, r.stderr
    r = mlp("predict", out / "last.npz", ROOT / "data/iris.csv", "--keep", "colour")
    assert r.exit_code == 2 and "no column 'colour'" in r.stderr


def test_eval_on_another_table_names_its_missing_columns_before_splitting(iris_run, tmp_path):
    """Each of these 20 rows is a class of its own, so a split would fail first, on the wrong problem."""
    other = tmp_path / "other.csv"
    other.write_text("x,y\n" + "".join(f"{i},{i * 1.5}\n" for i in range(20)))
    r = mlp("eval", iris_run[0], "--data", table_config(tmp_path, f"train: {other}, target: y"))
    assert r.exit_code == 2 and "other.csv: missing columns 'sepal_length'" in r.stderr, r.stderr


def test_statistics_come_from_the_training_rows_only(customers, tmp_path):
    from mlpcli.rng import streams
    from mlpcli.table import read_table
    from mlpcli.tabledata import class_labels, split_rows

    cfg = load_config(table_config(tmp_path, f"train: {customers}, target: bought, drop: [id], validation_split: 0.25"))
    ds = load_data(cfg)
    # replay the seeded, stratified splits: test first, then validation from the rest
    t = read_table(customers)
    rng = streams(cfg.seed)["data"]
    labels = class_labels(t, ["bought"], ds.task)
    _, keep = split_rows(t.n_rows, 0.2, labels, rng, "", "")
    _, train = split_rows(len(keep), 0.25, labels[keep], rng, "", "")
    rows = keep[train]
    income = t.columns["income"].values[rows]
    col = ds.normalizer["columns"][0]
    assert col["name"] == "income" and col["fill"] == pytest.approx(np.nanmean(income))
    assert len(ds.train) == len(rows) and len(ds.val) + len(ds.train) + len(ds.test) == 200
    json.dumps(ds.normalizer, allow_nan=False)  # plain JSON
    assert ds.train.X.dtype == np.float32 and ds.train.X.shape[1] == 5  # income, plan x 3, age; no id


def test_binary_table_trains_and_reports_auc(customers, tmp_path):
    cfg = table_config(tmp_path, f"train: {customers}, target: bought, drop: [id]", model="[5, 16, 1]", epochs=150)
    r = mlp("train", cfg, "--out", tmp_path / "run", "--quiet", "--json")
    assert r.exit_code == 0, r.stderr
    m = json.loads(mlp("eval", tmp_path / "run/last.npz", "--json").stdout)
    assert m["accuracy"] >= 0.85 and m["roc_auc"] >= 0.9 and set(m["per_class"]) == {"no", "yes"}


def test_regression_predictions_in_original_units(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.uniform(-1, 1, 300)
    p = tmp_path / "r.csv"
    p.write_text("x,price\n" + "\n".join(f"{a:.4f},{1000 + 500 * a:.2f}" for a in x) + "\n")
    cfg = table_config(tmp_path, f"train: {p}, target: price", model="[1, 8, 1]", loss="squared_error", epochs=80)
    assert mlp("train", cfg, "--out", tmp_path / "run", "--quiet").exit_code == 0
    m = json.loads(mlp("eval", tmp_path / "run/last.npz", "--json").stdout)
    assert m["rmse"] < 25 and m["r2"] > 0.99  # price units: the spread is ~290
    r = mlp("predict", tmp_path / "run/last.npz", p)
    preds = np.array([float(v) for v in r.stdout.split()[1:]])
    np.testing.assert_allclose(preds, 1000 + 500 * x, atol=60)


def test_metrics_csv_reports_regression_in_the_target_units(tmp_path):
    """With normalize_target, metrics.csv's mse and r2 are in the target's units, as eval's (its loss
    is the objective on the standardised target): a target 1000 times larger trains the same network,
    so the loss is the same and the mse 10^6 times larger; and the last val_mse is the mse of the
    final network's predictions, taken back to the target's units by hand."""
    import mlpcli
    from mlpcli.runs import read_metrics

    rng = np.random.default_rng(3)
    x = rng.permutation(200) / 100 - 1  # distinct values: each split's rows are found again by x
    y = np.sin(3 * x) + 0.1 * rng.standard_normal(200)
    runs = {}
    for name, digits in (("unit", 6), ("kilo", 3)):
        p = tmp_path / f"{name}.csv"
        p.write_text("x,y\n" + "".join(f"{a:.2f},{b * 10 ** (6 - digits):.{digits}f}\n" for a, b in zip(x, y, strict=True)))
        cfg = load_config(table_config(tmp_path, f"train: {p}, target: y, normalize: none, validation_split: 0.25",
                                       model="[1, 8, 1]", loss="squared_error", epochs=15))
        runs[name] = cfg, mlpcli.train(cfg, run_dir=tmp_path / name), read_metrics(tmp_path / name / "metrics.csv")
    unit, kilo = runs["unit"][2], runs["kilo"][2]
    for a, b in zip(unit, kilo, strict=True):
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-4) and b["val_loss"] == pytest.approx(a["val_loss"], rel=1e-4)
        assert b["train_mse"] == pytest.approx(1e6 * a["train_mse"], rel=1e-4) and b["val_mse"] == pytest.approx(1e6 * a["val_mse"], rel=1e-4)
        assert b["val_r2"] == pytest.approx(a["val_r2"], rel=1e-4, abs=1e-6)
    cfg, result, rows = runs["kilo"]
    ds = load_data(cfg)  # the same seeded splits; the inputs are the x values themselves (normalize: none)
    y_of = dict(zip(np.float32(x).tolist(), (1000 * y).round(3).tolist(), strict=True))
    y_train = np.array([y_of[v] for v in ds.train.X[:, 0].tolist()])
    y_val = np.array([y_of[v] for v in ds.val.X[:, 0].tolist()])
    pred = result.model.forward(ds.val.X)[:, 0] * y_train.std() + y_train.mean()  # the network fits (y - mean) / std
    assert rows[-1]["val_mse"] == pytest.approx(np.mean((pred - y_val) ** 2), rel=1e-5)
    assert rows[-1]["val_mse"] > 1e4  # in the target's units, not the standardised target's (about 0.5)


@pytest.mark.parametrize("data, message", [
    ("target: species, task: regression", "holds text"),
    ("target: colour", "no column 'colour' (columns: sepal_length, sepal_width, petal_length, petal_width, species)"),
    ("target: species, features: [petal_width, species]", "cannot also be a feature"),
    ("target: species, drop: [sepal_length, sepal_width, petal_length, petal_width]", "no input columns left"),
    ("target: species, test_fraction: 0.001", "leaves an empty split"),
    ("target: species, drop: [species]", "data.drop: 'species' is the target (data.target); it cannot also be in data.drop"),
])
def test_bad_table_configs_are_exit_2(tmp_path, data, message):
    cfg = table_config(tmp_path, f"train: {ROOT / 'data/iris.csv'}, {data}", model="[4, 8, 3]", loss="cross_entropy")
    r = mlp("train", cfg, "--out", tmp_path / "run", "--quiet")
    assert r.exit_code == 2 and message in r.stderr, r.stderr


def test_a_split_of_one_row_classes_asks_whether_the_target_is_a_label(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("x,y\n" + "".join(f"{i},{i * 3}\n" for i in range(40)))  # 40 distinct integers (ids, say)
    cfg = table_config(tmp_path, f"train: {p}, target: y, task: classification", model="[1, 4, 40]", loss="cross_entropy")
    r = mlp("train", cfg, "--out", tmp_path / "run", "--quiet")
    assert r.exit_code == 2 and "each of the 40 classes is too small" in r.stderr and "data.task: regression" in r.stderr
    assert "the largest has 1 row;" in r.stderr and "of 40 rows leaves an empty split" in r.stderr


def test_rows_without_a_target_are_dropped_with_a_count(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("a,y\n" + "\n".join(f"{i},{'' if i in (3, 8) else i % 2}" for i in range(40)) + "\n")
    cfg = load_config(table_config(tmp_path, f"train: {p}, target: y", model="[1, 4, 1]"))
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        ds = load_data(cfg)
    assert "2 rows without a target value dropped (lines 5, 10)" in err.getvalue()
    assert len(ds.train) + len(ds.test) == 38


def test_one_class_and_wrong_loss_are_refused(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("a,y\n1,x\n2,x\n3,x\n")
    r = mlp("train", table_config(tmp_path, f"train: {p}, target: y", model="[1, 2, 1]"), "--quiet")
    assert r.exit_code == 2 and "one class only" in r.stderr
    r = mlp("train", table_config(tmp_path, f"train: {ROOT / 'data/iris.csv'}, target: sepal_length", model="[6, 2, 1]"),
            "--quiet")
    assert r.exit_code == 2 and "regression" in r.stderr and "squared_error" in r.stderr


def test_init_writes_a_starter_for_a_table(customers, tmp_path):
    dest = tmp_path / "c.yaml"
    r = mlp("init", dest, "--data", customers, "--target", "bought")
    assert r.exit_code == 0, r.stderr
    text = dest.read_text()
    assert "features: [income, plan, age]" in text and "drop: [id]" in text and "categorical: [plan]" in text
    assert "classification, 2 classes: no, yes" in text and "layers: [auto, 32, auto]" in text
    cfg = load_config(dest)
    ds = load_data(cfg)  # the widths and the head follow what training encodes: 2 numeric + 3 plans in, 1 sigmoid out
    shaped = fit_config(cfg, ds.task, ds.train.X.shape[1])
    assert shaped.model.layers == [5, 32, 1] and (shaped.loss, shaped.model.output) == ("binary_cross_entropy", "sigmoid")
    assert "is [5, 32, 1] for this table: 5 inputs" in text and "sigmoid + binary_cross_entropy" in text
    r = mlp("init", tmp_path / "d.yaml", "--data", customers)
    assert r.exit_code == 2 and "--target" in r.stderr and "income" in r.stderr
    rows = customers.read_text().splitlines()  # a row number (an exported index), then the same without an id
    customers.write_text("".join(f"{i - 1 if i else 'Unnamed: 0'},{line}\n" for i, line in enumerate(rows)))
    assert mlp("init", tmp_path / "n.yaml", "--data", customers, "--target", "bought").exit_code == 0
    assert "drop: [id, 'Unnamed: 0']" in (tmp_path / "n.yaml").read_text()
    customers.write_text(customers.read_text().replace("income", "größe"), encoding="utf-8")  # column names as written, not escaped
    assert mlp("init", tmp_path / "u.yaml", "--data", customers, "--target", "bought").exit_code == 0
    assert "features: [größe, plan, age]" in (tmp_path / "u.yaml").read_text(encoding="utf-8")
    tiny = tmp_path / "tiny.csv"  # too few rows for a validation split: the starter still trains
    tiny.write_text("x,y\n1,a\n2,b\n3,a\n4,b\n5,a\n6,b\n")
    assert mlp("init", tmp_path / "t.yaml", "--data", tiny, "--target", "y").exit_code == 0
    assert "validation_split: 0.0" in (tmp_path / "t.yaml").read_text()
    assert mlp("train", tmp_path / "t.yaml", "--out", tmp_path / "tiny-run", "--quiet").exit_code == 0
    customers.write_text("".join(line.split(",", 1)[1] + ",\n" for line in rows))  # no id; an empty last column
    r = mlp("init", tmp_path / "e.yaml", "--data", customers, "--target", "bought")
    assert r.exit_code == 0 and "drop: ['Unnamed: 4']" in (tmp_path / "e.yaml").read_text(), r.stderr



def test_dropped_columns_are_never_read(tmp_path):
    """data.drop: a column whose contents would be refused (a nested Parquet column, junk in a mostly
    numeric CSV column) is not read at all, in training, eval and predict; a misspelt drop still errors."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    rng = np.random.default_rng(0)
    x = rng.normal(size=40)
    tags = [{"a": int(i), "b": [1, 2]} for i in range(40)]  # a struct column: no table reader can encode it
    pq.write_table(pa.table({"x": x, "tags": tags, "y": np.where(x > 0, "up", "down")}), tmp_path / "t.parquet")
    csv_path = tmp_path / "t.csv"
    csv_path.write_text("x,code,y\n" + "".join(f"{v:.4f},{'x9' if i == 7 else i},{'up' if v > 0 else 'down'}\n"
                                                for i, v in enumerate(x)))
    for table, dropped in ((tmp_path / "t.parquet", "tags"), (csv_path, "code")):
        cfg = table_config(tmp_path, f"train: {table}, target: y, drop: [{dropped}]", model="[auto, 3, auto]",
                           loss="binary_cross_entropy", epochs=2)
        out = tmp_path / f"run-{dropped}"
        r = mlp("train", cfg, "--out", out, "--quiet")
        assert r.exit_code == 0, r.stderr
        assert mlp("eval", out, "--json").exit_code == 0
        r = mlp("predict", out, table, "--json")
        assert r.exit_code == 0 and json.loads(r.stdout)["n_samples"] == 40, r.stderr
        bad = table_config(tmp_path, f"train: {table}, target: y, drop: [{dropped}, X]", model="[auto, 3, auto]",
                           loss="binary_cross_entropy", epochs=2)
        r = mlp("train", bad, "--out", tmp_path / "bad", "--quiet")
        assert r.exit_code == 2 and "no column 'X'" in r.stderr and "did you mean 'x'" in r.stderr, r.stderr


def test_training_threads_bound_the_table_readers_threads(customers, tmp_path, monkeypatch):
    """mlp train --threads N (training.threads) reads the train and test tables with at most N threads."""
    import mlpcli.table

    seen, read = [], mlpcli.table.read_table
    monkeypatch.setattr(mlpcli.table, "read_table", lambda *a, **kw: seen.append(kw["threads"]) or read(*a, **kw))
    cfg = load_config(table_config(tmp_path, f"train: {customers}, test: {customers}, target: bought, drop: [id]"),
                      ["training.threads=1"])
    load_data(cfg)
    assert seen == [1, 1]
    monkeypatch.setenv("MLPCLI_THREADS", "2")
    load_data(load_config(table_config(tmp_path, f"train: {customers}, target: bought, drop: [id]")))
    assert seen == [1, 1, 2]


def test_a_semicolon_export_with_decimal_commas_trains_and_predicts_like_its_comma_twin(customers, tmp_path):
    """The same table saved by a ','-decimal spreadsheet (';' between fields, 2,5 for 2.5): mlp init, train,
    eval and predict read it as the ','-separated original, without a data.delimiter."""
    rows = [line.split(",") for line in customers.read_text().splitlines()]
    eu = tmp_path / "customers-eu.csv"
    eu.write_text("".join(";".join(f.replace(".", ",") for f in row) + "\n" for row in rows))
    runs = {}
    for name, path in (("comma", customers), ("eu", eu)):
        cfg = tmp_path / f"{name}.yaml"
        assert mlp("init", cfg, "--data", path, "--target", "bought").exit_code == 0
        r = mlp("train", cfg, "--out", tmp_path / name, "--json", "--quiet", "--set", "training.epochs=5")
        assert r.exit_code == 0, r.stderr
        runs[name] = json.loads(r.stdout)["metrics"]
        r = mlp("predict", tmp_path / name, path, "--out", tmp_path / f"{name}-pred.csv", "--proba", "--keep", "id")
        assert r.exit_code == 0, r.stderr
    assert runs["eu"] == runs["comma"]
    assert (tmp_path / "eu-pred.csv").read_text() == (tmp_path / "comma-pred.csv").read_text()


@pytest.mark.parametrize("codec", ["rot13", "hex", "base64", "zlib"])
def test_a_codec_that_is_not_a_text_encoding_is_a_config_error_at_the_cli(tmp_path, codec):
    """data.encoding names a text encoding: rot13 or base64 are Python codecs too, but of str or bytes to their
    own kind, and reading a table with one was a LookupError traceback."""
    (tmp_path / "t.csv").write_text("x,y\n1,a\n2,b\n")
    cfg = table_config(tmp_path, f"train: {tmp_path / 't.csv'}, target: y", model="[auto, 4, auto]", epochs=1)
    r = mlp("train", cfg, "--out", tmp_path / "run", "--set", f"data.encoding={codec}")
    assert r.exit_code == 2 and f"data.encoding: {codec!r} is not a text encoding" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "run").exists()
