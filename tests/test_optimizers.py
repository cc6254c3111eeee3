"""Three steps of each optimiser against PyTorch's update rules, computed here element by element."""

import math

import numpy as np
import pytest

from mlpcli.optimizers import get_optimizer

P0 = [0.5, -1.0, 2.0]
GRADS = [[0.1, -0.2, 0.3], [0.05, 0.4, -0.1], [-0.3, 0.1, 0.2]]
LR = 0.1


def run(name, **hp):
    opt = get_optimizer(name, 3, np.float64, **hp)
    p = np.array(P0)
    for g in GRADS:
        opt.step(p, np.array(g) * opt.grad_scale(LR), LR)  # the model hands over gradients times grad_scale
    return p


def reference_sgd(momentum=0.0, nesterov=False):
    out = []
    for i in range(3):
        p, buf = P0[i], None
        for g in (G[i] for G in GRADS):
            if momentum:
                buf = g if buf is None else momentum * buf + g
                g = g + momentum * buf if nesterov else buf
            p = p - LR * g
        out.append(p)
    return out


def reference_adam(b1=0.9, b2=0.999, eps=1e-8):
    out = []
    for i in range(3):
        p, m, v = P0[i], 0.0, 0.0
        for t, g in enumerate((G[i] for G in GRADS), start=1):
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            denom = math.sqrt(v) / math.sqrt(1 - b2**t) + eps
            p = p - LR / (1 - b1**t) * m / denom
        out.append(p)
    return out


def reference_rmsprop(alpha=0.99, eps=1e-8, momentum=0.0):
    out = []
    for i in range(3):
        p, v, buf = P0[i], 0.0, 0.0
        for g in (G[i] for G in GRADS):
            v = alpha * v + (1 - alpha) * g * g
            avg = math.sqrt(v) + eps
            if momentum:
                buf = momentum * buf + g / avg
                p = p - LR * buf
            else:
                p = p - LR * g / avg
        out.append(p)
    return out


@pytest.mark.parametrize("hp", [{}, {"momentum": 0.9}, {"momentum": 0.9, "nesterov": True}])
def test_sgd(hp):
    np.testing.assert_allclose(run("sgd", **hp), reference_sgd(**hp), rtol=1e-13)


@pytest.mark.parametrize("hp", [{}, {"betas": (0.8, 0.99), "eps": 1e-6}])
def test_adam(hp):
    ref = reference_adam(*hp.get("betas", (0.9, 0.999)), hp.get("eps", 1e-8))
    np.testing.assert_allclose(run("adam", **hp), ref, rtol=1e-13)


@pytest.mark.parametrize("hp", [{}, {"alpha": 0.9, "momentum": 0.5}])
def test_rmsprop(hp):
    np.testing.assert_allclose(run("rmsprop", **hp), reference_rmsprop(**hp), rtol=1e-13)


def test_plain_sgd_has_no_state_and_momentum_does():
    assert get_optimizer("sgd", 3, np.float32).state == {}
    assert set(get_optimizer("sgd", 3, np.float32, momentum=0.9).state) == {"velocity"}
    assert set(get_optimizer("adam", 3, np.float32).state) == {"exp_avg", "exp_avg_sq"}


def test_sgd_momentum_follows_torch_when_the_rate_changes():
    """The velocity is rescaled with the rate: buf stays lr-free, as torch's momentum_buffer."""
    rates = [0.1, 0.1, 0.03]
    opt = get_optimizer("sgd", 3, np.float64, momentum=0.9)
    p = np.array(P0)
    for g, lr in zip(GRADS, rates, strict=True):
        opt.step(p, np.array(g) * opt.grad_scale(lr), lr)
    ref = []
    for i in range(3):
        q, buf = P0[i], None
        for G, lr in zip(GRADS, rates, strict=True):
            buf = G[i] if buf is None else 0.9 * buf + G[i]
            q = q - lr * buf
        ref.append(q)
    np.testing.assert_allclose(p, ref, rtol=1e-13)
