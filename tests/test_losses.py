import numpy as np
import pytest

from mlpcli.activations import get_activation
from mlpcli.errors import ConfigError
from mlpcli.losses import get_loss, targets_for


def run(loss_name, out_name, Z, Y):
    g = get_activation(out_name)
    loss = get_loss(loss_name, g)
    A = g(Z)
    Yt = targets_for(Y, loss_name, Z.shape[1], np.float64)
    delta = loss.delta(Z, A, Yt, np.empty_like(Z), np.empty_like(Z))
    return loss.fn(Z, A, Yt), delta


def test_squared_error_worked_value():
    loss, delta = run("squared_error", "identity", np.array([[1.0, 2.0], [0.0, 0.0]]), np.array([[0.0, 0.0], [1.0, 1.0]]))
    assert loss == pytest.approx((1 + 4 + 1 + 1) / (2 * 2))
    np.testing.assert_allclose(delta, [[0.5, 1.0], [-0.5, -0.5]])


def test_cross_entropy_integer_and_one_hot_agree_with_closed_form():
    Z = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 0.0]])
    y = np.array([2, 0])
    p = np.exp(Z) / np.exp(Z).sum(1, keepdims=True)
    expected = -(np.log(p[0, 2]) + np.log(p[1, 0])) / 2
    loss1, d1 = run("cross_entropy", "softmax", Z, y)
    loss2, d2 = run("cross_entropy", "softmax", Z, np.eye(3)[y])
    assert loss1 == pytest.approx(expected, rel=1e-12) and loss2 == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(d1, (p - np.eye(3)[y]) / 2, atol=1e-15)
    np.testing.assert_allclose(d2, d1, atol=1e-15)


def test_bce_accepts_vector_and_matrix_labels():
    Z = np.array([[0.3], [-1.2], [2.0]])
    y = np.array([1, 0, 1])
    p = 1 / (1 + np.exp(-Z[:, 0]))
    expected = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    loss1, d1 = run("binary_cross_entropy", "sigmoid", Z, y)
    loss2, d2 = run("binary_cross_entropy", "sigmoid", Z, y.reshape(-1, 1).astype(float))
    assert loss1 == pytest.approx(expected, rel=1e-12) and loss2 == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(d1[:, 0], (p - y) / 3, atol=1e-15)
    np.testing.assert_allclose(d2, d1)


@pytest.mark.parametrize("loss,out", [("cross_entropy", "softmax"), ("binary_cross_entropy", "sigmoid"), ("squared_error", "identity")])
def test_stable_for_huge_logits(loss, out):
    Z = np.array([[1000.0, -1000.0], [-1000.0, 1000.0], [1e4, -1e4]])
    Y = np.array([1, 1, 0]) if loss == "cross_entropy" else np.array([[1.0, 0.0], [0.0, 0.0], [1.0, 1.0]])
    with np.errstate(all="raise"):
        value, delta = run(loss, out, Z, Y)
    assert np.isfinite(value) and np.isfinite(delta).all()
    if loss == "cross_entropy":  # sample 0 is confidently wrong by 2000: loss 2000 / 3 per sample mean
        assert value == pytest.approx((2000.0 + 0.0 + 0.0) / 3)


def test_loss_refuses_mismatched_output():
    with pytest.raises(ConfigError, match="needs output activation 'softmax'"):
        get_loss("cross_entropy", get_activation("sigmoid"))
    with pytest.raises(ConfigError, match="unknown loss 'mse'"):
        get_loss("mse", get_activation("identity"))


@pytest.mark.parametrize("labels", ["int", "onehot"])
@pytest.mark.parametrize("logits", ["ordinary", "one row far above the rest", "huge"])
def test_fused_softmax_cross_entropy_equals_softmax_then_loss_and_delta(labels, logits):
    """Training's one-pass softmax + loss + delta gives the probabilities, value and delta of the
    three separate steps: with the batch-wide shift, and when a row far below the batch's
    largest logit forces the row-wise one."""
    rng = np.random.default_rng(0)
    Z = rng.normal(0, 3, size=(9, 4))
    if logits == "one row far above the rest":
        Z[3] += 600.0  # e^(z - max) underflows for every other row
    elif logits == "huge":
        Z[0] = [1000.0, -1000.0, 0.0, 5.0]
    y = rng.integers(0, 4, 9)
    Y = y if labels == "int" else np.eye(4)[y]
    loss, A, A_ref, delta, delta_ref, value = _fused_and_separate("softmax", "cross_entropy", Z, Y)
    np.testing.assert_allclose(A, A_ref, rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(delta, delta_ref, rtol=1e-13, atol=1e-300)
    assert value == pytest.approx(loss.fn(Z, A_ref, Y), rel=1e-13)


@pytest.mark.parametrize("targets", ["labels", "probabilities"])
@pytest.mark.parametrize("logits", ["ordinary", "huge"])
def test_fused_sigmoid_binary_cross_entropy_equals_sigmoid_then_loss_and_delta(targets, logits):
    """Training's fast path for sigmoid + binary cross-entropy gives the probabilities, value and
    delta of the separate steps, for 0/1 labels and for probability targets on 3 outputs."""
    rng = np.random.default_rng(1)
    Z = rng.normal(0, 3, size=(8, 3))
    if logits == "huge":
        Z[0] = [1000.0, -1000.0, 1e4]
    Y = (rng.random((8, 3)) < 0.5).astype(float) if targets == "labels" else rng.random((8, 3))
    loss, A, A_ref, delta, delta_ref, value = _fused_and_separate("sigmoid", "binary_cross_entropy", Z, Y)
    np.testing.assert_array_equal(A, A_ref)
    np.testing.assert_allclose(delta, delta_ref, rtol=1e-13, atol=1e-300)
    assert value == pytest.approx(loss.fn(Z, A_ref, Y), rel=1e-13)


def _fused_and_separate(activation, loss_name, Z, Y):
    """The fused training step's (A, delta, value) beside the separate steps' A_ref and delta_ref."""
    g = get_activation(activation)
    loss = get_loss(loss_name, g)
    A_ref = g(Z)
    delta_ref = loss.delta(Z, A_ref, Y, np.empty_like(Z), None, scale=0.3)
    A, delta = np.empty_like(Z), np.empty_like(Z)
    with np.errstate(all="raise"):
        value = loss.output_loss_delta(Z, A, Y, delta, scale=0.3)
    return loss, A, A_ref, delta, delta_ref, value
