"""MNIST epochs on an idle machine and beside one competing CPU-bound process, by thread count.

    python benchmarks/bench_contention.py [--data DIR] [--epochs 5] [--batch 128] [--no-write]

The network and loop of bench_mnist.py (784-256-256-10, batch 128, SGD momentum, float32).
For mlp: the default (``training.threads: auto``, the tuner of mlpcli/threads.py) and each
fixed count 1..cores (the auto row says what share of its timed seconds
the tuner ran at each count); for PyTorch CPU: its default and each fixed count. Each runs in two
conditions: idle, and busy, beside a process that spins on one core for the whole
condition (pure Python, so it holds exactly one core). Every contender gets a fresh
trainer per condition (the tuner starts from scratch, as a new ``mlp train`` would), one
warm-up epoch, then ``--epochs`` timed epochs, contenders interleaved round robin with
0.3 s idle before each epoch. The table shows median epoch seconds and the ratio to the
best fixed count of the same framework under the same condition.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import subprocess
import sys

from bench_mnist import available, mlp_epoch_runner, shares, time_round_robin, torch_runner, tuner_of
from common import load_average, load_mnist, machine, median, write_results

SPIN = "while True: pass"


@contextlib.contextmanager
def competitor(busy: bool):
    """One CPU-bound process for the duration (nothing when not busy)."""
    if not busy:
        yield
        return
    p = subprocess.Popen([sys.executable, "-c", SPIN])
    try:
        yield
    finally:
        p.kill()
        p.wait()


def mlp_runner(X, y, batch, threads):
    run, trainer = mlp_epoch_runner(X, y, batch, extra=[f"training.threads={threads}"])
    run.tuner = tuner_of(trainer)
    return run


def tuned(run) -> str:
    """Where the tuner's steps ran: ' (1: 97%, 2: 3%)' of the seconds it timed (warm-up included)."""
    tuner = getattr(run, "tuner", None)
    if tuner is None or not tuner.trained:
        return ""
    return f" ({shares(tuner.seconds)})"


def torch_threads_runner(X, y, batch, threads, default):
    import torch

    run = torch_runner(X, y, batch)

    def timed():
        torch.set_num_threads(default if threads == "auto" else threads)
        return run()

    return timed


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    load_before = load_average()
    X, y, _, _ = load_mnist(args.data)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    counts = ["auto", *range(1, cores + 1)]
    frameworks, torch_default = {"mlp": mlp_runner}, None
    if available("torch"):
        import torch

        torch_default = torch.get_num_threads()
        frameworks["PyTorch CPU"] = functools.partial(torch_threads_runner, default=torch_default)
    lines = ["## Contention: MNIST epochs idle and beside one CPU-bound process", "",
             f"784-256-256-10, batch {args.batch}, SGD momentum, float32; median of {args.epochs} epochs after a warm-up, "
             f"contenders interleaved round robin. Busy: one other process spins on a core throughout. `auto` is each "
             f"framework's default (mlp: `training.threads: auto`, the tuner; PyTorch: its default pool of "
             f"{torch_default} threads). Ratios are to the best fixed count of the "
             "same framework under the same condition.", "",
             "| condition | framework | threads | median epoch (s) | vs best fixed count |", "|---|---|---|---|---|"]
    for busy in (False, True):
        cond = "busy" if busy else "idle"
        with competitor(busy):
            runners = {(fw, c): make(X, y, args.batch, c) for fw, make in frameworks.items() for c in counts}
            times = time_round_robin(runners, args.epochs)
        med = {k: median(v) for k, v in times.items()}
        for fw in frameworks:
            best = min(med[(fw, c)] for c in counts if c != "auto")
            for c in counts:
                t = med[(fw, c)]
                lines.append(f"| {cond} | {fw} | {c}{tuned(runners[(fw, c)])} | {t:.3f} | {t / best:.2f}x |")
                print(lines[-1], flush=True)
    if not args.no_write:
        write_results("contention", "\n".join(lines) + "\n", machine(), load_before)


if __name__ == "__main__":
    main()
