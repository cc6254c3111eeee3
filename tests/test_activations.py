import numpy as np
import pytest

from mlpcli.activations import ACTIVATIONS, get_activation
from mlpcli.errors import ConfigError

ELEMENTWISE = [n for n, a in ACTIVATIONS.items() if a.derivative is not None and a.trainable]
REFERENCE = {  # independent closed forms
    "identity": lambda z: z,
    "relu": lambda z: np.where(z > 0, z, 0.0),
    "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z),
    "softplus": lambda z: np.log(1 + np.exp(z)),
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "tanh": np.tanh,
    "step": lambda z: (z > 0).astype(float),
}


@pytest.mark.parametrize("name", list(REFERENCE))
def test_forward_matches_closed_form(name):
    z = np.linspace(-5, 5, 41).reshape(-1, 1) + 0.013
    np.testing.assert_allclose(get_activation(name)(z), REFERENCE[name](z), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_derivative_matches_finite_differences(name):
    g = get_activation(name)
    z = np.linspace(-4, 4, 33).reshape(-1, 1) + 0.0137  # away from the kink at 0
    eps = 1e-6
    numeric = (REFERENCE[name](z + eps) - REFERENCE[name](z - eps)) / (2 * eps)
    out = np.empty_like(z)
    g.spec.derivative(g(z), out, **g.params)
    np.testing.assert_allclose(out, numeric, rtol=1e-6, atol=1e-8)


def test_softmax_rows_and_vjp():
    g = get_activation("softmax")
    rng = np.random.default_rng(0)
    z = rng.normal(size=(5, 4))
    a = g(z)
    np.testing.assert_allclose(a.sum(1), 1.0)
    dA = rng.normal(size=(5, 4))
    out = np.empty_like(z)
    g.backward(dA, a, out, None)
    for i in range(5):  # full Jacobian, row by row
        J = np.diag(a[i]) - np.outer(a[i], a[i])
        np.testing.assert_allclose(out[i], J @ dA[i], atol=1e-12)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_stable_for_huge_inputs(name):
    z = np.array([[-1000.0, -1e4, 0.0, 1e4, 1000.0]])
    with np.errstate(all="raise"):
        a = get_activation(name)(z)
    assert np.isfinite(a).all()


def test_leaky_relu_alpha_and_unknown_name():
    g = get_activation({"name": "leaky_relu", "alpha": 0.2})
    np.testing.assert_allclose(g(np.array([[-1.0, 2.0]])), [[-0.2, 2.0]])
    with pytest.raises(ConfigError, match=r"did you mean 'relu'.*valid: identity, relu"):
        get_activation("rleu")


def test_adding_an_activation_is_a_function_pair_and_a_registry_line(monkeypatch):
    """A new entry is picked up by the model and the config validator with no other change."""
    import mlpcli
    from mlpcli.activations import Activation

    def cube(Z, out, **_):
        return np.power(Z, 3, out=out)

    def cube_prime(A, out, **_):
        np.cbrt(A, out=out)  # z = A^(1/3), so g'(z) = 3 z^2
        out *= out
        out *= 3
        return out

    monkeypatch.setitem(ACTIVATIONS, "cube", Activation("cube", cube, cube_prime))
    cfg = mlpcli.load_config(None, ["model.layers=[3,4,2]", "model.activation=cube", "loss=squared_error",
                                    "training.dtype=float64"])
    net = mlpcli.MLP.from_config(cfg)
    X, y = np.random.default_rng(0).normal(size=(5, 3)), np.random.default_rng(1).normal(size=(5, 2))
    assert max(r.rel_error for r in mlpcli.gradcheck(net, X, y)) < 1e-7
