"""Diagnostics: gradient norms, update ratios, dead and saturated units, checked against direct computations."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import mlpcli
from mlpcli.cli import app
from mlpcli.diagnostics import Diagnostics, findings, inactive_units, probe_rows, update_ratio
from mlpcli.trainer import Trainer

runner = CliRunner()
DEAD = [1, 4, 6]  # units of layer 1 given a bias of -100: never active on inputs in [0, 1]


def test_probe_rows_spread_over_the_set():
    assert probe_rows(5).tolist() == [0, 1, 2, 3, 4]
    rows = probe_rows(60000)
    assert len(rows) == 1024 and rows[0] == 0 and rows[-1] == 59999 and (np.diff(rows) > 0).all()


def test_inactive_units_by_activation():
    A = np.array([[0.0, 0.5, 0.0], [0.0, 0.0, 0.2]])
    assert inactive_units(A, "relu").tolist() == [0]
    S = np.array([[0.995, 0.5, 0.001], [0.009, 0.99, 0.0]])
    assert inactive_units(S, "sigmoid").tolist() == [0, 2]  # unit 0 at either end, unit 1 active once
    assert inactive_units(np.array([[-0.99, 0.97], [0.985, -0.99]]), "tanh").tolist() == [0]
    assert inactive_units(A, "softplus") is None


def test_update_ratio():
    W0 = np.array([[3.0, 4.0]])
    assert update_ratio(W0 + [[0.0, 0.05]], W0) == pytest.approx(0.01)
    assert update_ratio(np.ones((1, 2)), np.zeros((1, 2))) == 0.0


@pytest.fixture
def dead_init(tmp_path):
    """A 2-8-1 ReLU network whose units 1, 4, 6 have a bias of -100 and the others +1."""
    rng = np.random.default_rng(0)
    W1 = rng.uniform(0.1, 0.5, size=(8, 2))
    b1 = np.ones(8)
    b1[DEAD] = -100.0
    path = tmp_path / "dead.npz"
    np.savez(path, W1=W1, b1=b1, W2=rng.normal(0, 0.5, size=(1, 8)), b2=np.zeros(1))
    return path


def test_dead_units_built_by_init_from_are_reported_exactly(dead_init, tmp_path, capsys):
    cfg = mlpcli.load_config(None, ["model.layers=[2,8,1]", "model.activation=relu", f"model.init.from={dead_init}",
                                    "training.epochs=3", "training.dtype=float64", "data.repeat=10"])
    r = mlpcli.train(cfg, run_dir=tmp_path / "run")
    A1 = r.model.forward(np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float), record=True)[0]
    assert np.flatnonzero(A1.max(axis=0) <= 0).tolist() == DEAD  # the independent check: they are still dead
    assert [row["dead_1"] for row in r.history] == [3 / 8] * 3
    meta = mlpcli.load_checkpoint(tmp_path / "run").meta
    assert meta["callbacks"]["diagnostics"]["inactive"] == {"1": DEAD}
    assert "warning" not in capsys.readouterr().err  # 3 of 8 dead: not more than half
    # mlp inspect summarises the last epoch, per layer
    info = json.loads(runner.invoke(app, ["inspect", str(tmp_path / "run"), "--json"]).stdout)["diagnostics"]
    assert [d["layer"] for d in info] == [1, 2] and info[0]["inactive_units"] == DEAD
    assert info[0]["grad_norm"] == r.history[-1]["grad_norm_W1"] and info[1]["inactive"] is None
    text = runner.invoke(app, ["inspect", str(tmp_path / "run")]).stdout
    assert "dead 37.5% (rows 1, 4, 6 of W1)" in text and "grad_norm_W1" not in text


def test_a_mostly_dead_layer_warns_once(tmp_path, capsys):
    W1 = np.full((4, 2), 0.3)
    b1 = np.array([-100.0, -100.0, -100.0, 1.0])
    path = tmp_path / "w.npz"
    np.savez(path, W1=W1, b1=b1, W2=np.full((1, 4), 0.5), b2=np.zeros(1))
    cfg = mlpcli.load_config(None, ["model.layers=[2,4,1]", "model.activation=relu", f"model.init.from={path}",
                                    "training.epochs=4"])
    r = mlpcli.train(cfg)
    assert r.history[-1]["dead_1"] == 0.75
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "layer 1: 75% of its ReLU units are dead" in warnings[0]
    assert "leaky_relu" in warnings[0] and "He initialisation" in warnings[0] and "smaller optimizer.lr" in warnings[0]
    assert findings(r.history[-1], 2) == [("dead_1", warnings[0].split(": ", 3)[3])]  # what mlp inspect shows too


def test_deep_sigmoid_network_reports_vanishing_gradients(capsys):
    deep = ["data.name=regression", "data.function=linear", "data.n_samples=200", "loss=squared_error",
            "model.layers=[3,16,16,16,16,16,16,16,16,1]", "training.epochs=2", "training.dtype=float64"]
    row = mlpcli.train(mlpcli.load_config(None, [*deep, "model.activation=sigmoid", "model.init=xavier"])).history[-1]
    assert row["grad_norm_W1"] < 1e-3 * row["grad_norm_W9"]
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "vanishing gradients" in warnings[0] and "ReLU instead of sigmoid" in warnings[0]
    row = mlpcli.train(mlpcli.load_config(None, [*deep, "model.activation=relu", "model.init=he"])).history[-1]
    assert row["grad_norm_W1"] > 1e-2 * row["grad_norm_W9"]  # the remedy works: no vanishing with ReLU and He
    assert "warning" not in capsys.readouterr().err


@pytest.mark.parametrize("optimizer", [["optimizer=sgd", "optimizer.lr=0.3"], ["optimizer=adam", "optimizer.lr=0.01"]])
def test_norms_equal_those_of_loss_and_gradients(optimizer):
    """The probe batch is the whole training set here (200 <= 1,024 samples), so each norm is that of
    loss_and_gradients at the final weights, whatever factor the optimiser folds into backprop."""
    cfg = mlpcli.load_config(None, ["data.name=regression", "data.function=quadratic", "data.n_samples=200",
                                    "model.layers=[2,12,12,3]", "model.activation=tanh", "loss=squared_error",
                                    "training.epochs=3", "training.batch_size=16", "training.dtype=float64",
                                    "l2=0.01", *optimizer])
    t = Trainer(cfg)
    r = t.run_training()
    _, grads = r.model.loss_and_gradients(t.data.train.X, t.data.train.y)
    for layer in (1, 2, 3):
        assert r.history[-1][f"grad_norm_W{layer}"] == pytest.approx(np.linalg.norm(grads[f"W{layer}"]), rel=1e-10)


def test_update_ratio_is_the_epochs_last_step():
    """Plain full-batch gradient descent: the one step of epoch 1 is -lr * dL/dW at the initial weights."""
    cfg = mlpcli.load_config(None, ["data.name=regression", "data.function=sine", "data.n_samples=100",
                                    "model.layers=[1,8,1]", "model.activation=tanh", "loss=squared_error",
                                    "optimizer=sgd", "optimizer.lr=0.2", "training.batch_size=full",
                                    "training.epochs=1", "training.dtype=float64"])
    t = Trainer(cfg)
    net = mlpcli.MLP.from_config(cfg)
    _, g = net.loss_and_gradients(t.data.train.X, t.data.train.y)
    row = t.run_training().history[0]
    for layer in (1, 2):
        W0 = net.params[f"W{layer}"]
        expected = 0.2 * np.linalg.norm(g[f"W{layer}"]) / np.linalg.norm(W0)
        assert row[f"update_ratio_W{layer}"] == pytest.approx(expected, rel=1e-9)


def test_saturated_tanh_units(tmp_path):
    W1 = np.zeros((6, 2))
    b1 = np.array([50.0, -50.0, 0.0, 0.1, 50.0, 0.0])  # units 0, 1, 4 stuck at +-1
    path = tmp_path / "sat.npz"
    np.savez(path, W1=W1, b1=b1, W2=np.full((1, 6), 0.1), b2=np.zeros(1))
    cfg = mlpcli.load_config(None, ["model.layers=[2,6,1]", "model.activation=tanh", f"model.init.from={path}",
                                    "training.epochs=1", "optimizer.lr=0.001"])
    t = Trainer(cfg)
    row = t.run_training().history[0]
    assert row["saturated_1"] == 0.5
    assert next(c for c in t.callbacks.callbacks if isinstance(c, Diagnostics)).inactive == {1: [0, 1, 4]}


def test_diagnostics_can_be_turned_off():
    r = mlpcli.train(mlpcli.load_config(None, ["training.epochs=1", "training.diagnostics=false"]))
    assert not any(k.startswith(("grad_norm", "update_ratio", "dead", "saturated")) for k in r.history[0])
