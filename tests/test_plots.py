"""mlp plot: each figure is written, is a PNG of the expected size, is not blank, and shows the right data."""

import struct
import sys

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
    assert names == ["confusion_matrix.png", "decision_boundary.png", "diagnostics.png", "learning_curves.png", "weights.png"]
    expected = {"learning_curves.png": (1200, 360), "diagnostics.png": (1300, 380), "confusion_matrix.png": (700, 600),
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
    assert sorted(p.rsplit("/", 1)[1] for p in paths) == ["diagnostics.png", "learning_curves.png", "pred_vs_true.png",
                                                          "weights.png"]
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
    for name in ["matplotlib", *(m for m in sys.modules if m.startswith("matplotlib."))]:
        monkeypatch.setitem(sys.modules, name, None)  # a None entry: both import and importlib raise ImportError
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
    assert len(plots) == 5 and all((tmp_path / "r" / "plots").joinpath(p.rsplit("/", 1)[1]).exists() for p in plots)


@pytest.fixture
def figures(monkeypatch):
    """The figures the plot functions would save, kept open for inspection."""
    import matplotlib.pyplot as plt

    import mlpcli.plots as plots

    kept = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: kept.append(fig) or str(path))
    yield kept
    for fig in kept:
        plt.close(fig)


def history(n, r2=None, lr=None):
    return [{"epoch": e + 1, "train_loss": 1.0 / (e + 1), "lr": (lr or (lambda e: 0.05))(e),
             **({"train_r2": r2(e), "val_r2": r2(e) - 0.01} if r2 else {"train_acc": 0.5 + e / (2 * n)})} for e in range(n)]


def test_learning_curves_integer_epochs_clipped_r2_and_a_constant_rate_from_zero(figures, tmp_path):
    from mlpcli.plots import learning_curves

    learning_curves(history(7, r2=lambda e: 0.999 - 50 * 0.3 ** e), tmp_path / "c.png")
    loss, r2, lr = figures[0].axes
    for ax in (loss, r2, lr):
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks)
    low, high = r2.get_ylim()
    assert -0.13 < low < -0.09 and 1.0 < high < 1.03  # first epochs' R² of -49 clipped at -0.1
    assert lr.get_ylim()[0] == 0 and 0.05 < lr.get_ylim()[1] < 0.06
    assert not lr.yaxis.get_major_formatter().get_offset()  # no "+5e-2" offset on a flat line


def test_r2_axis_starts_at_the_lowest_r2_when_it_is_above_minus_0_1(figures, tmp_path):
    from mlpcli.plots import learning_curves

    learning_curves(history(5, r2=lambda e: 0.9 + 0.01 * e), tmp_path / "c.png")
    low, high = figures[0].axes[1].get_ylim()
    assert 0.88 < low < 0.89 and 1.0 <= high < 1.01


@pytest.mark.parametrize(("k", "top"), [(2, 3), (10, 1150), (20, 120)])
def test_confusion_numbers_fit_their_cells(figures, tmp_path, k, top):
    from mlpcli.plots import confusion

    cm = np.full((k, k), 7) + np.diag(np.full(k, top - 7))
    confusion(cm, tmp_path / "cm.png", "test")
    fig = figures[0]
    fig.canvas.draw()
    ax = fig.axes[0]
    box = ax.get_window_extent()
    cell = min(box.width, box.height) / k
    texts = ax.texts
    assert len(texts) == k * k
    widest = max(t.get_window_extent().width for t in texts)
    tallest = max(t.get_window_extent().height for t in texts)
    assert widest < 0.8 * cell and tallest < 0.8 * cell  # inside the cell, with a margin
    assert texts[0].get_fontsize() == 16 or widest > 0.5 * cell  # as large as the cell allows (16 pt at most)


def test_decision_boundary_ticks_are_round(figures, tmp_path):
    from mlpcli.plots import decision_boundary

    class Net:
        def forward(self, X):
            return 1 / (1 + np.exp(-(X[:, :1] - X[:, 1:])))

    X = np.array([[0.13, -0.71], [1.37, 0.52], [0.9, 2.21]])
    decision_boundary(Net(), X, np.array([0, 1, 1]), tmp_path / "b.png")
    ax, bar = figures[0].axes
    for ticks in (ax.get_xticks(), ax.get_yticks()):
        steps = np.diff(ticks)
        assert len(ticks) <= 8 and np.allclose(steps, steps[0])
        assert any(np.isclose(steps[0] / 10.0 ** np.floor(np.log10(steps[0])), m) for m in (1, 2, 2.5, 5))
    assert np.allclose(bar.get_yticks(), [0, 0.25, 0.5, 0.75, 1])


def test_diagnostics_figure_draws_each_layers_columns(figures, tmp_path):
    from mlpcli.plots import diagnostics

    rows = [{"epoch": e, "train_loss": 1.0, "lr": 0.1, "grad_norm_W1": [1e-5, 2e-5, 3e-5][e - 1], "grad_norm_W2": 0.1 * e,
             "update_ratio_W1": 1e-3, "update_ratio_W2": 2e-3, "dead_1": 0.25 * e} for e in (1, 2, 3)]
    assert diagnostics(rows, tmp_path / "d.png") == str(tmp_path / "d.png")
    grad, update, inactive = figures[0].axes
    assert [line.get_label() for line in grad.lines] == ["layer 1", "layer 2"]
    assert list(grad.lines[0].get_ydata()) == [1e-5, 2e-5, 3e-5] and grad.get_yscale() == "log"
    assert list(update.lines[1].get_ydata()) == [2e-3] * 3 and update.get_yscale() == "log"
    assert [line.get_label() for line in inactive.lines] == ["layer 1 dead"]
    assert list(inactive.lines[0].get_ydata()) == [0.25, 0.5, 0.75]
    assert grad.lines[0].get_color() == inactive.lines[0].get_color()  # a layer keeps its colour
    assert diagnostics([{"epoch": 1, "train_loss": 1.0, "lr": 0.1}], tmp_path / "none.png") is None
