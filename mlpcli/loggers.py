"""Loggers (README "Loggers"): callbacks that send a run to TensorBoard or MLflow as it trains.

``output.log`` (``mlp train --log NAME``, repeatable) names them. Each needs its extra; the
trainer builds them before the run directory is touched, so a missing extra is one line with
its install command (exit 2) before any training. Their packages are imported only then, so
``mlp --help`` does not pay for them.
"""

from __future__ import annotations

import importlib
import math

from . import errors

# the one list of loggers: output.log's valid names and --log's help follow it
LOGGERS = {"tensorboard": ("tblogger", "TensorBoardLogger"), "mlflow": ("mlflowlogger", "MLflowLogger")}


def require(module: str, extra: str):
    """``module`` imported, or the one line that says how to install the extra it comes with."""
    return errors.require(module, extra, f"--log {extra} needs the {extra} extra")


def make_loggers(names, trainer) -> list:
    """The logger callbacks ``names`` (``output.log``, validated against LOGGERS) asks for, each
    once, their packages imported now."""
    out = []
    for name in dict.fromkeys(names):
        module, cls = LOGGERS[name]
        out.append(getattr(importlib.import_module(f".{module}", __package__), cls)(trainer))
    return out


def scalars(row: dict) -> dict:
    """The finite numbers of an epoch's row, the epoch itself aside: what a logger records."""
    return {k: float(v) for k, v in row.items()
            if k != "epoch" and isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}
