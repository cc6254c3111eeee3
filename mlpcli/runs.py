"""The run directory: resolved config, metrics.csv, last.npz and best.npz.

A run directory is never overwritten silently, and only one training writes to it at a
time: it is locked with ``flock`` for the life of the run (the kernel releases the lock
when the process dies, even by SIGKILL, so a crash never leaves a stale lock).
"""

from __future__ import annotations

import csv
import glob
import os

import yaml

from .checkpoint import atomic_write_text
from .errors import RunDirError

RUN_FILES = ("config.yaml", "metrics.csv", "last.npz", "best.npz")


def _lock_file(f) -> None:
    """An exclusive, non-blocking lock that the OS drops when the process ends (even by kill -9)."""
    if os.name == "nt":
        import msvcrt

        f.seek(0)
        msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)  # the file's first byte stands for the directory
    else:
        import fcntl

        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


def holds_run(path) -> bool:
    return any(os.path.exists(os.path.join(path, f)) for f in RUN_FILES)


class RunDir:
    def __init__(self, path, *, resume: bool = False, overwrite: bool = False):
        self.dir = os.path.abspath(os.fspath(path))
        if os.path.exists(self.dir) and not os.path.isdir(self.dir):
            raise RunDirError(f"{self.dir}: exists and is not a directory")
        try:
            os.makedirs(self.dir, exist_ok=True)
        except OSError as e:
            raise RunDirError(f"{self.dir}: cannot create the run directory: {e.strerror or e}") from None
        self._lock = self._acquire_lock()
        try:
            for tmp in glob.glob(os.path.join(self.dir, ".*.tmp")):  # left by a killed run
                os.unlink(tmp)
            if holds_run(self.dir) and not resume:
                if not overwrite:
                    raise RunDirError(f"{self.dir}: holds a run already; continue it with --resume "
                                      f"{os.path.join(self.dir, 'last.npz')}, replace it with --overwrite, or choose another --out")
                for f in RUN_FILES:
                    if os.path.exists(self.path(f)):
                        os.unlink(self.path(f))
        except BaseException:
            self.close()
            raise

    def _acquire_lock(self):
        f = open(os.path.join(self.dir, ".lock"), "a+")  # noqa: SIM115 - held open for the run
        try:
            _lock_file(f)
        except OSError:
            f.close()
            raise RunDirError(f"{self.dir}: another training is writing to this run directory") from None
        return f

    def close(self):
        if self._lock is not None:
            self._lock.close()  # closing the file releases the flock
            self._lock = None

    def path(self, name: str) -> str:
        return os.path.join(self.dir, name)

    def write_config(self, cfg) -> None:
        text = "# resolved config of this run (every default filled in; paths absolute)\n"
        text += yaml.safe_dump(cfg.to_dict(), sort_keys=False)
        atomic_write_text(self.path("config.yaml"), text)


COLUMN_ORDER = ("epoch", "train_loss", "train_acc", "train_mse", "train_r2", "val_loss", "val_acc", "val_mse", "val_r2",
                "lr", "seconds", "grad_norm")


def metric_columns(history) -> list[str]:
    """metrics.csv's header: the usual columns in their usual order, then any other in order of appearance."""
    seen = dict.fromkeys(k for row in history for k in row)
    return [k for k in COLUMN_ORDER if k in seen] + [k for k in seen if k not in COLUMN_ORDER] or \
        ["epoch", "train_loss", "lr", "seconds"]


def csv_line(row: dict, columns) -> str:
    """One row of metrics.csv: integers as they are, floats to 9 significant digits, missing values empty."""
    cells = ("" if row.get(c) is None else (str(row[c]) if isinstance(row[c], int) else f"{row[c]:.9g}") for c in columns)
    return ",".join(cells) + "\n"


def metrics_csv(history, columns=None) -> str:
    """The whole of metrics.csv for ``history`` (a run's start and a new column rewrite it; epochs append)."""
    columns = columns or metric_columns(history)
    return ",".join(columns) + "\n" + "".join(csv_line(row, columns) for row in history)


def read_metrics(path) -> list[dict]:
    with open(path, newline="") as f:
        return [{k: (float(v) if v != "" else None) for k, v in row.items()} for row in csv.DictReader(f)]
