"""``mlp sweep``: hyperparameter search on Optuna over a config's keys.

The sweep directory holds the sweep file (``sweep.yaml``), the base config
(``base.yaml``), the Optuna study (``study.log``, unless ``--storage``), one ordinary run
directory per trial (``trial-0007/``), ``sweep.csv`` and ``best.yaml``. Running the same
command again continues the study: finished trials count towards ``trials`` and are
never repeated, and trials the previous run left unfinished are tried again.

Trials run in this process, in ``--workers N`` processes sharing the study (BLAS threads
divided among them), or as tasks on a Dask cluster (``--dask ADDRESS`` or ``--dask
local``). See the README's "Sweeps".
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from .checkpoint import atomic_write_text
from .errors import ConfigError, DivergenceError, Interrupted, MLPError, RunDirError
from .safeio import resolved
from .sweepfile import absolute_paths, check_space, read_sweep
from .sweepstudy import STUDY_FILE, counted, load_study, need, owner_of, recover
from .sweeptrial import Job, forget_studies, run_trial
from .sweepview import SweepView, best_of, sweep_csv, trial_rows

SWEEP_FILES = ("sweep.yaml", "base.yaml", "sweep.csv", "best.yaml", STUDY_FILE)
BLAS_THREADS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")


@dataclass
class SweepResult:
    sweep_dir: str
    study_name: str
    storage: str
    spec: object
    trials: list
    total: int
    seconds: float

    @property
    def best(self):
        return best_of(self.trials, self.spec)

    def summary(self) -> dict:
        rows = trial_rows(self.trials, self.spec)
        counts = {s: sum(r["state"] == s for r in rows) for s in ("complete", "pruned", "failed", "running", "waiting")}
        b = self.best
        best = None
        if b is not None:
            run_dir = b.user_attrs.get("run_dir", "")
            ckpt = next((os.path.join(run_dir, f) for f in ("best.npz", "last.npz") if os.path.exists(os.path.join(run_dir, f))), None)
            best = {"trial": b.number, "value": b.value, "params": self.spec.values_of(b.params), "run_dir": run_dir, "checkpoint": ckpt,
                    "config": os.path.join(self.sweep_dir, "best.yaml")}
        storage = self.storage if "://" in self.storage else resolved(self.storage)  # a journal file: its path
        return {"sweep_dir": self.sweep_dir, "study": self.study_name, "storage": storage, "metric": self.spec.metric,
                "direction": self.spec.direction, "trials": self.total, "counts": counts, "best": best,
                "csv": os.path.join(self.sweep_dir, "sweep.csv"), "seconds": round(self.seconds, 3)}


# ---------------------------------------------------------------------------- the sweep directory
def default_sweep_dir(config, sweep) -> Path:
    return Path("sweeps") / f"{Path(config).stem}-{Path(sweep).stem}"


@contextlib.contextmanager
def locked_sweep_dir(path: str):
    """The sweep directory, created if need be and locked for this sweep (the OS drops the lock on kill -9)."""
    from .runs import _lock_file, holds_run

    if os.path.exists(path) and not os.path.isdir(path):
        raise RunDirError(f"{path}: exists and is not a directory")
    if holds_run(path):
        raise RunDirError(f"{path}: holds a training run, not a sweep; choose another --out")
    if os.path.isdir(path) and os.listdir(path) and not os.path.exists(os.path.join(path, "sweep.yaml")):
        raise RunDirError(f"{path}: holds other files and no sweep; choose another --out")
    try:
        os.makedirs(path, exist_ok=True)
        f = open(os.path.join(path, ".lock"), "a+")  # noqa: SIM115 - held for the sweep
    except OSError as e:
        raise RunDirError(f"{path}: cannot create the sweep directory: {e.strerror or e}") from None
    try:
        _lock_file(f)
    except OSError:
        f.close()
        raise RunDirError(f"{path}: another sweep is running in this directory") from None
    try:
        yield path
    finally:
        f.close()


def _check_same_sweep(sweep_dir: str, spec, base: dict) -> None:
    """A re-run must be the same sweep: same base config and space (``trials`` may grow)."""
    for name, now in (("sweep.yaml", {**spec.to_dict(), "trials": None}), ("base.yaml", base)):
        path = os.path.join(sweep_dir, name)
        if not os.path.exists(path):
            continue
        with open(path) as f:
            before = yaml.safe_load(f) or {}
        if name == "sweep.yaml":
            before["trials"] = None
        if before != now:
            keys = sorted(k for k in {*before, *now} if before.get(k) != now.get(k))
            what = "sweep file" if name == "sweep.yaml" else "config"
            raise ConfigError(f"{sweep_dir}: holds a sweep of another {what} (it differs in: {', '.join(keys)}); "
                              f"run that sweep's command again to continue it, or choose another --out")


def _write(path: str, text: str) -> None:
    try:
        atomic_write_text(path, text)
    except OSError as e:
        raise RunDirError(f"{path}: cannot write: {e.strerror or e}") from None


def write_outputs(sweep_dir: str, spec, trials) -> None:
    """sweep.csv, and best.yaml: the best trial's full config, headed by its value and checkpoint."""
    _write(os.path.join(sweep_dir, "sweep.csv"), sweep_csv(trial_rows(trials, spec), spec))
    b = best_of(trials, spec)
    if b is None:
        return
    run_dir = b.user_attrs.get("run_dir", "")
    with open(os.path.join(run_dir, "config.yaml")) as f:
        config = "".join(line for line in f if not line.startswith("#"))
    head = (f"# best of the sweep's trials: trial {b.number}, {spec.metric} {b.value:.6g} ({spec.direction})\n"
            f"# run directory: {run_dir}\n# train it again with: mlp train best.yaml --out DIR\n")
    _write(os.path.join(sweep_dir, "best.yaml"), head + config)


# ---------------------------------------------------------------------------- running trials
def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@contextlib.contextmanager
def blas_threads(n: int):
    """This process and those started inside use at most ``n`` BLAS threads each (NumPy reads the
    environment when it loads). A thread more than a process's share only spins: OpenBLAS's
    threads busy-wait for about 0.1 s after each split multiply, on the cores the others train on."""
    from .threads import at_most

    before = {k: os.environ.get(k) for k in BLAS_THREADS}
    os.environ.update({k: str(n) for k in BLAS_THREADS})
    try:
        with at_most(n):
            yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _in_process(job, n, view, study, stop, slots=None, errors=None):
    """Run trials here: ``n`` of them, or while the ``slots`` shared with worker processes last."""
    from .sweeptrial import claim

    done = 0
    while not stop.signum and (claim(slots) if slots is not None else done < n):
        err = run_trial(job, stop, on_start=lambda _: view.refresh(study.get_trials(deepcopy=False)))
        done += 1
        view.refresh(study.get_trials(deepcopy=False))
        if err:
            return err
        if errors is not None and not errors.empty():  # a worker process met an error that ends the sweep
            return errors.get()
    return None


def _processes(job, n, workers, view, study, stop):
    """This process and ``workers - 1`` spawned ones take trials from one shared count until it runs out."""
    import multiprocessing
    import signal

    from .sweeptrial import worker_loop

    ctx = multiprocessing.get_context("spawn")  # fresh interpreters: NumPy reads the thread counts at import
    slots, errors = ctx.Value("i", n), ctx.Queue()
    with blas_threads(max(1, cores() // workers)):
        procs = [ctx.Process(target=worker_loop, args=(job, slots, errors)) for _ in range(workers - 1)]
        for p in procs:
            p.start()
        # while the others start (a second or two to import), this process runs trials already, on its share
        err = _in_process(job, n, view, study, stop, slots=slots, errors=errors)
    if err:
        with slots.get_lock():
            slots.value = 0  # the others finish the trial they run
    forwarded = False
    while any(p.is_alive() for p in procs):
        view.refresh(study.get_trials(deepcopy=False))
        if stop.signum and not forwarded:
            forwarded = True
            for p in procs:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p.pid, stop.signum)
        procs[0].join(0.5)
    for p in procs:
        p.join()
    while err is None and not errors.empty():
        err = errors.get()
    died = [p.exitcode for p in procs if p.exitcode]
    if err is None and died and not stop.signum:  # killed, or could not start (its trial, if any, is queued again)
        err = {"error": f"a worker process ended with exit code {died[0]}; run the same command again to continue", "exit_code": 2}
    if err is None and stop.signum:
        err = {"error": f"stopped by {signal.Signals(stop.signum).name}", "exit_code": 128 + stop.signum}
    return err


def _dask(job, n, address, workers, view, study, stop):
    import signal

    from distributed import Client, LocalCluster

    cluster = None
    try:
        if address == "local":
            cluster = LocalCluster(n_workers=workers or cores(), threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster or address, timeout="20s")
    except (OSError, TimeoutError, ValueError) as e:
        if cluster is not None:
            cluster.close()
        raise ConfigError(f"--dask {address}: cannot reach the Dask scheduler: {e}") from None
    err = None
    try:
        view.message(f"dask scheduler {client.scheduler.address}: {len(client.scheduler_info()['workers'])} workers")
        futures = [client.submit(run_trial, job, pure=False) for _ in range(n)]
        pending = set(futures)
        while pending:
            view.refresh(study.get_trials(deepcopy=False))
            for f in [f for f in pending if f.done()]:
                pending.discard(f)
                result = f.result() if f.status == "finished" else {"error": f"a Dask task failed: {f.exception()}", "exit_code": 2}
                err = err or result
            if err or stop.signum:
                client.cancel(list(pending))  # tasks already running on workers finish their trial
                break
            time.sleep(0.5)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    if err is None and stop.signum:
        err = {"error": f"stopped by {signal.Signals(stop.signum).name}", "exit_code": 128 + stop.signum}
    return err


# ---------------------------------------------------------------------------- the sweep
def prepare(config, sweep_file, trials=None, overrides=()):
    """(base config as a raw mapping with absolute paths, its source, the validated sweep file)."""
    from .config import load_config
    from .yamlfile import apply_overrides, read_yaml_file

    cfg = load_config(config, overrides)
    raw, _ = read_yaml_file(config)
    raw = apply_overrides(dict(raw or {}), list(overrides))
    base = absolute_paths(raw, cfg.to_dict())
    base.pop("output", None)  # every trial has its own run directory
    spec, _ = read_sweep(sweep_file, trials)
    check_space(spec, base, str(config), cfg.data.validation_split)
    return base, str(config), spec


def run_sweep(config, sweep_file, *, trials=None, workers: int = 1, storage=None, dask=None, out=None,
              quiet: bool = False, stop=None, view=None) -> SweepResult:
    from .trainer import StopFlag

    t0 = time.perf_counter()
    stop = stop or StopFlag()
    need("optuna", "sweep")  # a missing extra is said before anything is written
    if dask:
        need("distributed", "dask")
    base, source, spec = prepare(config, sweep_file, trials)
    if workers < 1:
        raise ConfigError(f"--workers must be >= 1 (got {workers})")
    sweep_dir = resolved(out or default_sweep_dir(config, sweep_file))  # as every --json names paths
    with locked_sweep_dir(sweep_dir):
        _check_same_sweep(sweep_dir, spec, base)
        has_trials = os.path.exists(os.path.join(sweep_dir, "sweep.csv"))
        if storage is None and has_trials and not os.path.exists(os.path.join(sweep_dir, STUDY_FILE)):
            raise ConfigError(f"{sweep_dir}: its study is in another storage; give the same --storage URL again")
        storage = storage or os.path.join(sweep_dir, STUDY_FILE)
        _write(os.path.join(sweep_dir, "sweep.yaml"), "# the sweep file of this sweep, validated\n" + yaml.safe_dump(spec.to_dict(), sort_keys=False))
        _write(os.path.join(sweep_dir, "base.yaml"), "# the config every trial starts from (paths absolute)\n" + yaml.safe_dump(base, sort_keys=False))
        name = os.path.basename(sweep_dir)
        study = load_study(storage, name, spec, create=True)
        owner = owner_of(sweep_dir)
        again = recover(study, owner)
        total = spec.trials
        if spec.sampler.name == "grid":
            total = min(total, _grid_size(spec))
        remaining = max(0, total - len(counted(study.get_trials(deepcopy=False))))
        view = view or SweepView(spec, total, quiet=quiet)
        where = f"dask {dask}" if dask else f"{workers} worker process{'es' if workers > 1 else ''}" if workers > 1 else "this process"
        view.message(f"sweep {sweep_dir}: {remaining} of {total} trials to run in {where}"
                     + (f"; trying again the parameters of unfinished trial(s) {', '.join(map(str, again))}" if again else ""))
        job = Job(base, source, spec.to_dict(), storage, name, sweep_dir, owner)
        forget_studies()  # in this process, trials open the study afresh each sweep
        err = None
        try:
            if remaining:
                if dask:
                    err = _dask(job, remaining, dask, workers if workers > 1 else None, view, study, stop)
                elif workers > 1:
                    err = _processes(job, remaining, workers, view, study, stop)
                else:
                    err = _in_process(job, remaining, view, study, stop)
            recover(study, owner)  # trials left running or stopped are queued now, so the study shows them waiting
            all_trials = study.get_trials(deepcopy=False)
            view.refresh(all_trials)
        finally:
            view.close()
        write_outputs(sweep_dir, spec, all_trials)
    if err:
        if err["exit_code"] >= 128:
            err["error"] += "; run the same command again to continue the sweep"
        e = Interrupted(err["error"], err["exit_code"] - 128) if err["exit_code"] >= 128 else MLPError(err["error"])
        e.exit_code = err["exit_code"]
        raise e
    result = SweepResult(sweep_dir, name, storage, spec, all_trials, total, time.perf_counter() - t0)
    _check_any_complete(result)
    return result


def _grid_size(spec) -> int:
    size = 1
    for dist in spec.space.values():
        size *= len(dist.grid())
    return size


def _check_any_complete(result: SweepResult) -> None:
    """A sweep none of whose trials completed fails as training does: exit 3 if they diverged, else 2."""
    if result.best is not None or not result.trials:
        return
    reasons = [t.user_attrs.get("error") or "stopped" for t in result.trials if t.state.name == "FAIL"]
    if not reasons:
        return  # all pruned: each has its last metric; nothing failed
    first = reasons[0].splitlines()[0]
    err = DivergenceError if all("diverged" in r for r in reasons) else MLPError
    raise err(f"no trial of {result.sweep_dir} completed ({len(reasons)} failed); the first: {first}")
