import numpy as np
import pytest

import mlpcli
from mlpcli.initializers import init_weights


def test_same_seed_same_weights_and_zero_biases():
    cfg = mlpcli.load_config(None, ["model.layers=[5,40,3]", "seed=7"])
    a, b = mlpcli.MLP.from_config(cfg), mlpcli.MLP.from_config(cfg)
    for k in a.names:
        np.testing.assert_array_equal(a.params[k], b.params[k])
    assert not a.params["b1"].any() and not a.params["b2"].any()
    c = mlpcli.MLP.from_config(mlpcli.load_config(None, ["model.layers=[5,40,3]", "seed=8"]))
    assert not np.array_equal(a.params["W1"], c.params["W1"])


@pytest.mark.parametrize("name,check", [
    ("normal", lambda W, n, m: abs(W.std() - 0.01) < 0.001),
    ("xavier", lambda W, n, m: np.abs(W).max() <= np.sqrt(6 / (n + m)) and abs(W.var() - 2 / (n + m)) < 0.1 * 2 / (n + m)),
    ("glorot", lambda W, n, m: np.abs(W).max() <= np.sqrt(6 / (n + m))),
    ("he", lambda W, n, m: abs(W.std() - np.sqrt(2 / n)) < 0.05 * np.sqrt(2 / n)),
])
def test_distributions(name, check):
    (W,) = init_weights(name, np.random.default_rng(0), [400, 300], np.float32)
    assert W.shape == (300, 400) and W.dtype == np.float32
    assert check(W, 400, 300)


def test_normal_std_configurable():
    cfg = mlpcli.load_config(None, ["model.layers=[300,300,1]", "model.init.name=normal", "model.init.std=0.5"])
    assert abs(mlpcli.MLP.from_config(cfg).params["W1"].std() - 0.5) < 0.01


def test_init_from_file(weights_file):
    w = weights_file(W1=np.ones((4, 2)), b1=np.arange(4), W2=np.full((1, 4), 2.0), b2=[3.0])
    net = mlpcli.MLP.from_config(mlpcli.load_config(None, ["model.layers=[2,4,1]", f"model.init.from={w}"]))
    assert net.params["W2"].tolist() == [[2.0] * 4] and net.params["b1"].tolist() == [0, 1, 2, 3]


def test_init_from_file_missing_array(weights_file):
    w = weights_file(W1=np.ones((4, 2)), b1=np.zeros(4))
    with pytest.raises(mlpcli.ConfigError, match="no W2"):
        mlpcli.MLP.from_config(mlpcli.load_config(None, ["model.layers=[2,4,1]", f"model.init.from={w}"]))


def test_unknown_initialiser():
    with pytest.raises(mlpcli.ConfigError, match="did you mean 'xavier'"):
        mlpcli.load_config(None, ["model.init=xavir"])
