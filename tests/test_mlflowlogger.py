"""--log mlflow: params, metrics and artifacts read back with mlflow.MlflowClient."""

from pathlib import Path

import pytest

import mlpcli
from mlpcli.compare import flatten
from mlpcli.config import config_name
from mlpcli.mlflowlogger import MLflowLogger, default_uri

pytest.importorskip("mlflow")


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    """A run of 3 epochs resumed to 5, logged to the default store beside its run directory."""
    runs = tmp_path_factory.mktemp("ml")
    overrides = ["model.layers=[2,4,1]", "data.repeat=4", "output.log=[mlflow]", "optimizer.lr=0.2"]
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        mlpcli.train(mlpcli.load_config(None, [*overrides, "training.epochs=3"]), run_dir=runs / "r1")
        cfg = mlpcli.load_config(None, [*overrides, "training.epochs=5"])
        result = mlpcli.train(cfg, run_dir=runs / "r1", resume=runs / "r1" / "last.npz")
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{runs / 'mlflow.db'}")
    (run,) = client.search_runs([client.get_experiment_by_name(config_name(cfg)).experiment_id])  # "default"
    return result, client, run, runs / "r1"


def test_one_finished_run_named_after_the_run_directory(logged):
    result, client, run, run_dir = logged
    assert run.info.run_name == "r1" and run.info.status == "FINISHED"
    meta = mlpcli.load_checkpoint(run_dir / "last.npz").meta
    assert meta["callbacks"]["mlflow"]["run_id"] == run.info.run_id  # the resumed run went on with it


def test_params_are_the_flattened_config(logged):
    result, client, run, run_dir = logged
    params = run.data.params
    assert params["optimizer.lr"] == "0.2" and params["model.layers"] == "[2, 4, 1]"
    assert params["training.epochs"] == "3"  # the config the MLflow run started with (parameters never change)
    assert set(params) == set(flatten(mlpcli.load_checkpoint(run_dir).config.to_dict()))


def test_metrics_per_epoch(logged):
    result, client, run, _ = logged
    history = client.get_metric_history(run.info.run_id, "train_loss")
    assert sorted(m.step for m in history) == [1, 2, 3, 4, 5]
    assert [m.value for m in sorted(history, key=lambda m: m.step)] == pytest.approx([r["train_loss"] for r in result.history])
    assert {"lr", "train_acc", "grad_norm_W1", "update_ratio_W2", "saturated_1"} <= set(run.data.metrics)


def test_run_directory_files_are_artifacts(logged, tmp_path):
    _, client, run, run_dir = logged
    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"config.yaml", "metrics.csv", "last.npz", "best.npz"} <= names and not any(n.startswith(".") for n in names)
    local = client.download_artifacts(run.info.run_id, "metrics.csv", str(tmp_path))
    assert Path(local).read_text() == (run_dir / "metrics.csv").read_text()


def test_the_tracking_uri_comes_from_the_environment(monkeypatch, tmp_path):
    class Run:
        dir = str(tmp_path / "runs" / "x")

    class Trainer:
        run = Run()

    assert default_uri(Run()) == f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////elsewhere/m.db")
    assert MLflowLogger(Trainer()).uri == "sqlite:////elsewhere/m.db"
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert MLflowLogger(Trainer()).uri == default_uri(Run())
