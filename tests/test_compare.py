"""mlp compare and mlp plot --compare, checked against mlp eval and metrics.csv of each run."""

import csv
import json

import pytest
from typer.testing import CliRunner

from mlpcli.cli import app
from mlpcli.compare import config_differences, flatten

from .conftest import ROOT

runner = CliRunner()


def mlp(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("cmp")
    base = ["train", ROOT / "configs/regression.yaml", "-q", "--set", "training.epochs=6", "--set", "data.n_samples=300",
            "--set", "data.validation_split=0.2"]
    assert mlp(*base, "--out", d / "a").exit_code == 0
    assert mlp(*base, "--out", d / "b", "--set", "optimizer.lr=0.002", "--set", "training.early_stopping={patience: 1}").exit_code == 0
    return d / "a", d / "b"


def test_config_differences_are_only_the_keys_that_differ():
    a = {"seed": 0, "optimizer": {"name": "sgd", "lr": 0.1}, "output": {"dir": "/r/a"}}
    b = {"seed": 0, "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9}, "output": {"dir": "/r/b"}}
    assert flatten(a) == {"seed": 0, "optimizer.name": "sgd", "optimizer.lr": 0.1, "output.dir": "/r/a"}
    assert config_differences([a, b]) == {"optimizer.lr": [0.1, 0.05], "optimizer.momentum": [None, 0.9]}


def test_compare_json_matches_eval_and_metrics_csv(two_runs):
    r = mlp("compare", *two_runs, "--json")
    assert r.exit_code == 0, r.stderr
    report = json.loads(r.stdout)
    assert set(report["differences"]) == {"optimizer.lr", "training.early_stopping.monitor",
                                          "training.early_stopping.patience", "training.early_stopping.min_delta",
                                          "training.early_stopping.restore_best"}
    assert report["differences"]["optimizer.lr"] == [0.01, 0.002]
    for run_dir, run in zip(two_runs, report["runs"], strict=True):
        with open(run_dir / "metrics.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        assert run["epochs"] == len(rows) and run["seconds"] == pytest.approx(sum(float(x["seconds"]) for x in rows), abs=2e-3)
        for split in ("train", "val", "test"):
            ev = json.loads(mlp("eval", run["checkpoint"], "--split", split, "--json").stdout)
            assert run["metrics"][split]["r2"] == pytest.approx(ev["r2"], rel=1e-12)
    a, b = report["runs"]
    assert a["checkpoint"].endswith("last.npz") and a["best_epoch"] == 6 and a["stop_reason"] == "epochs"
    assert b["checkpoint"].endswith("best.npz")  # early stopping restored the best epoch's weights


def test_compare_table_has_differences_and_final_metrics(two_runs):
    r = mlp("compare", *two_runs)
    lines = r.stdout.splitlines()
    assert r.exit_code == 0 and lines[0].split() == ["a", "b"]
    assert lines[1].split() == ["optimizer.lr", "0.01", "0.002"] and any(line.startswith("test r2") for line in lines)
    assert not any(line.startswith(("seed", "output.dir")) for line in lines)


def test_compare_refuses_what_is_not_a_run(tmp_path):
    r = mlp("compare", tmp_path)
    assert r.exit_code == 2 and "not a run directory" in r.stderr


def test_plot_compare_overlays_the_curves_in_one_png(two_runs, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    import mlpcli.plots as plots

    kept = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: kept.append(fig) or str(path))
    r = mlp("plot", "--compare", *two_runs, "--out", tmp_path)
    assert r.exit_code == 0 and r.stdout.strip() == str(tmp_path / "compare_learning_curves.png")
    loss = kept[0].axes[0]
    assert sorted(line.get_label() for line in loss.get_lines()) == ["a train", "a val", "b train", "b val"]
    assert mlp("plot", *two_runs).exit_code == 2  # several runs need --compare
