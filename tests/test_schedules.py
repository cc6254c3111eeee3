"""Per-epoch rates against worked values and closed forms written here independently of
mlpcli/schedules.py (PyTorch's schedulers' semantics: StepLR, ExponentialLR, CosineAnnealingLR,
ReduceLROnPlateau, LinearLR warm-up)."""

import math

import pytest

import mlpcli
from mlpcli.schedules import Schedule


def rates(name, epochs, lr=1.0, losses=None, **params):
    s = Schedule(name, lr, epochs, **params)
    out = []
    for e in range(epochs):
        out.append(s.lr)
        s.end_epoch(None if losses is None else losses[e])
    return out


def halved_cosine(lr, min_lr, T):
    """CosineAnnealingLR's closed form, written as cos^2 of half the angle: (1 + cos x)/2 = cos^2(x/2)."""
    return [min_lr + (lr - min_lr) * math.cos(math.pi * e / (2 * T)) ** 2 for e in range(T)]


def test_constant():
    assert rates("constant", 4, lr=0.3) == [0.3] * 4


def test_step_worked_values():
    # StepLR(step_size=2, gamma=0.5): 1, 1, then halved every two epochs
    assert rates("step", 7, step_size=2, gamma=0.5) == [1, 1, 0.5, 0.5, 0.25, 0.25, 0.125]
    assert rates("step", 4, lr=0.2, step_size=3, gamma=0.1) == pytest.approx([0.2, 0.2, 0.2, 0.02])


def test_exponential_is_a_running_product():
    expected, r = [], 0.5
    for _ in range(6):
        expected.append(r)
        r *= 0.9
    assert rates("exponential", 6, lr=0.5, gamma=0.9) == pytest.approx(expected, rel=1e-14)
    assert rates("exponential", 4, gamma=0.9) == pytest.approx([1, 0.9, 0.81, 0.729])  # worked by hand


def test_cosine_worked_values():
    # lr 1, min_lr 0.1, T 4: 0.1 + 0.9 (1 + cos(pi e/4))/2 = 1, 0.1 + 0.9 (2 + sqrt 2)/4, 0.55, 0.1 + 0.9 (2 - sqrt 2)/4
    expected = [1.0, 0.1 + 0.9 * (2 + math.sqrt(2)) / 4, 0.55, 0.1 + 0.9 * (2 - math.sqrt(2)) / 4]
    assert rates("cosine", 4, min_lr=0.1) == pytest.approx(expected, rel=1e-14)
    assert expected[1] == pytest.approx(0.8681980515) and expected[3] == pytest.approx(0.2318019485)


@pytest.mark.parametrize("lr,min_lr,T", [(1.0, 0.0, 10), (0.05, 0.001, 7), (2.0, 0.5, 1)])
def test_cosine_closed_form(lr, min_lr, T):
    got = rates("cosine", T, lr=lr, min_lr=min_lr)
    assert got == pytest.approx(halved_cosine(lr, min_lr, T), rel=1e-12)
    assert got[0] == lr and all(a > b for a, b in zip(got[:-1], got[1:], strict=True))  # starts at lr and only decreases


def test_plateau_halves_when_the_loss_stops_decreasing():
    losses = [1.0, 0.9, 0.95, 0.95, 0.8, 0.85, 0.85, 0.85]
    # bad epochs: e2 (1), e3 (2 > patience 1: halve -> 0.5 from e4); e5 (1), e6 (2: halve -> 0.25 from e7)
    assert rates("plateau", 8, losses=losses, patience=1, factor=0.5) == [1, 1, 1, 1, 0.5, 0.5, 0.5, 0.25]


def test_plateau_min_delta_and_min_lr():
    losses = [1.0, 0.999, 0.998, 0.997, 0.996]
    assert rates("plateau", 5, losses=losses, patience=0, factor=0.1, min_delta=0.01, min_lr=0.05) == [1, 1, 0.1, 0.05, 0.05]


def test_plateau_never_lowers_while_the_loss_improves():
    assert rates("plateau", 6, losses=[6, 5, 4, 3, 2, 1], patience=0) == [1] * 6


def test_warmup_then_schedule():
    assert rates("constant", 5, lr=0.3, warmup_epochs=3) == pytest.approx([0.1, 0.2, 0.3, 0.3, 0.3])
    assert rates("step", 6, warmup_epochs=2, step_size=2, gamma=0.5) == pytest.approx([0.5, 1, 1, 1, 0.5, 0.5])
    # cosine runs over the 4 epochs after warm-up: 1, (2 + sqrt 2)/4, 1/2, (2 - sqrt 2)/4
    c = rates("cosine", 6, warmup_epochs=2)
    assert c == pytest.approx([0.5, 1.0, 1.0, (2 + math.sqrt(2)) / 4, 0.5, (2 - math.sqrt(2)) / 4], rel=1e-14)


@pytest.mark.parametrize("schedule,expected", [
    (["schedule=cosine", "schedule.min_lr=0.1"], [0.5, 0.1 + 0.4 * (2 + math.sqrt(2)) / 4, 0.3, 0.1 + 0.4 * (2 - math.sqrt(2)) / 4]),
    (["schedule=step", "schedule.step_size=1", "schedule.gamma=0.5"], [0.5, 0.25, 0.125, 0.0625]),
    (["schedule=exponential", "schedule.gamma=0.9"], [0.5, 0.45, 0.405, 0.3645]),
])
def test_training_uses_the_configured_rate_each_epoch(schedule, expected):
    """The lr column of a real run (the rate each epoch trained with) follows the worked values."""
    cfg = mlpcli.load_config(None, ["training.epochs=4", "optimizer.lr=0.5", *schedule])
    cfg.output.dir = None
    history = mlpcli.train(cfg).history
    assert [row["lr"] for row in history] == pytest.approx(expected, rel=1e-12)


def test_state_roundtrip():
    s = Schedule("plateau", 1.0, 10, patience=0)
    for loss in (1.0, 2.0, 3.0):
        s.end_epoch(loss)
    t = Schedule("plateau", 1.0, 10, patience=0)
    t.load_state_dict(s.state_dict())
    assert t.lr == s.lr == 0.25 and t.epoch == 3
