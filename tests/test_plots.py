"""mlp plot: each figure is written, is a PNG of the expected size, is not blank, and shows the right data."""

import builtins
import struct

import numpy as np
import pytest
from typer.testing import CliRunner

import mlpcli
from mlpcli.cli import app

from .conftest import ROOT

pytest.importorskip("matplotlib")
runner = CliRunner()


def png_info(path):
    """(width, height, pixel std) of a PNG, checking its signature."""
    import matplotlib.image

    with open(path, "rb") as f:
        raw = f.read(32)
    assert raw[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    w, h = struct.unpack(">II", raw[16:24])
    img = matplotlib.image.imread(path)
    return w, h, float(img[..., :3].std())


@pytest.fixture(scope="module")
def xor_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("xorplot") / "run"
    mlpcli.train(mlpcli.load_config(None, ["training.epochs=60", "optimizer=adam", "optimizer.lr=0.05",
                                           "training.batch_size=full", "model.layers=[2,8,1]"]), run_dir=d)
    return d


def test_classification_2d_run_gets_curves_weights_confusion_and_boundary(xor_dir, tmp_path):
    r = runner.invoke(app, ["plot", str(xor_dir), "--out", str(tmp_path / "p")])
    assert r.exit_code == 0, r.stderr
    names = sorted(p.rsplit("/", 1)[1] for p in r.stdout.split())
    assert names == ["confusion_matrix.png", "decision_boundary.png", "learning_curves.png", "weights.png"]
    expected = {"learning_curves.png": (1200, 360), "confusion_matrix.png": (700, 600),
                "decision_boundary.png": (600, 500), "weights.png": (800, 500)}
    for name, size in expected.items():
        w, h, std = png_info(tmp_path / "p" / name)
        assert (w, h) == size and std > 0.02, (name, w, h, std)


def test_default_output_is_run_dir_plots(xor_dir):
    assert runner.invoke(app, ["plot", str(xor_dir)]).exit_code == 0
    assert (xor_dir / "plots" / "learning_curves.png").exists()


def test_regression_run_gets_pred_vs_true_and_r2_curves(tmp_path):
    d = tmp_path / "reg"
    mlpcli.train(mlpcli.load_config(None, ["data.name=regression", "model.layers=[2,32,3]", "model.activation=relu",
                                           "loss=squared_error", "optimizer=adam", "optimizer.lr=0.01",
                                           "data.validation_split=0.2", "training.epochs=15"]), run_dir=d)
    header = (d / "metrics.csv").read_text().splitlines()[0].split(",")
    assert "train_r2" in header and "val_r2" in header
    from mlpcli.plots import plot_run

    paths = plot_run(d)
    assert sorted(p.rsplit("/", 1)[1] for p in paths) == ["learning_curves.png", "pred_vs_true.png", "weights.png"]
    w, h, std = png_info(d / "plots" / "pred_vs_true.png")
    assert (w, h) == (1200, 400) and std > 0.02


def test_weight_grid_tiles_are_the_first_layer_rows(tmp_path):
    rng = np.random.default_rng(0)
    np.save(tmp_path / "x.npy", rng.random((60, 64)).astype(np.float32))  # 8x8 "images"
    np.save(tmp_path / "y.npy", rng.integers(0, 3, 60))
    d = tmp_path / "img"
    cfg = mlpcli.load_config(None, ["data.name=npy", f"data.train.x={tmp_path / 'x.npy'}", f"data.train.y={tmp_path / 'y.npy'}",
                                    "model.layers=[64,70,3]", "loss=cross_entropy", "training.epochs=2"])
    mlpcli.train(cfg, run_dir=d)
    from mlpcli.plots import plot_run, weight_tiles

    W1 = mlpcli.load_checkpoint(d / "best.npz").params["W1"]
    tiles = weight_tiles(W1)
    assert tiles.shape == (64, 8, 8)  # at most 64 of the 70 units
    for j in (0, 17, 63):
        np.testing.assert_array_equal(tiles[j].ravel(), W1[j])
    plot_run(d)
    w, h, std = png_info(d / "plots" / "weights.png")
    assert (w, h) == (800, 860) and std > 0.02


def test_missing_matplotlib_is_one_clear_line(xor_dir, monkeypatch, tmp_path):
    real = builtins.__import__

    def no_matplotlib(name, *a, **k):
        if name.startswith("matplotlib"):
            raise ImportError("No module named 'matplotlib'")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    r = runner.invoke(app, ["plot", str(xor_dir)])
    readme_install = 'python -m pip install -e ".[plot]"'
    assert readme_install in (ROOT / "README.md").read_text()
    assert r.exit_code == 2 and r.stderr.count("\n") == 1 and readme_install in r.stderr
    # train --plot finds out before it trains, not after
    out = tmp_path / "r"
    r = runner.invoke(app, ["train", str(ROOT / "configs/xor.yaml"), "--out", str(out), "--plot"])
    assert r.exit_code == 2 and readme_install in r.stderr and not out.exists()


def test_not_a_run_dir(tmp_path):
    r = runner.invoke(app, ["plot", str(tmp_path)])
    assert r.exit_code == 2 and "without best.npz or last.npz" in r.stderr


def test_plot_takes_a_checkpoint_of_the_run(xor_dir, tmp_path):
    r = runner.invoke(app, ["plot", str(xor_dir / "last.npz"), "--out", str(tmp_path / "p")])
    assert r.exit_code == 0, r.stderr
    assert {"learning_curves.png", "confusion_matrix.png"} <= {p.name for p in (tmp_path / "p").iterdir()}


def test_train_with_plot_flag(tmp_path):
    r = runner.invoke(app, ["train", str(ROOT / "configs/xor.yaml"), "--out", str(tmp_path / "r"), "--plot", "--quiet",
                            "--json", "--set", "training.epochs=20"])
    assert r.exit_code == 0, r.stderr
    import json

    plots = json.loads(r.stdout)["plots"]
    assert len(plots) == 4 and all((tmp_path / "r" / "plots").joinpath(p.rsplit("/", 1)[1]).exists() for p in plots)
