"""Shared pieces of the benchmarks: MNIST loading, the machine description, medians."""

from __future__ import annotations

import contextlib
import os
import platform
import statistics
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# the shared MNIST files next to the repository (or next to the directory of its git worktrees)
SHARED_MNIST = next((d / "shared" / "datasets" / "mnist" for d in ROOT.parents if (d / "shared" / "datasets" / "mnist").is_dir()),
                    ROOT.parent / "shared" / "datasets" / "mnist")


def load_mnist(data_dir=None):
    """(X_train float32 in [0,1] (60000, 784), y_train, X_test, y_test) from .npy files or the official IDX files."""
    if data_dir and (Path(data_dir) / "train_images.npy").exists():
        d = Path(data_dir)
        arrs = [np.load(d / f"{n}.npy") for n in ("train_images", "train_labels", "test_images", "test_labels")]
    else:
        from mlpcli.mnist import FILES, _read, _verified, find_local

        src = str(data_dir or SHARED_MNIST)
        arrs = [_verified(_read(find_local(src, n)), n, src) for n in FILES]
    Xtr, ytr, Xte, yte = arrs
    f = lambda X: (X.reshape(len(X), 784).astype(np.float32) / np.float32(255))  # noqa: E731
    return f(Xtr), ytr.astype(np.int64), f(Xte), yte.astype(np.int64)


def machine() -> dict:
    info = {"python": sys.version.split()[0], "numpy": np.__version__, "cores": os.cpu_count(),
            "cpu": platform.processor() or platform.machine()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    for mod in ("torch", "sklearn"):
        with contextlib.suppress(ImportError):
            info[mod] = __import__(mod).__version__
    try:
        from threadpoolctl import threadpool_info

        blas = [p for p in threadpool_info() if p.get("user_api") == "blas"]
        blas.sort(key=lambda p: "numpy" not in p.get("filepath", ""))  # NumPy's own, not SciPy's (loaded by sklearn)
        if blas:
            b = blas[0]
            info["blas"] = f"{b.get('internal_api')} {b.get('version')} ({b.get('architecture')}, {b.get('num_threads')} threads)"
    except ImportError:
        cfg = np.show_config(mode="dicts") if "mode" in np.show_config.__code__.co_varnames else {}
        blas = cfg.get("Build Dependencies", {}).get("blas", {}) if cfg else {}
        info["blas"] = f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    return info


def median(xs):
    return statistics.median(xs)


def mlp_command() -> list[str]:
    """The real `mlp` console script next to this interpreter (not a version manager's shim,
    which would add its own start-up), else ``python -m mlpcli``."""
    exe = Path(sys.executable).with_name("mlp")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "mlpcli"]


def user_env() -> dict:
    """The environment for timing whole `mlp` processes: as a user's, with Python's bytecode
    cache on (PYTHONDONTWRITEBYTECODE, set in some sandboxes, would recompile mlpcli every run)."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
