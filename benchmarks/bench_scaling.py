"""Where the time goes: epoch time and GFLOP/s of mlp against the GEMM floor, by width and batch size.

    python benchmarks/bench_scaling.py [--data DIR] [--samples 10000] [--widths 64,...] [--batches 32,...]
                                       [--repeats 5] [--threads N] [--no-write]

Network 784-h-h-10 (ReLU, softmax CE, SGD momentum), float32, on the first --samples MNIST
training images. GFLOP/s counts the multiply-adds of the GEMMs (forward, dW, dA; 2 flops
each): 2 * n * (784 h + h^2 + 10 h) * 3 minus the unneeded dX of the first layer. mlp and
the floor alternate epoch by epoch (round robin, a new order each round), after mlp has
trained for a second untimed so that its thread tuner has decided. The breakdown of the
784-64-64-10 step times every piece where it runs, inside real epochs.
"""

from __future__ import annotations

import argparse
from statistics import fmean

from bench_mnist import floor_runner, mlp_epoch_runner, on_threads, shares, time_round_robin, tuner_of
from common import load_average, load_mnist, machine, median, steps_in_epochs, write_results

WIDTHS, BATCHES = "64,128,256,512,1024,2048", "32,128,512,1024"
SETTLE = 1.0  # seconds of untimed training before mlp's epochs are timed


def gemm_flops(n, h):
    fwd = 784 * h + h * h + h * 10
    return 2 * n * (3 * fwd - 784 * h)  # forward + dW + dA (no dA for the input layer)


def settled(run, t, seconds=SETTLE):
    """``run`` after untimed epochs until ``seconds`` of training have passed: mlp's thread tuner
    decides in a run's first second (a warm-up window, then a probe of the other count) and looks
    again only every few seconds after, so a few short timed epochs would otherwise time its probe.
    ``run.threads()`` says which counts ran the epochs since."""
    spent = 0.0
    while spent < seconds:
        spent += run()
    tuner = tuner_of(t)
    before = dict(tuner.seconds) if tuner else {}

    def threads() -> str:
        if tuner is None:
            return str(t.cfg.training.threads) if t.cfg.training.threads != "auto" else "1 (too small to split)"
        return "auto " + shares({n: s - before[n] for n, s in tuner.seconds.items()})

    run.threads = threads
    return run


def breakdown(X, y, epochs, threads=None, h=64, batches=(128, 1024)) -> list[str]:
    """Where a step of the narrow network goes, by batch size (see step_column)."""
    out = ["", f"Where a training step of 784-{h}-{h}-10 goes (microseconds, median over the steps of {epochs} epochs "
           "each, mlp and the two floors alternating epoch by epoch; every piece timed where it runs, between its "
           "neighbours: timed alone and repeated, a piece finds its data in the cache; a mean above the median "
           "says that some steps stall):", "",
           "| piece | " + " | ".join(f"batch {b}" for b in batches) + " |", "|---|" + "---|" * len(batches)]
    cols = [step_column(X, y, b, [784, h, h, 10], epochs, threads) for b in batches]
    out += [f"| {k} | " + " | ".join(f"{c[k]:.1f}" for c in cols) + " |" for k in cols[0]]
    print("\n".join(out), flush=True)
    return out


def step_column(X, y, b, layers, epochs, threads) -> dict:
    """Microseconds of each piece of mlp's step inside real epochs, beside the floor's GEMMs and update
    and those of a floor that gathers shuffled batches as mlp does (the floor proper reads rows
    shuffled once beforehand), the three alternating epoch by epoch."""
    run, t = mlp_epoch_runner(X, y, b, layers, extra=[f"training.threads={threads}"] if threads else [])
    settled(run, t)
    steps = {"floor": [], "floor gathering shuffled batches": []}
    floors = {k: on_threads(floor_runner(X, y, b, layers, gather="gather" in k, record=v), threads) for k, v in steps.items()}
    mlp = {}
    for i in range(epochs + 1):  # the first round warms up
        pieces = steps_in_epochs(run, t, 1)
        for k, v in pieces.items():
            mlp.setdefault(k, []).extend(v if i else [])
        for k, floor in floors.items():
            floor()
            del steps[k][: 0 if i else len(steps[k])]
    whole = "whole step (the loop and its callbacks included)"
    col = {f"mlp: {k}": median(v) for k, v in mlp.items()}
    col[f"mlp: {whole}, mean"] = fmean(mlp[whole])  # above the median: some steps stall (a BLAS thread preempted?)
    for k, v in steps.items():
        gather, gemms, update = zip(*v, strict=True)
        col.update({f"{k}: gather": median(gather)} if "gather" in k else {})
        col.update({f"{k}: GEMMs": median(gemms), f"{k}: plain update": median(update),
                    f"{k}: whole step": median([sum(s) for s in v]), f"{k}: whole step, mean": fmean([sum(s) for s in v])})
    return {k: v * 1e6 for k, v in col.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data")
    ap.add_argument("--samples", type=int, default=10000)
    ap.add_argument("--widths", default=WIDTHS)
    ap.add_argument("--batches", default=BATCHES)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, help="mlp and the floor on N BLAS threads (default: the floor on NumPy's "
                    "default, mlp on its tuner)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    load_before = load_average()
    X, y, _, _ = load_mnist(args.data)
    X, y = X[: args.samples], y[: args.samples]
    lines = ["## Scaling: 784-h-h-10 by hidden width and batch size", "",
             f"{args.samples:,} MNIST images per epoch; median of {args.repeats} epochs, mlp and the floor alternating "
             f"epoch by epoch after mlp's first {SETTLE:g} s of untimed training (its thread tuner decides in that "
             "second). GFLOP/s = GEMM flops of the step / epoch time; the floor runs the same GEMMs and a plain update "
             "and nothing else, on rows shuffled once beforehand. Threads: "
             + (f"both on {args.threads}." if args.threads else "the floor on NumPy's default, mlp on its tuner (its "
                "counts' shares of the timed epochs in the last column)."), "",
             "| width h | batch | mlp epoch (s) | mlp GFLOP/s | floor epoch (s) | floor GFLOP/s | mlp / floor | mlp threads |",
             "|---|---|---|---|---|---|---|---|"]
    for h in [int(w) for w in args.widths.split(",")]:
        layers = [784, h, h, 10]
        for b in [int(v) for v in args.batches.split(",")]:
            forced = [f"training.threads={args.threads}"] if args.threads else []
            mlp = settled(*mlp_epoch_runner(X, y, b, layers, extra=forced))
            times = time_round_robin({"mlp": mlp, "floor": on_threads(floor_runner(X, y, b, layers), args.threads)},
                                     args.repeats, pause=0)
            t = {k: median(v) for k, v in times.items()}
            f = gemm_flops(len(X), h) / 1e9
            lines.append(f"| {h} | {b} | {t['mlp']:.3f} | {f / t['mlp']:.1f} | {t['floor']:.3f} | {f / t['floor']:.1f} | "
                         f"{t['mlp'] / t['floor']:.2f}x | {mlp.threads()} |")
            print(lines[-1], flush=True)
    lines += breakdown(X, y, args.repeats, args.threads)
    if not args.no_write:  # the whole grid is the table "scaling"; a smaller one is a section of its own
        whole = (args.widths, args.batches, args.samples) == (WIDTHS, BATCHES, 10000)
        name = "scaling" if whole else f"scaling_h{args.widths.replace(',', '_')}_b{args.batches.replace(',', '_')}"
        write_results(name, "\n".join(lines) + "\n", machine(), load_before)


if __name__ == "__main__":
    main()
