"""Everything around the training loop is a callback (README "Callbacks").

A callback overrides any of ``on_train_start(trainer)``, ``on_batch_end(trainer, loss)``,
``on_epoch_end(trainer, row) -> stop?``, ``on_train_end(trainer)``, ``on_abort(trainer,
reason)`` (``"signal"``, ``"diverged"`` or ``"error"`` is about to end the run), and ``state_dict()`` /
``load_state_dict(state)`` for what it carries across a resume. ``row`` is the epoch's
metrics dict: what a callback adds to it is written to metrics.csv and to the loggers.
``on_epoch_end`` returns a truthy value to stop training (a string names the stop reason).

Early stopping and the plateau schedule watch one shared ``Monitor`` (the monitored
metric, its best value and epoch), each with its own ``Patience`` counter.
"""

from __future__ import annotations

import json
import time

from .hooks import Callback, CallbackList  # noqa: F401 - the protocol, re-exported for users
from .monitor import Monitor, Patience
from .schedules import PlateauSchedule  # noqa: F401 - a built-in callback, defined beside its schedule


# ---------------------------------------------------------------------------- built-ins
class EarlyStopping(Callback):
    """Stop after ``patience`` epochs without improvement; with ``restore_best``, end on the best epoch's weights."""

    order, key = 0, "early_stopping"

    def __init__(self, monitor: Monitor, patience=10, min_delta=0.0, restore_best=True):
        self.monitor, self.patience, self.restore_best = monitor, Patience(monitor, patience, min_delta), restore_best
        self.best_params = None

    def on_epoch_end(self, trainer, row):
        if self.restore_best and self.monitor.improved:
            self.best_params = {k: v.copy() for k, v in trainer.model.params.items()}
        return "early_stopping" if self.patience.update() else None

    def on_train_end(self, trainer):
        if self.best_params is not None:
            trainer.model.set_params(self.best_params)

    def state_dict(self):
        return self.patience.state_dict()

    def load_state_dict(self, state):
        self.patience.load_state_dict(state)

    def state_arrays(self):
        return {f"best.{k}": v for k, v in (self.best_params or {}).items()}

    def load_state_arrays(self, arrays):
        best = {k[5:]: v.copy() for k, v in arrays.items() if k.startswith("best.")}
        self.best_params = best or None


class GradTol(Callback):
    """The notes' stopping test: stop when the full-batch gradient norm ||grad E|| falls below ``tol``."""

    order = 0

    def __init__(self, tol: float):
        self.tol = tol

    def on_epoch_end(self, trainer, row):
        from .model import full_gradient_norm

        row["grad_norm"] = g = full_gradient_norm(trainer.model, trainer.X, trainer.Y)
        return "grad_tol" if g < self.tol else None


class MetricsCSV(Callback):
    """metrics.csv: one row per epoch, appended and flushed. Its columns are whatever the rows hold
    (a new column rewrites the file once with the wider header); readers key by name."""

    order = 80

    def __init__(self, path):
        self.path, self.columns, self.file = path, None, None

    def on_train_start(self, trainer):
        # a new run: the header, widened by the first row; a resumed run's file holds its rows, kept until replaced whole
        self.rewrite(trainer.history, holds_rows=bool(trainer.history))

    def on_epoch_end(self, trainer, row):
        from .runs import csv_line

        if self.file is None or not row.keys() <= set(self.columns):
            self.rewrite(trainer.history, holds_rows=len(trainer.history) > 1)  # the file holds the rows before ``row``
        else:
            self.file.write(csv_line(row, self.columns))
            self.file.flush()

    def rewrite(self, history, holds_rows: bool):
        """The whole file for ``history``, with the columns its rows need: replaced atomically when
        the file ``holds_rows`` to lose, else written in place (a new run's header: no fsync)."""
        from .checkpoint import atomic_write_text
        from .runs import metric_columns, metrics_csv

        self.close()
        self.columns = metric_columns(history)
        text = metrics_csv(history, self.columns)
        if holds_rows:
            atomic_write_text(self.path, text)
            self.file = open(self.path, "a", newline="")  # noqa: SIM115 - appended to until the run ends
        else:
            self.file = open(self.path, "w", newline="")  # noqa: SIM115 - appended to until the run ends
            self.file.write(text)
            self.file.flush()

    def close(self, *_):
        if self.file is not None:
            self.file.close()
            self.file = None

    on_train_end = on_abort = close


class _Snapshot:
    """A checkpoint held in memory: copied arrays, meta, and how many history rows it covers."""

    def __init__(self, trainer, copy=True):
        arrays, self.meta = trainer.checkpoint_state(history=False)
        self.arrays = {k: v.copy() for k, v in arrays.items()} if copy else arrays
        self.rows, self.written = len(trainer.history), set()  # the file names it was saved as


class Checkpointing(Callback):
    """config.yaml at the start; ``last.npz`` at the cadence (``checkpoint.every_seconds`` since the
    previous save, or every ``checkpoint.every_epochs``), at the end, on a signal and before a
    divergence exit; ``best.npz``, the best monitored epoch kept in memory, with the same cadence.
    The history's rows are JSON-encoded once each, so a save never re-serialises them."""

    order = 90

    def __init__(self, run, every_seconds=30.0, every_epochs=None):
        self.run, self.every_seconds, self.every_epochs = run, every_seconds, every_epochs
        self.last = self.best = None
        self.saved_at, self.rows = time.monotonic(), []

    def on_train_start(self, trainer):
        from .checkpoint import synced_together

        self.rows = [json.dumps(r, separators=(",", ":")).encode() for r in trainer.history]
        self.last = _Snapshot(trainer)
        with synced_together():
            self.run.write_config(trainer.config_dict)
            self.save(trainer)  # the starting state (initial or resumed): a last good checkpoint from the start

    def on_epoch_end(self, trainer, row):
        self.rows.append(json.dumps(row, separators=(",", ":")).encode())
        self.last = _Snapshot(trainer)
        if trainer.monitor.improved:
            self.best = self.last
        due = (trainer.epoch % self.every_epochs == 0) if self.every_epochs else \
            time.monotonic() - self.saved_at >= self.every_seconds
        if due:
            self.save(trainer)

    def on_train_end(self, trainer):
        self.save(trainer)

    def on_abort(self, trainer, reason):
        if reason == "signal":  # the state right now (mid-epoch, at a batch boundary); otherwise the last epoch's
            self.last = _Snapshot(trainer, copy=False)
        self.save(trainer)

    def save(self, trainer):
        from .checkpoint import save_checkpoint, synced_together

        with synced_together():
            for name, snap in (("last.npz", self.last), ("best.npz", self.best)):
                if snap is not None and name not in snap.written:
                    history = b"[" + b",".join(self.rows[: snap.rows]) + b"]"
                    save_checkpoint(self.run.path(name), snap.arrays, snap.meta, raw_json={"history": history})
                    snap.written.add(name)
                    if name == "last.npz":
                        trainer.last_good = self.run.path(name)
        self.saved_at = time.monotonic()


class NullReporter(Callback):
    """The pre-callback progress interface (``start``, ``batch``, ``epoch``, ``end``), still accepted
    as ``train(reporter=...)``; new code subclasses ``Callback``. It runs after the run directory's
    writers, as reporters always did."""

    order = 100

    def start(self, trainer): pass
    def batch(self, trainer, loss): pass
    def epoch(self, trainer, row): pass
    def end(self, result): pass

    def on_train_start(self, trainer):
        self.start(trainer)

    def on_batch_end(self, trainer, loss):
        self.batch(trainer, loss)

    def on_epoch_end(self, trainer, row):
        self.epoch(trainer, row)


def builtin_callbacks(trainer) -> list:
    """The callbacks a config asks for: early stopping, plateau, grad_tol, diagnostics, the BLAS's thread
    count, with a run directory metrics.csv and checkpoints, and the loggers of ``output.log``."""
    cfg, monitor, out = trainer.cfg, trainer.monitor, []
    t = cfg.training
    if t.early_stopping:
        es = t.early_stopping
        out.append(EarlyStopping(monitor, es.patience, es.min_delta, es.restore_best))
    if trainer.sched.plateau is not None:
        out.append(trainer.sched.plateau)
    if t.grad_tol is not None:
        out.append(GradTol(t.grad_tol))
    if t.diagnostics:
        from .diagnostics import Diagnostics

        out.append(Diagnostics())
    from .threads import thread_callback

    out.append(thread_callback(trainer))  # the BLAS's thread count: forced, or tuned to the free cores
    if trainer.run is not None:
        out.append(MetricsCSV(trainer.run.path("metrics.csv")))
        c = cfg.checkpoint
        out.append(Checkpointing(trainer.run, c.every_seconds, c.every_epochs))
    if cfg.output.log:
        from .loggers import make_loggers

        out += make_loggers(cfg.output.log, trainer)  # a missing extra fails here, before the run directory is touched
    return out

