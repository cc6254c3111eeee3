"""The Optuna study behind ``mlp sweep``: its storage, sampler and pruner, and which trials count.

The study lives in the sweep directory as Optuna's journal file (``study.log``, safe for
several processes), or in any storage ``--storage`` names (an RDB URL such as
``postgresql://...`` or ``sqlite:///...`` that every Dask worker reaches). A trial killed
with the sweep (``kill -9``) stays RUNNING in the storage; the next run of the same sweep
marks it FAIL and queues its parameters again, as Optuna's
``RetryHeartbeatStaleTrialCallback`` does for stale trials.
"""

from __future__ import annotations

import os
import warnings

import numpy as np

from .errors import ConfigError, DependencyError, require

STUDY_FILE = "study.log"


def need(module: str, extra: str):
    """Import an optional dependency, or say in one line which extra installs it."""
    return require(module, extra, f"mlp sweep needs {module.split('.')[0]} for this; install it with")


def optuna():
    mod = need("optuna", "sweep")
    mod.logging.set_verbosity(mod.logging.ERROR)  # the sweep prints its own lines (failures too)
    return mod


def open_storage(storage: str):
    """A storage from ``--storage``: an RDB URL, a ``redis://`` journal, or a journal file path."""
    op = optuna()
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend, JournalRedisBackend

    if storage.startswith("redis://"):
        return JournalStorage(JournalRedisBackend(storage))
    if "://" in storage:
        try:
            return op.storages.RDBStorage(storage)
        except (ImportError, ModuleNotFoundError) as e:
            raise DependencyError(f"--storage {storage}: {e}") from None
        except Exception as e:  # SQLAlchemy's errors: bad URL, unreachable server
            raise ConfigError(f"--storage {storage}: cannot open the study storage: {e}") from None
    return JournalStorage(JournalFileBackend(storage, lock_obj=_flock(storage)))


def _flock(path: str):
    """A blocking ``flock`` for the journal file, or None (Optuna's default lock) where there is none.

    Optuna's file locks poll, sleeping twice as long after each miss (up to a second), so
    processes that write the study often wait far longer than the lock is held; a process
    waiting on ``flock`` wakes the moment it is free.
    """
    try:
        import fcntl
    except ImportError:  # Windows
        return None
    class FlockLock:  # the two methods of Optuna's BaseJournalFileLock
        def __init__(self):
            self._file = None

        def acquire(self) -> bool:
            self._file = open(path + ".flock", "a")  # noqa: SIM115 - held until release()
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX)
            return True

        def release(self) -> None:
            if self._file is not None:
                self._file.close()  # closing drops the lock
                self._file = None

    return FlockLock()


# ---------------------------------------------------------------------------- sampler and pruner
class TrialSeededSampler:
    """Optuna's sampler, seeded afresh for each trial from (seed, trial number).

    One seeded sampler per process would draw the same parameters in every worker; seeding
    each trial instead makes trial k's draw the same wherever it runs: in process, in
    ``--workers`` processes or on a Dask worker (the history it learns from aside).
    """

    def __init__(self, make, seed):
        self._make, self._seed, self._by_trial = make, seed, {}

    def _for(self, number: int):
        s = self._by_trial.get(number)
        if s is None:
            seed = None if self._seed is None else int(np.random.SeedSequence([self._seed, number]).generate_state(1)[0])
            s = self._by_trial[number] = self._make(seed)
        return s

    def infer_relative_search_space(self, study, trial):
        return self._for(trial.number).infer_relative_search_space(study, trial)

    def sample_relative(self, study, trial, search_space):
        return self._for(trial.number).sample_relative(study, trial, search_space)

    def sample_independent(self, study, trial, param_name, param_distribution):
        return self._for(trial.number).sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study, trial):
        self._for(trial.number).before_trial(study, trial)

    def after_trial(self, study, trial, state, values):
        self._for(trial.number).after_trial(study, trial, state, values)
        self._by_trial.pop(trial.number, None)

    def reseed_rng(self) -> None:
        """Seeds come from the trial numbers; nothing to reseed."""


def make_sampler(spec):
    op = optuna()
    s = spec.sampler
    if s.name == "grid":
        grid = {key: dist.grid() for key, dist in spec.space.items()}
        make = lambda seed: op.samplers.GridSampler(grid, seed=seed)  # noqa: E731
    elif s.name == "random":
        make = lambda seed: op.samplers.RandomSampler(seed=seed)  # noqa: E731
    else:
        make = lambda seed: op.samplers.TPESampler(seed=seed)  # noqa: E731
    return TrialSeededSampler(make, s.seed)


def make_pruner(pruner):
    op = optuna()
    kind = {"none": op.pruners.NopPruner, "median": op.pruners.MedianPruner, "hyperband": op.pruners.HyperbandPruner}
    return kind[pruner.name](**pruner.params())


def load_study(storage: str, name: str, spec, create: bool = False):
    op = optuna()
    kwargs = {"storage": open_storage(storage), "study_name": name, "sampler": make_sampler(spec), "pruner": make_pruner(spec.pruner)}
    if create:
        return op.create_study(direction=spec.direction, load_if_exists=True, **kwargs)
    return op.load_study(**kwargs)


# ---------------------------------------------------------------------------- trials that count
def retried_numbers(trials) -> set:
    """Numbers of failed trials whose parameters were queued again."""
    return {n for t in trials for n in t.system_attrs.get("retry_history", ())}


def counted(trials) -> list:
    """Finished trials that use up the budget: complete, pruned, and failed ones not retried."""
    from optuna.trial import TrialState

    retried = retried_numbers(trials)
    return [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)
            or (t.state == TrialState.FAIL and t.number not in retried and not t.user_attrs.get("stopped"))]


def retry(study, trial) -> None:
    """Queue a failed trial's parameters again (Optuna's own retry callback)."""
    try:
        from optuna.storages import RetryHeartbeatStaleTrialCallback as Retry
    except ImportError:  # its name before Optuna 4.9
        from optuna.storages import RetryFailedTrialCallback as Retry

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the callback is marked experimental
        Retry()(study, trial)


def recover(study, owner: str) -> list[int]:
    """Trials this sweep left unfinished (killed, or stopped by a signal): fail them and queue them again."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    retried = retried_numbers(trials)
    again = []
    for t in trials:
        ours = t.user_attrs.get("owner") == owner
        if t.state == TrialState.RUNNING and ours:  # its process died with the sweep: nothing else runs it
            study.tell(t.number, state=TrialState.FAIL)
        elif not (t.state == TrialState.FAIL and t.user_attrs.get("stopped") and t.number not in retried):
            continue
        retry(study, study.get_trials(deepcopy=False)[t.number])
        again.append(t.number)
    return again


def owner_of(sweep_dir: str) -> str:
    """Which sweep ran a trial: this machine and this sweep directory."""
    import socket

    return f"{socket.gethostname()}:{os.path.abspath(sweep_dir)}"
