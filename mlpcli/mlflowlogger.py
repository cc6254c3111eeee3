"""``--log mlflow``: the run in an MLflow tracking store (README "Loggers").

The store is ``$MLFLOW_TRACKING_URI``, by default a local one beside the run directory
(``sqlite:///<parent>/mlflow.db``, artifacts in ``<parent>/mlartifacts``); the experiment is
the config's name, the MLflow run is named after the run directory. Parameters: the resolved
config, flattened (``optimizer.lr``); metrics: every number of each epoch's row, at
step = epoch, sent in batches at most every few seconds; at the end (or when a signal,
divergence or error ends the run) the run directory's files as artifacts. A resumed run
continues the same MLflow run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import warnings

from .hooks import Callback
from .loggers import require, scalars

SEND_EVERY = 5.0  # seconds between two batches of metrics (each is a database transaction)
STATUS = {"signal": "KILLED", "diverged": "FAILED", "error": "FAILED"}


class MLflowLogger(Callback):
    order, key = 96, "mlflow"  # after the checkpoints (90) and TensorBoard (94): the artifacts are complete

    def __init__(self, trainer):
        self.tracking = require("mlflow.tracking", "mlflow")
        self.entities = require("mlflow.entities", "mlflow")
        self.uri = os.environ.get("MLFLOW_TRACKING_URI") or default_uri(trainer.run)
        self.run_id, self.pending, self.sent = None, [], 0.0

    def on_train_start(self, trainer):
        from .compare import flatten
        from .config import config_name

        with quiet():  # MLflow logs its database set-up at INFO level and SQLAlchemy warns
            self.client = self.tracking.MlflowClient(tracking_uri=self.uri)
        if self.run_id is not None:  # resumed: the same MLflow run goes on
            self.client.update_run(self.run_id, status="RUNNING")
            return
        name = config_name(trainer.cfg)
        exp = self.client.get_experiment_by_name(name)
        location = artifact_location(trainer.run) if not os.environ.get("MLFLOW_TRACKING_URI") else None
        exp_id = exp.experiment_id if exp else self.client.create_experiment(name, artifact_location=location)
        run_name = os.path.basename(os.path.abspath(trainer.run.dir)) if trainer.run else None
        self.run_id = self.client.create_run(exp_id, run_name=run_name).info.run_id
        params = [self.entities.Param(k, str(v)[:6000]) for k, v in flatten(trainer.config_dict).items()]
        for i in range(0, len(params), 100):  # MLflow takes at most 100 parameters per batch
            self.client.log_batch(self.run_id, params=params[i : i + 100])

    def on_epoch_end(self, trainer, row):
        ms = int(time.time() * 1000)
        self.pending += [self.entities.Metric(k, v, ms, int(row["epoch"])) for k, v in scalars(row).items()]
        if time.monotonic() - self.sent >= SEND_EVERY:
            self.send()

    def send(self):
        for i in range(0, len(self.pending), 1000):  # at most 1,000 metrics per batch
            self.client.log_batch(self.run_id, metrics=self.pending[i : i + 1000])
        self.pending, self.sent = [], time.monotonic()

    def finish(self, trainer, status):
        if self.run_id is None or getattr(self, "client", None) is None:
            return
        self.send()
        if trainer.run is not None:
            for entry in sorted(os.scandir(trainer.run.dir), key=lambda e: e.name):
                if entry.name.startswith("."):  # the lock and mlp's own marker
                    continue
                if entry.is_dir():
                    self.client.log_artifacts(self.run_id, entry.path, artifact_path=entry.name)
                else:
                    self.client.log_artifact(self.run_id, entry.path)
        self.client.set_terminated(self.run_id, status)

    def on_train_end(self, trainer):
        self.finish(trainer, "FINISHED")

    def on_abort(self, trainer, reason):
        self.finish(trainer, STATUS.get(reason, "FAILED"))

    def state_dict(self):
        return {"run_id": self.run_id, "uri": self.uri} if self.run_id else {}

    def load_state_dict(self, state):
        if state.get("uri") == self.uri:  # the same store: continue its run
            self.run_id = state.get("run_id")


def store_dir(run) -> str:
    """Where the default store lives: beside the run directory (or here without one)."""
    return os.path.dirname(os.path.abspath(run.dir)) if run is not None else os.getcwd()


def default_uri(run) -> str:
    return "sqlite:///" + os.path.join(store_dir(run), "mlflow.db")


def artifact_location(run) -> str:
    from pathlib import Path

    return Path(store_dir(run), "mlartifacts").as_uri()


@contextlib.contextmanager
def quiet():
    """MLflow's INFO lines and SQLAlchemy's deprecation warnings off stderr, for a moment."""
    levels = {n: logging.getLogger(n).level for n in ("mlflow", "alembic")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for n in levels:
            logging.getLogger(n).setLevel(logging.WARNING)
        try:
            yield
        finally:
            for n, level in levels.items():
                logging.getLogger(n).setLevel(level)
