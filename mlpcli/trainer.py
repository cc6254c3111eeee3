"""The training loop: shuffled mini-batches, validation, schedule, early stopping, grad_tol,
checkpoints and bit-exact resume.

An epoch draws one permutation from the ``shuffle`` stream, walks it in batches (gathered
into a preallocated buffer), and after each batch takes one optimiser step. The RNG state
at the start of the epoch is kept, so a run stopped mid-epoch resumes the same order at
the same batch. Everything the loop carries from one step to the next is saved in the
checkpoint, so ``--resume`` continues exactly as if the run had never stopped.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from .checkpoint import read_checkpoint, save_checkpoint
from .data import load_data
from .errors import CheckpointError, ConfigError, DivergenceError, Interrupted
from .losses import targets_for
from .model import MLP, evaluate, full_gradient_norm
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

    def summary(self) -> dict:
        return {"run_dir": self.run_dir, "epochs_run": self.epochs_run, "stop_reason": self.stop_reason,
                "best_epoch": self.best_epoch, "seconds": round(self.seconds, 3), "metrics": self.metrics}


class StopFlag:
    """Set by a signal handler; the loop checks it between batches."""

    def __init__(self):
        self.signum = 0


class NullReporter:
    def start(self, trainer): pass
    def batch(self, trainer, loss): pass
    def epoch(self, trainer, row): pass
    def end(self, result): pass


class Trainer:
    def __init__(self, cfg, *, data=None, run=None, reporter=None, stop=None):
        self.cfg, self.run, self.stop = cfg, run, stop or StopFlag()
        self.reporter = reporter or NullReporter()
        rngs = streams(cfg.seed)
        self.data = data if data is not None else load_data(cfg, rngs["data"])
        self.model = MLP.from_config(cfg, rngs["init"])
        t = cfg.training
        if t.epochs > 0:
            for layer, g in enumerate(self.model.activations, start=1):
                if not g.spec.trainable:
                    raise ConfigError(f"{cfg.source}: model: layer {layer} uses {g.name!r}, whose derivative is 0, so "
                                      f"training gets no gradient; set training.epochs: 0 to evaluate a hand-built network")
        m = self.model
        self.opt = get_optimizer(cfg.optimizer.name, m.n_params, m.dtype, **cfg.optimizer.hyperparams())
        self.sched = Schedule(cfg.schedule.name, cfg.optimizer.lr, t.epochs, cfg.schedule.warmup_epochs, **cfg.schedule.params())
        self.shuffle_rng = rngs["shuffle"]
        tr = self.data.train
        self.X, self.y = tr.X, tr.y
        self.Y = targets_for(tr.y, m.loss.name, m.layers[-1], m.dtype)
        self.n = len(self.Y)
        self.batch_size = self.n if t.batch_size == "full" else min(int(t.batch_size), self.n)
        self.n_batches = -(-self.n // self.batch_size)
        self.classification = self.data.task == "classification"
        if not self.classification:  # per-output total sum of squares, for the running R^2
            Yf = self.Y.reshape(self.n, -1).astype(np.float64)
            self.sst = ((Yf - Yf.mean(0)) ** 2).sum(0)
        self.true = None
        if self.classification:
            from .metrics import true_classes

            self.true = true_classes(tr.y)
        es = t.early_stopping
        self.monitor = es.monitor if es else ("val_loss" if self.data.val is not None else "train_loss")
        self.maximize = self.monitor.endswith("accuracy")
        # loop state: everything here is saved in checkpoints
        self.epoch = 0  # completed epochs
        self.batch = 0  # next batch of the current epoch (0: at an epoch boundary)
        self.step = 0
        self.epoch_rng_state = None
        self.partial = {"loss_sum": 0.0, "metric_sum": 0.0, "seen": 0, "seconds": 0.0}
        self.history: list[dict] = []
        self.best = None
        self.best_epoch = None
        self.bad_epochs = 0
        self.best_params = None
        self.stop_reason = "epochs"
        self.last_good = None

    # ------------------------------------------------------------------ checkpoints
    def checkpoint_arrays(self) -> dict:
        arrays = {k: v for k, v in self.model.params.items()}
        for slot, flat in self.opt.state.items():
            for name, view in _split_like(flat, self.model):
                arrays[f"{slot}.{name}"] = view
        if self.best_params is not None:
            arrays.update({f"best.{k}": v for k, v in self.best_params.items()})
        return arrays

    def checkpoint_meta(self) -> dict:
        from . import __version__

        return {
            "config": self.cfg.to_dict(), "normalizer": self.data.normalizer, "task": self.data.task,
            "epoch": self.epoch, "batch": self.batch, "step": self.step,
            "rng": {"shuffle": get_state(self.shuffle_rng), "epoch_start": self.epoch_rng_state},
            "partial": {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in self.partial.items()} if self.batch else None,
            "optimizer": {"name": self.opt.name, **self.opt.extra_state()}, "schedule": self.sched.state_dict(),
            "early_stopping": {"best": self.best, "best_epoch": self.best_epoch, "bad_epochs": self.bad_epochs,
                               "monitor": self.monitor, "stop_reason": self.stop_reason},
            "history": self.history, "metrics": self.history[-1] if self.history else {},
            "has_best": self.best_params is not None,
            "mlpcli_version": __version__, "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }

    def save(self, name: str = "last.npz") -> str | None:
        if self.run is None:
            return None
        path = self.run.path(name)
        save_checkpoint(path, self.checkpoint_arrays(), self.checkpoint_meta())
        if name == "last.npz":
            self.last_good = path
        return path

    def save_best(self) -> None:
        """best.npz is a full checkpoint of the best epoch: it evaluates, and it resumes."""
        self.save("best.npz")

    def restore(self, path) -> None:
        """Continue from a checkpoint this config's run wrote (any epoch, or mid-epoch)."""
        arrays, meta, ck = read_checkpoint(path)
        mine, theirs = self.cfg, ck
        for what, a, b in (("model", mine.model.model_dump(exclude={"init"}), theirs.model.model_dump(exclude={"init"})),
                           ("loss", mine.loss, theirs.loss), ("training.dtype", mine.training.dtype, theirs.training.dtype),
                           ("optimizer", mine.optimizer.model_dump(exclude={"lr"}), theirs.optimizer.model_dump(exclude={"lr"}))):
            if a != b:
                raise CheckpointError(f"{path}: was written with a different {what} than this config's; cannot resume")
        if not meta.get("optimizer"):
            raise CheckpointError(f"{path}: holds weights only (no training state); use it as model.init.from instead")
        self.model.set_params({k: arrays[k] for k in self.model.names})
        for slot, flat in self.opt.state.items():
            for name, view in _split_like(flat, self.model):
                view[...] = arrays[f"{slot}.{name}"]
        self.opt.load_extra_state(meta["optimizer"])
        self.sched.load_state_dict(meta["schedule"])
        set_state(self.shuffle_rng, meta["rng"]["shuffle"])
        self.epoch_rng_state = meta["rng"]["epoch_start"]
        self.epoch, self.batch, self.step = int(meta["epoch"]), int(meta["batch"]), int(meta["step"])
        if meta.get("partial"):
            self.partial = {k: np.asarray(v) if k == "sse" else v for k, v in meta["partial"].items()}
        es = meta["early_stopping"]
        self.best, self.best_epoch, self.bad_epochs = es["best"], es["best_epoch"], int(es["bad_epochs"])
        self.history = list(meta["history"])
        if meta.get("has_best"):
            self.best_params = {k: arrays[f"best.{k}"].copy() for k in self.model.names}
        self.last_good = str(path)

    # ------------------------------------------------------------------ the loop
    def run_training(self) -> TrainResult:
        t0 = time.perf_counter()
        E = self.cfg.training.epochs
        self.reporter.start(self)
        if self.run is not None:
            self.run.write_config(self.cfg)
            self.run.write_metrics(self.history)
            self.save()  # the starting state (initial or resumed): a last good checkpoint from the start
        stopped_early = False
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging run is reported as exit 3, not as warnings
            while self.epoch < E and not stopped_early:
                stopped_early = self.run_epoch()
        if self.best_params is not None and self.cfg.training.early_stopping and self.cfg.training.early_stopping.restore_best:
            self.model.set_params(self.best_params)
        result = TrainResult(self.model, self.history, self.epoch, self.stop_reason, self.best_epoch,
                             self.run.dir if self.run else None, time.perf_counter() - t0)
        result.metrics = self.final_metrics()
        self.reporter.end(result)
        return result

    def run_epoch(self) -> bool:
        """One epoch (or the rest of one after a mid-epoch resume); True when training should stop."""
        m, opt, X, Y = self.model, self.opt, self.X, self.Y
        lr = self.sched.lr
        t_start = time.perf_counter()
        if self.batch == 0:
            self.epoch_rng_state = get_state(self.shuffle_rng)
            self.partial = {"loss_sum": 0.0, "metric_sum": 0.0, "seen": 0, "seconds": 0.0}
            perm = self.shuffle_rng.permutation(self.n) if self.cfg.training.shuffle else None
        else:  # mid-epoch resume: the same order as the interrupted epoch
            set_state(self.shuffle_rng, self.epoch_rng_state)
            perm = self.shuffle_rng.permutation(self.n) if self.cfg.training.shuffle else None
        B, p = self.batch_size, self.partial
        lazy = not isinstance(X, np.ndarray)
        scale = opt.grad_scale(lr)
        for bi in range(self.batch, self.n_batches):
            lo, hi = bi * B, min((bi + 1) * B, self.n)
            ws = m._workspace(hi - lo)
            if perm is None and not lazy:
                Xb, Yb, idx = X[lo:hi], Y[lo:hi], slice(lo, hi)
            else:
                idx = perm[lo:hi] if perm is not None else np.arange(lo, hi)
                # mode="clip": np.take with the default mode="raise" copies through a temporary buffer
                Xb = X.take(idx, out=ws.X) if lazy else np.take(X, idx, axis=0, out=ws.X, mode="clip")
                Yb = np.take(Y, idx, axis=0, out=_target_buffer(ws, Y, hi - lo), mode="clip")
            loss = m._backward(Xb, Yb, ws, scale)
            if not math.isfinite(loss):
                raise self.diverged(f"the loss is {loss}")
            opt.step(m._flat, m._grad_flat, lr)
            nb = hi - lo
            p["loss_sum"] += loss * nb
            p["seen"] += nb
            A = ws.A[-1]
            if self.classification:
                pred = A.argmax(axis=1, out=ws.pred) if A.shape[1] > 1 else np.greater(A[:, 0], 0.5, out=ws.pred, casting="unsafe")
                true = Yb if Yb.ndim == 1 else self.true[idx]  # integer labels: the batch already has them
                p["metric_sum"] += int(np.count_nonzero(pred == true))
            else:
                d = np.subtract(A, Yb, out=ws.work[-1])
                sse = np.einsum("ij,ij->j", d, d).astype(np.float64)  # per output
                p["metric_sum"] += float(sse.sum()) / A.shape[1]
                p["sse"] = p["sse"] + sse if "sse" in p else sse
            self.step += 1
            self.batch = bi + 1
            self.reporter.batch(self, loss)
            if self.stop.signum and self.batch < self.n_batches:
                p["seconds"] += time.perf_counter() - t_start
                self.interrupt()
        if not np.isfinite(m._flat).all():
            raise self.diverged("the weights are no longer finite")
        p["seconds"] += time.perf_counter() - t_start
        row = self.epoch_row(lr)
        self.epoch += 1
        self.batch = 0
        stop = self.end_of_epoch(row)
        if self.stop.signum:
            self.interrupt()
        return stop

    def epoch_row(self, lr) -> dict:
        p, key = self.partial, ("acc" if self.classification else "mse")
        row = {"epoch": self.epoch + 1, "train_loss": p["loss_sum"] / p["seen"], f"train_{key}": p["metric_sum"] / p["seen"]}
        if not self.classification:  # R^2 of the epoch's running predictions, averaged over outputs
            sse = np.asarray(p["sse"])
            row["train_r2"] = float(np.mean(np.where(self.sst > 0, 1 - sse / np.where(self.sst > 0, self.sst, 1), 0.0)))
        if self.data.val is not None:
            ev = evaluate(self.model, self.data.val.X, self.data.val.y, self.data.task)
            row["val_loss"] = ev["loss"]
            row[f"val_{key}"] = ev["accuracy" if self.classification else "mse"]
            if not self.classification:
                row["val_r2"] = ev["r2"]
        row["lr"] = lr
        row["seconds"] = p["seconds"]
        return row

    def end_of_epoch(self, row) -> bool:
        self.history.append(row)
        monitored = row.get("val_loss", row["train_loss"])
        self.sched.end_epoch(monitored)
        value = row.get(self.monitor.replace("accuracy", "acc"))
        es = self.cfg.training.early_stopping
        improved = False
        if value is not None:
            delta = es.min_delta if es else 0.0
            if self.best is None or (value > self.best + delta if self.maximize else value < self.best - delta):
                self.best, self.best_epoch, self.bad_epochs, improved = value, row["epoch"], 0, True
            else:
                self.bad_epochs += 1
        stop = False
        if es and self.bad_epochs > es.patience:
            self.stop_reason, stop = "early_stopping", True
        if improved and es and es.restore_best:
            self.best_params = {k: v.copy() for k, v in self.model.params.items()}
        tol = self.cfg.training.grad_tol
        if tol is not None and not stop:
            gnorm = full_gradient_norm(self.model, self.X, self.Y)
            row["grad_norm"] = gnorm
            if gnorm < tol:
                self.stop_reason, stop = "grad_tol", True
        if self.run is not None:
            self.run.write_metrics(self.history)
            self.save()
            if improved:
                self.save_best()
        self.reporter.epoch(self, row)
        return stop

    def diverged(self, what: str) -> DivergenceError:
        where = self.last_good or "none (no run directory)"
        return DivergenceError(f"training diverged at epoch {self.epoch + 1}, step {self.step + 1}: {what}; "
                               f"try a smaller optimizer.lr. Last good checkpoint: {where}")

    def interrupt(self):
        import signal

        path = self.save()
        name = signal.Signals(self.stop.signum).name
        raise Interrupted(f"stopped by {name} at epoch {self.epoch + 1}, batch {self.batch}/{self.n_batches}; "
                          f"checkpoint: {path or 'none (no run directory)'}", self.stop.signum)

    def final_metrics(self) -> dict:
        out = {}
        for split in ("train", "val", "test"):
            s = getattr(self.data, split)
            if s is not None:
                out[split] = evaluate(self.model, s.X, s.y, self.data.task)
        return out


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


def train(cfg, *, data=None, run_dir=None, resume=None, overwrite=False, reporter=None, stop=None) -> TrainResult:
    """Train the network ``cfg`` describes. With ``run_dir`` (or ``cfg.output.dir``), write a run directory."""
    from .runs import RunDir

    target = run_dir or cfg.output.dir
    run = RunDir(target, resume=resume is not None, overwrite=overwrite) if target else None
    try:
        trainer = Trainer(cfg, data=data, run=run, reporter=reporter, stop=stop)
        if resume is not None:
            trainer.restore(resume)
        return trainer.run_training()
    finally:
        if run is not None:
            run.close()
