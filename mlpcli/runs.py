"""The run directory: resolved config, metrics.csv, last.npz and best.npz.

mlp writes a marker (``.mlp-run``) in every run directory it creates and writes only into
directories that have one (or are new or empty): a folder of the user's own is never written
into, and only mlp's own files (``RUN_FILES``, its temporary names) are ever replaced or
deleted. A run directory is never overwritten silently, and ``--overwrite`` replaces the old
run only when the new one has validated everything and is about to train: ``check_target``
runs first and touches nothing, ``RunDir`` creates or takes over the directory after.
Only one training writes to a run directory at a time: it is locked with ``flock`` for the
life of the run (the kernel releases the lock when the process dies, even by SIGKILL, so a
crash never leaves a stale lock).
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re

import yaml

from .checkpoint import atomic_write_text
from .errors import RunDirError
from .safeio import open_regular, os_reason

RUN_FILES = ("config.yaml", "metrics.csv", "last.npz", "best.npz")
MARKER = ".mlp-run"  # "this directory is an mlp run directory": written first, before any run file
LOCK = ".lock"
_OWN_TEMP = re.compile(r"^\.({})\.\d+(-\d+)?\.tmp$".format("|".join(re.escape(f) for f in RUN_FILES)))


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
    return any(os.path.lexists(os.path.join(path, f)) for f in RUN_FILES)


def is_run_dir(path) -> bool:
    return os.path.isfile(os.path.join(path, MARKER))


def _same_dir(a, b) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def check_target(path, *, resume=None, overwrite: bool = False) -> str:
    """The run directory ``path`` may be used for this run: refuse, touching nothing, when it is
    a file, a folder mlp did not create, or holds another run (without ``--overwrite``)."""
    d = os.path.abspath(os.fspath(path))
    if os.path.lexists(d) and not os.path.isdir(d):
        raise RunDirError(f"{d}: exists and is not a directory")
    if not os.path.isdir(d):
        return d
    try:
        entries = os.listdir(d)
    except OSError as e:
        raise RunDirError(f"{d}: cannot read the run directory: {os_reason(e)}") from None
    if not is_run_dir(d):
        if entries:
            hint = "give --out DIR (a new directory) for the continued run" if resume is not None else "choose a new or empty --out"
            raise RunDirError(f"{d}: is not an mlp run directory (it has no {MARKER} marker and holds other files); "
                              f"mlp does not write into it: {hint}")
        return d
    own = resume is not None and _same_dir(os.path.dirname(os.path.abspath(os.fspath(resume))), d)
    if holds_run(d) and not own and not overwrite:
        raise RunDirError(f"{d}: holds a run already; continue it with --resume "
                          f"{os.path.join(d, 'last.npz')}, replace it with --overwrite, or choose another --out")
    return d


class RunDir:
    """A run directory: ``RunDir(...)`` checks it and touches nothing; ``open()`` creates (or takes
    over) the directory, locks it, and replaces the old run's files when ``overwrite`` (never when
    continuing the run the directory holds). The trainer opens it once everything validated."""

    def __init__(self, path, *, resume=None, overwrite: bool = False):
        self.dir = check_target(path, resume=resume, overwrite=overwrite)
        self.resume, self.overwrite = resume, overwrite
        self._lock = None
        self._created = self._made_marker = self._made_lock = False

    def open(self) -> RunDir:
        check_target(self.dir, resume=self.resume, overwrite=self.overwrite)  # again: time has passed
        try:
            self._create()
            self._lock = self._acquire_lock()
            self._remove_own_temps()
            own = self.resume is not None and _same_dir(os.path.dirname(os.path.abspath(os.fspath(self.resume))), self.dir)
            if holds_run(self.dir) and not own:
                for f in RUN_FILES:  # --overwrite, checked above: only mlp's own run files go
                    if os.path.isfile(self.path(f)) and not os.path.islink(self.path(f)):
                        os.unlink(self.path(f))
        except OSError as e:
            self.discard()
            raise RunDirError(f"{e.filename or self.dir}: cannot set up the run directory: {os_reason(e)}") from None
        except BaseException:
            self.discard()
            raise
        return self

    def _create(self) -> None:
        parent = os.path.dirname(self.dir)
        if not os.path.isdir(parent):
            os.makedirs(parent, exist_ok=True)
        try:
            os.mkdir(self.dir)
            self._created = True
        except FileExistsError:
            if not os.path.isdir(self.dir):
                raise RunDirError(f"{self.dir}: exists and is not a directory") from None
        if not is_run_dir(self.dir):
            if os.path.lexists(self.path(MARKER)):
                raise RunDirError(f"{self.path(MARKER)}: exists and is not mlp's marker file")
            atomic_write_text(self.path(MARKER), "mlpcli run directory: mlp writes here and replaces only its own files\n")
            self._made_marker = True

    def _acquire_lock(self):
        path = self.path(LOCK)
        if os.path.lexists(path) and (os.path.islink(path) or not os.path.isfile(path)):
            raise RunDirError(f"{path}: exists and is not a regular file (mlp's lock file); remove it")
        self._made_lock = not os.path.lexists(path)
        f = open(path, "a+")  # noqa: SIM115 - held open for the run
        try:
            _lock_file(f)
        except OSError:
            f.close()
            self._made_lock = False
            raise RunDirError(f"{self.dir}: another training is writing to this run directory") from None
        return f

    def _remove_own_temps(self) -> None:
        """Temporary files of a killed writer: mlp's own names only, regular files only."""
        for name in os.listdir(self.dir):
            p = self.path(name)
            if _OWN_TEMP.match(name) and os.path.isfile(p) and not os.path.islink(p):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(p)

    def close(self):
        if self._lock is not None:
            self._lock.close()  # closing the file releases the flock
            self._lock = None

    def discard(self) -> None:
        """Undo this run's set-up after a failure before its first checkpoint: what it created goes
        (the lock, the marker, its config and metrics, and the directory when it made it)."""
        made_lock = self._made_lock
        self.close()
        if self._created:
            for f in (*RUN_FILES, MARKER, LOCK):
                with contextlib.suppress(OSError):
                    os.unlink(self.path(f))
            with contextlib.suppress(OSError):
                os.rmdir(self.dir)  # only when now empty: files of others are never removed
            return
        for f, mine in ((LOCK, made_lock), (MARKER, self._made_marker)):
            if mine:
                with contextlib.suppress(OSError):
                    os.unlink(self.path(f))

    def path(self, name: str) -> str:
        return os.path.join(self.dir, name)

    def write_config(self, config: dict) -> None:
        atomic_write_text(self.path("config.yaml"), config_yaml(config))


def config_yaml(config: dict) -> str:
    """A run's config.yaml: the resolved config (``Config.to_dict``) as YAML, under a comment saying so."""
    return "# resolved config of this run (every default filled in; paths absolute)\n" + yaml.safe_dump(config, sort_keys=False)


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
    """metrics.csv as rows of numbers; anything else in it is a RunDirError naming the file."""
    try:
        with open_regular(path, RunDirError, "metrics file", "a metrics.csv") as f:
            rows = list(csv.DictReader(io.TextIOWrapper(f, encoding="utf-8", newline="")))
        out = [{k: (float(v) if v not in ("", None) else None) for k, v in row.items() if k is not None} for row in rows]
        for i, row in enumerate(out, start=2):
            if row.get("epoch") is None or row.get("train_loss") is None:
                raise ValueError(f"line {i} has no epoch or train_loss")
        return out
    except (ValueError, TypeError, csv.Error) as e:  # UnicodeDecodeError is a ValueError
        raise RunDirError(f"{path}: not a metrics.csv written by mlp ({' '.join(str(e).split())[:120]})") from None
