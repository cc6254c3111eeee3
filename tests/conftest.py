import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
# the MNIST end-to-end tests read $MLPCLI_MNIST_DIR (README: Development), else ../shared/datasets/mnist
MNIST_DIR = Path(os.environ.get("MLPCLI_MNIST_DIR") or ROOT.parent / "shared" / "datasets" / "mnist").expanduser().absolute()
MNIST_IDX = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
MNIST_NPY = ("train_images.npy", "train_labels.npy", "test_images.npy", "test_labels.npy")


def write_yaml(path, text):
    path = Path(path)
    path.write_text(text)
    return path


@pytest.fixture
def weights_file(tmp_path):
    """Write an .npz of explicit weights and return its path."""

    def make(name="w.npz", **arrays):
        p = tmp_path / name
        np.savez(p, **{k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()})
        return p

    return make


@pytest.fixture(autouse=True)
def _quiet_env(monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    yield


def mnist_format(d=None):
    """'npy' when the directory holds the .npy files of `mlp data mnist`, 'idx' when it holds the
    official IDX files (plain or .gz), else None."""
    d = Path(d or MNIST_DIR)
    if all((d / f).is_file() for f in MNIST_NPY):
        return "npy"
    if all((d / f).is_file() or (d / f"{f}.gz").is_file() for f in MNIST_IDX):
        return "idx"
    return None


def mnist_available():
    return mnist_format() is not None and os.environ.get("MLPCLI_SKIP_MNIST") != "1"
