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


@pytest.mark.parametrize("name,hp", [("sgd", {"momentum": 0.5}), ("adam", {}), ("rmsprop", {"momentum": 0.5})])
def test_state_decaying_to_subnormal_is_flushed_to_zero(name, hp):
    """A weight whose gradient turns exactly zero has its momentum decay geometrically; once the
    state is subnormal (slow arithmetic) the periodic sweep sets it to 0, and the weights move as
    the unflushed rule would move them, to within the smallest normal number."""
    from mlpcli.optimizers import FLUSH_EVERY

    tiny = np.finfo(np.float32).tiny
    opt = get_optimizer(name, 4, np.float32, **hp)
    p = np.array([0.5, -0.25, 1.0, 0.0], np.float32)
    g = np.array([1e-30, -1e-31, 0.0, 1e-25], np.float32)
    reference = np.float64(p)
    buf = np.zeros(4)
    seen_subnormal = False
    for t in range(1, 20 * FLUSH_EVERY + 1):
        step_g = g if t == 1 else np.zeros(4, np.float32)  # one gradient, then zeros
        opt.step(p, step_g * np.float32(opt.grad_scale(0.1)), 0.1)
        state = np.concatenate(list(opt.state.values()))
        subnormal = (state != 0) & (np.abs(state) < tiny)
        seen_subnormal |= bool(subnormal.any())
        if t % FLUSH_EVERY == 0:
            assert not subnormal.any(), f"step {t}: subnormal state survived the sweep"
        if name == "sgd":  # torch's rule in float64, with no flushing
            buf = np.float64(step_g) if t == 1 else hp["momentum"] * buf + step_g
            reference -= 0.1 * buf
    assert seen_subnormal  # the decay did pass through the subnormal range between sweeps
    if name == "sgd":
        np.testing.assert_allclose(p, reference, rtol=1e-6, atol=tiny)


def test_normal_state_is_left_exactly_as_the_rule_computes_it():
    """The velocity (lr * torch's buf) follows v = 0.9 v + lr g step by step, computed here in
    float32 alongside: no sweep touches state that is not subnormal."""
    opt = get_optimizer("sgd", 3, np.float32, momentum=0.9)
    p = np.array(P0, np.float32)
    v = np.zeros(3, np.float32)
    assert opt.grad_scale(LR) == LR  # SGD is handed lr * dL/dp
    for t in range(1, 3 * 8 + 1):
        g = np.array(GRADS[t % 3], np.float32) * np.float32(LR)
        v = v * np.float32(0.9) + g
        opt.step(p, g, LR)
        np.testing.assert_array_equal(opt.state["velocity"], v)


def test_worked_values_with_a_constant_gradient():
    """With g = 1 every step and lr 0.1, three steps by hand:
    momentum 0.9: buf 1, 1.9, 2.71 -> p moves 0.1 * 5.61 = 0.561;
    Nesterov: g + 0.9 buf = 1.9, 2.71, 3.439 -> 0.8049;
    Adam: m_hat = v_hat = 1 each step -> 0.1 per step (up to eps), 0.3;
    RMSprop (alpha 0.99): v = 0.01, 0.0199, 0.029701 -> 0.1 (1/0.1 + 1/sqrt(0.0199) + 1/sqrt(0.029701))."""
    def moved(name, **hp):
        opt = get_optimizer(name, 1, np.float64, **hp)
        p = np.zeros(1)
        for _ in range(3):
            opt.step(p, np.ones(1) * opt.grad_scale(0.1), 0.1)
        return -p[0]

    assert moved("sgd") == pytest.approx(0.3, rel=1e-14)
    assert moved("sgd", momentum=0.9) == pytest.approx(0.561, rel=1e-14)
    assert moved("sgd", momentum=0.9, nesterov=True) == pytest.approx(0.8049, rel=1e-14)
    assert moved("adam") == pytest.approx(0.3, rel=1e-6)
    assert moved("rmsprop") == pytest.approx(0.1 * (10 + 1 / math.sqrt(0.0199) + 1 / math.sqrt(0.029701)), rel=1e-7)
