"""The lecture notes' worked examples, exactly, through the public API (load_config + from)."""

import numpy as np
import pytest

import mlpcli


def build(weights_path, *overrides):
    cfg = mlpcli.load_config(None, [f"model.init.from={weights_path}", "training.dtype=float64", *overrides])
    return cfg, mlpcli.MLP.from_config(cfg)


def sgd_step(net, X, y, lr):
    loss, grads = net.loss_and_gradients(X, y)
    for k, g in grads.items():
        net.params[k] -= lr * g
    return loss


def test_two_two_two_sigmoid_network(weights_file):
    w = weights_file(W1=[[0.15, 0.20], [0.25, 0.30]], b1=[0.35, 0.35], W2=[[0.40, 0.45], [0.50, 0.55]], b2=[0.60, 0.60])
    _, net = build(w, "model.layers=[2,2,2]", "model.activation=sigmoid", "model.output=sigmoid", "loss=squared_error")
    X, y = np.array([[0.05, 0.10]]), np.array([[0.01, 0.99]])
    assert net.compute_loss(X, y) == pytest.approx(0.298371109, abs=1e-9)
    loss = sgd_step(net, X, y, 0.5)
    assert loss == pytest.approx(0.298371109, abs=1e-9)
    np.testing.assert_allclose(net.params["W1"], [[0.149780716, 0.19956143], [0.24975114, 0.29950229]], atol=1e-8)
    np.testing.assert_allclose(net.params["W2"], [[0.35891648, 0.408666186], [0.511301270, 0.561370121]], atol=1e-8)


def test_one_relu_layer_without_bias(weights_file):
    w = weights_file(W1=[[3, 2], [4, 1], [5, 2]])
    cfg, net = build(w, "model.layers=[2,3]", "model.output=relu", "model.bias=false", "loss=squared_error")
    assert net.names == ["W1"]
    X, y = np.array([[1.0, 2.0]]), np.array([[1.0, 4.0, 4.0]])
    loss, grads = net.loss_and_gradients(X, y)
    assert loss == 32.5
    np.testing.assert_allclose(grads["W1"], [[6, 12], [2, 4], [5, 10]], atol=1e-12)
    sgd_step(net, X, y, 0.1)
    np.testing.assert_allclose(net.params["W1"], [[2.4, 0.8], [3.8, 0.6], [4.5, 1.0]], atol=1e-12)
    assert net.compute_loss(X, y) == pytest.approx(8.125, abs=1e-12)


def test_hand_built_threshold_xor(weights_file):
    w = weights_file(W1=[[1, 1], [1, 1]], b1=[-0.5, -1.5], W2=[[1, -1]], b2=[-0.5])
    cfg, net = build(w, "model.layers=[2,2,1]", "model.activation=step", "model.output=step", "loss=squared_error",
                     "training.epochs=0")
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    np.testing.assert_array_equal(net.forward(X)[:, 0], [0, 1, 1, 0])
    np.testing.assert_array_equal(net.predict(X), [0, 1, 1, 0])
    # epochs: 0 evaluates the hand-built network through the training entry point too
    result = mlpcli.train(cfg)
    assert result.metrics["test"]["accuracy"] == 1.0


def test_step_network_is_refused_for_training(weights_file):
    w = weights_file(W1=[[1, 1], [1, 1]], b1=[-0.5, -1.5], W2=[[1, -1]], b2=[-0.5])
    cfg, _ = build(w, "model.layers=[2,2,1]", "model.activation=step", "model.output=step", "loss=squared_error",
                   "training.epochs=5")
    with pytest.raises(mlpcli.ConfigError, match="step.*no gradient"):
        mlpcli.train(cfg)


def test_init_from_shape_mismatch_names_array_and_shapes(weights_file):
    w = weights_file(W1=[[1, 1, 1], [1, 1, 1]], b1=[0, 0], W2=[[1, -1]], b2=[0])
    with pytest.raises(mlpcli.ConfigError, match=r"W1 .* shape \(2, 3\).*need \(2, 2\)"):
        build(w, "model.layers=[2,2,1]")
