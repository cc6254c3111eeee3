import numpy as np
import pytest

import mlpcli
from mlpcli.trainer import Trainer


@pytest.mark.parametrize("seed", [0, 1])
def test_quadratic_regression_lab_reaches_r2(seed):
    """The shipped lab config: (x1^2, x2^2, 2 x1 x2) from x in [-10, 10]^2 / 20, test R^2 >= 0.99."""
    from .conftest import ROOT

    cfg = mlpcli.load_config(ROOT / "configs/regression.yaml", [f"seed={seed}"])
    cfg.output.dir = None  # in memory: no run directory
    r = mlpcli.train(cfg)
    assert r.metrics["test"]["r2"] >= 0.99, r.metrics["test"]


def test_full_batch_is_gradient_descent():
    """batch_size: full takes exactly one step per epoch on the whole set, in order."""
    cfg = mlpcli.load_config(None, ["training.batch_size=full", "training.epochs=3", "data.repeat=5", "training.dtype=float64"])
    t = Trainer(cfg)
    W0 = {k: v.copy() for k, v in t.model.params.items()}
    res = t.run_training()
    assert t.step == 3 and t.n_batches == 1
    # the same three steps by hand with loss_and_gradients on the whole set
    net = mlpcli.MLP.from_config(cfg)
    net.set_params(W0)
    for _ in range(3):
        _, g = net.loss_and_gradients(t.data.train.X, t.data.train.y)
        for k in g:
            net.params[k] -= cfg.optimizer.lr * g[k]
    for k in net.names:
        np.testing.assert_allclose(res.model.params[k], net.params[k], rtol=1e-12)


def test_batch_size_one_is_plain_sgd():
    cfg = mlpcli.load_config(None, ["training.batch_size=1", "training.epochs=2", "data.repeat=3"])
    t = Trainer(cfg)
    t.run_training()
    assert t.n_batches == 12 and t.step == 24


def test_grad_tol_stops_when_gradient_is_small():
    cfg = mlpcli.load_config(None, ["data.name=regression", "data.function=linear", "model.layers=[3,1]",
                                    "loss=squared_error", "optimizer.lr=0.5", "training.batch_size=full",
                                    "training.epochs=5000", "training.grad_tol=1e-4", "training.dtype=float64"])
    r = mlpcli.train(cfg)
    assert r.stop_reason == "grad_tol" and r.epochs_run < 5000
    assert r.history[-1]["grad_norm"] < 1e-4 <= r.history[-2]["grad_norm"]


def test_l2_shrinks_weights():
    base = ["data.name=regression", "data.function=linear", "model.layers=[3,1]", "loss=squared_error",
            "training.epochs=50", "training.dtype=float64"]
    w0 = np.abs(mlpcli.train(mlpcli.load_config(None, base)).model.params["W1"]).sum()
    w1 = np.abs(mlpcli.train(mlpcli.load_config(None, [*base, "l2=1.0"])).model.params["W1"]).sum()
    assert w1 < 0.7 * w0


def test_early_stopping_restores_best():
    cfg = mlpcli.load_config(None, ["data.name=regression", "data.function=sine", "data.n_samples=300", "data.noise=0.3",
                                    "data.validation_split=0.3", "model.layers=[1,256,256,1]", "model.activation=relu",
                                    "loss=squared_error", "optimizer=adam", "optimizer.lr=0.01", "training.epochs=300",
                                    "training.early_stopping.patience=5", "training.batch_size=8"])
    r = mlpcli.train(cfg)
    assert r.stop_reason == "early_stopping" and r.epochs_run < 300
    best = min(row["val_loss"] for row in r.history)
    assert r.best_epoch == 1 + [row["val_loss"] for row in r.history].index(best)
    assert r.metrics["val"]["loss"] == pytest.approx(best, rel=1e-5)  # the restored weights are the best epoch's


def test_xor_learns():
    cfg = mlpcli.load_config(None, ["training.epochs=300", "optimizer.lr=0.5", "training.batch_size=full"])
    assert mlpcli.train(cfg).metrics["test"]["accuracy"] == 1.0
