"""Real processes: signals, kill -9, the run-directory lock and divergence."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import mlpcli
from mlpcli.checkpoint import read_checkpoint

# wide enough that an epoch takes a while and a checkpoint write is not instantaneous
SLOW = ["--set", "data.name=regression", "--set", "data.n_samples=6000", "--set", "model.layers=[2,384,384,3]",
        "--set", "model.activation=relu", "--set", "loss=squared_error", "--set", "training.batch_size=8",
        "--set", "optimizer=adam", "--set", "optimizer.lr=0.001"]


def config(tmp_path, epochs):
    p = tmp_path / "slow.yaml"
    p.write_text(f"training: {{epochs: {epochs}}}\n")
    return p


def start(*args, **kw):
    return subprocess.Popen([sys.executable, "-m", "mlpcli", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def wait_for_training(p, timeout=60):
    """Block until the process has started its training loop (its first stderr line)."""
    line = p.stderr.readline()
    assert line.startswith("training"), line
    return line


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_saves_mid_epoch_and_exits(tmp_path, sig, code):
    p = start("train", config(tmp_path, 50), *SLOW, "--out", tmp_path / "run")
    wait_for_training(p)
    assert p.stderr.readline().startswith("epoch 1/50")  # epoch 2 has just begun:
    time.sleep(0.1)  # the signal lands among its batches, far from the end-of-epoch writes
    t = time.monotonic()
    p.send_signal(sig)
    out, err = p.communicate(timeout=60)
    assert p.returncode == code, err
    assert time.monotonic() - t < 5
    assert f"stopped by {signal.Signals(sig).name}" in err and "last.npz" in err
    meta = read_checkpoint(tmp_path / "run" / "last.npz")[1]
    assert meta["batch"] > 0 and meta["partial"]["seen"] == meta["batch"] * 8  # mid-epoch, at a batch boundary


def test_second_sigint_during_save_does_not_corrupt(tmp_path):
    p = start("train", config(tmp_path, 50), *SLOW, "--out", tmp_path / "run")
    wait_for_training(p)
    time.sleep(0.8)
    for _ in range(5):  # a burst of Ctrl-C: the first stops, the rest land during the save
        p.send_signal(signal.SIGINT)
        time.sleep(0.002)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    read_checkpoint(tmp_path / "run" / "last.npz")  # loads, every checksum verified


def test_sigint_then_resume_equals_uninterrupted(tmp_path):
    base = ["--set", "data.n_samples=6000"]
    ref = tmp_path / "ref"
    r = subprocess.run([sys.executable, "-m", "mlpcli", "train", config(tmp_path, 3), *SLOW, *base, "--out", ref, "--quiet"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    p = start("train", config(tmp_path, 3), *SLOW, *base, "--out", tmp_path / "run")
    wait_for_training(p)
    assert p.stderr.readline().startswith("epoch 1/3")  # epoch 1 done: the signal lands inside epoch 2
    time.sleep(0.1)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert read_checkpoint(tmp_path / "run" / "last.npz")[1]["batch"] > 0
    r = subprocess.run([sys.executable, "-m", "mlpcli", "train", config(tmp_path, 3), *SLOW, *base,
                        "--resume", tmp_path / "run" / "last.npz", "--quiet"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    a, b = read_checkpoint(ref / "last.npz")[0], read_checkpoint(tmp_path / "run" / "last.npz")[0]
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_sigkill_at_random_moments_never_leaves_a_bad_checkpoint(tmp_path):
    rng = random.Random(0)
    run = tmp_path / "run"
    kills = survived = 0
    for i in range(12):
        args = ["train", config(tmp_path, 100000), *SLOW, "--set", "data.n_samples=64", "--out", run, "--quiet"]
        args += ["--overwrite"] if i == 0 else ["--resume", run / "last.npz"]
        p = start(*args)
        if i == 0:  # the resumes below need a first last.npz, however slow start-up is on a busy machine
            deadline = time.monotonic() + 60
            while not (run / "last.npz").exists() and time.monotonic() < deadline:
                time.sleep(0.02)
        time.sleep(rng.uniform(0.9, 2.5))  # start-up is ~0.6 s: most kills land in the epoch/checkpoint loop
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=30)
        kills += 1
        if (run / "last.npz").exists():
            read_checkpoint(run / "last.npz")  # every array's checksum verified
            survived += 1
    print(f"SIGKILL: {kills} kills, last.npz loaded and verified after {survived}")
    assert kills >= 10 and survived >= 10
    # leftover temporary files from the killed writers are removed at the next start
    r = subprocess.run([sys.executable, "-m", "mlpcli", "train", config(tmp_path, 1), *SLOW, "--set", "data.n_samples=64",
                        "--out", run, "--overwrite", "--quiet"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert not [f for f in os.listdir(run) if f.endswith(".tmp")]


def test_two_trainings_cannot_share_a_run_directory(tmp_path):
    p = start("train", config(tmp_path, 50), *SLOW, "--out", tmp_path / "run")
    try:
        wait_for_training(p)
        r = subprocess.run([sys.executable, "-m", "mlpcli", "train", config(tmp_path, 1), "--out", tmp_path / "run", "--overwrite"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and "another training is writing" in r.stderr
    finally:
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=60)
    assert p.returncode == 143


def test_divergence_exits_3_naming_epoch_step_and_last_good_checkpoint(tmp_path):
    r = subprocess.run([sys.executable, "-m", "mlpcli", "train", config(tmp_path, 50), "--set", "data.name=regression",
                        "--set", "model.layers=[2,32,3]", "--set", "loss=squared_error", "--set", "optimizer.lr=50",
                        "--out", tmp_path / "run", "--json"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 3, r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("mlp: error: training diverged at epoch") and "step" in last
    assert str(tmp_path / "run" / "last.npz") in last and r.stdout == ""
    assert "Warning" not in r.stderr
    arrays = read_checkpoint(tmp_path / "run" / "last.npz")[0]
    assert all(np.isfinite(a).all() for a in arrays.values())
    assert json.loads(json.dumps(mlpcli.load_checkpoint(tmp_path / "run" / "last.npz").meta["epoch"])) >= 0
