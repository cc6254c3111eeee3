"""mlp sweep: is a 40-trial TPE sweep worth running, and do --workers pay?

Quality: on scikit-learn's bundled digits (1,797 8x8 images, 10 classes) and breast-cancer
(569 samples, 30 features, 2 classes) sets, one stratified 80/20 split (seed 0), a 40-trial
TPE sweep (validation loss on 10% of the training split, median pruner) against the config
``mlp init --data npy`` writes (the default) and scikit-learn's default MLPClassifier
(after a StandardScaler, as mlp's standard normalisation), all scored on the same test split.

Speed: trials per minute of a small sweep (64-32-10 network on digits, fixed epochs, random
sampler) with --workers 1 and 2, alternated, median of the repeats. Beside it, the ceiling of
any --workers 2 on this machine: the same training in one and in two plain processes started
together (no sweep, no Optuna). Where two busy cores each run slower than one alone (cores that
are hyperthreads of one physical core, or a host shared with other machines), the CPU seconds
per training rise with two processes and no sweep can reach 2x.

Needs the bench extra (scikit-learn) and the sweep extra (optuna).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import machine, median, write_results  # noqa: E402

PRUNER = {"name": "median", "n_warmup_steps": 10}
SPEED_EPOCHS = 100  # no trial is judged on its first, noisy epochs


def split(name: str, d: Path):
    """The dataset's stratified 80/20 split as .npy files; (n_in, classes, arrays)."""
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X.astype(np.float32), y.astype(np.int64), test_size=0.2, stratify=y, random_state=0)
    for k, a in {"train_x": Xtr, "train_y": ytr, "test_x": Xte, "test_y": yte}.items():
        np.save(d / f"{k}.npy", a)
    return X.shape[1], int(y.max()) + 1, (Xtr, ytr, Xte, yte)


def default_config(d: Path, n_in: int, k: int) -> dict:
    """`mlp init --data npy`'s config, its widths set to the data's."""
    from mlpcli.starter import PRESETS

    cfg = yaml.safe_load(yaml.safe_dump(PRESETS["npy"]))
    cfg["data"]["train"] = {"x": str(d / "train_x.npy"), "y": str(d / "train_y.npy")}
    cfg["data"]["test"] = {"x": str(d / "test_x.npy"), "y": str(d / "test_y.npy")}
    cfg["model"]["layers"] = [n_in, 64, k]
    return cfg


def space(n_in: int, k: int) -> dict:
    return {
        "optimizer.lr": {"log_uniform": [1e-4, 3e-2]},
        "l2": {"log_uniform": [1e-6, 1e-2]},
        "model.layers": {"choice": [[n_in, 64, k], [n_in, 128, k], [n_in, 256, k], [n_in, 128, 64, k]]},
        "model.activation": {"choice": ["relu", "tanh"]},
        "training.batch_size": {"choice": [16, 32, 64, 128]},
    }


def test_accuracy(checkpoint) -> float:
    from mlpcli.evaluation import evaluate_checkpoint

    return evaluate_checkpoint(Path(checkpoint), None, "test", ())["metrics"]["accuracy"]


def sklearn_accuracy(Xtr, ytr, Xte, yte) -> float:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = make_pipeline(StandardScaler(), MLPClassifier(random_state=0)).fit(Xtr, ytr)
    return float(clf.score(Xte, yte))


def quality(name: str, trials: int, workers: int, root: Path) -> dict:
    from mlpcli.config import validate
    from mlpcli.sweep import run_sweep
    from mlpcli.trainer import train

    d = root / name
    d.mkdir()
    n_in, k, arrays = split(name, d)
    base = default_config(d, n_in, k)
    (d / "base.yaml").write_text(yaml.safe_dump(base))
    (d / "sweep.yaml").write_text(yaml.safe_dump({"metric": "val_loss", "trials": trials, "sampler": {"name": "tpe", "seed": 0},
                                                  "pruner": PRUNER, "space": space(n_in, k)}))
    train(validate(base, "default"), run_dir=d / "default")
    default = test_accuracy(d / "default" / "best.npz")
    t0 = time.perf_counter()
    result = run_sweep(d / "base.yaml", d / "sweep.yaml", workers=workers, out=d / "sweep", quiet=True)
    seconds = time.perf_counter() - t0
    s = result.summary()
    tuned = test_accuracy(s["best"]["checkpoint"])
    out = {"data": name, "default": default, "sweep": tuned, "sklearn": sklearn_accuracy(*arrays), "seconds": seconds,
           "best": s["best"]["params"], "val_loss": s["best"]["value"], "counts": s["counts"]}
    print(f"{name}: test accuracy default {default:.4f}  sweep {tuned:.4f}  scikit-learn {out['sklearn']:.4f}  "
          f"({trials} trials in {seconds:.0f} s: {s['counts']}); best {s['best']['params']}", flush=True)
    return out


# one process of the ceiling: trains the base config ``runs`` times once every process is ready
TRAIN_RUNS = """
import sys, time
from mlpcli.config import load_config
from mlpcli.trainer import train
cfg = load_config(sys.argv[1], ["optimizer.lr=0.001"])
print("ready", flush=True)
sys.stdin.readline()
t0, c0 = time.time(), time.process_time()
for i in range(int(sys.argv[2])):
    train(cfg, run_dir=f"{sys.argv[3]}/{i}")
print(t0, time.time(), time.process_time() - c0, flush=True)
"""


def plain_runs(base: Path, n: int, runs: int, out: Path) -> tuple[float, float]:
    """(trainings per minute, CPU seconds per training) of ``n`` processes that each train the
    base config ``runs`` times, started together, one BLAS thread each (as a sweep's workers)."""
    from mlpcli.sweep import BLAS_THREADS

    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, **dict.fromkeys(BLAS_THREADS, "1"), "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    procs = [subprocess.Popen([sys.executable, "-c", TRAIN_RUNS, str(base), str(runs), str(out / str(k))],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env) for k in range(n)]
    for p in procs:  # imports done in every process before any starts training
        if p.stdout.readline().strip() != "ready":
            raise SystemExit(f"the ceiling's training process failed: {p.communicate()}")
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    rows = [[float(v) for v in p.communicate()[0].split()] for p in procs]
    wall = max(r[1] for r in rows) - min(r[0] for r in rows)
    return n * runs / (wall / 60), sum(r[2] for r in rows) / (n * runs)


def speed(trials: int, repeats: int, root: Path, plain: int = 8) -> dict:
    """Trials per minute with 1 and 2 workers, alternated; medians."""
    from mlpcli.sweep import run_sweep

    d = root / "speed"
    d.mkdir()
    n_in, k, _ = split("digits", d)
    base = default_config(d, n_in, k)
    base["model"]["layers"] = [n_in, 32, k]
    base["training"] = {"epochs": SPEED_EPOCHS, "batch_size": 32}
    (d / "base.yaml").write_text(yaml.safe_dump(base))
    (d / "sweep.yaml").write_text(yaml.safe_dump({"metric": "val_loss", "trials": trials, "sampler": {"name": "random", "seed": 0},
                                                  "space": {"optimizer.lr": {"log_uniform": [1e-4, 1e-2]}}}))
    rates: dict = {1: [], 2: [], "load": [], "cores1": [], "cores2": [], "cpu1": [], "cpu2": [],
                   "plain1": [], "plain2": [], "plaincpu1": [], "plaincpu2": []}
    for r in range(repeats):
        for n in (1, 2) if r % 2 == 0 else (2, 1):
            rate, cpu = plain_runs(d / "base.yaml", n, plain, d / f"plain{n}-{r}")
            rates[f"plain{n}"].append(rate)
            rates[f"plaincpu{n}"].append(cpu)
            print(f"{n} plain process{'es' if n > 1 else ''}: {rate:.1f} trainings/minute, {cpu:.3f} CPU s/training", flush=True)
        for w in (1, 2) if r % 2 == 0 else (2, 1):
            t0, c0 = time.perf_counter(), os.times()
            run_sweep(d / "base.yaml", d / "sweep.yaml", workers=w, out=d / f"w{w}-{r}", quiet=True)
            wall, c1 = time.perf_counter() - t0, os.times()
            rates[w].append(trials / (wall / 60))
            cpu = sum(c1[:4]) - sum(c0[:4])  # CPU seconds of the sweep and its workers
            rates[f"cores{w}"].append(cpu / wall)
            rates[f"cpu{w}"].append(cpu / trials)
            rates["load"].append(os.getloadavg()[0])
            print(f"workers {w}: {rates[w][-1]:.1f} trials/minute, {rates[f'cores{w}'][-1]:.2f} cores busy, "
                  f"{rates[f'cpu{w}'][-1]:.3f} CPU s/trial, load average {rates['load'][-1]:.1f}", flush=True)
    return {w: median(v) for w, v in rates.items()}


def plain_note(rates: dict) -> str:
    ceiling = rates["plain2"] / rates["plain1"]
    return (f"{rates['plain1']:.1f} and {rates['plain2']:.1f} trainings per minute, **{ceiling:.2f}x** (CPU seconds per "
            f"training {rates['plaincpu1']:.3f} and {rates['plaincpu2']:.3f}: each of two busy cores ran "
            f"{rates['plaincpu2'] / rates['plaincpu1']:.2f}x as long as one alone); the sweep reached "
            f"{rates[2] / rates[1] / ceiling:.0%} of it.")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=40)
    ap.add_argument("--workers", type=int, default=1, help="workers of the quality sweeps (1: the same trials every run)")
    ap.add_argument("--speed-trials", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", choices=("quality", "speed"))
    ap.add_argument("--no-write", action="store_true", help="print only; do not write benchmarks/RESULTS.md")
    args = ap.parse_args()
    # each part has its own section of RESULTS.md, so running one keeps the other's numbers
    sections = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if args.only != "speed":
            rows = [quality(name, args.trials, args.workers, root) for name in ("digits", "breast_cancer")]
            lines = sections["sweep"] = [f"## Sweeps: {args.trials}-trial TPE against the defaults", ""]
            lines += [f"Test accuracy on one stratified 80/20 split (seed 0) of scikit-learn's bundled sets. The sweep: "
                      f"{args.trials} TPE trials (seed 0, median pruner after 10 epochs, --workers {args.workers}) minimising val_loss on 10% "
                      "of the training split, over lr, l2, layers, activation and batch size; scored with the best trial's "
                      "best.npz. Default: the config `mlp init --data npy` writes. scikit-learn: StandardScaler + "
                      "MLPClassifier() with its defaults, trained on the whole training split.", "",
                      "| data | default config | scikit-learn MLPClassifier | sweep best | sweep trials (complete/pruned/failed) | sweep seconds | best parameters |",
                      "|---|---|---|---|---|---|---|"]
            for r in rows:
                c = r["counts"]
                lines.append(f"| {r['data']} | {r['default']:.4f} | {r['sklearn']:.4f} | **{r['sweep']:.4f}** | "
                             f"{c['complete']}/{c['pruned']}/{c['failed']} | {r['seconds']:.0f} | "
                             + ", ".join(f"`{k}` {v:.3g}" if isinstance(v, float) else f"`{k}` {v}" for k, v in r["best"].items()) + " |")
            lines.append("")
        if args.only != "quality":
            rates = speed(args.speed_trials, args.repeats, root)
            sections["sweep_workers"] = ["## Sweeps: trials per minute with --workers", "", f"Trials per minute of a {args.speed_trials}-trial sweep of a 64-32-10 network (digits, {SPEED_EPOCHS} epochs), "
                      f"--workers 1 and 2 alternated, median of {args.repeats}, on {os.cpu_count()} cores: "
                      f"**{rates[1]:.1f}** and **{rates[2]:.1f}**, a ratio of **{rates[2] / rates[1]:.2f}x** "
                      f"(median cores the sweep kept busy: {rates['cores1']:.2f} with one worker, {rates['cores2']:.2f} with two, "
                      f"of {os.cpu_count()}; CPU seconds per trial, the sweep's processes together: {rates['cpu1']:.3f} and "
                      f"{rates['cpu2']:.3f}; 1-minute load average {rates['load']:.1f}: other jobs held the rest).", "",
                      f"The ceiling of any --workers 2 here: the same training (lr 0.001) in one and in two plain processes started "
                      f"together, {plain_note(rates)}", ""]
            print(f"trials/minute: 1 worker {rates[1]:.1f}, 2 workers {rates[2]:.1f}: {rates[2] / rates[1]:.2f}x; "
                  f"ceiling: {plain_note(rates)}")
    for name, lines in sections.items() if not args.no_write else ():
        write_results(name, "\n".join(lines) + "\n", machine())


if __name__ == "__main__":
    main()
