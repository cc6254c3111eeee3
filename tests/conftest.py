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


def run_in_pty(args, cols: int, rows: int = 40, timeout: float = 120, env=None, stdin_tty=True):
    """Run ``args`` with stdout and stderr on a pseudo-terminal ``cols`` wide; its output as text."""
    import fcntl
    import pty
    import select
    import struct
    import subprocess
    import termios
    import time

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    env = {**os.environ, **(env or {})}
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    p = subprocess.Popen(args, stdout=slave, stderr=slave, stdin=slave if stdin_tty else subprocess.DEVNULL, env=env,
                         close_fds=True)
    os.close(slave)
    out, deadline = b"", time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                out += chunk
            elif p.poll() is not None:
                break
    finally:
        if p.poll() is None:
            p.kill()
        p.wait()
        os.close(master)
    return p.returncode, out.decode("utf-8", "replace").replace("\r\n", "\n")
