"""The callback protocol: ``Callback`` (every hook a no-op) and ``CallbackList``, which the loop talks to.

Built-in callbacks are in mlpcli/callbacks.py (README "Callbacks"); this module imports nothing
of mlpcli, so any module can define a callback without an import cycle.
"""

from __future__ import annotations

HOOKS = ("on_train_start", "on_batch_end", "on_epoch_end", "on_train_end", "on_abort")


class Callback:
    """Base class with every hook a no-op: override the ones you need. ``order`` sorts the list
    (state-changing built-ins 0, your callbacks 50, metrics.csv and checkpoints 80-90, displays 100)."""

    order = 50

    def on_train_start(self, trainer) -> None:
        pass

    def on_batch_end(self, trainer, loss: float) -> None:
        pass

    def on_epoch_end(self, trainer, row: dict) -> bool | str | None:
        return None

    def on_train_end(self, trainer) -> None:
        pass

    def on_abort(self, trainer, reason: str) -> None:
        pass

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


def _overrides(cb, hook: str) -> bool:
    impl = getattr(type(cb), hook, None)
    return impl is not None and impl is not getattr(Callback, hook)


class CallbackList:
    """The loop talks only to this: each hook calls the callbacks that override it, in ``order``."""

    def __init__(self, callbacks=()):
        self.callbacks = sorted(callbacks, key=lambda c: getattr(c, "order", 50))
        self.hooks = {h: [getattr(c, h) for c in self.callbacks if _overrides(c, h)] for h in HOOKS}
        self.batch_hooks = self.hooks["on_batch_end"]  # empty unless a callback wants every batch
        self.keys = {}
        for c in self.callbacks:
            key = getattr(c, "key", None) or type(c).__name__
            n = sum(k == key or k.startswith(key + "#") for k in self.keys.values())
            self.keys[id(c)] = key if n == 0 else f"{key}#{n}"

    def on_train_start(self, trainer):
        for f in self.hooks["on_train_start"]:
            f(trainer)

    def on_epoch_end(self, trainer, row) -> str | None:
        """Every callback sees the epoch; the first that asks to stop names the reason."""
        reason = None
        for f in self.hooks["on_epoch_end"]:
            stop = f(trainer, row)
            if stop and reason is None:
                reason = stop if isinstance(stop, str) else type(f.__self__).__name__
        return reason

    def on_train_end(self, trainer):
        for f in self.hooks["on_train_end"]:
            f(trainer)

    def on_abort(self, trainer, reason):
        for f in self.hooks["on_abort"]:
            f(trainer, reason)

    def state_dict(self) -> dict:
        out = {}
        for c in self.callbacks:
            state = c.state_dict() if hasattr(c, "state_dict") else {}
            if state:
                out[self.keys[id(c)]] = state
        return out

    def load_state_dict(self, states: dict) -> None:
        for c in self.callbacks:
            state = states.get(self.keys[id(c)])
            if state is not None and hasattr(c, "load_state_dict"):
                c.load_state_dict(state)

    def state_arrays(self) -> dict:
        """Arrays the built-ins keep in a checkpoint (early stopping's best weights as ``best.W1``, ...)."""
        out = {}
        for c in self.callbacks:
            out.update(c.state_arrays() if hasattr(c, "state_arrays") else {})
        return out

    def load_state_arrays(self, arrays: dict) -> None:
        for c in self.callbacks:
            if hasattr(c, "load_state_arrays"):
                c.load_state_arrays(arrays)
