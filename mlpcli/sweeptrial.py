"""One trial of a sweep: sample the parameters, validate the config, train it in its own run
directory, report each epoch's metric to Optuna and stop when the pruner says so.

A :class:`Job` holds everything a trial needs and pickles, so the same code runs a trial
in the sweep's process, in a ``--workers`` process and as a task on a Dask worker.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass

from .callbacks import Callback
from .errors import ConfigError, DataError, DivergenceError, MLPError
from .sweepfile import SweepSpec, config_for
from .sweepstudy import load_study, optuna
from .trainer import train as run_training


@dataclass
class Job:
    base: dict  # the raw base config, paths absolute
    config_source: str
    spec: dict  # the validated sweep file, as a mapping
    storage: str
    study_name: str
    sweep_dir: str
    owner: str

    def sweep_spec(self) -> SweepSpec:
        return SweepSpec.model_validate(self.spec)


class TrialFailed(Exception):
    """The trial's own failure (its config or its training): recorded, and the sweep goes on."""


class MetricMissing(ConfigError):
    """The sweep's metric is not in the metrics rows of its runs."""


class PruneOnEpoch(Callback):
    """Reports each epoch's metric to Optuna (``trial.report``) and stops the run when
    ``trial.should_prune()`` says so; the trial is then recorded as pruned."""

    key = "sweep_pruning"

    def __init__(self, trial, metric: str, maximize: bool, report: bool = True):
        self.trial, self.metric, self.maximize, self.report = trial, metric, maximize, report
        self.best = None
        self.epochs = 0
        self.pruned = False

    def on_epoch_end(self, trainer, row):
        if self.metric not in row:
            hint = "; a val_ metric needs data.validation_split > 0 in the config" if self.metric.startswith("val_") else ""
            raise MetricMissing(f"metric: the runs' metrics rows have no {self.metric!r} (they have: "
                                f"{', '.join(k for k in row if k not in ('epoch', 'lr', 'seconds'))}){hint}")
        value = float(row[self.metric])
        self.epochs = int(row["epoch"])
        if math.isfinite(value) and (self.best is None or (value > self.best if self.maximize else value < self.best)):
            self.best = value
        if not self.report:  # no pruner: nothing to decide, and each report is a durable write to the study
            return None
        self.trial.report(value, self.epochs)
        self.pruned = self.trial.should_prune()
        return "pruned" if self.pruned else None


def suggest(trial, spec) -> dict:
    """The trial's value of each searched key (a choice given back as written in the sweep file)."""
    from .sweepfile import _label

    params = {}
    for key, dist in spec.space.items():
        if dist.kind == "choice":
            params[key] = trial.suggest_categorical(key, [_label(c) for c in dist.choice])
        elif dist.kind == "int":
            params[key] = trial.suggest_int(key, *dist.bounds)
        else:
            params[key] = trial.suggest_float(key, *dist.bounds, log=dist.kind == "log_uniform")
    return spec.values_of(params)


def trial_dir(sweep_dir: str, number: int) -> str:
    return os.path.join(sweep_dir, f"trial-{number:04d}")


def objective(trial, job: Job, spec: SweepSpec, stop=None):
    for key in ("stopped", "error"):  # a retried trial starts with its predecessor's attributes
        if key in trial.user_attrs:
            trial.set_user_attr(key, None)
    trial.set_user_attr("owner", job.owner)
    run_dir = trial_dir(job.sweep_dir, trial.number)
    trial.set_user_attr("run_dir", run_dir)
    t0 = time.perf_counter()
    params = suggest(trial, spec)
    prune = PruneOnEpoch(trial, spec.metric, spec.direction == "maximize", report=spec.pruner.name != "none")
    try:
        cfg = config_for(job.base, params, f"{job.config_source} (trial {trial.number})")
        run_training(cfg, [prune], run_dir=run_dir, stop=stop)
        if prune.pruned:
            raise optuna().TrialPruned(f"pruned after epoch {prune.epochs}")
        if prune.best is None:
            raise DivergenceError(f"{spec.metric} was never finite")
    except MetricMissing:
        raise  # no trial could report it: the sweep stops
    except (ConfigError, DataError, DivergenceError) as e:  # these values do not fit, or training diverged
        trial.set_user_attr("error", str(e))
        raise TrialFailed(str(e)) from None
    finally:
        trial.set_user_attr("seconds", round(time.perf_counter() - t0, 3))
        trial.set_user_attr("epochs", prune.epochs)
    return prune.best


_STUDIES: dict = {}


def forget_studies() -> None:
    """Drop the studies this process opened (a new sweep may reuse a storage path)."""
    _STUDIES.clear()


def run_trial(job: Job, stop=None, on_start=None) -> dict | None:
    """Run one trial of the job's study; an error that ends the whole sweep comes back as a dict.

    Errors are returned rather than raised so that they cross process and Dask boundaries
    as plain data (``{"error": message, "exit_code": n}``).
    """
    try:
        key = (job.storage, job.study_name)
        if "://" not in job.storage and not os.path.exists(job.storage):  # a journal file this machine does not see
            raise ConfigError(f"{job.storage}: this worker cannot reach the sweep's study; give --storage an RDB URL "
                              f"every worker reaches, or put the sweep directory on a filesystem they share")
        if key not in _STUDIES:  # a worker process runs many trials: open the storage once
            _STUDIES[key] = (load_study(job.storage, job.study_name, job.sweep_spec()), job.sweep_spec())
        study, spec = _STUDIES[key]

        def func(trial):
            if on_start:
                on_start(trial.number)
            try:
                return objective(trial, job, spec, stop)
            except MLPError as e:  # a signal, or a problem of the sweep's (not of this trial's values)
                trial.set_user_attr("stopped", True)  # so the next run of the sweep tries these values again
                trial.set_user_attr("error", str(e))
                raise

        study.optimize(func, n_trials=1, catch=(TrialFailed,))
    except MLPError as e:
        return {"error": str(e), "exit_code": e.exit_code}
    return None


def worker_loop(job: Job, slots, errors) -> None:
    """A ``--workers`` process: run trials while the shared budget has slots left."""
    from .signals import stop_on_signals

    with stop_on_signals() as stop:
        while not stop.signum and claim(slots):
            err = run_trial(job, stop)
            if err:
                errors.put(err)
                return


def claim(slots) -> bool:
    """Take one trial from the budget the processes share; False when none is left."""
    with slots.get_lock():
        if slots.value <= 0:
            return False
        slots.value -= 1
        return True
