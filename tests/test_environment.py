"""A failing environment is reported, not crashed on: a full disk (a real tiny tmpfs), a file
size limit, a full stdout, a read-only place, a process blocked on an input, a data file
changed during a run. One stderr line naming the path and the OS reason, exit 2, and the
previous checkpoint intact."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import mlpcli
from mlpcli.checkpoint import read_checkpoint

from .conftest import ROOT

XOR = ROOT / "configs" / "xor.yaml"


def mlp(*args, timeout=120, **kw):
    return subprocess.run([sys.executable, "-m", "mlpcli", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, **kw)


def one_line_exit_2(r, *parts):
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("mlp: error:") and "Traceback" not in r.stderr, r.stderr
    for p in parts:
        assert p in r.stderr, (p, r.stderr)


@pytest.fixture
def tiny_tmpfs(tmp_path):
    """A 256 kB tmpfs: a disk that really fills up (needs root and mount; skipped elsewhere)."""
    d = tmp_path / "tiny"
    d.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(d)],
                                           capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield d
    subprocess.run(["umount", "-l", str(d)], capture_output=True)


@pytest.fixture
def read_only_dir(tmp_path):
    """A read-only tmpfs holding one file (root ignores permissions, not a read-only mount)."""
    d = tmp_path / "ro"
    d.mkdir()
    if os.geteuid() == 0:
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(d)], capture_output=True).returncode != 0:
            pytest.skip("cannot mount a tmpfs here")
        (d / "existing.txt").write_text("x")
        subprocess.run(["mount", "-o", "remount,ro", str(d)], check=True, capture_output=True)
        yield d
        subprocess.run(["umount", "-l", str(d)], capture_output=True)
    else:
        (d / "existing.txt").write_text("x")
        d.chmod(0o555)
        yield d
        d.chmod(0o755)


def fill(d):
    """Fill the file system of ``d`` to its last block."""
    with open(d / "filler", "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass


def test_disk_full_during_training_keeps_the_previous_checkpoint(tiny_tmpfs):
    out = tiny_tmpfs / "run"
    r = mlp("train", XOR, "--out", out, "--quiet", "--set", "training.epochs=2")
    assert r.returncode == 0, r.stderr
    before = (out / "last.npz").read_bytes()
    fill(tiny_tmpfs)
    r = mlp("train", XOR, "--resume", out / "last.npz", "--quiet", "--set", "training.epochs=4000")
    one_line_exit_2(r, "No space left on device")
    assert (out / "last.npz").read_bytes() == before
    read_checkpoint(out / "last.npz")
    assert not [f for f in os.listdir(out) if f.endswith(".tmp")]


def test_disk_full_at_the_start_leaves_no_run_directory(tiny_tmpfs):
    fill(tiny_tmpfs)
    r = mlp("train", XOR, "--out", tiny_tmpfs / "run", "--quiet", "--set", "training.epochs=2")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    assert "No space left on device" in r.stderr
    assert not (tiny_tmpfs / "run").exists()


def test_file_too_large(tmp_path):
    """RLIMIT_FSIZE below a checkpoint's size: EFBIG, reported with the path."""
    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (2000, 2000))

    r = mlp("train", XOR, "--out", tmp_path / "run", "--quiet", "--set", "training.epochs=2",
            "--set", "model.layers=[2,64,1]", preexec_fn=limit)
    one_line_exit_2(r, "File too large")


def test_stdout_on_a_full_device():
    with open("/dev/full", "w") as full:
        r = subprocess.run([sys.executable, "-m", "mlpcli", "schema"], stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
    one_line_exit_2(r, "No space left on device")


def test_read_only_output_places(read_only_dir, tmp_path):
    one_line_exit_2(mlp("train", XOR, "--out", read_only_dir / "run", "--quiet", "--set", "training.epochs=1"),
                    str(read_only_dir / "run"))
    one_line_exit_2(mlp("init", read_only_dir / "x.yaml"), str(read_only_dir / "x.yaml"))
    one_line_exit_2(mlp("data", "mnist", "--from", tmp_path, "--out", read_only_dir / "m"))
    assert sorted(os.listdir(read_only_dir)) == ["existing.txt"]


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_process_blocked_on_its_config_input_stops_on_signals(tmp_path, sig, code):
    """`mlp train /dev/stdin` waiting for a config that never comes still stops on Ctrl-C and kill."""
    # as from a terminal: SIGINT at its default even where this test runs with it ignored (a job
    # started in the background by a non-interactive shell), where Python would never raise KeyboardInterrupt
    p = subprocess.Popen([sys.executable, "-m", "mlpcli", "train", "/dev/stdin", "--out", tmp_path / "run"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        time.sleep(2.0)  # started and blocked in the read
        p.send_signal(sig)
        _, err = p.communicate(timeout=30)
    finally:
        p.kill()
    assert p.returncode in (code, -sig), (p.returncode, err)
    assert "Traceback" not in err and not (tmp_path / "run").exists()


def test_a_memory_mapped_training_file_changed_during_the_run(tmp_path, monkeypatch):
    """A training set too large for memory stays memory-mapped: a rewrite between epochs is an error
    at the next epoch start, not a SIGBUS."""
    import mlpcli.data as data_mod
    from mlpcli.callbacks import Callback
    from mlpcli.errors import DataError

    monkeypatch.setattr(data_mod, "MATERIALIZE_LIMIT", 0)
    rng = np.random.default_rng(0)
    np.save(tmp_path / "x.npy", rng.normal(size=(64, 2)))
    np.save(tmp_path / "y.npy", rng.integers(0, 2, 64))
    cfg = mlpcli.load_config(None, [f"data={{name: npy, train: {{x: {tmp_path / 'x.npy'}, y: {tmp_path / 'y.npy'}}}}}",
                                    "model.layers=[2,4,1]", "training.epochs=5"])

    class Rewrite(Callback):
        def on_epoch_end(self, trainer, row):
            if row["epoch"] == 2:
                np.save(tmp_path / "x.npy", rng.normal(size=(8, 2)))  # truncated: reading old rows would SIGBUS

    with pytest.raises(DataError, match="changed during the run"):
        mlpcli.train(cfg, [Rewrite()], run_dir=tmp_path / "run")
    assert read_checkpoint(tmp_path / "run" / "last.npz")[1]["epoch"] == 2
