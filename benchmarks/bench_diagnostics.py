"""What diagnostics cost: MNIST epochs with ``training.diagnostics`` on against off.

    python benchmarks/bench_diagnostics.py [--data DIR] [--epochs 9] [--batch-sizes 128,512] [--no-write]

The network and loop of bench_mnist.py (784-256-256-10 ReLU, SGD momentum, float32). Two
trainers, one with diagnostics and one without, run whole epochs (the loop and the end of the
epoch, where diagnostics work) interleaved round robin in one process. Two numbers:

- share: inside each epoch of the trainer with diagnostics, the time spent in the diagnostics
  callback's hooks (every batch's and the epoch end's) over the epoch's wall time; median over
  epochs. Both are measured in the same seconds, so load from other processes cancels out.
- ratio: the median over rounds of (epoch with) / (epoch without) - 1, the end-to-end check;
  on a shared machine its noise is larger than the cost itself.

Diagnostics are on by default only while the share stays at or below 3% (README "Diagnostics").
Without MNIST (the official IDX files in ../shared/datasets/mnist, or --data) it says so and exits 0.
"""

from __future__ import annotations

import time
from pathlib import Path

from bench_mnist import mlp_epoch_runner, time_round_robin
from common import SHARED_MNIST, load_average, load_mnist, machine, median, mnist_arguments, write_results

BUDGET = 0.03  # the most diagnostics may add to an epoch and still be on by default


def wall_clock(run, spent=None):
    """A runner timing the whole epoch (mlp's own ``seconds`` leave out the end of the epoch); with
    ``spent`` (a one-item list the timed hooks add to), also the share of the epoch spent there."""
    shares = []

    def timed():
        if spent is not None:
            spent[0] = 0.0
        t0 = time.perf_counter()
        run()
        seconds = time.perf_counter() - t0
        if spent is not None:
            shares.append(spent[0] / seconds)
        return seconds

    timed.shares = shares
    return timed


def time_diagnostics(trainer) -> list:
    """Wrap the diagnostics callback's hooks in the trainer's callback list with a timer; returns
    the one-item list that accumulates their seconds."""
    from mlpcli.diagnostics import Diagnostics

    spent = [0.0]
    diag = next(c for c in trainer.callbacks.callbacks if isinstance(c, Diagnostics))
    for hooks in trainer.callbacks.hooks.values():  # batch_hooks is the on_batch_end list itself
        for i, f in enumerate(hooks):
            if getattr(f, "__self__", None) is diag:
                hooks[i] = timer(f, spent)
    return spent


def timer(f, spent):
    def timed(*args):
        t0 = time.perf_counter()
        out = f(*args)
        spent[0] += time.perf_counter() - t0
        return out

    return timed


def main():
    args = mnist_arguments(__doc__, epochs=9, batch_sizes="128,512")
    if not Path(args.data or SHARED_MNIST).exists():
        print(f"skipped: no MNIST at {args.data or SHARED_MNIST} (give --data DIR)")
        return

    load_before = load_average()
    X, y, _, _ = load_mnist(args.data)
    lines = ["## Diagnostics: MNIST epochs with training.diagnostics on against off", "",
             f"784-256-256-10 ReLU as above; whole epochs (loop and epoch end), the two trainers interleaved round "
             f"robin, {args.epochs} rounds after a warm-up. Share: time in the diagnostics callback over the "
             f"epoch's wall time, measured inside the same epochs (budget for on-by-default: {BUDGET:.0%}); end to "
             "end: median over rounds of (on / off) - 1, noisier than the share on a shared machine.", "",
             "| batch | off: median epoch (s) | on: median epoch (s) | share of the epoch in diagnostics (median) "
             "| end to end: median (on / off) - 1 |", "|---|---|---|---|---|"]
    for batch in [int(b) for b in args.batch_sizes.split(",")]:
        off_run, _ = mlp_epoch_runner(X, y, batch, extra=["training.diagnostics=false"])
        on_run, on_trainer = mlp_epoch_runner(X, y, batch, extra=["training.diagnostics=true"])
        runners = {"false": wall_clock(off_run), "true": wall_clock(on_run, time_diagnostics(on_trainer))}
        times = time_round_robin(runners, args.epochs)
        ratio = median([on / off for on, off in zip(times["true"], times["false"], strict=True)]) - 1
        share = median(runners["true"].shares[1:])  # the warm-up epoch aside
        off, on = median(times["false"]), median(times["true"])
        lines.append(f"| {batch} | {off:.3f} | {on:.3f} | **{share:.2%}** | {ratio:+.1%} |")
        print(f"batch {batch:4d}  off {off:.3f} s  on {on:.3f} s  share {share:.2%} (budget {BUDGET:.0%})  "
              f"end to end {ratio:+.2%}", flush=True)
    if not args.no_write:
        write_results("diagnostics", "\n".join(lines) + "\n", machine(), load_before)


if __name__ == "__main__":
    main()
