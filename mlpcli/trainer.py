"""The training loop: shuffled mini-batches, one optimiser step each, and callbacks for the rest.

An epoch draws one permutation from the ``shuffle`` stream, walks it in batches (gathered
into a preallocated buffer), and after each batch takes one optimiser step. The RNG state
at the start of the epoch is kept, so a run stopped mid-epoch resumes the same order at
the same batch. Early stopping, the plateau schedule, grad_tol, checkpoints, metrics.csv,
progress and loggers are callbacks (mlpcli/callbacks.py); a checkpoint holds the loop's
state plus every callback's (mlpcli/trainstate.py), so ``--resume`` continues exactly as if the
run had never stopped.
"""

from __future__ import annotations

import functools
import math
import os
import time
from dataclasses import dataclass, field

import numpy as np

from . import trainstate
from .callbacks import CallbackList, NullReporter, builtin_callbacks  # noqa: F401 - NullReporter: the old API
from .data import load_for_model
from .dataset import target_scaling, target_units
from .errors import ConfigError, DivergenceError, Interrupted
from .losses import targets_for
from .metrics import RunningMetrics
from .model import MLP, evaluate, split_metrics
from .monitor import Monitor, row_key
from .optimizers import get_optimizer
from .rng import get_state, set_state, streams
from .safeio import resolved
from .schedules import Schedule
from .task import fit_config
from .threads import restore as restore_threads


@dataclass
class TrainResult:
    model: MLP
    history: list = field(default_factory=list)
    epochs_run: int = 0
    stop_reason: str = "epochs"
    best_epoch: int | None = None
    run_dir: str | None = None
    seconds: float = 0.0
    metrics: dict = field(default_factory=dict)
    task: dict = field(default_factory=dict)  # {"task", "classes"}: what the data decided

    def summary(self) -> dict:
        return {"run_dir": resolved(self.run_dir) if self.run_dir else None, "epochs_run": self.epochs_run, "stop_reason": self.stop_reason,
                "best_epoch": self.best_epoch, "seconds": round(self.seconds, 3), **self.task, "metrics": self.metrics}


class StopFlag:
    """Set by a signal handler; the loop checks it between batches."""

    def __init__(self):
        self.signum = 0
        self.armed = False  # False until training starts: before, a signal stops at once (nothing to save)


class Trainer:
    def __init__(self, cfg, *, data=None, run=None, callbacks=(), stop=None):
        self.cfg, self.run, self.stop = cfg, run, stop or StopFlag()
        rngs = streams(cfg.seed)
        if data is None:  # loaded and checked for the network, whose auto widths and head the data decides (task.py)
            cfg, data = load_for_model(cfg, rngs["data"])
        else:  # a Dataset given (the scikit-learn wrapper): the network's ends fitted to it
            cfg = fit_config(cfg, data.task, data.train.X.shape[1])
        self.cfg, self.data = cfg, data
        self.model = m = MLP.from_config(cfg, rngs["init"])
        m.task = self.data.task  # result.model.predict speaks the data's task
        t = cfg.training
        if t.epochs > 0:
            check_trainable(m, cfg)
        es = t.early_stopping
        self.monitor = Monitor(es.monitor if es else ("val_loss" if self.data.val is not None else "train_loss"))
        self.opt = get_optimizer(cfg.optimizer.name, m.n_params, m.dtype, **cfg.optimizer.hyperparams())
        self.sched = Schedule(cfg.schedule.name, cfg.optimizer.lr, t.epochs, cfg.schedule.warmup_epochs,
                              monitor=self.monitor, **cfg.schedule.params())
        self.shuffle_rng = rngs["shuffle"]
        tr, self.classification = self.data.train, self.data.task.classification
        self.X, self.Y = tr.X, targets_for(tr.y, m.loss.name, m.layers[-1], m.dtype)
        self.n = len(self.Y)
        self.batch_size = self.n if t.batch_size == "full" else min(int(t.batch_size), self.n)
        self.n_batches = -(-self.n // self.batch_size)
        scaling = target_scaling(self.data.normalizer)  # regression metrics in the target's units (README "Tables")
        self.running = RunningMetrics(tr.y, self.Y, self.classification, scaling[0] if scaling else None)
        self.unscale = target_units(self.data.normalizer)
        # loop state: saved in every checkpoint with each callback's state
        self.epoch = self.batch = self.step = 0  # completed epochs; next batch of the epoch; optimiser steps
        self.epoch_rng_state, self.history, self.stop_reason, self.last_good = None, [], "epochs", None
        self.callbacks = CallbackList([*builtin_callbacks(self), *callbacks])

    # ------------------------------------------------------------------ checkpoints
    @functools.cached_property
    def config_dict(self) -> dict:
        """The resolved config a checkpoint stores: the same at every save, so built once (the
        checkpoint callback keeps a copy of the state every epoch)."""
        return self.cfg.to_dict()

    def checkpoint_state(self, history=True) -> tuple[dict, dict]:
        """(arrays, meta) of the whole training state (mlpcli/trainstate.py); the arrays are live views."""
        return trainstate.capture(self, history)

    def restore(self, path) -> None:
        """Continue from a checkpoint this config's run wrote (any epoch, or mid-epoch)."""
        trainstate.restore(self, path)

    # ------------------------------------------------------------------ the loop
    def run_training(self) -> TrainResult:
        t0 = time.perf_counter()
        self.callbacks.on_train_start(self)
        stop = None
        try:
            with np.errstate(over="ignore", invalid="ignore"):  # a diverging run is reported as exit 3, not as warnings
                while self.epoch < self.cfg.training.epochs and not stop:
                    stop = self.run_epoch()
        except (Interrupted, DivergenceError):
            raise  # the callbacks have saved what they keep
        except BaseException:
            self.callbacks.on_abort(self, "error")  # a callback raised: keep the last finished epoch
            raise
        try:  # the final evaluation at training's BLAS thread count, the BLAS's own only afterwards (README "Threads")
            self.callbacks.on_train_end(self)  # early stopping restores the best weights here
            result = TrainResult(self.model, self.history, self.epoch, self.stop_reason, self.monitor.best_epoch,
                                 self.run.dir if self.run else None, time.perf_counter() - t0)
            result.metrics = split_metrics(self.model, self.data, self.unscale)
        finally:
            restore_threads()
        result.task = {"task": self.data.task.kind, "classes": self.data.classes}
        return result

    def run_epoch(self) -> str | None:
        """One epoch (or the rest of one after a mid-epoch resume); a stop reason when training should stop."""
        m, opt, lr, running, hooks = self.model, self.opt, self.sched.lr, self.running, self.callbacks.batch_hooks
        t_start = time.perf_counter()
        check = getattr(self.X, "check_unchanged", None)  # a memory-mapped training file (README: must not change)
        if check is not None:
            check()
        if self.batch == 0:
            self.epoch_rng_state = get_state(self.shuffle_rng)
            running.reset()
        else:  # mid-epoch resume: the same order as the interrupted epoch
            set_state(self.shuffle_rng, self.epoch_rng_state)
        perm = self.shuffle_rng.permutation(self.n) if self.cfg.training.shuffle else None
        scale = opt.grad_scale(lr)
        for bi in range(self.batch, self.n_batches):
            Xb, Yb, idx, ws = self.gather(bi, perm)
            loss = m.train_step(Xb, Yb, ws, scale)
            if not math.isfinite(loss):
                raise self.diverged(f"the loss is {loss}")
            opt.step(m.flat, m.grad_flat, lr)
            running.add(loss, ws.A[-1], Yb, idx, ws.pred, ws.work[-1])
            self.step += 1
            self.batch = bi + 1
            for hook in hooks:
                hook(self, loss)
            if self.stop.signum and self.batch < self.n_batches:
                running.seconds += time.perf_counter() - t_start
                self.interrupt()
        if not np.isfinite(m.flat).all():
            raise self.diverged("the weights are no longer finite")
        running.seconds += time.perf_counter() - t_start
        return self.end_epoch(lr)

    def gather(self, bi, perm):
        """Batch ``bi``: (inputs, targets, their rows, workspace), gathered into preallocated buffers."""
        lo, hi = bi * self.batch_size, min((bi + 1) * self.batch_size, self.n)
        ws, X, Y = self.model.workspace(hi - lo), self.X, self.Y
        lazy = not isinstance(X, np.ndarray)
        if perm is None and not lazy:
            return X[lo:hi], Y[lo:hi], slice(lo, hi), ws
        idx = perm[lo:hi] if perm is not None else np.arange(lo, hi)
        # mode="clip": take with the default mode="raise" copies through a temporary buffer; the
        # ndarray method skips np.take's Python wrapper (a microsecond of a small network's step)
        Xb = X.take(idx, out=ws.X) if lazy else X.take(idx, axis=0, out=ws.X, mode="clip")
        Yb = Y.take(idx, axis=0, out=_target_buffer(ws, Y, hi - lo), mode="clip")
        return Xb, Yb, idx, ws

    def end_epoch(self, lr) -> str | None:
        row = {"epoch": self.epoch + 1, **self.running.row()}
        if self.data.val is not None:
            ev = evaluate(self.model, self.data.val.X, self.data.val.y, self.data.task, unscale=self.unscale)
            row.update({f"val_{row_key(k)}": v for k, v in ev.items() if k not in ("n_samples", "mae")})
        row.update(lr=lr, seconds=self.running.seconds)
        self.epoch, self.batch = self.epoch + 1, 0
        self.history.append(row)
        self.sched.end_epoch()
        self.monitor.update(row)
        stop = self.callbacks.on_epoch_end(self, row)
        if stop:
            self.stop_reason = stop
        if self.stop.signum:
            self.interrupt()
        return stop

    def diverged(self, what: str) -> DivergenceError:
        self.callbacks.on_abort(self, "diverged")  # last.npz: the last epoch whose weights were finite
        where = self.last_good or "none (no run directory)"
        return DivergenceError(f"training diverged at epoch {self.epoch + 1}, step {self.step + 1}: {what}; "
                               f"try a smaller optimizer.lr. Last good checkpoint: {where}")

    def interrupt(self):
        import signal

        self.callbacks.on_abort(self, "signal")
        name = signal.Signals(self.stop.signum).name
        raise Interrupted(f"stopped by {name} at epoch {self.epoch + 1}, batch {self.batch}/{self.n_batches}; "
                          f"checkpoint: {self.last_good if self.run else 'none (no run directory)'}", self.stop.signum)


def check_trainable(model, cfg) -> None:
    for layer, g in enumerate(model.activations, start=1):
        if not g.spec.trainable:
            raise ConfigError(f"{cfg.source}: model: layer {layer} uses {g.name!r}, whose derivative is 0, so "
                              f"training gets no gradient; set training.epochs: 0 to evaluate a hand-built network")


def _target_buffer(ws, Y, n):
    """A preallocated buffer for a batch of targets shaped like Y's rows."""
    key = (Y.dtype.str, Y.shape[1:])
    buf = ws.targets.get(key)
    if buf is None:
        buf = ws.targets[key] = np.empty((n, *Y.shape[1:]), Y.dtype)
    return buf


def train(cfg, callbacks=(), *, data=None, run_dir=None, resume=None, overwrite=False, reporter=None, stop=None) -> TrainResult:
    """Train the network ``cfg`` describes, with your ``callbacks`` beside the built-in ones (README
    "Callbacks"). With ``run_dir`` (or ``cfg.output.dir``), write a run directory, checked first and
    touched only once config, data, model and the resumed checkpoint are valid: a failing start
    leaves no directory and an old run intact. ``reporter`` is the old name of one more callback."""
    from .runs import RunDir

    target = run_dir or cfg.output.dir
    run = RunDir(target, resume=resume, overwrite=overwrite) if target else None  # checked; nothing touched yet
    try:
        trainer = Trainer(cfg, data=data, run=run, callbacks=[*callbacks, *([reporter] if reporter else [])], stop=stop)
        if resume is not None:
            trainer.restore(resume)
        if run is not None:
            run.open()  # config, data, model and checkpoint are valid: only now is the run directory touched
        trainer.stop.armed = True  # from here a signal stops the loop with a checkpoint
        return trainer.run_training()
    except BaseException:
        if run is not None and not os.path.exists(run.path("last.npz")):
            run.discard()  # failed before its first checkpoint: no empty run directory, no .lock
        raise
    finally:
        if run is not None:
            run.close()
