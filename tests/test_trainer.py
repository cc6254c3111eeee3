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


ACT = {"tanh": (np.tanh, lambda A: 1 - A**2), "relu": (lambda Z: np.maximum(Z, 0), lambda A: (A > 0) * 1.0)}
OUT = {"sigmoid": lambda Z: 1 / (1 + np.exp(-Z)), "identity": lambda Z: Z,
       "softmax": lambda Z: np.exp(Z - Z.max(1, keepdims=True)) / np.exp(Z - Z.max(1, keepdims=True)).sum(1, keepdims=True)}


def hand_trained(W, X, Y, hidden, output, lr, l2, batch, epochs):
    """The notes' training loop written out in NumPy, independently of mlpcli: forward
    Z = A_prev @ W.T + b; at the output delta = A - Y for each of sigmoid + binary cross-entropy,
    identity + squared error and softmax + cross-entropy; back through the layers with
    delta_prev = (delta @ W) * g'(A_prev); dW = delta.T @ A_prev / m + l2 W, db = delta.sum(0) / m."""
    W = {k: v.astype(np.float64).copy() for k, v in W.items()}
    L = len(W) // 2
    g, dg = ACT[hidden]
    for _ in range(epochs):
        for lo in range(0, len(X), batch):
            Xb, Yb = X[lo:lo + batch], Y[lo:lo + batch]
            m, A = len(Xb), [Xb]
            for layer in range(1, L + 1):
                Z = A[-1] @ W[f"W{layer}"].T + W[f"b{layer}"]
                A.append(OUT[output](Z) if layer == L else g(Z))
            delta = A[L] - Yb
            for layer in range(L, 0, -1):
                dW = delta.T @ A[layer - 1] / m + l2 * W[f"W{layer}"]
                db = delta.sum(0) / m
                if layer > 1:
                    delta = (delta @ W[f"W{layer}"]) * dg(A[layer - 1])
                W[f"W{layer}"] -= lr * dW
                W[f"b{layer}"] -= lr * db
    return W


def npy_data(tmp_path, X, y):
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "y.npy", y)
    return [f"data={{name: npy, train: {{x: {tmp_path / 'x.npy'}, y: {tmp_path / 'y.npy'}}}, normalize: none}}"]


def compare_with_hand_loop(cfg, Y, hidden, output):
    t = Trainer(cfg)
    W0 = {k: v.copy() for k, v in t.model.params.items()}
    res = t.run_training()
    o = cfg.optimizer
    expected = hand_trained(W0, np.asarray(t.data.train.X, np.float64), Y, hidden, output, o.lr, cfg.l2,
                            t.batch_size, cfg.training.epochs)
    assert t.step == cfg.training.epochs * -(-len(Y) // t.batch_size)
    for k in expected:
        np.testing.assert_allclose(res.model.params[k], expected[k], rtol=1e-10, atol=1e-12)


def test_batch_size_one_is_plain_sgd():
    """XOR's 12 samples one at a time, in order, for two epochs: the shipped defaults (tanh hidden,
    sigmoid + binary cross-entropy) against the hand-written loop."""
    cfg = mlpcli.load_config(None, ["training.batch_size=1", "training.epochs=2", "data.repeat=3", "training.shuffle=false",
                                    "training.dtype=float64", "optimizer.lr=0.5"])
    truth = np.array([[0, 0, 0], [0, 1, 1], [1, 0, 1], [1, 1, 0]], float)
    Y = np.tile(truth[:, 2:], (3, 1))
    compare_with_hand_loop(cfg, Y, "tanh", "sigmoid")


def test_full_batch_is_gradient_descent(tmp_path):
    """batch_size: full takes one step per epoch on the whole set: a ReLU regression network with
    l2 against the hand-written loop (squared error, 1/(2m) sum ||yhat - y||^2 + l2/2 ||W||^2)."""
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(30, 3)), rng.normal(size=(30, 2))
    cfg = mlpcli.load_config(None, [*npy_data(tmp_path, X, y), "model.layers=[3,5,2]", "model.activation=relu", "model.output=identity", "loss=squared_error",
                                    "training.batch_size=full", "training.epochs=4", "training.dtype=float64", "l2=0.01"])
    compare_with_hand_loop(cfg, y, "relu", "identity")


def test_mini_batches_with_softmax_cross_entropy(tmp_path):
    """Integer labels of three classes in mini-batches of 8 (the last one short): softmax + cross-entropy."""
    rng = np.random.default_rng(4)
    X, y = rng.normal(size=(21, 4)), rng.integers(0, 3, 21)
    cfg = mlpcli.load_config(None, [*npy_data(tmp_path, X, y), "model.layers=[4,6,3]", "model.output=softmax", "loss=cross_entropy", "training.batch_size=8",
                                    "training.shuffle=false", "training.epochs=3", "training.dtype=float64"])
    compare_with_hand_loop(cfg, np.eye(3)[y], "tanh", "softmax")


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
