"""The monitored metric that early stopping, the plateau schedule and best.npz share.

``Monitor`` reads one column of each epoch's row (``val_loss`` by default) and knows whether it
improved on every earlier epoch; ``Patience`` counts the epochs since it last improved by more
than ``min_delta`` (early stopping and the plateau schedule each hold one, on the same monitor).
"""

from __future__ import annotations


def row_key(name: str) -> str:
    """A metric's key in an epoch's row (metrics.csv's column): accuracy is written acc."""
    return name.replace("accuracy", "acc")


class Monitor:
    """The monitored metric (``val_loss`` by default, ``training.early_stopping.monitor`` when given):
    its value this epoch, whether it improved on every earlier epoch, the best value and its epoch."""

    def __init__(self, name: str):
        self.name = name
        self.column = row_key(name)
        self.maximize = name.endswith("accuracy")
        self.value = self.best = self.best_epoch = None
        self.improved = False

    def better(self, value, than, min_delta=0.0) -> bool:
        return than is None or (value > than + min_delta if self.maximize else value < than - min_delta)

    def update(self, row: dict) -> None:
        self.value = row.get(self.column)
        self.improved = self.value is not None and self.better(self.value, self.best)
        if self.improved:
            self.best, self.best_epoch = self.value, row["epoch"]

    def state_dict(self) -> dict:
        return {"monitor": self.name, "best": self.best, "best_epoch": self.best_epoch}

    def load_state_dict(self, s: dict) -> None:
        self.best, self.best_epoch = s.get("best"), s.get("best_epoch")


class Patience:
    """Epochs since the monitored value last improved by more than ``min_delta`` on its best (Keras' ``wait``)."""

    def __init__(self, monitor: Monitor, patience: int, min_delta: float):
        self.monitor, self.patience, self.min_delta = monitor, int(patience), float(min_delta)
        self.best, self.wait = None, 0

    def update(self) -> bool:
        """Count this epoch; True when the patience has run out."""
        v = self.monitor.value
        if v is not None:
            if self.monitor.better(v, self.best, self.min_delta):
                self.best, self.wait = v, 0
            else:
                self.wait += 1
        return self.wait > self.patience

    def state_dict(self) -> dict:
        return {"best": self.best, "wait": self.wait}

    def load_state_dict(self, s: dict) -> None:
        self.best, self.wait = s["best"], int(s["wait"])
