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
    net._flat[...] = np.random.default_rng(seed).normal(0.0, 1.5, net.n_params)
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
    if net.task == "regression":
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


def _as_columns(proba, k):
    return np.hstack([1 - proba, proba]) if proba.shape[1] == 1 and k == 2 else proba


def test_npy_regression_in_original_units_with_standard_normalisation(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.uniform(-50, 50, (300, 3))
    y = (X @ [0.02, -0.01, 0.03])[:, None] + 5.0
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "y.npy", y)
    xy = f"{{x: {tmp_path / 'x.npy'}, y: {tmp_path / 'y.npy'}}}"
    ckpt = _train(tmp_path, ROOT / "configs/xor.yaml", f"data={{name: npy, train: {xy}, normalize: standard}}",
                  "model.layers=[3, 8, 1]", "model.output=identity", "loss=squared_error", "training.epochs=5")
    ref = _predict_proba(ckpt, tmp_path / "x.npy", tmp_path)
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
