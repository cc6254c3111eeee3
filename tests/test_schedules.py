"""Per-epoch rates against sequences computed by hand (PyTorch's schedulers' semantics)."""

import math

import pytest

from mlpcli.schedules import Schedule


def rates(name, epochs, lr=1.0, losses=None, **params):
    s = Schedule(name, lr, epochs, **params)
    out = []
    for e in range(epochs):
        out.append(s.lr)
        s.end_epoch(None if losses is None else losses[e])
    return out


def test_constant():
    assert rates("constant", 4) == [1.0] * 4


def test_step():
    assert rates("step", 6, step_size=2, gamma=0.5) == [1, 1, 0.5, 0.5, 0.25, 0.25]


def test_exponential():
    assert rates("exponential", 4, gamma=0.9) == pytest.approx([1, 0.9, 0.81, 0.729])


def test_cosine():
    expected = [0.1 + 0.9 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(4)]
    assert rates("cosine", 4, min_lr=0.1) == pytest.approx(expected)
    assert expected[0] == 1.0 and expected[2] == pytest.approx(0.55)


def test_plateau_halves_when_the_loss_stops_decreasing():
    losses = [1.0, 0.9, 0.95, 0.95, 0.8, 0.85, 0.85, 0.85]
    # bad epochs: e2 (1), e3 (2 > patience 1: halve -> 0.5 from e4); e5 (1), e6 (2: halve -> 0.25 from e7)
    assert rates("plateau", 8, losses=losses, patience=1, factor=0.5) == [1, 1, 1, 1, 0.5, 0.5, 0.5, 0.25]


def test_plateau_min_delta_and_min_lr():
    losses = [1.0, 0.999, 0.998, 0.997, 0.996]
    assert rates("plateau", 5, losses=losses, patience=0, factor=0.1, min_delta=0.01, min_lr=0.05) == [1, 1, 0.1, 0.05, 0.05]


def test_warmup_then_schedule():
    assert rates("constant", 5, lr=0.3, warmup_epochs=3) == pytest.approx([0.1, 0.2, 0.3, 0.3, 0.3])
    assert rates("step", 6, warmup_epochs=2, step_size=2, gamma=0.5) == pytest.approx([0.5, 1, 1, 1, 0.5, 0.5])
    # cosine runs over the epochs after warm-up
    c = rates("cosine", 6, warmup_epochs=2)
    assert c[:3] == pytest.approx([0.5, 1.0, 1.0]) and c[4] == pytest.approx(0.5)


def test_state_roundtrip():
    s = Schedule("plateau", 1.0, 10, patience=0)
    for loss in (1.0, 2.0, 3.0):
        s.end_epoch(loss)
    t = Schedule("plateau", 1.0, 10, patience=0)
    t.load_state_dict(s.state_dict())
    assert t.lr == s.lr == 0.25 and t.epoch == 3
