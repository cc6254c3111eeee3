"""mlp export --format onnx: onnxruntime against mlpcli's own forward pass and `mlp predict --proba`."""

import json
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from mlpcli.activations import ACTIVATIONS
from mlpcli.cli import app
from mlpcli.model import MLP

from .conftest import MNIST_DIR, ROOT, mnist_available, mnist_format

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from mlpcli.onnx_export import OPSET, build_model  # noqa: E402

runner = CliRunner()


def mlp(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def session(model_or_path):
    data = model_or_path.SerializeToString() if hasattr(model_or_path, "SerializeToString") else str(model_or_path)
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"])


def random_net(hidden, output, bias, dtype, k=3, seed=0):
    loss = {"softmax": "cross_entropy", "sigmoid": "binary_cross_entropy"}.get(str(output), "squared_error")
    net = MLP([4, 6, 5, 1 if output != "softmax" else k], [hidden, hidden, output], loss, bias=bias, dtype=dtype)
    net.flat[...] = np.random.default_rng(seed).normal(0.0, 1.5, net.n_params)
    return net


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_every_activation_exports(name, bias, dtype):
    """Each activation of the registry, as a hidden and as an output layer, equals the NumPy forward pass."""
    act = {"name": name, "alpha": 0.2} if name == "leaky_relu" else name
    hidden = "tanh" if name == "softmax" else act  # softmax is for the output layer only
    net = random_net(hidden, act, bias, dtype)
    net.normalizer = {"kind": "standard", "mean": [0.5, -1.0, 2.0, 0.0], "std": [2.0, 0.5, 1.0, 3.0]}
    X = np.random.default_rng(1).normal(0.0, 4.0, (64, 4)).astype(dtype)
    X[0] = [40, -40, 40, -40]  # saturating inputs: softplus, sigmoid and softmax stay finite
    Xn = (X - np.asarray(net.normalizer["mean"], dtype)) * (1.0 / np.asarray(net.normalizer["std"])).astype(dtype)
    ref = net.forward(Xn)
    got = session(build_model(net)).run(None, {"input": X})
    tol = 1e-5 if dtype == "float32" else 1e-12  # float32 sums of large terms round at ~1e-6 of their size
    if net.task.kind == "regression":
        np.testing.assert_allclose(got[0], ref, rtol=tol, atol=tol * np.abs(ref).max())
        return
    proba, label = got
    expect = np.hstack([1 - ref, ref]) if ref.shape[1] == 1 else ref
    np.testing.assert_allclose(proba, expect, rtol=tol, atol=tol)
    from mlpcli.metrics import predicted_classes

    np.testing.assert_array_equal(label, predicted_classes(ref))


def test_model_states_its_opset_and_interface():
    net = random_net("relu", "softmax", True, "float32")
    m = build_model(net)
    assert [(o.domain, o.version) for o in m.opset_import] == [("", OPSET)]
    assert [i.name for i in m.graph.input] == ["input"] and [o.name for o in m.graph.output] == ["probabilities", "label"]
    props = {p.key: p.value for p in m.metadata_props}
    assert props["opset"] == str(OPSET) and props["task"] == "classification" and json.loads(props["layers"]) == [4, 6, 5, 3]
    assert f"opset {OPSET}" in m.doc_string
    assert [n.op_type for n in m.graph.node].count("Gemm") == 3  # one per layer


def _train(tmp_path, config, *sets):
    out = tmp_path / "run"
    r = mlp("train", config, "--out", out, "--quiet", *[a for s in sets for a in ("--set", s)])
    assert r.exit_code == 0, r.output
    return out / "last.npz"


def _predict_proba(ckpt, X_path, tmp_path):
    out = tmp_path / "proba.npy"
    r = mlp("predict", ckpt, X_path, "--proba", "--out", out)
    assert r.exit_code == 0, r.output
    return np.load(out)


def _export(ckpt, tmp_path):
    path = tmp_path / "model.onnx"
    r = mlp("export", ckpt, "--format", "onnx", "--out", path, "--json")
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)
    assert info["opset"] == OPSET and info["path"] == str(path)
    return path


def test_npy_regression_in_original_units_with_standard_normalisation(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.uniform(-50, 50, (300, 3))
    y = (X @ [0.02, -0.01, 0.03])[:, None] + 5.0
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "y.npy", y)
    xy = f"{{x: {tmp_path / 'x.npy'}, y: {tmp_path / 'y.npy'}}}"
    ckpt = _train(tmp_path, ROOT / "configs/xor.yaml", f"data={{name: npy, train: {xy}, normalize: standard}}",
                  "model.layers=[3, 8, 1]", "model.output=identity", "loss=squared_error", "training.epochs=5")
    r = mlp("predict", ckpt, tmp_path / "x.npy", "--out", tmp_path / "pred.npy")
    assert r.exit_code == 0, r.output
    ref = np.load(tmp_path / "pred.npy")
    (got,) = session(_export(ckpt, tmp_path)).run(None, {"input": X.astype(np.float32)})
    np.testing.assert_allclose(got, ref.reshape(got.shape), atol=1e-5)


def test_cli_refuses_other_formats_and_missing_extra(tmp_path, monkeypatch):
    net_ckpt = _train(tmp_path, ROOT / "configs/xor.yaml", "training.epochs=1")
    r = mlp("export", net_ckpt, "--format", "tflite")
    assert r.exit_code == 2 and "onnx" in r.stderr
    monkeypatch.setitem(sys.modules, "onnx", None)  # as if the extra were not installed
    r = mlp("export", net_ckpt, "--format", "onnx", "--out", tmp_path / "m.onnx")
    assert r.exit_code == 2 and 'pip install -e ".[onnx]"' in r.stderr and "Traceback" not in r.output
    assert not (tmp_path / "m.onnx").exists()
    monkeypatch.setitem(sys.modules, "onnx", onnx)  # installed again
    for bad in (tmp_path / "no" / "dir" / "m.onnx", tmp_path):  # a missing directory; a directory as the file
        r = mlp("export", net_ckpt, "--out", bad)
        assert r.exit_code == 2 and f"{bad}: cannot write" in r.stderr and "Traceback" not in r.output


@pytest.mark.skipif(not mnist_available(), reason="real MNIST files not found (set MLPCLI_MNIST_DIR)")
def test_mnist_onnx_equals_predict_proba(tmp_path):
    data = MNIST_DIR
    if mnist_format() == "idx":
        data = tmp_path / "mnist"
        r = subprocess.run([sys.executable, "-m", "mlpcli", "data", "mnist", "--from", str(MNIST_DIR), "--out", str(data)],
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
    ckpt = _train(tmp_path, ROOT / "configs/mnist.yaml", f"data.path={data}", "model.layers=[784, 32, 10]",
                  "training.epochs=1", "data.validation_split=0")
    ref = _predict_proba(ckpt, data / "test_images.npy", tmp_path)
    X = np.load(data / "test_images.npy").reshape(10000, 784).astype(np.float32)  # raw pixels: the graph scales them
    proba, label = session(_export(ckpt, tmp_path)).run(None, {"input": X})
    assert proba.shape == ref.shape == (10000, 10)
    err = float(np.abs(proba - ref).max())
    print(f"MNIST test set: max |onnxruntime - mlp predict --proba| = {err:.2e}")
    assert err <= 1e-5
    np.testing.assert_array_equal(label, ref.argmax(1))
    assert (label == np.load(data / "test_labels.npy")).mean() > 0.9


def _table_csv(path, rng, n, task, extra_rows=()):
    """A table with an id, two numeric columns and a categorical one, missing values in both kinds."""
    colors = np.array(["red", "green", "blue"])
    lines = ["id,age,color,size,target"]
    for i in range(n):
        age, size, c = rng.uniform(20, 70), rng.normal(5, 2), rng.integers(3)
        y = ("yes" if age / 50 + (c == 0) - 0.3 * size > 0.2 else "no") if task == "classification" \
            else f"{1000 + 30 * age - 200 * (c == 1) + rng.normal(0, 5):.3f}"
        lines.append(",".join([str(i), "" if i % 11 == 3 else f"{age:.2f}", "NA" if i % 13 == 5 else str(colors[c]),
                               f"{size:.3f}", y]))
    lines += [",".join(r) for r in extra_rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def _onnx_feed(sess, path, na=("", "NA")):
    """The columns of a CSV as onnxruntime inputs: numbers as floats (missing: NaN), categories as text."""
    import csv

    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    feed = {}
    for i in sess.get_inputs():
        if i.type == "tensor(string)":
            feed[i.name] = np.array([[r[i.name]] for r in rows], object)
        else:
            feed[i.name] = np.array([[np.nan if r[i.name] in na else float(r[i.name])] for r in rows], np.float32)
    return feed


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_table_encoding_is_in_the_graph(task, tmp_path):
    """A table with missing numbers and categories, an unseen category and the target in class
    names or original units: onnxruntime equals mlp predict --proba (or the predictions)."""
    pytest.importorskip("mlpcli.preprocess")  # the table dataset
    rng = np.random.default_rng(0)
    train = _table_csv(tmp_path / "train.csv", rng, 160, task)
    new = _table_csv(tmp_path / "new.csv", rng, 40, task, extra_rows=[("900", "33", "purple", "4.5", "yes" if task == "classification" else "1"),
                                                                         ("901", "NA", "", "", "no" if task == "classification" else "2")])
    head = "model: {layers: [5, 8, 1], activation: tanh, output: %s}\nloss: %s\n" % (
        ("sigmoid", "binary_cross_entropy") if task == "classification" else ("identity", "squared_error"))
    cfg = tmp_path / "t.yaml"
    cfg.write_text(f"data: {{name: table, train: {train}, target: target, drop: [id]}}\n" + head +
                   "optimizer: {name: adam, lr: 0.02}\ntraining: {epochs: 30, batch_size: 16}\n")
    ckpt = _train(tmp_path, cfg)
    ref = _predict_proba(ckpt, new, tmp_path) if task == "classification" else None
    if ref is None:
        r = mlp("predict", ckpt, new, "--out", tmp_path / "pred.npy")
        assert r.exit_code == 0, r.output
        ref = np.load(tmp_path / "pred.npy")
    sess = session(_export(ckpt, tmp_path))
    assert [i.name for i in sess.get_inputs()] == ["age", "color", "size"]
    out = sess.run(None, _onnx_feed(sess, new))
    if task == "classification":
        proba, label = out
        np.testing.assert_allclose(proba, ref, atol=1e-5)
        assert set(label) <= {"no", "yes"}
        np.testing.assert_array_equal(label, np.array(["no", "yes"])[(ref[:, 1] > 0.5).astype(int)])
    else:
        assert np.abs(ref).mean() > 500  # original units, not the standardised targets the network learnt
        np.testing.assert_allclose(out[0].ravel(), ref.ravel(), rtol=1e-5, atol=1e-5 * np.abs(ref).max())
