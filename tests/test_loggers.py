"""The loggers' registry: --log and output.log, a missing extra, start-up without their packages."""

import subprocess
import sys

import pytest
from typer.testing import CliRunner

import mlpcli
from mlpcli.cli import app
from mlpcli.errors import ConfigError
from mlpcli.loggers import scalars

from .conftest import ROOT

runner = CliRunner()


def hide(monkeypatch, package):
    """Make ``package`` (and every submodule already imported) fail to import, as if not installed."""
    for name in [m for m in sys.modules if m == package or m.startswith(package + ".")] + [package]:
        monkeypatch.setitem(sys.modules, name, None)


@pytest.mark.parametrize("extra", ["tensorboard", "mlflow"])
def test_a_missing_extra_is_one_line_and_exit_2_before_any_training(extra, monkeypatch, tmp_path):
    hide(monkeypatch, extra)
    r = runner.invoke(app, ["train", str(ROOT / "configs/xor.yaml"), "--log", extra, "--out", str(tmp_path / "run")])
    assert r.exit_code == 2
    assert r.stderr.strip().splitlines() == [f'mlp: error: --log {extra} needs the {extra} extra: '
                                             f'python -m pip install -e ".[{extra}]"']
    assert not (tmp_path / "run").exists()  # nothing trained, no run directory


def test_unknown_logger_names_the_option_or_key_and_the_choices(tmp_path):
    r = runner.invoke(app, ["train", str(ROOT / "configs/xor.yaml"), "--log", "wandb", "--out", str(tmp_path / "run")])
    assert r.exit_code == 2 and r.stderr == "mlp: error: --log: unknown logger 'wandb' (valid: tensorboard, mlflow)\n"
    r = runner.invoke(app, ["train", str(ROOT / "configs/xor.yaml"), "--set", "output.log=[wandb]", "--out", str(tmp_path / "run")])
    assert r.exit_code == 2 and "output.log" in r.stderr and "'tensorboard' or 'mlflow'" in r.stderr
    assert not (tmp_path / "run").exists()


def test_a_resume_may_add_a_logger(tmp_path):
    pytest.importorskip("tensorboard")
    run = tmp_path / "run"
    assert runner.invoke(app, ["train", str(ROOT / "configs/xor.yaml"), "--out", str(run), "--epochs", "2", "--quiet"]).exit_code == 0
    r = runner.invoke(app, ["train", "--resume", str(run), "--more", "2", "--log", "tensorboard", "--quiet"])
    assert r.exit_code == 0, r.stderr
    assert len(list((run / "tensorboard").glob("events.out.tfevents.*"))) == 1
    assert mlpcli.load_checkpoint(run / "last.npz").config.output.log == ["tensorboard"]


def test_tensorboard_needs_a_run_directory():
    pytest.importorskip("tensorboard")
    with pytest.raises(ConfigError, match="output.log: tensorboard writes into the run directory"):
        mlpcli.train(mlpcli.load_config(None, ["output.log=[tensorboard]", "training.epochs=1"]))


def test_scalars_keep_the_finite_numbers_but_the_epoch():
    row = {"epoch": 3, "train_loss": 0.5, "val_loss": float("nan"), "lr": 1, "note": "x", "flag": True}
    assert scalars(row) == {"train_loss": 0.5, "lr": 1.0}


def test_cli_start_up_imports_no_logger_package():
    code = "import sys, mlpcli.cli, mlpcli.trainer; print(sorted({m.split('.')[0] for m in sys.modules} & {'mlflow', 'tensorboard'}))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
