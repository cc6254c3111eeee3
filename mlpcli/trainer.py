"""The training loop: shuffled mini-batches, one optimiser step each, and callbacks for the rest.

An epoch draws one permutation from the ``shuffle`` stream, walks it in batches (gathered
into a preallocated buffer), and after each batch takes one optimiser step. The RNG state
at the start of the epoch is kept, so a run stopped mid-epoch resumes the same order at
the same batch. Early stopping, the plateau schedule, grad_tol, checkpoints, metrics.csv,
progress and loggers are callbacks (mlpcli/callbacks.py); a checkpoint holds the loop's
state plus every callback's, so ``--resume`` continues exactly as if the run had never stopped.
"""

from __future__ import annotations

import functools
import math
import os
import time
from dataclasses import dataclass, field

import numpy as np

from .callbacks import CallbackList, NullReporter, builtin_callbacks  # noqa: F401 - NullReporter: the old API
from .checkpoint import read_checkpoint
from .data import load_data
from .errors import CheckpointError, ConfigError, DivergenceError, Interrupted
from .losses import targets_for
from .metrics import RunningMetrics
from .model import MLP, evaluate
from .monitor import Monitor
from .optimizers import get_optimizer
from .rng import get_state, set_state, streams
from .schedules import Schedule


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
        return {"run_dir": self.run_dir, "epochs_run": self.epochs_run, "stop_reason": self.stop_reason,
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
        self.data = data if data is not None else load_data(cfg, rngs["data"])
        self.model = m = MLP.from_config(cfg, rngs["init"])
        t = cfg.training
        if t.epochs > 0:
            check_trainable(m, cfg)
        es = t.early_stopping
        self.monitor = Monitor(es.monitor if es else ("val_loss" if self.data.val is not None else "train_loss"))
        self.opt = get_optimizer(cfg.optimizer.name, m.n_params, m.dtype, **cfg.optimizer.hyperparams())
        self.sched = Schedule(cfg.schedule.name, cfg.optimizer.lr, t.epochs, cfg.schedule.warmup_epochs,
                              monitor=self.monitor, **cfg.schedule.params())
        self.shuffle_rng = rngs["shuffle"]
        tr, self.classification = self.data.train, self.data.task == "classification"
        self.X, self.Y = tr.X, targets_for(tr.y, m.loss.name, m.layers[-1], m.dtype)
        self.n = len(self.Y)
        self.batch_size = self.n if t.batch_size == "full" else min(int(t.batch_size), self.n)
        self.n_batches = -(-self.n // self.batch_size)
        self.running = RunningMetrics(tr.y, self.Y, self.classification)
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
        """(arrays, meta) of the whole training state: the loop's, then every callback's. The arrays are live views."""
        from . import __version__

        arrays = dict(self.model.params)
        for slot, flat in self.opt.state.items():
            arrays.update({f"{slot}.{name}": view for name, view in _split_like(flat, self.model)})
        arrays.update(self.callbacks.state_arrays())
        meta = {"config": self.config_dict, "normalizer": self.data.normalizer, "task": self.data.task,
                "epoch": self.epoch, "batch": self.batch, "step": self.step,
                "rng": {"shuffle": get_state(self.shuffle_rng), "epoch_start": self.epoch_rng_state},
                "partial": self.running.state_dict() if self.batch else None,
                "optimizer": {"name": self.opt.name, **self.opt.extra_state()}, "schedule": self.sched.state_dict(),
                "early_stopping": {**self.monitor.state_dict(), "stop_reason": self.stop_reason},
                "callbacks": self.callbacks.state_dict(), "metrics": self.history[-1] if self.history else {},
                "has_best": "best.W1" in arrays, "mlpcli_version": __version__, "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        if history:
            meta["history"] = self.history
        return arrays, meta

    def restore(self, path) -> None:
        """Continue from a checkpoint this config's run wrote (any epoch, or mid-epoch)."""
        arrays, meta, ck = read_checkpoint(path)
        check_resumable(path, self.cfg, ck, meta)
        self.model.set_params({k: arrays[k] for k in self.model.names})
        for slot, flat in self.opt.state.items():
            for name, view in _split_like(flat, self.model):
                view[...] = arrays[f"{slot}.{name}"]
        self.opt.load_extra_state(meta["optimizer"])
        self.sched.load_state_dict(meta["schedule"])
        set_state(self.shuffle_rng, meta["rng"]["shuffle"])
        self.epoch_rng_state = meta["rng"]["epoch_start"]
        self.epoch, self.batch, self.step = int(meta["epoch"]), int(meta["batch"]), int(meta["step"])
        if self.batch >= self.n_batches:
            raise CheckpointError(f"{path}: stopped at batch {self.batch} of an epoch, but this data has {self.n_batches} "
                                  f"batches per epoch; resume with the data and batch size it was written with")
        if meta.get("partial"):
            self.running.load_state_dict(meta["partial"])
        self.monitor.load_state_dict(meta["early_stopping"])
        self.history = list(meta["history"])
        self.callbacks.load_state_dict(meta.get("callbacks") or {})
        self.callbacks.load_state_arrays(arrays)
        self.last_good = str(path)

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
        self.callbacks.on_train_end(self)  # early stopping restores the best weights here
        result = TrainResult(self.model, self.history, self.epoch, self.stop_reason, self.monitor.best_epoch,
                             self.run.dir if self.run else None, time.perf_counter() - t0)
        result.metrics = self.final_metrics()
        result.task = {"task": self.data.task, "classes": self.data.classes}
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
            ev = evaluate(self.model, self.data.val.X, self.data.val.y, self.data.task)
            row.update({f"val_{k.replace('accuracy', 'acc')}": v for k, v in ev.items() if k not in ("n_samples", "mae")})
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

    def final_metrics(self) -> dict:
        out = {}
        for split in ("train", "val", "test"):
            s = getattr(self.data, split)
            if s is not None:
                out[split] = evaluate(self.model, s.X, s.y, self.data.task)
        return out


def check_trainable(model, cfg) -> None:
    for layer, g in enumerate(model.activations, start=1):
        if not g.spec.trainable:
            raise ConfigError(f"{cfg.source}: model: layer {layer} uses {g.name!r}, whose derivative is 0, so "
                              f"training gets no gradient; set training.epochs: 0 to evaluate a hand-built network")


def check_resumable(path, mine, theirs, meta) -> None:
    """A checkpoint resumes only under the network, loss, dtype and optimiser that wrote it."""
    for what, a, b in (("model", mine.model.model_dump(exclude={"init"}), theirs.model.model_dump(exclude={"init"})),
                       ("loss", mine.loss, theirs.loss), ("training.dtype", mine.training.dtype, theirs.training.dtype),
                       ("optimizer", mine.optimizer.model_dump(exclude={"lr"}), theirs.optimizer.model_dump(exclude={"lr"}))):
        if a != b:
            raise CheckpointError(f"{path}: was written with a different {what} than this config's; cannot resume")
    if not meta.get("optimizer"):
        raise CheckpointError(f"{path}: holds weights only (no training state); use it as model.init.from instead")


def _target_buffer(ws, Y, n):
    """A preallocated buffer for a batch of targets shaped like Y's rows."""
    key = (Y.dtype.str, Y.shape[1:])
    buf = ws.targets.get(key)
    if buf is None:
        buf = ws.targets[key] = np.empty((n, *Y.shape[1:]), Y.dtype)
    return buf


def _split_like(flat, model):
    """(name, view) of a flat optimiser-state vector, in the layout of the model's parameters."""
    off = 0
    for name in model.names:
        size = model.params[name].size
        yield name, flat[off : off + size].reshape(model.params[name].shape)
        off += size


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
