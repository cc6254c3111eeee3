"""Small tabular runs end to end: whole `mlp train` processes against scikit-learn's in-process fit.

    python benchmarks/bench_small.py [--rounds 5] [--no-write]

Two problems of tabular size, generated here and saved as .npz:

* 500 x 30 -> 32 -> 1 (binary), 300 epochs at batch 32;
* 5,000 x 20 -> 64 -> 64 -> 3 (three classes), 100 epochs at batch 64.

Both sides train the same network (ReLU hidden layers, sigmoid or softmax output with
cross-entropy, Glorot-uniform initial weights), with Adam at lr 0.001, shuffled mini-batches,
no L2 and no early stopping, in float32. mlp is timed as a whole process from start to exit
(the real console script: interpreter start-up, imports, config, data loading, the run
directory, training and the final evaluation); scikit-learn only around ``fit``, in a process
that has already imported it. Runs alternate (mlp, scikit-learn, ...) for ``--rounds``
rounds; the table shows medians. The last part times the pieces of one training step of the
30-32-1 network in place, to show where its microseconds go.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from common import load_average, machine, median, mlp_command, step_parts, user_env, write_results

PROBLEMS = [  # name, samples, layers, epochs, batch
    ("500 x 30-32-1", 500, [30, 32, 1], 300, 32),
    ("5,000 x 20-64-64-3", 5000, [20, 64, 64, 3], 100, 64),
]
LR = 0.001


def make_data(n, layers, seed=0):
    """Standardised Gaussian inputs; labels from a random two-layer teacher, with 5% label noise."""
    rng = np.random.default_rng(seed)
    d, k = layers[0], max(2, layers[-1])
    X = rng.standard_normal((n, d)).astype(np.float32)
    H = np.tanh(X @ rng.standard_normal((d, 16)))
    y = (H @ rng.standard_normal((16, k))).argmax(1)
    flip = rng.random(n) < 0.05
    y[flip] = rng.integers(0, k, flip.sum())
    return X, y.astype(np.int64)


def mlp_config(path: Path, data: Path, layers, epochs, batch) -> Path:
    binary = layers[-1] == 1
    path.write_text(f"""seed: 0
data: {{name: npy, train: {data}}}
model: {{layers: {layers}, activation: relu, output: {"sigmoid" if binary else "softmax"}, init: xavier}}
loss: {"binary_cross_entropy" if binary else "cross_entropy"}
optimizer: {{name: adam, lr: {LR}}}
training: {{epochs: {epochs}, batch_size: {batch}, shuffle: true, dtype: float32}}
""")
    return path


def run_mlp(cfg: Path, out: Path):
    t = time.perf_counter()
    r = subprocess.run([*mlp_command(), "train", str(cfg), "--out", str(out), "--overwrite", "--quiet", "--json"],
                       capture_output=True, text=True, env=user_env())
    seconds = time.perf_counter() - t
    if r.returncode:
        raise SystemExit(f"mlp train failed: {r.stderr.strip()}")
    return seconds, json.loads(r.stdout)["metrics"]["train"]["accuracy"]


def run_sklearn(X, y, layers, epochs, batch):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(hidden_layer_sizes=tuple(layers[1:-1]), activation="relu", solver="adam", learning_rate_init=LR,
                        batch_size=batch, max_iter=epochs, shuffle=True, alpha=0.0, tol=0.0, n_iter_no_change=epochs + 1,
                        early_stopping=False, random_state=0)
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    seconds = time.perf_counter() - t
    assert clf.n_iter_ == epochs, clf.n_iter_
    return seconds, float((clf.predict(X) == y).mean())


# ---------------------------------------------------------------------------- one step, in pieces
def step_breakdown(cfg_path: Path, repeat=2000):
    """Microseconds of each piece of a training step of the config's network (see common.step_parts)."""
    import mlpcli
    from mlpcli.trainer import Trainer

    t = Trainer(mlpcli.load_config(cfg_path))
    t.run_epoch()  # warm: buffers exist
    return step_parts(t, repeat)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    load_before = load_average()
    import sklearn  # noqa: F401  (imported before any timing: its fit is timed in a warm process)

    lines = ["## Small runs end to end: `mlp train` processes against scikit-learn's fit", "",
             f"Whole `mlp train` processes (start to exit: imports, config, data, run directory, training, final "
             f"evaluation) against scikit-learn's `MLPClassifier.fit` inside an already warm process; same network "
             f"(ReLU, Glorot init), Adam lr {LR}, epochs, batch size, shuffling, float32, no L2, no early stopping. "
             f"Median of {args.rounds} alternating runs.", "",
             "| problem | epochs | batch | steps | mlp process (s) | scikit-learn fit (s) | mlp / scikit-learn | "
             "train accuracy mlp / sklearn |", "|---|---|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cfgs = []
        for i, (name, n, layers, epochs, batch) in enumerate(PROBLEMS):
            X, y = make_data(n, layers, seed=i)
            np.savez(tmp / f"data{i}.npz", x=X, y=y)
            cfg = mlp_config(tmp / f"small{i}.yaml", tmp / f"data{i}.npz", layers, epochs, batch)
            cfgs.append(cfg)
            run_mlp(cfg, tmp / "run")  # warm the page cache and bytecode
            t_mlp, t_sk, acc = [], [], (0.0, 0.0)
            for _ in range(args.rounds):
                s, a = run_mlp(cfg, tmp / "run")
                t_mlp.append(s)
                s2, a2 = run_sklearn(X, y, layers, epochs, batch)
                t_sk.append(s2)
                acc = (a, a2)
            a, b = median(t_mlp), median(t_sk)
            steps = epochs * -(-n // batch)
            lines.append(f"| {name} | {epochs} | {batch} | {steps:,} | {a:.3f} | {b:.3f} | **{a / b:.2f}x** | "
                         f"{acc[0]:.3f} / {acc[1]:.3f} |")
            print(lines[-1], flush=True)
        parts, step = step_breakdown(cfgs[0])
    lines += ["", f"Where a training step of the 30-32-1 network (batch 32, Adam) goes: microseconds of each piece "
              f"timed in place (best of 5), and of a whole step inside real epochs (the loop, its callbacks and the "
              f"end-of-epoch work included): **{step:.1f} us**.", "",
              "| piece | us |", "|---|---|"]
    lines += [f"| {k} | {v:.1f} |" for k, v in parts.items()]
    print("\n".join(lines[-len(parts) - 4:]))
    if not args.no_write:
        write_results("small", "\n".join(lines) + "\n", machine(), load_before)


if __name__ == "__main__":
    main()
