import time

import numpy as np

import mlpcli
from mlpcli.gradient_check import gradcheck, random_batch


def test_relative_error_definition():
    """The reported error is ||a - n|| / (||a|| + ||n||): a gradient scaled by 2 gives 1/3."""
    from mlpcli.model import MLP

    net = MLP([3, 2], ["identity"], "squared_error", dtype="float64")
    net.params["W1"][...] = [[1.0, 2.0, 3.0], [0.5, -1.0, 0.0]]
    X, y = random_batch(net.layers, "squared_error", n=4)
    real = MLP.loss_and_gradients

    def doubled(self, X, y):
        L, g = real(self, X, y)
        return L, {k: 2 * v for k, v in g.items()}

    MLP.loss_and_gradients = doubled
    try:
        (c, c_b) = gradcheck(net, X, y)
    finally:
        MLP.loss_and_gradients = real
    assert abs(c.rel_error - 1 / 3) < 1e-6


def test_mnist_sized_network_samples_entries():
    cfg = mlpcli.load_config(None, ["model.layers=[784,128,10]", "model.activation=relu", "loss=cross_entropy"])
    net = mlpcli.MLP.from_config(cfg)
    X, y = random_batch(net.layers, "cross_entropy", n=16)
    t = time.perf_counter()
    checks = gradcheck(net, X, y, max_entries=64)
    elapsed = time.perf_counter() - t
    assert [c.checked for c in checks] == [64, 64, 64, 10]
    assert max(c.rel_error for c in checks) < 1e-7
    print(f"784-128-10 gradcheck: {elapsed:.2f} s")  # reported in the closing note; not a timed assertion
    assert checks[0].shape == (128, 784) and np.isfinite(checks[0].max_abs_diff)
