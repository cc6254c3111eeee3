"""Where the time goes: epoch time and GFLOP/s of mlp against the GEMM floor, by width and batch size.

    python benchmarks/bench_scaling.py [--data DIR] [--samples 10000] [--widths 64,...] [--batches 32,...] [--no-write]

Network 784-h-h-10 (ReLU, softmax CE, SGD momentum), float32, on the first --samples MNIST
training images. GFLOP/s counts the multiply-adds of the GEMMs (forward, dW, dA; 2 flops
each): 2 * n * (784 h + h^2 + 10 h) * 3 minus the unneeded dX of the first layer.
"""

from __future__ import annotations

import argparse

from bench_mnist import floor_runner, mlp_epoch_runner, on_threads
from common import load_average, load_mnist, machine, median, step_parts, write_results

WIDTHS, BATCHES = "64,128,256,512,1024,2048", "32,128,512,1024"


def gemm_flops(n, h):
    fwd = 784 * h + h * h + h * 10
    return 2 * n * (3 * fwd - 784 * h)  # forward + dW + dA (no dA for the input layer)


def breakdown(X, y, repeats, threads=None, h=64, batches=(128, 1024)) -> list[str]:
    """Where a step of the narrow network goes: its pieces timed in place, next to the floor's step."""
    out = ["", f"Where a training step of 784-{h}-{h}-10 goes (microseconds; pieces timed in place, best of 5; whole "
           f"steps inside real epochs; the floor's step is its epoch's median over its batches):", "",
           "| piece | " + " | ".join(f"batch {b}" for b in batches) + " |", "|---|" + "---|" * len(batches)]
    cols = []
    for b in batches:
        run, t = mlp_epoch_runner(X, y, b, [784, h, h, 10], extra=[f"training.threads={threads}"] if threads else [])
        floor = on_threads(floor_runner(X, y, b, [784, h, h, 10]), threads)
        run()
        floor()
        f = median([floor() for _ in range(repeats)]) / t.n_batches * 1e6
        parts, step = step_parts(t, max(20, 20000 // b))
        cols.append({**parts, "whole mlp step": step, "floor step (GEMMs + plain update)": f})
    out += [f"| {k} | " + " | ".join(f"{c[k]:.1f}" for c in cols) + " |" for k in cols[0]]
    print("\n".join(out), flush=True)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data")
    ap.add_argument("--samples", type=int, default=10000)
    ap.add_argument("--widths", default=WIDTHS)
    ap.add_argument("--batches", default=BATCHES)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, help="mlp and the floor on N BLAS threads (default: the floor on NumPy's "
                    "default, mlp on its tuner)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    load_before = load_average()
    X, y, _, _ = load_mnist(args.data)
    X, y = X[: args.samples], y[: args.samples]
    lines = ["## Scaling: 784-h-h-10 by hidden width and batch size", "",
             f"{args.samples:,} MNIST images per epoch; median of {args.repeats} epochs after a warm-up. "
             "GFLOP/s = GEMM flops of the step / epoch time; the floor runs the same GEMMs and nothing else. Threads: "
             + (f"both on {args.threads}." if args.threads else "the floor on NumPy's default, mlp on its tuner."), "",
             "| width h | batch | mlp epoch (s) | mlp GFLOP/s | floor epoch (s) | floor GFLOP/s | mlp / floor |",
             "|---|---|---|---|---|---|---|"]
    for h in [int(w) for w in args.widths.split(",")]:
        layers = [784, h, h, 10]
        for b in [int(v) for v in args.batches.split(",")]:
            forced = [f"training.threads={args.threads}"] if args.threads else []
            runs = {"mlp": mlp_epoch_runner(X, y, b, layers, extra=forced)[0],
                    "floor": on_threads(floor_runner(X, y, b, layers), args.threads)}
            for r in runs.values():
                r()
            t = {k: median([r() for _ in range(args.repeats)]) for k, r in runs.items()}
            f = gemm_flops(len(X), h) / 1e9
            lines.append(f"| {h} | {b} | {t['mlp']:.3f} | {f / t['mlp']:.1f} | {t['floor']:.3f} | {f / t['floor']:.1f} | "
                         f"{t['mlp'] / t['floor']:.2f}x |")
            print(lines[-1], flush=True)
    lines += breakdown(X, y, args.repeats, args.threads)
    if not args.no_write:  # the whole grid is the table "scaling"; a smaller one is a section of its own
        whole = (args.widths, args.batches, args.samples) == (WIDTHS, BATCHES, 10000)
        name = "scaling" if whole else f"scaling_h{args.widths.replace(',', '_')}_b{args.batches.replace(',', '_')}"
        write_results(name, "\n".join(lines) + "\n", machine(), load_before)


if __name__ == "__main__":
    main()
