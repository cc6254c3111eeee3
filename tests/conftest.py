import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
MNIST_DIR = ROOT.parent / "shared" / "datasets" / "mnist"


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


def mnist_available():
    return all((MNIST_DIR / f).exists() for f in ("train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz")) and os.environ.get("MLPCLI_SKIP_MNIST") != "1"
