"""The mlp command: CliRunner for breadth, real subprocesses for exit codes and streams."""

import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from mlpcli.cli import app

from .conftest import ROOT

runner = CliRunner()


def mlp(*args, **kw):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False, **kw)


@pytest.fixture
def xor_run(tmp_path):
    out = tmp_path / "run"
    r = mlp("train", ROOT / "configs/xor.yaml", "--out", out, "--quiet", "--json")
    assert r.exit_code == 0, r.stderr
    return out, json.loads(r.stdout)


def test_train_json_is_one_object_and_run_dir_complete(xor_run):
    out, summary = xor_run
    assert summary["metrics"]["test"]["accuracy"] == 1.0
    assert summary["epochs_run"] == 300 and summary["run_dir"] == str(out)
    assert {"config.yaml", "metrics.csv", "last.npz", "best.npz"} <= set(os.listdir(out))
    rows = (out / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("epoch,train_loss,train_acc,lr,seconds,grad_norm_W1,") and len(rows) == 301 and rows[1].startswith("1,")
    import mlpcli

    resolved = mlpcli.load_config(out / "config.yaml")  # the saved config is itself a valid config
    assert resolved.model.layers == [2, 8, 1] and resolved.output.dir == os.path.abspath(ROOT / "runs/xor")


def test_run_dir_is_never_overwritten_silently(xor_run):
    out, _ = xor_run
    r = mlp("train", ROOT / "configs/xor.yaml", "--out", out, "--quiet")
    assert r.exit_code == 2 and "holds a run already" in r.stderr and "--overwrite" in r.stderr
    assert mlp("train", ROOT / "configs/xor.yaml", "--out", out, "--quiet", "--overwrite", "--set", "training.epochs=3").exit_code == 0
    assert len((out / "metrics.csv").read_text().splitlines()) == 4


def test_eval_json_and_gate(xor_run, tmp_path):
    out, _ = xor_run
    r = mlp("eval", out / "last.npz", "--json")
    assert r.exit_code == 0
    d = json.loads(r.stdout)
    assert set(d) >= {"loss", "accuracy", "n_samples"} and d["accuracy"] == 1.0 and d["n_samples"] == 4
    assert mlp("eval", out / "last.npz", "--min-accuracy", "0.99").exit_code == 0
    untrained = tmp_path / "untrained"  # the initial weights: below the gate
    assert mlp("train", ROOT / "configs/xor.yaml", "--epochs", "0", "--out", untrained, "--quiet").exit_code == 0
    r = mlp("eval", untrained, "--min-accuracy", "0.99", "--json")
    assert r.exit_code == 1 and json.loads(r.stdout)["passed"] is False and "below --min-accuracy" in r.stderr
    r = mlp("eval", out / "last.npz", "--split", "val")
    assert r.exit_code == 2 and "no 'val' split" in r.stderr


def test_eval_terminal_table_has_confusion_matrix(xor_run):
    out, _ = xor_run
    r = mlp("eval", out / "best.npz")
    assert r.exit_code == 0 and "confusion matrix" in r.stdout and "accuracy" in r.stdout


def test_regression_eval_keys(tmp_path):
    out = tmp_path / "reg"
    assert mlp("train", ROOT / "configs/regression.yaml", "--out", out, "--quiet", "--set", "training.epochs=5").exit_code == 0
    d = json.loads(mlp("eval", out / "last.npz", "--json").stdout)
    assert set(d) >= {"loss", "mse", "mae", "r2", "n_samples"} and d["n_samples"] == 240
    assert mlp("eval", out / "last.npz", "--min-r2", "1.5").exit_code == 1
    assert mlp("eval", out / "last.npz", "--min-accuracy", "0.5").exit_code == 2


def test_eval_on_another_config_and_split(xor_run, tmp_path):
    out, _ = xor_run
    cfg = tmp_path / "d.yaml"
    cfg.write_text("data: {name: xor, repeat: 3}\n")
    d = json.loads(mlp("eval", out / "last.npz", "--data", cfg, "--split", "train", "--json").stdout)
    assert d["n_samples"] == 12 and d["accuracy"] == 1.0


def test_predict(xor_run, tmp_path):
    out, _ = xor_run
    X = tmp_path / "x.npy"
    np.save(X, np.array([[0, 0], [1, 0], [1, 1]], dtype=np.float32))
    r = mlp("predict", out / "last.npz", X, "--out", tmp_path / "p.npy")
    assert r.exit_code == 0
    assert np.load(tmp_path / "p.npy").tolist() == [0, 1, 0]
    r = mlp("predict", out / "last.npz", X)
    assert r.stdout.split() == ["0", "1", "0"]
    p = mlp("predict", out / "last.npz", X, "--proba", "--out", tmp_path / "q.npy")
    q = np.load(tmp_path / "q.npy")
    assert p.exit_code == 0 and q.shape == (3, 2)  # one column per class, as predict_proba
    np.testing.assert_allclose(q.sum(1), 1, rtol=1e-6)
    np.save(tmp_path / "bad.npy", np.zeros((2, 3)))
    r = mlp("predict", out / "last.npz", tmp_path / "bad.npy")
    assert r.exit_code == 2 and "3 features but the network expects 2" in r.stderr


def test_commands_take_a_run_directory_for_its_best_checkpoint(xor_run, tmp_path):
    out, _ = xor_run
    X = tmp_path / "x.npy"
    np.save(X, np.array([[0, 1], [1, 1]], dtype=np.float32))
    assert json.loads(mlp("eval", out, "--json").stdout)["checkpoint"] == str(out / "best.npz")
    assert json.loads(mlp("inspect", out, "--json").stdout)["checkpoint"] == str(out / "best.npz")
    assert mlp("predict", out, X).stdout.split() == ["1", "0"]
    assert json.loads(mlp("gradcheck", out, "--json").stdout)["passed"]
    (out / "best.npz").unlink()  # no best.npz: the run's last.npz
    assert json.loads(mlp("eval", out, "--json").stdout)["checkpoint"] == str(out / "last.npz")
    r = mlp("eval", tmp_path)
    assert r.exit_code == 2 and "without best.npz or last.npz" in r.stderr and r.stderr.count("\n") == 1


def test_every_json_names_paths_absolute_and_resolved(xor_run, tmp_path, monkeypatch):
    """A script reading --json gets one convention, whatever the paths it gave: absolute, links resolved."""
    out, _ = xor_run
    (tmp_path / "link").symlink_to(tmp_path)  # given through a link, named by the real path
    np.save(tmp_path / "x.npy", np.array([[0, 1]], dtype=np.float32))
    monkeypatch.chdir(tmp_path / "link")
    real = os.path.realpath(out)
    assert json.loads(mlp("eval", "run", "--json").stdout)["checkpoint"] == os.path.join(real, "best.npz")
    assert json.loads(mlp("inspect", "run/last.npz", "--json").stdout)["checkpoint"] == os.path.join(real, "last.npz")
    assert json.loads(mlp("predict", "run", "x.npy", "--out", "p.npy", "--json").stdout)["out"] == os.path.realpath("p.npy")
    runs = json.loads(mlp("compare", "run", "run", "--json").stdout)["runs"]
    assert [r["run_dir"] for r in runs] == [real] * 2 and runs[0]["checkpoint"].startswith(real + os.sep)
    r = mlp("train", ROOT / "configs/xor.yaml", "--out", "again", "--epochs", "1", "--quiet", "--json")
    assert json.loads(r.stdout)["run_dir"] == os.path.realpath("again") == str(tmp_path / "again")
    r = mlp("train", "--resume", "again", "--json")  # nothing to do: still the resolved run directory
    assert json.loads(r.stdout)["run_dir"] == str(tmp_path / "again")


@pytest.mark.parametrize("config", sorted(p.name for p in (ROOT / "configs").glob("*.yaml")))
def test_gradcheck_passes_on_every_shipped_config(config):
    r = mlp("gradcheck", ROOT / "configs" / config, "--json")
    assert r.exit_code == 0, r.stdout
    d = json.loads(r.stdout)
    assert d["passed"] and d["max_rel_error"] < 1e-6 and [t["name"] for t in d["tensors"]][:2] == ["W1", "b1"]


def test_gradcheck_gate_and_checkpoint(xor_run):
    out, _ = xor_run
    assert mlp("gradcheck", out / "last.npz").exit_code == 0
    r = mlp("gradcheck", ROOT / "configs/xor.yaml", "--tol", "1e-30")
    assert r.exit_code == 1 and "exceeds --tol" in r.stderr
    assert mlp("gradcheck", ROOT / "configs/xor.yaml", "--data", "--samples", "4").exit_code == 0


def test_inspect(xor_run):
    out, _ = xor_run
    d = json.loads(mlp("inspect", out / "last.npz", "--json").stdout)
    assert d["layers"] == [2, 8, 1] and d["n_params"] == 2 * 8 + 8 + 8 + 1 and d["epoch"] == 300
    assert "W1" in d["arrays"] and d["metrics"]["epoch"] == 300
    assert "parameters 33" in mlp("inspect", out / "last.npz").stdout


def test_epochs_zero_writes_initial_weights(tmp_path):
    r = mlp("train", ROOT / "configs/xor.yaml", "--out", tmp_path / "r", "--set", "training.epochs=0", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["epochs_run"] == 0
    import mlpcli

    net = mlpcli.load_checkpoint(tmp_path / "r" / "last.npz")
    cfg = mlpcli.load_config(ROOT / "configs/xor.yaml")
    init = mlpcli.MLP.from_config(cfg)
    np.testing.assert_array_equal(net.params["W1"], init.params["W1"])


def test_init_and_schema(tmp_path):
    import mlpcli

    for name in ("xor", "regression", "mnist", "npy"):
        p = tmp_path / f"{name}.yaml"
        assert mlp("init", p, "--data", name).exit_code == 0
        text = p.read_text()
        assert "# Learning rate" in text
        if name != "npy":  # npy's starter names data files the user has yet to provide
            mlpcli.load_config(p)
    assert mlp("init", tmp_path / "xor.yaml").exit_code == 2  # exists, no --force
    schema = json.loads(mlp("schema").stdout)
    assert schema["title"] == "mlpcli config" and "optimizer" in schema["properties"]


def test_bad_config_is_one_line_with_file_line_and_key(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("model:\n  layers: [2, 4, 1]\noptimizer:\n  name: sgd\n  lr: -1\n")
    r = mlp("train", p, "--out", tmp_path / "r")
    assert r.exit_code == 2
    assert r.stderr.count("\n") == 1 and f"{p}:5: optimizer.lr:" in r.stderr and "greater than 0" in r.stderr
    assert not (tmp_path / "r").exists()  # refused before any work


def test_every_config_error_is_its_own_stderr_line(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("epochs: 5\nmodel: {activation: ReLu}\n")
    r = mlp("train", p, "--out", tmp_path / "r")
    assert r.exit_code == 2 and r.stderr.splitlines() == [
        f"mlp: error: {p}:1: epochs: unknown key 'epochs'; did you mean 'training.epochs'? "
        "(valid: seed, data, model, loss, l2, optimizer, schedule, training, output, checkpoint)",
        f"mlp: error: {p}:2: model.activation: unknown activation 'ReLu'; did you mean 'relu'? "
        "(valid: identity, relu, leaky_relu, softplus, sigmoid, tanh, step, softmax)"]


def test_set_overrides_are_yaml_typed_and_checked(tmp_path):
    r = mlp("train", ROOT / "configs/xor.yaml", "--out", tmp_path / "r", "--quiet", "--json",
            "--set", "training.epochs=2", "--set", "model.layers=[2, 3, 1]")
    assert r.exit_code == 0 and json.loads(r.stdout)["epochs_run"] == 2
    r = mlp("train", ROOT / "configs/xor.yaml", "--set", "optimizer.lrr=0.1")
    assert r.exit_code == 2 and "--set optimizer.lrr" in r.stderr and "did you mean 'lr'" in r.stderr


def test_data_mnist_errors(tmp_path, monkeypatch):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03" + b"\x00" * 20)
    r = mlp("data", "mnist", "--from", tmp_path / "src", "--out", tmp_path / "o")
    assert r.exit_code == 2 and "SHA-256" in r.stderr
    monkeypatch.setenv("MLPCLI_MNIST_MIRROR", "http://127.0.0.1:9/")
    r = mlp("data", "mnist", "--out", tmp_path / "o")
    assert r.exit_code == 2 and "cannot download MNIST" in r.stderr and r.stderr.count("\n") == 1


def test_version_and_help():
    from mlpcli import __version__

    assert mlp("--version").stdout.strip() == f"mlp {__version__}"
    h = mlp("--help").stdout
    for cmd in ("train", "eval", "predict", "gradcheck", "inspect", "init", "schema", "plot", "data"):
        assert cmd in h


# ---------------------------------------------------------------------------- real processes
MLP_BIN = shutil.which("mlp") or ""


def run(*args, cwd=None, **kw):
    cmd = [MLP_BIN] if MLP_BIN else [sys.executable, "-m", "mlpcli"]
    return subprocess.run([*cmd, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=120, **kw)


def test_subprocess_streams_and_exit_codes(tmp_path):
    r = run("train", ROOT / "configs/xor.yaml", "--out", tmp_path / "r", "--json")
    assert r.returncode == 0
    json.loads(r.stdout)  # stdout is exactly one JSON object
    assert "epoch 1/300" in r.stderr and "done:" in r.stderr  # logs on stderr, one line per epoch (no TTY)
    assert run("train", ROOT / "configs/xor.yaml", "--epochs", "0", "--out", tmp_path / "u", "--quiet").returncode == 0
    r = run("eval", tmp_path / "u", "--min-accuracy", "0.99")  # the initial weights fail the gate
    assert r.returncode == 1 and r.stderr.startswith("mlp: gate failed:")
    r = run("eval", tmp_path / "nope.npz")
    assert r.returncode == 2 and r.stderr.startswith("mlp: error:") and "Traceback" not in r.stderr
    r = run("train", tmp_path / "missing.yaml")
    assert r.returncode == 2 and "no such config file" in r.stderr and r.stderr.count("\n") == 1
    r = run("frobnicate")
    assert r.returncode == 2


@pytest.mark.parametrize("args", [["eval", "{run}"], ["gradcheck", "{run}"]])
def test_closed_stdout_pipe_ends_quietly(tmp_path, args):
    """`mlp eval RUN | head -3`: the reader is gone before mlp writes; no traceback, exit 0 as for print()."""
    r = run("train", ROOT / "configs/xor.yaml", "--out", tmp_path / "r", "--quiet", "--set", "training.epochs=2")
    assert r.returncode == 0, r.stderr
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        cmd = [MLP_BIN] if MLP_BIN else [sys.executable, "-m", "mlpcli"]
        r = subprocess.run([*cmd, *(a.format(run=tmp_path / "r") for a in args)], stdout=write_end,
                           stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)
    assert r.returncode == 0 and r.stderr == "", r.stderr


def test_default_run_dir_is_named_after_config(tmp_path):
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text("training: {epochs: 1}\n")
    r = run("train", cfg, "--quiet", "--json", cwd=tmp_path)
    assert r.returncode == 0
    run_dir = json.loads(r.stdout)["run_dir"]
    assert os.path.dirname(run_dir) == str(tmp_path / "runs") and os.path.basename(run_dir).startswith("tiny-")


def test_resume_continues_in_the_checkpoints_own_directory(tmp_path):
    """--resume without --out never writes into the config's output.dir (which may hold another run)."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"output: {{dir: {tmp_path / 'other'}}}\ntraining: {{epochs: 2}}\n")
    assert mlp("train", cfg, "--out", tmp_path / "first", "--quiet").exit_code == 0
    assert mlp("train", cfg, "--quiet").exit_code == 0  # a different run in output.dir
    before = (tmp_path / "other" / "last.npz").read_bytes()
    r = mlp("train", cfg, "--resume", tmp_path / "first" / "last.npz", "--set", "training.epochs=4", "--quiet", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["run_dir"] == str(tmp_path / "first")
    assert (tmp_path / "other" / "last.npz").read_bytes() == before
    assert len((tmp_path / "first" / "metrics.csv").read_text().splitlines()) == 5


def test_summary_says_why_training_stopped_and_quiet_keeps_only_warnings(tmp_path):
    args = ["train", ROOT / "configs/regression.yaml", "--set", "training.epochs=200", "--set", "data.n_samples=60",
            "--set", "data.validation_split=0.3", "--set", "optimizer.lr=0.5", "--set", "training.early_stopping={patience: 3}"]
    r = mlp(*args, "--out", tmp_path / "a")
    summary = r.stdout.splitlines()[1]
    m = re.fullmatch(r"stopped early at epoch (\d+): val_loss did not improve for (\d+) epochs; restored the weights of epoch (\d+)", summary)
    assert m, r.stdout
    stop, waited, best = map(int, m.groups())
    assert stop - best == waited and waited == 4  # patience 3: the fourth epoch without improvement stops
    rows = (tmp_path / "a" / "metrics.csv").read_text().splitlines()
    assert len(rows) == stop + 1
    r = mlp(*args, "--out", tmp_path / "b", "--quiet")
    assert r.exit_code == 0 and r.stdout == ""
    assert r.stderr.startswith("mlp: warning: epoch 2: layer 1: 66% of its ReLU units are dead") and r.stderr.count("\n") == 1
    r = mlp(*args, "--out", tmp_path / "c", "--quiet", "--json")  # lr 0.5 kills ReLUs: --quiet keeps that warning
    assert r.exit_code == 0 and json.loads(r.stdout)["stop_reason"] == "early_stopping" and r.stderr.count("\n") == 1
