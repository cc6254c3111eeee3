"""Start-up of the CLI, eval/predict throughput and peak memory of MNIST training.

    python benchmarks/bench_resources.py [--data DIR] [--no-write]

* ``mlp --help`` / ``mlp --version`` and a whole ``mlp train`` of one XOR epoch: wall time of
  the real console script, median of 7.
* ``mlp eval`` / ``mlp predict`` on MNIST's 10,000 test images: samples/s timed inside the
  process around the batched forward pass (start-up reported separately).
* Peak memory of one MNIST training epoch (configs/mnist.yaml): the NumPy heap peak
  (tracemalloc) against (training split in float32 + parameters, gradients, optimiser state
  + batch buffers), and the process's peak RSS next to the interpreter's baseline.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from common import ROOT, load_mnist, machine, median, mlp_command, user_env


def startup(args, runs=7, cwd=None):
    """Median wall time of a whole `mlp` process (after one untimed run that fills the bytecode cache)."""
    cmd, env, times = [*mlp_command(), *args], user_env(), []
    for i in range(runs + 1):
        t = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True, env=env, cwd=cwd)
        if i:
            times.append(time.perf_counter() - t)
    return median(times)


MEMORY_PROBE = """
import json, sys, tracemalloc
import mlpcli

def hwm():  # peak RSS of this address space (ru_maxrss would include the parent's, inherited at fork)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

cfg = mlpcli.load_config(sys.argv[1], [f"data.path={sys.argv[2]}", "training.epochs=1"])
import mlpcli.trainer, mlpcli.progress  # everything but the data
baseline = hwm()
tracemalloc.start()
result = mlpcli.train(cfg, run_dir=sys.argv[3])
peak = tracemalloc.get_traced_memory()[1] / 2**20
m, n = result.model, len(result.metrics["train"]) and result.metrics["train"]["n_samples"]
base = (n * m.layers[0] * m.dtype.itemsize + m.n_params * m.dtype.itemsize * 4
        + cfg.training.batch_size * (m.layers[0] + 3 * sum(m.layers[1:])) * m.dtype.itemsize) / 2**20
print(json.dumps({"peak": peak, "base": base, "rss": hwm(), "baseline_rss": baseline}))
"""


def measure_memory(data, run_dir):
    """In a fresh process: heap peak (tracemalloc), its budget, peak RSS and the RSS before any data."""
    import json

    r = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(ROOT / "configs" / "mnist.yaml"), str(data), str(run_dir)],
                       capture_output=True, text=True, check=True)
    d = json.loads(r.stdout)
    return d["peak"], d["base"], d["rss"], d["baseline_rss"]


def make_mnist_npy(data, tmp):
    if data and (Path(data) / "train_images.npy").exists():
        return Path(data)
    Xtr, ytr, Xte, yte = load_mnist(data)
    out = Path(tmp) / "mnist"
    out.mkdir()
    for name, a in (("train_images", Xtr), ("test_images", Xte)):
        np.save(out / f"{name}.npy", np.round(a * 255).astype(np.uint8))
    np.save(out / "train_labels.npy", ytr.astype(np.uint8))
    np.save(out / "test_labels.npy", yte.astype(np.uint8))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="MNIST as .npy or the official IDX files; default ../shared/datasets/mnist")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    from mlpcli.evaluation import evaluate_checkpoint, predict_file

    lines = ["## CLI start-up, eval/predict throughput, memory", ""]
    t_help, t_version = startup(["--help"]), startup(["--version"])
    with tempfile.TemporaryDirectory() as tmp:
        t_xor = startup(["train", str(ROOT / "configs" / "xor.yaml"), "--set", "training.epochs=1", "--out", "run",
                         "--overwrite", "--quiet"], cwd=tmp)
    lines += [f"- `mlp --help`: **{t_help:.3f} s**, `mlp --version`: **{t_version:.3f} s**; a whole `mlp train "
              f"configs/xor.yaml --set training.epochs=1` (config, data, run directory with its checkpoints, final "
              f"evaluation): **{t_xor:.3f} s** (wall, median of 7 after one untimed run, the real console script, "
              "bytecode cache on)."]
    print(lines[-1])
    with tempfile.TemporaryDirectory() as tmp:
        data = make_mnist_npy(args.data, tmp)
        peak, base, rss, baseline_rss = measure_memory(data, Path(tmp) / "run")
        lines += [f"- Peak memory of MNIST training (1 epoch, 54,000 training images): NumPy heap peak "
                  f"**{peak:.0f} MiB = {peak / base:.2f}x** the {base:.0f} MiB of training split (float32) + parameters, "
                  f"gradients, optimiser state and batch buffers; process peak RSS {rss:.0f} MiB, of which "
                  f"{baseline_rss:.0f} MiB is the interpreter and libraries before any data."]
        print(lines[-1])
        ckpt = Path(tmp) / "run" / "last.npz"
        ev, pr = [], []
        np.save(Path(tmp) / "x.npy", np.load(data / "test_images.npy"))
        for _ in range(7):
            ev.append(10000 / evaluate_checkpoint(ckpt, split="test")["seconds"])
            pr.append(10000 / predict_file(ckpt, Path(tmp) / "x.npy").seconds)
        t_eval = startup(["eval", str(ckpt), "--json"], runs=3)
        lines += [f"- `mlp eval` on the 10,000 test images: **{median(ev):,.0f} samples/s**; `mlp predict`: "
                  f"**{median(pr):,.0f} samples/s** (median of 7, timed around the batched forward pass; "
                  f"a whole `mlp eval` process takes {t_eval:.2f} s wall, loading data included)."]
        print(lines[-1])
    if not args.no_write:
        from bench_mnist import write_results

        write_results("resources", "\n".join(lines) + "\n", machine())


if __name__ == "__main__":
    main()
