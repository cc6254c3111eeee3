"""End to end on the real MNIST: convert the official IDX files, train, eval, gate.

Runs when $MLPCLI_MNIST_DIR (else ../shared/datasets/mnist) holds the official IDX files or
the .npy files of `mlp data mnist`; skipped cleanly otherwise.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from .conftest import MNIST_DIR, ROOT, mnist_available, mnist_format

needs_mnist = pytest.mark.skipif(not mnist_available(), reason="real MNIST files not found (set MLPCLI_MNIST_DIR)")


@pytest.fixture(scope="module")
def mnist_npy(tmp_path_factory):
    if mnist_format() == "npy":
        return MNIST_DIR
    out = tmp_path_factory.mktemp("mnist")
    r = subprocess.run([sys.executable, "-m", "mlpcli", "data", "mnist", "--from", str(MNIST_DIR), "--out", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return out


@needs_mnist
def test_converted_files(mnist_npy):
    X = np.load(mnist_npy / "train_images.npy", mmap_mode="r")
    y = np.load(mnist_npy / "test_labels.npy")
    assert X.shape == (60000, 28, 28) and X.dtype == np.uint8 and y.shape == (10000,) and set(np.unique(y)) == set(range(10))


@needs_mnist
def test_shipped_mnist_config_reaches_098(mnist_npy, tmp_path):
    run = tmp_path / "run"
    r = subprocess.run([sys.executable, "-m", "mlpcli", "train", str(ROOT / "configs/mnist.yaml"), "--set",
                        f"data.path={mnist_npy}", "--out", str(run), "--json"], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    summary = json.loads(r.stdout)
    acc = summary["metrics"]["test"]["accuracy"]
    print(f"MNIST test accuracy {acc:.4f} in {summary['seconds']:.1f} s")
    assert acc >= 0.980
    g = subprocess.run([sys.executable, "-m", "mlpcli", "eval", str(run / "best.npz"), "--min-accuracy", "0.98", "--json"],
                       capture_output=True, text=True, timeout=300)
    assert g.returncode == 0 and json.loads(g.stdout)["n_samples"] == 10000
    p = tmp_path / "x.npy"
    np.save(p, np.load(mnist_npy / "test_images.npy")[:100])
    pr = subprocess.run([sys.executable, "-m", "mlpcli", "predict", str(run / "best.npz"), str(p), "--out", str(tmp_path / "p.npy")],
                        capture_output=True, text=True, timeout=300)
    assert pr.returncode == 0
    pred = np.load(tmp_path / "p.npy")
    assert (pred == np.load(mnist_npy / "test_labels.npy")[:100]).mean() >= 0.95


def test_the_data_is_found_through_mlpcli_mnist_dir(tmp_path):
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte.gz"):
        (tmp_path / "idx" / name).parent.mkdir(exist_ok=True)
        (tmp_path / "idx" / name).write_bytes(b"")
    assert mnist_format(tmp_path / "idx") is None  # t10k labels missing
    (tmp_path / "idx" / "t10k-labels-idx1-ubyte.gz").write_bytes(b"")
    assert mnist_format(tmp_path / "idx") == "idx"
    (tmp_path / "npy").mkdir()
    for name in ("train_images", "train_labels", "test_images", "test_labels"):
        (tmp_path / "npy" / f"{name}.npy").write_bytes(b"")
    assert mnist_format(tmp_path / "npy") == "npy"
    code = "from tests.conftest import MNIST_DIR, mnist_available; print(MNIST_DIR, mnist_available())"
    env = {**os.environ, "MLPCLI_MNIST_DIR": str(tmp_path / "npy"), "MLPCLI_SKIP_MNIST": "0"}
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert r.stdout.split() == [str(tmp_path / "npy"), "True"], r.stderr
