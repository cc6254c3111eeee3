"""Start-up of the CLI, eval/predict throughput and peak memory of MNIST training.

    python benchmarks/bench_resources.py [--data DIR] [--no-write]

* ``mlp --help`` / ``mlp --version`` and a whole ``mlp train`` of one XOR epoch: wall and CPU
  time of the real console script, medians of 7, interleaved with four references measured in
  the same rounds: ``python -c pass`` (the interpreter), ``import typer`` (the floor of --help),
  ``import numpy, pydantic, typer, yaml, rich`` (the runtime dependencies' own import floor), and a
  minimal typer + pydantic + YAML command that parses two options and validates a one-field config; mlp's
  time above each floor is reported. Bytecode cache on (PYTHONDONTWRITEBYTECODE removed), after
  one untimed round that fills it.
* ``mlp eval`` / ``mlp predict`` on MNIST's 10,000 test images: samples/s timed inside the
  process around the batched forward pass (start-up reported separately), interleaved with the
  GEMM floor: the network's three forward GEMMs alone on the same inputs, chunks and threads.
* Peak memory of one MNIST training epoch (configs/mnist.yaml): the NumPy heap peak
  (tracemalloc) against (training split in float32 + parameters, gradients, optimiser state
  + batch buffers), and the process's peak RSS next to the interpreter's baseline.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from mlpcli.model import PREDICT_CHUNK

from common import ROOT, load_average, load_mnist, machine, median, mlp_command, user_env, write_results

DEPS = "import numpy, pydantic, typer, yaml, rich"  # the runtime dependencies (pyproject.toml)
# The least any typer + pydantic + YAML trainer does before its first step: NumPy's random streams, a typer command
# parsing two options (typer builds a pydantic TypeAdapter per option) and a YAML config validated by a pydantic model
DEPS_USED = """import numpy.random, pydantic, rich, typer, yaml
class Config(pydantic.BaseModel):
    lr: float = 0.1
app = typer.Typer()
@app.command()
def train(config: str, epochs: int = 1):
    Config.model_validate(yaml.safe_load("lr: 0.5"))
app(["config.yaml", "--epochs", "1"], standalone_mode=False)"""


def run_process(cmd, cwd=None) -> tuple[float, float]:
    """(wall seconds, CPU seconds user + system) of one whole process."""
    before, t = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run(cmd, capture_output=True, check=True, env=user_env(), cwd=cwd)
    wall, after = time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def startup(commands: dict, runs=7, cwd=None) -> dict:
    """name -> (median wall, median CPU seconds) of whole processes, the commands interleaved round
    robin (after one untimed run each, which fills the bytecode cache): on a shared machine the
    CPU time is the steadier figure, and every command meets the same moments of load."""
    times = {name: [] for name in commands}
    for _ in range(runs + 1):
        for name, cmd in commands.items():
            times[name].append(run_process(cmd, cwd))
    return {name: (median([w for w, _ in v[1:]]), median([c for _, c in v[1:]])) for name, v in times.items()}


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
held = sum(result.metrics[s]["n_samples"] for s in ("val", "test") if s in result.metrics) * m.layers[0] * m.dtype.itemsize / 2**20
print(json.dumps({"peak": peak, "base": base, "held": held, "rss": hwm(), "baseline_rss": baseline}))
"""


def measure_memory(data, run_dir):
    """In a fresh process: heap peak (tracemalloc), its budget, the validation and test splits held
    beside it, peak RSS and the RSS before any data."""
    import json

    r = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(ROOT / "configs" / "mnist.yaml"), str(data), str(run_dir)],
                       capture_output=True, text=True, check=True)
    d = json.loads(r.stdout)
    return d["peak"], d["base"], d["held"], d["rss"], d["baseline_rss"]


def forward_floor(ckpt, X):
    """Samples/s of the checkpoint's forward GEMMs alone (``Z = A_prev @ W.T`` per layer, no bias,
    activation, loss or metrics) on X in evaluation's chunks, into preallocated buffers: the
    reference for eval's throughput, which no NumPy forward pass can beat on this BLAS."""
    from mlpcli.trained import load_checkpoint

    Ws = [np.ascontiguousarray(W) for W in load_checkpoint(ckpt).model.W]
    X = np.ascontiguousarray(X, dtype=Ws[0].dtype)
    chunks = [X[i : i + PREDICT_CHUNK] for i in range(0, len(X), PREDICT_CHUNK)]
    outs = {len(c): [np.empty((len(c), len(W)), W.dtype) for W in Ws] for c in chunks}

    def run():
        t0 = time.perf_counter()
        for A_prev in chunks:
            for W, Z in zip(Ws, outs[len(A_prev)], strict=True):
                np.matmul(A_prev, W.T, out=Z)
                A_prev = Z
        return len(X) / (time.perf_counter() - t0)

    return run


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
    load_before = load_average()
    from mlpcli.evaluation import evaluate_checkpoint, predict_file

    lines = ["## CLI start-up, eval/predict throughput, memory", ""]
    mlp = mlp_command()
    with tempfile.TemporaryDirectory() as tmp:
        t = startup({"python": [sys.executable, "-c", "pass"], "typer": [sys.executable, "-c", "import typer"],
                     "deps": [sys.executable, "-c", DEPS], "used": [sys.executable, "-c", DEPS_USED], "help": [*mlp, "--help"], "version": [*mlp, "--version"],
                     "xor": [*mlp, "train", str(ROOT / "configs" / "xor.yaml"), "--epochs", "1", "--out", "run",
                             "--overwrite", "--quiet"]}, cwd=tmp)
    fmt = lambda name: f"**{t[name][0]:.3f} s** ({t[name][1]:.3f} s CPU)"  # noqa: E731
    above = lambda name, floor: f"{t[name][0] - t[floor][0]:+.3f} s ({t[name][1] - t[floor][1]:+.3f} s CPU)"  # noqa: E731
    lines += [f"- `mlp --help`: {fmt('help')}, `mlp --version`: {fmt('version')}; a whole `mlp train configs/xor.yaml "
              f"--epochs 1` (imports, config, data, run directory with its durable checkpoints, final evaluation): "
              f"{fmt('xor')}. Wall time (CPU time user + system) of the real console script, medians of 7 runs interleaved "
              f"round robin with the references below after one untimed round (which fills the bytecode cache: "
              f"PYTHONDONTWRITEBYTECODE is removed, as in a user's shell)."]
    lines += [f"- The floors, in the same rounds: the interpreter alone (`python -c pass`, with this installation's "
              f"site-packages start-up) {fmt('python')}; `import typer` {fmt('typer')}; `import {DEPS[7:]}` (the "
              f"runtime dependencies' own imports) {fmt('deps')}. Above them: `mlp --help` {above('help', 'typer')} "
              f"over `import typer`; the one-epoch `mlp train` {above('xor', 'deps')} over the dependencies' imports "
              f"(mlp's own modules and config models, pydantic's field machinery on first use, the run itself). A minimal "
              f"trainer's start-up on the same dependencies (NumPy's random streams imported, a typer command parsing two "
              f"options, a YAML config validated by a one-field pydantic model, no training): {fmt('used')}; the one-epoch "
              f"`mlp train` is {above('xor', 'used')} above it."]
    print(*lines[-2:], sep="\n", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        data = make_mnist_npy(args.data, tmp)
        peak, base, held, rss, baseline_rss = measure_memory(data, Path(tmp) / "run")
        lines += [f"- Peak memory of MNIST training (1 epoch, 54,000 training images): NumPy heap peak "
                  f"**{peak:.0f} MiB = {peak / base:.2f}x** the {base:.0f} MiB of training split (float32) + parameters, "
                  f"gradients, optimiser state and batch buffers (the peak also holds the validation and test splits, {held:.0f} MiB, "
                  f"not in that budget); process peak RSS {rss:.0f} MiB, of which "
                  f"{baseline_rss:.0f} MiB is the interpreter and libraries before any data."]
        print(lines[-1])
        ckpt = Path(tmp) / "run" / "last.npz"
        ev, pr, fl = [], [], []
        images = np.load(data / "test_images.npy")
        np.save(Path(tmp) / "x.npy", images)
        floor = forward_floor(ckpt, images / np.float32(255))
        for _ in range(7):  # interleaved: the same moments of load for all three
            ev.append(10000 / evaluate_checkpoint(ckpt, split="test")["seconds"])
            pr.append(10000 / predict_file(ckpt, Path(tmp) / "x.npy").seconds)
            fl.append(floor())
        t_eval = startup({"eval": [*mlp, "eval", str(ckpt), "--json"]}, runs=3)["eval"][0]
        lines += [f"- `mlp eval` on the 10,000 test images: **{median(ev):,.0f} samples/s**; `mlp predict`: "
                  f"**{median(pr):,.0f} samples/s** (median of 7, timed around the batched forward pass; "
                  f"a whole `mlp eval` process takes {t_eval:.2f} s wall, loading data included). The GEMM floor in "
                  f"the same rounds, the network's three forward GEMMs alone in the same chunks of {PREDICT_CHUNK:,} "
                  f"rows on the same BLAS threads: {median(fl):,.0f} samples/s, so eval runs at "
                  f"**{median(fl) / median(ev):.2f}x** the floor's time and predict at {median(fl) / median(pr):.2f}x."]
        print(lines[-1])
    if not args.no_write:
        write_results("resources", "\n".join(lines) + "\n", machine(), load_before)


if __name__ == "__main__":
    main()
