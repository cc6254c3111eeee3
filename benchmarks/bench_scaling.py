"""Where the time goes: epoch time and GFLOP/s of mlp against the GEMM floor, by width and batch size.

    python benchmarks/bench_scaling.py [--data DIR] [--samples 10000] [--widths 64,...] [--batches 32,...] [--no-write]

Network 784-h-h-10 (ReLU, softmax CE, SGD momentum), float32, on the first --samples MNIST
training images. GFLOP/s counts the multiply-adds of the GEMMs (forward, dW, dA; 2 flops
each): 2 * n * (784 h + h^2 + 10 h) * 3 minus the unneeded dX of the first layer.
"""

from __future__ import annotations

import argparse

from bench_mnist import floor_runner, mlp_epoch_runner, write_results
from common import load_mnist, machine, median


def gemm_flops(n, h):
    fwd = 784 * h + h * h + h * 10
    return 2 * n * (3 * fwd - 784 * h)  # forward + dW + dA (no dA for the input layer)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data")
    ap.add_argument("--samples", type=int, default=10000)
    ap.add_argument("--widths", default="64,128,256,512,1024,2048")
    ap.add_argument("--batches", default="32,128,512,1024")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    X, y, _, _ = load_mnist(args.data)
    X, y = X[: args.samples], y[: args.samples]
    lines = ["## Scaling: 784-h-h-10 by hidden width and batch size", "",
             f"{args.samples:,} MNIST images per epoch; median of {args.repeats} epochs after a warm-up. "
             "GFLOP/s = GEMM flops of the step / epoch time; the floor runs the same GEMMs and nothing else.", "",
             "| width h | batch | mlp epoch (s) | mlp GFLOP/s | floor epoch (s) | floor GFLOP/s | mlp / floor |",
             "|---|---|---|---|---|---|---|"]
    for h in [int(w) for w in args.widths.split(",")]:
        layers = [784, h, h, 10]
        for b in [int(v) for v in args.batches.split(",")]:
            runs = {"mlp": mlp_epoch_runner(X, y, b, layers)[0], "floor": floor_runner(X, y, b, layers)}
            for r in runs.values():
                r()
            t = {k: median([r() for _ in range(args.repeats)]) for k, r in runs.items()}
            f = gemm_flops(len(X), h) / 1e9
            lines.append(f"| {h} | {b} | {t['mlp']:.3f} | {f / t['mlp']:.1f} | {t['floor']:.3f} | {f / t['floor']:.1f} | "
                         f"{t['mlp'] / t['floor']:.2f}x |")
            print(lines[-1], flush=True)
    if not args.no_write:
        write_results("scaling", "\n".join(lines) + "\n", machine())


if __name__ == "__main__":
    main()
