"""The callback seam: hooks, open metrics.csv columns, stop reasons, per-callback checkpoint state, cadence."""

import numpy as np
import pytest

import mlpcli
from mlpcli import checkpoint
from mlpcli.callbacks import Callback, CallbackList, EarlyStopping, MetricsCSV, PlateauSchedule
from mlpcli.checkpoint import read_checkpoint
from mlpcli.runs import metrics_csv, read_metrics
from mlpcli.trainer import Trainer

REG = ["data.name=regression", "data.function=linear", "data.n_samples=80", "model.layers=[3,8,1]",
       "loss=squared_error", "training.batch_size=16", "optimizer.lr=0.05"]


class Recorder(Callback):
    """Counts hooks, adds a column, keeps a counter across resume."""

    key = "recorder"

    def __init__(self, stop_at=None):
        self.calls, self.stop_at, self.total = [], stop_at, 0

    def on_train_start(self, trainer):
        self.calls.append("start")

    def on_batch_end(self, trainer, loss):
        self.total += 1

    def on_epoch_end(self, trainer, row):
        self.calls.append(row["epoch"])
        row["batches_so_far"] = self.total
        return "recorder says stop" if row["epoch"] == self.stop_at else None

    def on_train_end(self, trainer):
        self.calls.append("end")

    def state_dict(self):
        return {"total": self.total}

    def load_state_dict(self, state):
        self.total = state["total"]


class DiskWatcher(Callback):
    """After each epoch: the epoch of last.npz on disk and the rows of metrics.csv."""

    order = 95  # after metrics.csv (80) and checkpoints (90): sees what they wrote for this epoch

    def __init__(self):
        self.on_disk = []

    def on_epoch_end(self, trainer, row):
        self.on_disk.append((read_checkpoint(trainer.run.path("last.npz"))[1]["epoch"],
                             len(read_metrics(trainer.run.path("metrics.csv")))))


def test_hooks_run_in_order_and_a_callback_can_stop_with_a_reason():
    cfg = mlpcli.load_config(None, [*REG, "training.epochs=10"])
    rec = Recorder(stop_at=3)
    r = mlpcli.train(cfg, callbacks=[rec])
    assert rec.calls == ["start", 1, 2, 3, "end"]
    assert r.stop_reason == "recorder says stop" and r.epochs_run == 3
    assert rec.total == 3 * 4  # 80 samples, 64 of them for training: 4 batches of 16 an epoch
    assert [row["batches_so_far"] for row in r.history] == [4, 8, 12]


def test_added_columns_reach_metrics_csv_and_callback_state_survives_resume(tmp_path):
    run = tmp_path / "run"
    first = mlpcli.load_config(None, [*REG, "training.epochs=2", "checkpoint.every_epochs=1"])
    mlpcli.train(first, callbacks=[Recorder()], run_dir=run)
    rows = read_metrics(run / "metrics.csv")
    assert [r["batches_so_far"] for r in rows] == [4, 8]
    meta = read_checkpoint(run / "last.npz")[1]
    assert meta["callbacks"]["recorder"] == {"total": 8}
    rec = Recorder()
    full = mlpcli.load_config(None, [*REG, "training.epochs=4"])
    mlpcli.train(full, callbacks=[rec], run_dir=run, resume=run / "last.npz")
    assert rec.total == 16 and [r["batches_so_far"] for r in read_metrics(run / "metrics.csv")] == [4, 8, 12, 16]


def test_checkpoint_every_epochs_and_metrics_appended_each_epoch(tmp_path):
    cfg = mlpcli.load_config(None, [*REG, "training.epochs=7", "checkpoint.every_epochs=3"])
    rec = DiskWatcher()
    mlpcli.train(cfg, callbacks=[rec], run_dir=tmp_path / "run")
    # last.npz: at the start (epoch 0), then after epochs 3 and 6; metrics.csv: every epoch
    assert rec.on_disk == [(0, 1), (0, 2), (3, 3), (3, 4), (3, 5), (6, 6), (6, 7)]
    assert read_checkpoint(tmp_path / "run" / "last.npz")[1]["epoch"] == 7  # and at the end


def test_a_new_runs_header_is_widened_in_place_by_its_first_row(tmp_path):
    cfg = mlpcli.load_config(None, [*REG, "training.epochs=2"])
    mlpcli.train(cfg, run_dir=tmp_path / "run")
    text = (tmp_path / "run" / "metrics.csv").read_text()
    lines = text.splitlines()
    assert "\0" not in text and lines[0].startswith("epoch,train_loss,train_mse,") and len(lines) == 3
    assert [r["epoch"] for r in read_metrics(tmp_path / "run" / "metrics.csv")] == [1, 2]


def test_checkpoint_every_seconds_writes_only_at_start_and_end_of_a_short_run(tmp_path):
    cfg = mlpcli.load_config(None, [*REG, "training.epochs=5", "checkpoint.every_seconds=3600"])
    rec = DiskWatcher()
    mlpcli.train(cfg, callbacks=[rec], run_dir=tmp_path / "run")
    assert [e for e, _ in rec.on_disk] == [0] * 5
    assert [n for _, n in rec.on_disk] == [1, 2, 3, 4, 5]
    meta = read_checkpoint(tmp_path / "run" / "last.npz")[1]
    assert meta["epoch"] == 5 and len(meta["history"]) == 5


def test_best_checkpoint_is_the_best_monitored_epoch_written_at_the_end(tmp_path):
    cfg = mlpcli.load_config(None, [*REG, "training.epochs=6", "data.validation_split=0.25", "checkpoint.every_seconds=3600"])
    r = mlpcli.train(cfg, run_dir=tmp_path / "run")
    losses = [row["val_loss"] for row in r.history]
    meta = read_checkpoint(tmp_path / "run" / "best.npz")[1]
    assert meta["epoch"] == r.best_epoch == 1 + int(np.argmin(losses))
    assert meta["history"] == r.history[: meta["epoch"]]


def test_early_stopping_and_plateau_share_one_monitor():
    cfg = mlpcli.load_config(None, [*REG, "data.validation_split=0.25", "schedule=plateau", "schedule.patience=0",
                                    "training.early_stopping.patience=3", "training.epochs=1"])
    t = Trainer(cfg)
    es = [c for c in t.callbacks.callbacks if isinstance(c, EarlyStopping)]
    plateau = [c for c in t.callbacks.callbacks if isinstance(c, PlateauSchedule)]
    assert len(es) == len(plateau) == 1 and es[0].monitor is plateau[0].monitor is t.monitor


def test_plateau_halves_the_rate_of_a_run_whose_monitored_loss_stalls():
    """A stalled loss (no improvement beyond min_delta) halves the rate after patience + 1 epochs."""
    cfg = mlpcli.load_config(None, [*REG, "optimizer.lr=1e-6", "schedule=plateau", "schedule.patience=1",
                                    "schedule.min_delta=1.0", "training.epochs=6"])
    r = mlpcli.train(cfg)
    assert [row["lr"] for row in r.history] == pytest.approx([1e-6, 1e-6, 1e-6, 5e-7, 5e-7, 2.5e-7])


def test_early_stopping_on_a_maximised_monitor():
    cfg = mlpcli.load_config(None, ["training.epochs=200", "optimizer.lr=1e-30", "training.early_stopping.monitor=train_accuracy",
                                    "training.early_stopping.patience=2"])
    r = mlpcli.train(cfg)
    assert r.stop_reason == "early_stopping" and r.epochs_run == 4 and r.best_epoch == 1


def test_batch_hook_dispatch_only_for_callbacks_that_override_it():
    class EpochOnly(Callback):
        def on_epoch_end(self, trainer, row):
            return None

    class Duck:  # no base class: the protocol is the method names
        def on_batch_end(self, trainer, loss):
            pass

    cl = CallbackList([EpochOnly(), Duck()])
    assert len(cl.batch_hooks) == 1 and len(cl.hooks["on_epoch_end"]) == 1 and cl.hooks["on_train_start"] == []


def test_readme_callback_example_runs(tmp_path, monkeypatch):
    import re

    from .conftest import ROOT

    example = next(c for c in re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
                   if "class WeightNorm(Callback)" in c)
    (tmp_path / "configs").symlink_to(ROOT / "configs")
    monkeypatch.chdir(tmp_path)
    scope = {}
    exec(example, scope)
    rows = read_metrics(tmp_path / "runs" / "xor-norm" / "metrics.csv")
    assert len(rows) == scope["result"].epochs_run and all(r["w1_norm"] > 0 for r in rows)


def test_an_exception_in_a_callback_keeps_the_last_finished_epoch(tmp_path):
    class Boom(Callback):
        def on_epoch_end(self, trainer, row):
            if row["epoch"] == 3:
                raise RuntimeError("boom")

    cfg = mlpcli.load_config(None, [*REG, "training.epochs=10", "checkpoint.every_seconds=3600"])
    with pytest.raises(RuntimeError, match="boom"):
        mlpcli.train(cfg, callbacks=[Boom()], run_dir=tmp_path / "run")
    assert read_checkpoint(tmp_path / "run" / "last.npz")[1]["epoch"] == 2
    assert len(read_metrics(tmp_path / "run" / "metrics.csv")) == 2  # Boom (order 50) ran before metrics.csv's writer


def test_metrics_csv_is_replaced_atomically_only_when_it_holds_rows(tmp_path, monkeypatch):
    """A new run's header is widened in place (nothing to lose: no fsync); once the file holds rows,
    a new column or a resume replaces it atomically. Either way the file is exactly the history."""
    replaced, real = [], checkpoint.atomic_write_text
    monkeypatch.setattr(checkpoint, "atomic_write_text", lambda p, text: (replaced.append(p), real(p, text)))
    path, trainer = tmp_path / "metrics.csv", type("T", (), {"history": []})()
    csv = MetricsCSV(path)
    csv.on_train_start(trainer)
    assert path.read_text() == "epoch,train_loss,lr,seconds\n"
    rows = [{"epoch": 1, "train_loss": 0.5, "val_loss": 0.7, "lr": 0.1, "seconds": 0.25},  # widens the header
            {"epoch": 2, "train_loss": 0.25, "val_loss": 0.5, "lr": 0.1, "seconds": 0.5},  # appended
            {"epoch": 3, "train_loss": 0.125, "val_loss": 0.25, "lr": 0.1, "seconds": 0.75, "extra": 3}]  # a new column
    for i, row in enumerate(rows):
        trainer.history.append(row)
        csv.on_epoch_end(trainer, row)
        assert path.read_text() == metrics_csv(trainer.history) and len(replaced) == (i == 2)
    csv.close()
    resumed = MetricsCSV(path)  # a resume from the checkpoint of epoch 2
    resumed.on_train_start(type("T", (), {"history": rows[:2]})())
    resumed.close()
    assert path.read_text() == metrics_csv(rows[:2]) and replaced == [path, path]
