"""MNIST training epoch: mlp against the bare GEMM floor, PyTorch CPU and scikit-learn, side by side.

    python benchmarks/bench_mnist.py [--data DIR] [--epochs 7] [--batch-sizes 128,32,512] [--no-write]

Network 784-256-256-10, ReLU, softmax cross-entropy, SGD momentum 0.9, float32, shuffled
each epoch. Each contender runs its epochs interleaved with the others (round robin, in a
new order each round), so machine noise hits all alike; before each timed epoch the
process idles for PAUSE seconds, so that the worker threads of the previous contender's
BLAS or OpenMP pool (which spin for up to ~0.1 s after their last call) have gone to sleep
and do not steal the core from the next one. The table shows medians and ratios to the
GEMM floor of the same run, and is written to benchmarks/RESULTS.md with the machine's
description.
"""

from __future__ import annotations

import argparse
import os
import random
import time

import numpy as np

from common import load_average, load_mnist, machine, median, write_results  # noqa: F401 (write_results: bench_tables imports it from here)

LAYERS = [784, 256, 256, 10]
LR, MOMENTUM = 0.05, 0.9
PAUSE = 0.3  # seconds idle before each timed epoch: the previous contender's thread pool winds down


# ---------------------------------------------------------------------------- contenders
def mlp_epoch_runner(X, y, batch, layers=LAYERS, extra=()):
    """mlp's real training loop (Trainer.run_epoch); the time is the one metrics.csv records.
    The BLAS thread count is one setting per process: the runner sets its trainer's own (forced
    or tuned) before each epoch and gives NumPy its default back after, for the next contender."""
    import mlpcli
    from mlpcli import threads
    from mlpcli.data import Dataset, Split
    from mlpcli.trainer import Trainer

    cfg = mlpcli.load_config(None, [f"model.layers={list(layers)}", "model.activation=relu", "model.init=he",
                                    "loss=cross_entropy", "optimizer=sgd", f"optimizer.lr={LR}",
                                    f"optimizer.momentum={MOMENTUM}", f"training.batch_size={batch}",
                                    "training.epochs=1000", "training.dtype=float32", *extra])
    t = Trainer(cfg, data=Dataset(train=Split(X, y), task="classification"))
    t.callbacks.on_train_start(t)  # as a run starts (no run directory: only the thread count)
    count = next(c for c in t.callbacks.callbacks if isinstance(c, threads.ThreadCount))

    def run():
        count.apply()
        t.batch = 0
        t.run_epoch()
        threads.restore()
        return t.history[-1]["seconds"]

    return run, t


def tuner_of(trainer):
    """The trainer's BLAS thread tuner, or None (threads forced, or a network too small to split)."""
    return next((c.tuner for c in trainer.callbacks.callbacks if getattr(c, "tuner", None)), None)


def shares(seconds: dict) -> str:
    """'1: 97%, 2: 3%': each thread count's share of the seconds the tuner timed (counts never run left out)."""
    total = sum(seconds.values())
    return ", ".join(f"{n}: {s / total:.0%}" for n, s in seconds.items() if s)


def floor_runner(X, y, batch, layers=LAYERS, gather=False, record=None):
    """The same GEMMs and a plain update, nothing else: what no NumPy MLP can beat. The floor reads
    pre-shuffled rows in place; with ``gather`` it first gathers each batch from X in a new shuffled
    order every epoch, as mlp does. ``record``, a list, receives each step's (batch, GEMMs, update) seconds."""
    rng = np.random.default_rng(0)
    Ws = [rng.normal(0, 0.05, size=(m, n)).astype(np.float32) for n, m in zip(layers[:-1], layers[1:], strict=True)]
    dWs = [np.empty_like(W) for W in Ws]
    n = len(X)
    bufs = {}

    def buffers(b):
        if b not in bufs:
            bufs[b] = ([np.empty((b, m), np.float32) for m in layers[1:]], [np.empty((b, m), np.float32) for m in layers[1:-1]],
                       np.empty((b, layers[0]), np.float32))
        return bufs[b]

    Xs = np.ascontiguousarray(X[rng.permutation(n)])  # pre-shuffled: the floor does not gather

    def run():
        t0 = time.perf_counter()
        perm = rng.permutation(n) if gather else None
        for lo in range(0, n, batch):
            t_batch = time.perf_counter()
            Xb = Xs[lo : lo + batch]
            A, D, Xbuf = buffers(len(Xb))
            if gather:
                Xb = X.take(perm[lo : lo + batch], axis=0, out=Xbuf, mode="clip")
            t_gemm = time.perf_counter()
            prev = Xb
            for W, Z in zip(Ws, A, strict=True):
                np.matmul(prev, W.T, out=Z)
                prev = Z
            delta = A[-1]
            for layer in range(len(Ws) - 1, -1, -1):
                np.matmul(delta.T, A[layer - 1] if layer else Xb, out=dWs[layer])
                if layer:
                    np.matmul(delta, Ws[layer], out=D[layer - 1])
                    delta = D[layer - 1]
            t_update = time.perf_counter()
            for W, dW in zip(Ws, dWs, strict=True):
                dW *= np.float32(1e-6)
                W -= dW
            if record is not None:
                record.append((t_gemm - t_batch, t_update - t_gemm, time.perf_counter() - t_update))
        return time.perf_counter() - t0

    return run


def torch_runner(X, y, batch):
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256), torch.nn.ReLU(),
                              torch.nn.Linear(256, 10))
    opt = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM)
    loss_fn = torch.nn.CrossEntropyLoss()
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    n = len(X)

    def run():
        t0 = time.perf_counter()
        perm = torch.randperm(n)
        for lo in range(0, n, batch):
            idx = perm[lo : lo + batch]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(Xt[idx]), yt[idx])
            loss.backward()
            opt.step()
        return time.perf_counter() - t0

    return run


def sklearn_runner(X, y, batch):
    import warnings

    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(hidden_layer_sizes=(256, 256), solver="sgd", learning_rate_init=LR, momentum=MOMENTUM,
                        nesterovs_momentum=False, batch_size=batch, max_iter=1, shuffle=True, random_state=0)
    classes = np.arange(10)

    def run():
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf.partial_fit(X, y, classes=classes)
        return time.perf_counter() - t0

    return run


def on_threads(run, n):
    """``run`` with NumPy's BLAS on ``n`` threads, its own count given back after (None: left as it is)."""
    if n is None:
        return run
    from mlpcli import threads

    def timed():
        threads.blas().set(n)
        try:
            return run()
        finally:
            threads.restore()

    return timed


def available(module):
    try:
        __import__(module)
        return True
    except ImportError:
        return False


# ---------------------------------------------------------------------------- measurements
def bytes_per_step(X, y, batch=128, steps=50):
    """Bytes NumPy allocates per training step after warm-up (tracemalloc sees NumPy's buffers)."""
    import tracemalloc

    run, t = mlp_epoch_runner(X[: batch * (steps + 10)], y[: batch * (steps + 10)], batch)
    run()  # warm-up: workspaces exist
    t.batch = 0
    tracemalloc.start()
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    snap0 = tracemalloc.take_snapshot()
    run()
    snap1 = tracemalloc.take_snapshot()
    tracemalloc.stop()
    stats = snap1.compare_to(snap0, "lineno")
    steps_run = t.n_batches
    allocated = sum(s.size_diff for s in stats if s.size_diff > 0)
    return allocated / steps_run, before


def time_round_robin(runners: dict, epochs: int, pause: float = PAUSE) -> dict:
    """Each runner's epoch times: one warm-up each, then ``epochs`` rounds in a shuffled order."""
    times = {k: [] for k in runners}
    for run in runners.values():
        run()  # warm-up epoch, not counted
    order, shuffle = list(runners), random.Random(0).shuffle
    for _ in range(epochs):
        shuffle(order)
        for name in order:
            time.sleep(pause)  # the last contender's BLAS/OpenMP threads stop spinning
            times[name].append(runners[name]())
    return times


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="MNIST as .npy (mlp data mnist) or the official IDX files; default ../shared/datasets/mnist")
    ap.add_argument("--epochs", type=int, default=7)
    ap.add_argument("--batch-sizes", default="128,32,512")
    ap.add_argument("--threads", type=int, help="every contender on N BLAS/OpenMP threads (default: each one's own "
                    "default; mlp: its tuner). On a busy machine a default of all cores can collapse (README: Threads)")
    ap.add_argument("--no-write", action="store_true", help="print only; do not write benchmarks/RESULTS.md")
    args = ap.parse_args()

    load_before = load_average()
    X, y, Xte, yte = load_mnist(args.data)
    info = machine()
    lines = ["## MNIST epoch: 784-256-256-10 ReLU, softmax CE, SGD momentum 0.9, float32", "",
             f"60,000 training images, shuffled every epoch; median of {args.epochs} epochs after one warm-up, "
             f"contenders interleaved round robin in one process (a new order each round, {PAUSE} s idle before "
             "each timed epoch so that no contender runs beside the previous one's spinning thread pool). "
             "The floor is the same GEMMs with a plain update (`W -= lr dW`) and nothing else. Threads: "
             + (f"every contender on {args.threads}." if args.threads else "each contender's default (mlp: its tuner; "
                "NumPy's BLAS and PyTorch: all cores)."), "",
             "| batch | contender | median epoch (s) | vs GEMM floor | vs PyTorch |", "|---|---|---|---|---|"]
    for batch in [int(b) for b in args.batch_sizes.split(",")]:
        forced = [f"training.threads={args.threads}"] if args.threads else []
        runners = {"GEMM floor (NumPy)": on_threads(floor_runner(X, y, batch), args.threads),
                   "mlp": mlp_epoch_runner(X, y, batch, extra=forced)[0]}
        if available("torch"):
            import torch

            torch.set_num_threads(args.threads or os.cpu_count() or 1)
            runners["PyTorch CPU"] = torch_runner(X, y, batch)
        if available("sklearn"):  # its matrix products run on NumPy's BLAS
            runners["scikit-learn MLPClassifier"] = on_threads(sklearn_runner(X, y, batch), args.threads)
        times = time_round_robin(runners, args.epochs)
        med = {k: median(v) for k, v in times.items()}
        floor, torch_t = med["GEMM floor (NumPy)"], med.get("PyTorch CPU")
        for k, v in med.items():
            vs_torch = f"{v / torch_t:.2f}x" if torch_t else "n/a"
            lines.append(f"| {batch} | {k} | {v:.3f} | {v / floor:.2f}x | {vs_torch} |")
            print(f"batch {batch:4d}  {k:28s} {v:7.3f} s   {v / floor:5.2f}x floor   {vs_torch} torch", flush=True)
    per_step, _ = bytes_per_step(X, y)
    lines += ["", f"Bytes allocated per training step after warm-up (tracemalloc, batch 128): **{per_step:,.0f}**."]
    print(f"bytes allocated per step: {per_step:,.0f}")
    text = "\n".join(lines) + "\n"
    if not args.no_write:
        write_results("mnist", text, info, load_before)


if __name__ == "__main__":
    main()
