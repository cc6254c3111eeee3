import itertools

import numpy as np
import pytest

import mlpcli
from mlpcli.gradient_check import random_batch
from mlpcli.model import MLP

HIDDEN = ["identity", "relu", "leaky_relu", "softplus", "sigmoid", "tanh"]
HEADS = [("squared_error", "identity"), ("binary_cross_entropy", "sigmoid"), ("cross_entropy", "softmax")]


def random_net(hidden, loss, out, bias, l2=0.05, layers=(4, 6, 5, 3), seed=0):
    net = MLP(list(layers), [hidden, hidden, out], loss, bias=bias, dtype="float64", l2=l2)
    rng = np.random.default_rng(seed)
    for p in net.params.values():
        p[...] = rng.normal(0, 0.8, size=p.shape)
    return net


@pytest.mark.parametrize("hidden,head,bias", list(itertools.product(HIDDEN, HEADS, [True, False])))
def test_backprop_matches_central_differences(hidden, head, bias):
    loss, out = head
    net = random_net(hidden, loss, out, bias)
    X, y = random_batch(net.layers, loss, n=7, seed=1)
    checks = mlpcli.gradcheck(net, X, y, eps=1e-6)
    assert [c.name for c in checks] == net.names
    for c in checks:
        assert c.rel_error <= 1e-7, (c.name, c.rel_error)


def test_gradcheck_detects_a_wrong_gradient(monkeypatch):
    """The check is not vacuous: a backprop that drops the l2 term is caught."""
    net = random_net("tanh", "squared_error", "identity", True, l2=0.5)
    X, y = random_batch(net.layers, "squared_error", n=5)
    real = MLP.train_step

    def broken(self, X, Y, ws, scale=1.0):
        l2, self.l2 = self.l2, 0.0
        try:
            return real(self, X, Y, ws, scale) + 0.0
        finally:
            self.l2 = l2

    monkeypatch.setattr(MLP, "train_step", broken)
    worst = max(c.rel_error for c in mlpcli.gradcheck(net, X, y) if c.name.startswith("W"))
    assert worst > 1e-3


@pytest.mark.parametrize("labels", ["int", "onehot"])
def test_cross_entropy_label_forms_give_same_gradients(labels):
    net = random_net("relu", "cross_entropy", "softmax", True)
    X, y = random_batch(net.layers, "cross_entropy", n=6)
    target = y if labels == "int" else np.eye(3)[y]
    loss, g = net.loss_and_gradients(X, target)
    loss0, g0 = net.loss_and_gradients(X, y)
    assert loss == pytest.approx(loss0)
    for k in g:
        np.testing.assert_allclose(g[k], g0[k], atol=1e-14)


def test_bce_label_shapes():
    net = random_net("tanh", "binary_cross_entropy", "sigmoid", True, layers=(4, 6, 5, 1))
    X = np.random.default_rng(0).normal(size=(6, 4))
    y = np.array([0, 1, 1, 0, 1, 0])
    loss1, g1 = net.loss_and_gradients(X, y)
    loss2, g2 = net.loss_and_gradients(X, y.reshape(-1, 1).astype(float))
    assert loss1 == pytest.approx(loss2)
    np.testing.assert_allclose(g1["W1"], g2["W1"])


def test_stable_under_errstate_raise_for_huge_inputs():
    for loss, out in HEADS:
        net = random_net("relu", loss, out, True)
        X = np.array([[1e4, -1e4, 1e4, -1e4], [-1e4, 1e4, 0.0, 1.0]])
        y = random_batch(net.layers, loss, n=2)[1]
        with np.errstate(all="raise"):
            loss, g = net.loss_and_gradients(X, y)
        assert np.isfinite(loss) and all(np.isfinite(v).all() for v in g.values())


def test_huge_finite_weights_evaluate_to_the_training_loss_without_l2():
    """A saturated network (weights ~1e30, so ||W||^2 overflows float32) has a finite loss when l2 is 0:
    evaluate gives what the training step gives, not 0 x inf = nan."""
    from mlpcli.model import evaluate
    from mlpcli.task import classes_task

    net = MLP([2, 3, 1], ["sigmoid", "sigmoid"], "binary_cross_entropy", dtype="float32")
    for W in net.W:
        W[...] = 3e30
    X, y = np.array([[0.0, 1.0], [1.0, 0.0]], np.float32), np.array([[0.0], [1.0]], np.float32)
    metrics = evaluate(net, X, y, classes_task([0, 1]))
    expected = net.loss_and_gradients(X, y)[0]
    assert np.isfinite(metrics["loss"]) and metrics["loss"] == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "rmsprop"])
def test_float32_stays_float32_through_a_training_step(optimizer):
    cfg = mlpcli.load_config(None, ["model.layers=[2,8,8,1]", "model.activation=relu", f"optimizer={optimizer}",
                                    "optimizer.momentum=0.9" if optimizer != "adam" else "seed=0",
                                    "training.epochs=1", "training.batch_size=2"])
    from mlpcli.trainer import Trainer

    t = Trainer(cfg)
    t.run_epoch()
    m = t.model
    assert all(p.dtype == np.float32 for p in m.params.values())
    assert all(g.dtype == np.float32 for g in m.grads.values())
    assert all(s.dtype == np.float32 for s in t.opt.state.values()) and t.opt.state
    ws = m.workspace(2)
    assert all(a.dtype == np.float32 for a in ws.A + ws.delta + ws.work + [ws.Z_out, ws.X])
    assert m.forward(np.zeros((3, 2))).dtype == np.float32


def test_float64_works_the_same():
    cfg = mlpcli.load_config(None, ["training.dtype=float64", "training.epochs=200", "optimizer.lr=0.5",
                                    "training.batch_size=full"])
    r = mlpcli.train(cfg)
    assert r.model.dtype == np.float64 and r.metrics["test"]["accuracy"] == 1.0


def test_predict_and_forward_shapes():
    net = random_net("relu", "cross_entropy", "softmax", True)
    X = np.random.default_rng(0).normal(size=(10, 4))
    assert net.forward(X).shape == (10, 3)
    assert net.predict(X).shape == (10,) and net.predict(X).dtype.kind == "i"
    with pytest.raises(mlpcli.DataError, match=r"expects \(n, 4\)"):
        net.forward(np.zeros((2, 5)))
