"""mlp sweep end to end: trial run directories, sweep.csv, best.yaml, --json, resuming,
pruning, failures and exit codes, kill -9, and --workers / --dask giving the in-process
sweep's trials. Tiny networks and few epochs: the point is the bookkeeping."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from mlpcli.cli import app
from mlpcli.runs import read_metrics

from .conftest import ROOT, write_yaml

optuna = pytest.importorskip("optuna")
runner = CliRunner()

CONFIG = """\
seed: 0
data: {name: xor, repeat: 8}
model: {layers: [2, 4, 1], activation: tanh, output: sigmoid}
optimizer: {name: adam, lr: 0.05}
training: {epochs: %d, batch_size: 8}
"""
SWEEP = """\
metric: train_loss
trials: %d
sampler: {name: random, seed: 3}
space:
  optimizer.lr: {log_uniform: [0.001, 0.3]}
  model.layers: {choice: [[2, 4, 1], [2, 8, 1]]}
"""


def mlp(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def files(tmp_path):
    return write_yaml(tmp_path / "xor.yaml", CONFIG % 3), write_yaml(tmp_path / "sweep.yaml", SWEEP % 3)


def read_csv(sweep_dir):
    with open(sweep_dir / "sweep.csv", newline="") as f:
        return list(csv.DictReader(f))


def by_trial(sweep_dir):
    return {int(r["trial"]): (r["optimizer.lr"], r["model.layers"], r["train_loss"], r["state"]) for r in read_csv(sweep_dir)}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The in-process sweep the parallel ones are compared with."""
    d = tmp_path_factory.mktemp("ref")
    cfg, sw = write_yaml(d / "xor.yaml", CONFIG % 3), write_yaml(d / "sweep.yaml", SWEEP % 4)
    r = mlp("sweep", cfg, sw, "--out", d / "sweep", "--quiet")
    assert r.exit_code == 0, r.output
    return cfg, sw, by_trial(d / "sweep")


def test_trials_are_run_dirs_and_the_summary_points_at_the_best(files, tmp_path):
    cfg, sw = files
    r = mlp("sweep", cfg, sw, "--out", tmp_path / "s", "--json")
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert s["counts"]["complete"] == 3 and s["trials"] == 3 and s["metric"] == "train_loss"
    rows = read_csv(tmp_path / "s")
    assert [r["trial"] for r in rows] == ["0", "1", "2"] and {r["state"] for r in rows} == {"complete"}
    for row in rows:  # a trial's value is the best train_loss in its own metrics.csv
        history = read_metrics(os.path.join(row["run_dir"], "metrics.csv"))
        assert len(history) == 3
        assert float(row["train_loss"]) == pytest.approx(min(h["train_loss"] for h in history), rel=1e-6)
    best = min(rows, key=lambda r: float(r["train_loss"]))
    b = s["best"]
    assert b["trial"] == int(best["trial"]) and b["run_dir"] == best["run_dir"] == str(tmp_path / "s" / f"trial-000{b['trial']}")
    assert os.path.exists(b["checkpoint"]) and b["checkpoint"].startswith(b["run_dir"])
    import mlpcli

    best_cfg = mlpcli.load_config(b["config"])  # best.yaml is a config mlp train takes
    assert best_cfg.optimizer.lr == pytest.approx(b["params"]["optimizer.lr"]) and best_cfg.model.layers == b["params"]["model.layers"]
    assert mlp("eval", b["checkpoint"], "--json").exit_code == 0


def test_json_names_paths_absolute_and_resolved_as_every_command_does(tmp_path, monkeypatch):
    """--out given relative, through a symbolic link: the summary names the real paths (as eval, train, predict do)."""
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    write_yaml(real / "xor.yaml", CONFIG % 1), write_yaml(real / "sweep.yaml", SWEEP % 1)
    monkeypatch.chdir(tmp_path / "link")
    r = mlp("sweep", "xor.yaml", "sweep.yaml", "--out", "s", "--storage", "s.log", "--json")
    assert r.exit_code == 0, r.output
    s, d = json.loads(r.stdout), str(real / "s")
    assert s["sweep_dir"] == d and s["csv"] == os.path.join(d, "sweep.csv") and s["storage"] == str(real / "s.log")
    b = s["best"]
    assert b["config"] == os.path.join(d, "best.yaml") and b["run_dir"] == os.path.join(d, "trial-0000")
    assert b["checkpoint"] == os.path.join(d, "trial-0000", "best.npz")


def test_a_rerun_continues_and_never_repeats_a_finished_trial(files, tmp_path):
    cfg, sw = files
    out = tmp_path / "s"
    assert mlp("sweep", cfg, sw, "--out", out, "--quiet").exit_code == 0
    first = by_trial(out)
    stamps = {n: os.stat(out / f"trial-000{n}" / "metrics.csv").st_mtime_ns for n in first}
    r = mlp("sweep", cfg, sw, "--out", out, "--trials", 5)
    assert r.exit_code == 0 and "2 of 5 trials to run" in r.stderr
    after = by_trial(out)
    assert sorted(after) == [0, 1, 2, 3, 4] and all(after[n] == first[n] for n in first)
    assert all(os.stat(out / f"trial-000{n}" / "metrics.csv").st_mtime_ns == stamps[n] for n in first)
    r = mlp("sweep", cfg, sw, "--out", out, "--trials", 5)
    assert r.exit_code == 0 and "0 of 5 trials to run" in r.stderr and by_trial(out) == after
    other = write_yaml(tmp_path / "other.yaml", (SWEEP % 3).replace("0.3]", "0.5]"))
    r = mlp("sweep", cfg, other, "--out", out)
    assert r.exit_code == 2 and "holds a sweep of another sweep file (it differs in: space)" in r.stderr


def test_pruned_trials_are_recorded_with_their_last_metric(files, tmp_path, monkeypatch):
    from mlpcli import sweepstudy

    # a pruner that stops every trial from step (epoch) 2 on
    monkeypatch.setattr(sweepstudy, "make_pruner", lambda pruner: optuna.pruners.ThresholdPruner(upper=-1.0, n_warmup_steps=2))
    cfg, sw = files
    write_yaml(cfg, CONFIG % 10)
    write_yaml(sw, (SWEEP % 3) + "pruner: median\n")  # without a pruner no epoch is reported
    assert mlp("sweep", cfg, sw, "--out", tmp_path / "s", "--quiet").exit_code == 0
    for row in read_csv(tmp_path / "s"):
        history = read_metrics(os.path.join(row["run_dir"], "metrics.csv"))
        assert row["state"] == "pruned" and row["epochs"] == "2" and len(history) == 2
        assert float(row["train_loss"]) == pytest.approx(history[-1]["train_loss"], rel=1e-6)


def test_failed_trials_are_recorded_and_the_grid_covers_every_value(files, tmp_path):
    cfg, _ = files
    sw = write_yaml(tmp_path / "grid.yaml", "metric: train_loss\nsampler: grid\ntrials: 10\n"
                                            "space:\n  model.layers: {choice: [[2, 4, 1], [3, 4, 1]]}\n")
    r = mlp("sweep", cfg, sw, "--out", tmp_path / "s", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["counts"] == {"complete": 1, "pruned": 0, "failed": 1, "running": 0, "waiting": 0}
    rows = {r["model.layers"]: r for r in read_csv(tmp_path / "s")}
    assert rows["[2, 4, 1]"]["state"] == "complete"
    assert rows["[3, 4, 1]"]["state"] == "failed" and "3" in rows["[3, 4, 1]"]["note"]


def test_exit_codes_as_train(files, tmp_path):
    cfg, _ = files
    diverge = write_yaml(tmp_path / "d.yaml", "metric: train_loss\nsampler: grid\nspace:\n  optimizer.lr: {choice: [1.0e+30]}\n")
    write_yaml(cfg, (CONFIG % 3).replace("adam", "sgd"))
    r = mlp("sweep", cfg, diverge, "--out", tmp_path / "d")
    assert r.exit_code == 3 and "diverged" in r.stderr and "no trial" in r.stderr
    r = mlp("sweep", cfg, write_yaml(tmp_path / "bad.yaml", "space:\n  optimizer.lrr: {uniform: [0.1, 0.2]}\n"))
    assert r.exit_code == 2 and r.stderr.count("\n") == 1 and "did you mean 'lr'" in r.stderr
    r = mlp("sweep", cfg, write_yaml(tmp_path / "m.yaml", "metric: val_loss\nspace:\n  l2: {uniform: [0, 0.1]}\n"),
            "--out", tmp_path / "m")
    assert r.exit_code == 2 and "measured on the validation split" in r.stderr and "data.validation_split" in r.stderr
    assert not (tmp_path / "m").exists()  # refused before any trial: nothing written
    other = write_yaml(tmp_path / "o.yaml", "metric: train_loss\nspace:\n  l2: {uniform: [0, 0.1]}\n")
    r = mlp("sweep", cfg, other, "--out", tmp_path / "d")  # the sweep directory holds another sweep
    assert r.exit_code == 2 and "holds a sweep of another" in r.stderr


def test_an_rdb_storage_holds_the_study_and_a_rerun_names_it_again(files, tmp_path):
    cfg, sw = files
    url, out = f"sqlite:///{tmp_path / 'study.db'}", tmp_path / "s"
    r = mlp("sweep", cfg, sw, "--out", out, "--storage", url, "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["storage"] == url and not (out / "study.log").exists()
    r = mlp("sweep", cfg, sw, "--out", out, "--trials", 4)
    assert r.exit_code == 2 and "give the same --storage URL again" in r.stderr
    r = mlp("sweep", cfg, sw, "--out", out, "--trials", 4, "--storage", url)
    assert r.exit_code == 0 and "1 of 4 trials to run" in r.stderr
    assert len(optuna.load_study(study_name="s", storage=url).trials) == 4
    r = mlp("sweep", cfg, sw, "--out", tmp_path / "t", "--storage", "nosuchdb://host/x")
    assert r.exit_code == 2 and r.stderr.startswith("mlp: error: --storage nosuchdb://host/x: ")


@pytest.mark.parametrize("module, args, extra", [("optuna", (), "sweep"), ("distributed", ("--dask", "local"), "dask")])
def test_a_missing_extra_is_one_line_with_the_install_command(files, tmp_path, monkeypatch, module, args, extra):
    monkeypatch.setitem(sys.modules, module, None)
    cfg, sw = files
    r = mlp("sweep", cfg, sw, "--out", tmp_path / "s", *args)
    assert r.exit_code == 2 and r.stderr.count("\n") == 1
    assert f'python -m pip install -e ".[{extra}]"' in r.stderr


def test_kill_9_fails_the_running_trial_and_a_rerun_tries_its_values_again(tmp_path):
    epochs = 1000  # long enough (about a second or more) that the kill lands while trial 0 runs, however fast the machine
    cfg = write_yaml(tmp_path / "xor.yaml", (CONFIG % epochs).replace("repeat: 8", "repeat: 32"))
    sw = write_yaml(tmp_path / "sweep.yaml", SWEEP % 2)
    out = tmp_path / "s"
    cmd = [sys.executable, "-m", "mlpcli", "sweep", str(cfg), str(sw), "--out", str(out), "--json"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    running = out / "trial-0000" / "metrics.csv"
    deadline = time.time() + 120
    while time.time() < deadline and not (running.exists() and len(running.read_text().splitlines()) > 2):
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert p.returncode == -signal.SIGKILL and len(running.read_text().splitlines()) < epochs + 1, "trial 0 finished before the kill"
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "trying again the parameters of unfinished trial(s) 0" in r.stderr
    rows = {int(r["trial"]): r for r in read_csv(out)}
    assert [rows[n]["state"] for n in sorted(rows)] == ["failed", "complete", "complete"]
    assert rows[1]["optimizer.lr"] == rows[0]["optimizer.lr"] and rows[1]["model.layers"] == rows[0]["model.layers"]
    assert "tried again as trial 1" in rows[0]["note"] and rows[1]["note"] == "retry of trial 0"
    assert rows[2]["optimizer.lr"] != rows[0]["optimizer.lr"]
    assert json.loads(r.stdout)["counts"] == {"complete": 2, "pruned": 0, "failed": 1, "running": 0, "waiting": 0}


def test_workers_share_the_study_and_give_the_in_process_trials(reference, tmp_path, monkeypatch):
    from mlpcli import sweep, threads

    cfg, sw, expected = reference
    seen, run_trial = [], sweep.run_trial

    def counting(job, *args, **kwargs):  # the trials of the sweep's own process
        seen.append((threads.blas().get(), os.environ.get("OPENBLAS_NUM_THREADS")) if threads.blas() else None)
        return run_trial(job, *args, **kwargs)

    monkeypatch.setattr(sweep, "run_trial", counting)
    before = threads.blas() and threads.blas().get()
    r = mlp("sweep", cfg, sw, "--out", tmp_path / "w", "--workers", 2, "--quiet")
    assert r.exit_code == 0, r.output
    assert by_trial(tmp_path / "w") == expected
    if threads.blas():  # the sweep's process, like each worker, has its share of the cores' BLAS threads
        share = max(1, sweep.cores() // 2)
        assert seen and set(seen) == {(min(share, threads.blas().initial), str(share))}
        assert threads.blas().get() == before


def test_a_local_dask_cluster_gives_the_in_process_trials(reference, tmp_path):
    pytest.importorskip("distributed")
    cfg, sw, expected = reference
    r = mlp("sweep", cfg, sw, "--out", tmp_path / "d", "--dask", "local", "--workers", 2)
    assert r.exit_code == 0, r.output
    assert "dask scheduler tcp://127.0.0.1:" in r.stderr and "2 workers" in r.stderr
    assert by_trial(tmp_path / "d") == expected


def test_plot_of_a_sweep_dir_writes_sweep_png(reference, tmp_path):
    pytest.importorskip("matplotlib")
    cfg, sw, _ = reference
    out = cfg.parent / "sweep"
    r = mlp("plot", out, "--out", tmp_path)
    assert r.exit_code == 0 and r.stdout.strip() == str(tmp_path / "sweep.png")
    assert (tmp_path / "sweep.png").stat().st_size > 10_000
