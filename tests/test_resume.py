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
