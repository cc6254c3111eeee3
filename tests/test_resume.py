"""Resume is bit for bit: a run stopped and resumed ends with exactly the weights of one that never stopped."""

import signal

import numpy as np
import pytest

import mlpcli
from mlpcli.checkpoint import read_checkpoint
from mlpcli.errors import Interrupted
from mlpcli.trainer import NullReporter, StopFlag

BASE = ["data.name=regression", "data.function=quadratic", "data.n_samples=300", "data.noise=0.05",
        "data.validation_split=0.2", "model.layers=[2,16,16,3]", "model.activation=relu", "model.init=he",
        "loss=squared_error", "training.batch_size=16", "training.shuffle=true",
        "schedule.name=plateau", "schedule.patience=1", "schedule.factor=0.5",
        "training.early_stopping.patience=4", "training.early_stopping.monitor=val_loss"]
OPTIMIZERS = {"adam": ["optimizer=adam", "optimizer.lr=0.01"],
              "sgd-momentum": ["optimizer=sgd", "optimizer.lr=0.05", "optimizer.momentum=0.9", "optimizer.nesterov=true"]}


class StopAtStep(NullReporter):
    """Raise the stop flag after a given global step, as a signal arriving mid-epoch would."""

    def __init__(self, stop, step):
        self.stop, self.at = stop, step

    def batch(self, trainer, loss):
        if trainer.step == self.at:
            self.stop.signum = signal.SIGINT


def final_state(run_dir):
    arrays, meta, _ = read_checkpoint(run_dir / "last.npz")
    return arrays, meta


def assert_same_run(a_dir, b_dir):
    (a, ma), (b, mb) = final_state(a_dir), final_state(b_dir)
    assert set(a) == set(b)
    for k in a:
        assert np.array_equal(a[k], b[k]), f"{k} differs"
    assert ma["epoch"] == mb["epoch"] and ma["step"] == mb["step"] and ma["schedule"] == mb["schedule"]
    assert ma["early_stopping"] == mb["early_stopping"]
    strip = [{k: v for k, v in row.items() if k != "seconds"} for row in ma["history"]]
    assert strip == [{k: v for k, v in row.items() if k != "seconds"} for row in mb["history"]]


@pytest.fixture(scope="module", params=list(OPTIMIZERS))
def reference(request, tmp_path_factory):
    """An uninterrupted run of 12 epochs."""
    d = tmp_path_factory.mktemp(f"ref-{request.param}")
    cfg = mlpcli.load_config(None, [*BASE, *OPTIMIZERS[request.param], "training.epochs=12"])
    mlpcli.train(cfg, run_dir=d / "run")
    return request.param, d / "run"


def test_resume_from_an_epoch_boundary_to_more_epochs(reference, tmp_path):
    name, ref = reference
    first = mlpcli.load_config(None, [*BASE, *OPTIMIZERS[name], "training.epochs=5"])
    mlpcli.train(first, run_dir=tmp_path / "run")
    assert read_checkpoint(tmp_path / "run" / "last.npz")[1]["batch"] == 0
    full = mlpcli.load_config(None, [*BASE, *OPTIMIZERS[name], "training.epochs=12"])
    r = mlpcli.train(full, run_dir=tmp_path / "run", resume=tmp_path / "run" / "last.npz")
    assert r.epochs_run == final_state(ref)[1]["epoch"]
    assert_same_run(ref, tmp_path / "run")
    assert (tmp_path / "run" / "metrics.csv").read_text().count("\n") == (ref / "metrics.csv").read_text().count("\n")


@pytest.mark.parametrize("step", [7, 40])  # inside epoch 1 and inside epoch 3 (15 batches an epoch)
def test_resume_from_mid_epoch_stop(reference, tmp_path, step):
    name, ref = reference
    cfg = mlpcli.load_config(None, [*BASE, *OPTIMIZERS[name], "training.epochs=12"])
    stop = StopFlag()
    with pytest.raises(Interrupted) as e:
        mlpcli.train(cfg, run_dir=tmp_path / "run", stop=stop, reporter=StopAtStep(stop, step))
    assert e.value.exit_code == 130
    meta = read_checkpoint(tmp_path / "run" / "last.npz")[1]
    assert meta["step"] == step and 0 < meta["batch"] < 15  # stopped within one batch, mid-epoch
    mlpcli.train(cfg, run_dir=tmp_path / "run", resume=tmp_path / "run" / "last.npz")
    assert_same_run(ref, tmp_path / "run")


def test_resume_from_best_checkpoint_continues_from_that_epoch(reference, tmp_path):
    name, ref = reference
    _, meta = read_checkpoint(ref / "best.npz")[:2]
    assert meta["epoch"] >= 1 and meta["optimizer"]
    cfg = mlpcli.load_config(None, [*BASE, *OPTIMIZERS[name], "training.epochs=12"])
    mlpcli.train(cfg, run_dir=tmp_path / "run", resume=ref / "best.npz")
    assert_same_run(ref, tmp_path / "run")


def test_separate_streams_for_init_shuffle_and_data():
    """Changing the amount of data changes neither the initial weights nor the shuffling stream."""
    from mlpcli.rng import streams

    a, b = streams(3), streams(3)
    assert a["init"].random() == b["init"].random()
    assert a["init"].random() != a["shuffle"].random()
    c1 = mlpcli.MLP.from_config(mlpcli.load_config(None, ["data.repeat=1", "seed=4"]))
    c2 = mlpcli.MLP.from_config(mlpcli.load_config(None, ["data.repeat=50", "seed=4"]))
    assert np.array_equal(c1.params["W1"], c2.params["W1"])


# ---------------------------------------------------------------------------- mlp train --resume, as users mean it
def cli(*args):
    from typer.testing import CliRunner

    from mlpcli.cli import app

    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def sets(*keys):
    return [a for k in keys for a in ("--set", k)]


XOR_KEYS = ("model.layers=[2, 3, 1]", "training.batch_size=2", "data.repeat=3")
XOR_SET = sets("training.epochs=6", *XOR_KEYS)


def xor_config():
    from .conftest import ROOT

    return ROOT / "configs/xor.yaml"


def test_resume_needs_no_config_and_more_trains_past_the_checkpoint(tmp_path):
    assert cli("train", xor_config(), *XOR_SET, "--out", tmp_path / "a", "-q").exit_code == 0
    r = cli("train", "--resume", tmp_path / "a", "--more", 4, "-q", "--json")  # the --set keys are the run's own
    assert r.exit_code == 0, r.stderr
    import json

    assert json.loads(r.stdout)["epochs_run"] == 10
    assert cli("train", xor_config(), *sets("training.epochs=10", *XOR_KEYS), "--out", tmp_path / "b", "-q").exit_code == 0
    a, b = read_checkpoint(tmp_path / "a" / "last.npz")[0], read_checkpoint(tmp_path / "b" / "last.npz")[0]
    for k in ("W1", "b1", "W2", "b2"):
        np.testing.assert_array_equal(a[k], b[k])  # bit for bit an uninterrupted 10-epoch run
    r = cli("train", "--resume", tmp_path / "a", "--epochs", 12, "-q", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["epochs_run"] == 12


def test_resuming_a_finished_run_has_nothing_to_do(tmp_path):
    assert cli("train", xor_config(), *XOR_SET, "--out", tmp_path / "a", "-q").exit_code == 0
    r = cli("train", "--resume", tmp_path / "a")
    assert r.exit_code == 0 and r.stderr == "mlp: nothing to do: 6 of 6 epochs done; add --more N\n" and r.stdout == ""


def test_a_config_alongside_may_change_only_what_a_resume_honours(tmp_path):
    assert cli("train", xor_config(), *XOR_SET, "--out", tmp_path / "a", "-q").exit_code == 0
    r = cli("train", xor_config(), *XOR_SET, "--resume", tmp_path / "a", "--set", "optimizer.lr=0.2", "--set", "seed=3")
    assert r.exit_code == 2 and r.stderr.count("\n") == 1
    assert "optimizer.lr (0.05 in the run, 0.2 in" in r.stderr and "seed (0 in the run, 3 in" in r.stderr
    r = cli("train", xor_config(), *XOR_SET, "--resume", tmp_path / "a", "--set", "training.epochs=8", "-q", "--json")
    assert r.exit_code == 0, r.stderr
    assert cli("train", "--more", 2).exit_code == 2 and cli("train").exit_code == 2


def test_an_early_stopped_run_says_how_to_train_on(tmp_path):
    from .conftest import ROOT

    args = ["train", ROOT / "configs/regression.yaml", *sets("training.epochs=200", "data.n_samples=60", "data.validation_split=0.3",
                                                              "optimizer.lr=0.5", "training.early_stopping={patience: 3}")]
    assert cli(*args, "--out", tmp_path / "a", "-q").exit_code == 0
    r = cli("train", "--resume", tmp_path / "a")
    assert r.exit_code == 0 and r.stderr.startswith("mlp: nothing to do: the run stopped early after epoch ")
    assert "did not improve for 4 epochs" in r.stderr
    done = read_checkpoint(tmp_path / "a" / "last.npz")[1]["epoch"]
    r = cli("train", "--resume", tmp_path / "a", "--more", 3, "--set", "training.early_stopping=false", "-q", "--json")
    assert r.exit_code == 0 and r.stdout.count(f'"epochs_run": {done + 3}') == 1
