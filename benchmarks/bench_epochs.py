"""Cost linear in epochs: a small run (426 x 3 -> 32 -> 1, batch 32) with its run directory,
2,000 epochs against 200, median of 3 each, in one process (target: ratio <= 11).

    python benchmarks/bench_epochs.py
"""

import statistics
import tempfile
import time

import mlpcli

BASE = ["data.name=regression", "data.function=linear", "data.n_samples=533", "model.layers=[3,32,1]",
        "loss=squared_error", "training.batch_size=32", "optimizer.lr=0.01"]


def seconds(epochs: int) -> float:
    cfg = mlpcli.load_config(None, [*BASE, f"training.epochs={epochs}"])
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        mlpcli.train(cfg, run_dir=f"{d}/run")
        return time.perf_counter() - t


def main():
    seconds(20)  # warm-up: imports, BLAS
    short = statistics.median(seconds(200) for _ in range(3))
    long = statistics.median(seconds(2000) for _ in range(3))
    print(f"200 epochs {short:.3f} s, 2000 epochs {long:.3f} s: ratio {long / short:.2f} (target <= 11)")


if __name__ == "__main__":
    main()
