"""Shared pieces of the benchmarks: MNIST loading, the machine description, medians."""

from __future__ import annotations

import contextlib
import os
import platform
import re
import statistics
import sys
import time
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


def mnist_arguments(doc: str, epochs: int, batch_sizes: str):
    """The command line of an MNIST benchmark: --data, --epochs, --batch-sizes, --no-write."""
    import argparse

    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="MNIST as .npy (mlp data mnist) or the official IDX files; default ../shared/datasets/mnist")
    ap.add_argument("--epochs", type=int, default=epochs)
    ap.add_argument("--batch-sizes", default=batch_sizes)
    ap.add_argument("--no-write", action="store_true", help="print only; do not write benchmarks/RESULTS.md")
    return ap.parse_args()


def median(xs):
    return statistics.median(xs)


def step_parts(t, repeat: int) -> tuple[dict, float]:
    """Microseconds of each piece of one training step of the trainer ``t`` (built, one epoch run
    so that its buffers exist), timed in place (best of 5 runs of ``repeat`` calls each), and of a
    whole step inside real epochs (the loop, its callbacks and the end-of-epoch work included)."""
    import timeit

    from mlpcli import threads

    for c in t.callbacks.callbacks:  # the pieces run with the BLAS threads the trainer's epochs use
        if isinstance(c, threads.ThreadCount):
            c.apply()
    m, opt, lr = t.model, t.opt, t.sched.lr
    perm = t.shuffle_rng.permutation(t.n)
    Xb, Yb, idx, ws = t.gather(0, perm)
    scale = opt.grad_scale(lr)
    loss = m.train_step(Xb, Yb, ws, scale)

    def us(f, n=repeat):
        f()
        return min(timeit.repeat(f, number=n, repeat=5)) / n * 1e6

    def epoch():
        t.batch = 0
        t.run_epoch()

    parts = {
        "gather the shuffled batch (inputs, targets)": us(lambda: t.gather(0, perm)),
        "forward: GEMM, bias, activation per layer": us(lambda: m.forward_into(Xb, ws, train=True, output=False)),
        "forward + fused output/loss/delta + backward (all gradients)": us(lambda: m.train_step(Xb, Yb, ws, scale)),
        f"optimiser step ({opt.name}, {m.n_params:,} parameters)": us(lambda: opt.step(m.flat, m.grad_flat, lr)),
        "running loss and accuracy": us(lambda: t.running.add(loss, ws.A[-1], Yb, idx, ws.pred, ws.work[-1])),
    }
    step = us(epoch, max(1, repeat // (10 * t.n_batches))) / t.n_batches
    threads.restore()
    return parts, step


def steps_in_epochs(run, t, epochs: int) -> dict[str, list[float]]:
    """Seconds of each piece of every training step inside ``epochs`` real epochs (``run`` runs one
    epoch of the trainer ``t``, as bench_mnist's mlp_epoch_runner does), and of each whole step from
    one batch's start to the next's (the loop and its callbacks included). The pieces are timed
    where they run, between their neighbours: timed alone and repeated (step_parts) they find their
    data in the cache, and on two BLAS threads none of the data the other thread last wrote."""
    names = {"gather": (t, "gather"), "forward + loss + backward": (t.model, "train_step"),
             "optimiser step": (t.opt, "step"), "running loss and accuracy": (t.running, "add")}
    pieces = {name: [] for name in names}
    starts = []

    def timed(name, f):
        def call(*a):
            t0 = time.perf_counter()
            if name == "gather":
                starts.append(t0)
            out = f(*a)
            pieces[name].append(time.perf_counter() - t0)
            return out
        return call

    for name, (obj, attr) in names.items():
        setattr(obj, attr, timed(name, getattr(obj, attr)))
    whole = []
    try:
        for _ in range(epochs):
            del starts[:]
            run()
            whole += [b - a for a, b in zip(starts[:-1], starts[1:], strict=True)]
    finally:
        for obj, attr in names.values():
            delattr(obj, attr)  # the class's methods again
    return {**pieces, "whole step (the loop and its callbacks included)": whole}


def mlp_command() -> list[str]:
    """The real `mlp` console script next to this interpreter (not a version manager's shim,
    which would add its own start-up), else ``python -m mlpcli``."""
    exe = Path(sys.executable).with_name("mlp")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "mlpcli"]


def user_env() -> dict:
    """The environment for timing whole `mlp` processes: as a user's, with Python's bytecode
    cache on (PYTHONDONTWRITEBYTECODE, set in some sandboxes, would recompile mlpcli every run)."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


RESULTS = ROOT / "benchmarks" / "RESULTS.md"
SECTION = re.compile(r"<!-- ([\w.]+) -->\n(.*?)<!-- /\1 -->\n", flags=re.S)


def write_results(section: str, text: str, info: dict, load_before: float | None = None) -> None:
    """Replace one section of RESULTS.md, keeping every other one as it is (a benchmark whose parts
    can run alone, with ``--only``, writes each part as a section of its own). The section is
    stamped with its date and the 1-minute load average before and after the run: the machine
    may be shared, and the load says how far to trust the timings."""
    old = RESULTS.read_text() if RESULTS.exists() else ""
    head = ("# Benchmark results\n\nWritten by the scripts in `benchmarks/` (see the README). Machine: "
            f"{info['cpu']}, {info['cores']} cores; Python {info['python']}, NumPy {info['numpy']}, "
            f"BLAS {info.get('blas', '?')}; PyTorch {info.get('torch', 'not installed')}, "
            f"scikit-learn {info.get('sklearn', 'not installed')}.\n\n")
    sections = dict(SECTION.findall(old))
    load_now = load_average()
    load = "" if load_now is None else (f", load average {load_before:.1f} before and {load_now:.1f} after the run"
                                        if load_before is not None else f", load average {load_now:.1f} at the end")
    sections[section] = f"_{time.strftime('%Y-%m-%d %H:%M')}{load}_\n\n" + text
    body = "".join(f"<!-- {k} -->\n{v}<!-- /{k} -->\n\n" for k, v in sorted(sections.items()))
    RESULTS.write_text(head + body)
    print(f"wrote section {section!r} of {RESULTS}")


def load_average() -> float | None:
    """The 1-minute load average now (None where the OS keeps none)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None
