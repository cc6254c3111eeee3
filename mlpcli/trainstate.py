"""A checkpoint's training state: the loop's position, the optimiser's and the schedule's state,
and every callback's — everything ``--resume`` needs to continue bit for bit (README "Resume").

``capture(trainer)`` returns the (arrays, meta) a checkpoint stores; ``restore(trainer, path)``
puts a checkpoint's state back into a freshly built trainer of the same config.
"""

from __future__ import annotations

import time

from .checkpoint import read_checkpoint
from .errors import CheckpointError
from .rng import get_state, set_state


def capture(trainer, history=True) -> tuple[dict, dict]:
    """(arrays, meta) of the whole training state: the loop's, then every callback's. The arrays are live views."""
    from . import __version__

    t, model, opt = trainer, trainer.model, trainer.opt
    arrays = dict(model.params)
    for slot, flat in opt.state.items():
        arrays.update({f"{slot}.{name}": view for name, view in split_like(flat, model)})
    arrays.update(t.callbacks.state_arrays())
    meta = {"config": t.config_dict, "normalizer": t.data.normalizer, "task": t.data.task.to_dict(),
            "epoch": t.epoch, "batch": t.batch, "step": t.step,
            "rng": {"shuffle": get_state(t.shuffle_rng), "epoch_start": t.epoch_rng_state},
            "partial": t.running.state_dict() if t.batch else None,
            "optimizer": {"name": opt.name, **opt.extra_state()}, "schedule": t.sched.state_dict(),
            "early_stopping": {**t.monitor.state_dict(), "stop_reason": t.stop_reason},
            "callbacks": t.callbacks.state_dict(), "metrics": t.history[-1] if t.history else {},
            "has_best": "best.W1" in arrays, "mlpcli_version": __version__, "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    if history:
        meta["history"] = t.history
    return arrays, meta


def restore(trainer, path) -> None:
    """Continue from a checkpoint this config's run wrote (any epoch, or mid-epoch)."""
    t, model, opt = trainer, trainer.model, trainer.opt
    arrays, meta, ck = read_checkpoint(path)
    check_resumable(path, t.cfg, ck, meta)
    model.set_params({k: arrays[k] for k in model.names})
    for slot, flat in opt.state.items():
        for name, view in split_like(flat, model):
            view[...] = arrays[f"{slot}.{name}"]
    opt.load_extra_state(meta["optimizer"])
    t.sched.load_state_dict(meta["schedule"])
    set_state(t.shuffle_rng, meta["rng"]["shuffle"])
    t.epoch_rng_state = meta["rng"]["epoch_start"]
    t.epoch, t.batch, t.step = int(meta["epoch"]), int(meta["batch"]), int(meta["step"])
    if t.batch >= t.n_batches:
        raise CheckpointError(f"{path}: stopped at batch {t.batch} of an epoch, but this data has {t.n_batches} "
                              f"batches per epoch; resume with the data and batch size it was written with")
    if meta.get("partial"):
        t.running.load_state_dict(meta["partial"])
    t.monitor.load_state_dict(meta["early_stopping"])
    t.history = list(meta["history"])
    t.callbacks.load_state_dict(meta.get("callbacks") or {})
    t.callbacks.load_state_arrays(arrays)
    t.last_good = str(path)


def check_resumable(path, mine, theirs, meta) -> None:
    """A checkpoint resumes only under the network, loss, dtype and optimiser that wrote it."""
    for what, a, b in (("model", mine.model.model_dump(exclude={"init"}), theirs.model.model_dump(exclude={"init"})),
                       ("loss", mine.loss, theirs.loss), ("training.dtype", mine.training.dtype, theirs.training.dtype),
                       ("optimizer", mine.optimizer.model_dump(exclude={"lr"}), theirs.optimizer.model_dump(exclude={"lr"}))):
        if a != b:
            raise CheckpointError(f"{path}: was written with a different {what} than this config's; cannot resume")
    if not meta.get("optimizer"):
        raise CheckpointError(f"{path}: holds weights only (no training state); use it as model.init.from instead")


def split_like(flat, model):
    """(name, view) of a flat optimiser-state vector, in the layout of the model's parameters."""
    off = 0
    for name in model.names:
        size = model.params[name].size
        yield name, flat[off : off + size].reshape(model.params[name].shape)
        off += size
