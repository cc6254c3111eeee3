"""The BLAS thread count: finding NumPy's OpenBLAS, the forced count, and the tuner's choices."""

import numpy as np
import pytest

import mlpcli
from mlpcli import threads
from mlpcli.callbacks import Callback
from mlpcli.errors import ConfigError
from mlpcli.threads import ThreadTuner, requested
from mlpcli.trainer import Trainer


class FakeBlas:
    initial = 2

    def __init__(self):
        self.n = 2

    def set(self, n):
        self.n = n


class Machine:
    """A simulated run on two cores: each step's seconds by load and thread count, on a fake clock,
    and the idle CPU time it leaves. Beside a competing process, two threads' steps are what a
    real machine shows: most run at full speed, every fourth waits out the competitor's time
    slice, so their median (1.0 ms) beats one thread's 1.2 ms while their mean (3.0 ms) is 2.5x it."""

    IDLE = {2: 1.0e-3, 1: 1.15e-3}
    BUSY = {2: (1.0e-3, 1.0e-3, 1.0e-3, 9.0e-3), 1: (1.2e-3,)}

    def __init__(self, report_idle=True, busy_steps=None, noise=0.0):
        self.busy_steps = busy_steps or self.BUSY
        self.clock = self.idle = 0.0
        self.i = 0
        self.rng, self.noise = np.random.default_rng(0), noise
        self.blas = FakeBlas()
        self.tuner = ThreadTuner(self.blas, 2, clock=lambda: self.clock,
                                 idle=(lambda: self.idle) if report_idle else (lambda: None))

    def step(self, busy, n):
        self.i += 1
        cycle = self.busy_steps[n] if busy else (self.IDLE[n],)
        t = cycle[self.i % len(cycle)]
        if self.noise:  # scattered steps, and now and then one that waits 20 ms for a core another program holds
            t = t * self.rng.lognormal(0, self.noise) + (0.02 if self.rng.random() < 0.005 else 0.0)
        return t

    def run(self, seconds, busy):
        """Steps for ``seconds`` of simulated time; returns the seconds spent at each count."""
        end, spent = self.clock + seconds, {1: 0.0, 2: 0.0}
        while self.clock < end:
            n = self.blas.n
            t = self.step(busy, n)
            self.clock += t
            if not busy and n == 1:  # one thread on an idle machine leaves a core idle
                self.idle += t
            spent[n] += t
            self.tuner.tick()
        return spent


def steps_at_best(spent, busy):
    """The steps a run made, as a fraction of what the best fixed count would have made."""
    mean = {n: float(np.mean(Machine.BUSY[n])) if busy else Machine.IDLE[n] for n in (1, 2)}
    return (spent[1] / mean[1] + spent[2] / mean[2]) / (sum(spent.values()) / min(mean.values()))


def test_idle_machine_keeps_every_thread_and_its_probes_cost_under_one_percent():
    m = Machine()
    spent = m.run(60, busy=False)
    assert m.blas.n == 2
    assert 0.99 < steps_at_best(spent, busy=False) < 1
    assert m.tuner.probes == 5 and m.tuner.switches == 5 * 2 * 3  # at the start and after 3, 9, 21, 45 s of training


def test_a_busy_start_moves_to_one_thread_although_two_threads_median_step_is_faster():
    m = Machine()
    spent = m.run(1, busy=True)
    assert m.blas.n == 1  # the first probe: within the first second
    spent = m.run(60, busy=True)
    assert m.blas.n == 1 and steps_at_best(spent, busy=True) > 0.98  # later probes of two threads cost little
    assert m.tuner.seconds[1] == pytest.approx(m.tuner.trained - m.tuner.seconds[2]) and m.tuner.seconds[2] < 0.015 * m.tuner.trained


def test_load_that_starts_mid_run_is_caught_within_a_second_and_its_end_within_a_probe():
    m = Machine()
    m.run(20, busy=False)
    assert m.blas.n == 2
    m.run(1, busy=True)  # the scheduled probe is 24 s away: the slowdown calls for one at once
    assert m.blas.n == 1
    spent = m.run(60, busy=True)
    assert m.blas.n == 1 and steps_at_best(spent, busy=True) > 0.98
    m.run(5, busy=False)  # the core the competitor leaves idle calls for a probe within `recheck`
    assert m.blas.n == 2


def test_without_idle_figures_more_threads_are_retried_with_growing_waits():
    m = Machine(report_idle=False)
    m.run(5, busy=False)
    m.run(60, busy=True)
    m.run(m.tuner.max_recheck + 2, busy=False)
    assert m.blas.n == 2
    probes = m.tuner.probes
    spent = m.run(60, busy=True)
    assert m.blas.n == 1 and steps_at_best(spent, busy=True) > 0.98
    assert m.tuner.probes - probes <= 6  # the one that found the load, then after 3, 6, 12, 24 and 30 s


def test_a_probe_far_slower_than_the_count_it_left_stops_after_one_window():
    """A heavily loaded machine (two threads' steps 100x one thread's): each probe costs one window."""
    m = Machine(busy_steps={2: (0.2,), 1: (2.0e-3,)})
    m.run(2, busy=False)
    spent = m.run(60, busy=True)
    assert m.blas.n == 1
    found = 3 + 2  # windows of one step: three slow ones in a row, then the probe's two more at two threads
    assert spent[2] <= 0.2 * (found + m.tuner.probes - 2)  # then one step for each probe of two threads


def test_noisy_steps_do_not_make_it_waver():
    """Every step's time scattered by a factor of about 1.35 (lognormal) and one in 200 stalled by
    20 ms (other programs): the best count nearly throughout, with or without load."""
    m = Machine(noise=0.3)
    idle = m.run(60, busy=False)
    busy = m.run(60, busy=True)
    assert m.blas.n == 1
    assert steps_at_best(idle, busy=False) > 0.985 and steps_at_best(busy, busy=True) > 0.97


def test_idle_cores_during_a_pause_do_not_call_for_more_threads():
    """Between epochs (validation, checkpoints) the cores may idle; that is no sign that they are free."""
    def epochs(idle_in_pauses):
        m = Machine()
        m.run(5, busy=False)
        m.run(20, busy=True)
        switches = m.tuner.switches
        for _ in range(100):  # epochs of 0.2 s under load, each followed by a pause that may leave a core idle
            m.run(0.2, busy=True)
            m.tuner.pause()
            m.idle += idle_in_pauses
        return m.blas.n, m.tuner.switches - switches

    assert epochs(0.5) == epochs(0.0) == (1, epochs(0.0)[1])
    assert epochs(0.0)[1] <= 2 * 2  # only the scheduled probes of two threads


@pytest.mark.parametrize("env, cfg, expected", [
    (None, "auto", None), (None, 3, 3), ("2", 3, 3), ("2", "auto", 2), ("auto", "auto", None), (" ", "auto", None),
])
def test_forced_count_from_the_config_else_the_environment(monkeypatch, env, cfg, expected):
    if env is None:
        monkeypatch.delenv(threads.ENV, raising=False)
    else:
        monkeypatch.setenv(threads.ENV, env)
    assert requested(cfg) == expected


@pytest.mark.parametrize("bad", ["0", "-1", "two", "1.5"])
def test_a_bad_forced_count_is_a_config_error_naming_its_source(monkeypatch, bad):
    monkeypatch.setenv(threads.ENV, bad)
    with pytest.raises(ConfigError, match=f"^{threads.ENV}: expected a thread count"):
        requested("auto")


def test_numpy_openblas_thread_count_is_set_and_restored():
    control = threads.blas()
    if control is None:
        pytest.skip("NumPy's BLAS is not an OpenBLAS this module knows")
    try:
        control.set(1)
        assert control.get() == 1
        a = np.ones((300, 300), np.float32)
        assert float((a @ a)[0, 0]) == 300.0  # still computes
    finally:
        threads.restore()
    assert control.get() == control.initial


def test_tuner_only_where_there_is_a_choice(monkeypatch):
    if threads.blas() is None:
        pytest.skip("NumPy's BLAS is not an OpenBLAS this module knows")
    monkeypatch.setattr(threads, "cores", lambda: 2)
    try:
        assert threads.tuner_for(1, 10**9) is None and threads.blas().get() == 1  # forced: set, no tuner
        threads.restore()
        assert threads.tuner_for(None, threads.SPLIT_MNK) is None and threads.blas().get() == 1  # steps OpenBLAS never splits
        threads.restore()
        tuner = threads.tuner_for(None, 128 * 784 * 256)
        assert (tuner is not None) == (threads.blas().initial >= 2)
    finally:
        threads.restore()


# ---------------------------------------------------------------------------- in training
needs_openblas = pytest.mark.skipif(threads.blas() is None, reason="NumPy's BLAS is not an OpenBLAS this module knows")


class SeenCounts(Callback):
    def __init__(self):
        self.counts = set()

    def on_batch_end(self, trainer, loss):
        self.counts.add(threads.blas().get())


@needs_openblas
def test_at_most_caps_this_process_and_gives_the_count_back(monkeypatch):
    monkeypatch.delenv(threads.ENV, raising=False)
    control = threads.blas()
    before = control.get(), control.initial
    seen = SeenCounts()
    with threads.at_most(1):
        assert control.get() == 1 and control.initial == 1
        mlpcli.train(mlpcli.load_config(None, ["training.epochs=1"]), [seen])
        assert control.get() == 1  # training gives back the capped count, not the BLAS's own
        assert threads.tuner_for(None, 128 * 784 * 256) is None  # nothing left to tune
    assert seen.counts == {1}
    assert (control.get(), control.initial) == before


@needs_openblas
def test_small_steps_train_and_evaluate_on_one_thread_then_give_it_back(monkeypatch):
    """A second thread would only split the evaluations (of the validation split each epoch, of
    every split at the end) and then busy-wait on a core: a small network runs on one throughout."""
    from mlpcli import model, trainer

    monkeypatch.delenv(threads.ENV, raising=False)
    evaluated, evaluate = [], trainer.evaluate
    def recording(*a, **k):
        evaluated.append(threads.blas().get())
        return evaluate(*a, **k)

    monkeypatch.setattr(trainer, "evaluate", recording)  # each epoch's val_ metrics
    monkeypatch.setattr(model, "evaluate", recording)  # the final metrics (model.split_metrics)
    seen = SeenCounts()
    with threads.at_most(2):  # as on a 2-core machine, whatever this one has
        mlpcli.train(mlpcli.load_config(None, ["training.epochs=2", "data.validation_split=0.25"]), [seen])
        assert threads.blas().get() == threads.blas().initial
    assert seen.counts == {1} and evaluated == [1] * (2 + 3)  # each epoch's val_, then train, val and test


@needs_openblas
@pytest.mark.parametrize("how", ["config", "environment"])
def test_a_forced_count_holds_while_training_and_is_given_back(monkeypatch, how):
    monkeypatch.setenv(threads.ENV, "1") if how == "environment" else monkeypatch.delenv(threads.ENV, raising=False)
    overrides = ["training.epochs=2", "data.repeat=8", "training.batch_size=4"]
    cfg = mlpcli.load_config(None, overrides + (["training.threads=1"] if how == "config" else []))
    seen = SeenCounts()
    mlpcli.train(cfg, [seen])
    assert seen.counts == {1}
    assert threads.blas().get() == threads.blas().initial


@needs_openblas
def test_the_tuner_times_batches_only_when_openblas_would_split_a_gemm(monkeypatch):
    monkeypatch.delenv(threads.ENV, raising=False)
    monkeypatch.setattr(threads, "cores", lambda: 2)
    big = Trainer(mlpcli.load_config(None, ["model.layers=[784,256,10]", "training.batch_size=128", "data.name=npy",
                                            "data.train=x.npz"]), data=_random_data(256, 784, 10))
    small = Trainer(mlpcli.load_config(None, ["model.layers=[2,8,1]"]))
    kinds = [type(c) for t in (big, small) for c in t.callbacks.callbacks if isinstance(c, threads.ThreadCount)]
    assert kinds == [threads.TunedThreadCount if threads.blas().initial > 1 else threads.ThreadCount, threads.ThreadCount]
    assert small.callbacks.batch_hooks == [] or all(
        not isinstance(getattr(h, "__self__", None), threads.ThreadCount) for h in small.callbacks.batch_hooks)


def _random_data(n, d, k):
    from mlpcli.data import Dataset, Split

    rng = np.random.default_rng(0)
    return Dataset(train=Split(rng.random((n, d), dtype=np.float32), rng.integers(0, k, n)), task="classification")


def test_a_bad_thread_count_in_the_environment_exits_2_with_one_line(tmp_path):
    import os
    import subprocess
    import sys

    from .conftest import ROOT

    env = {**os.environ, threads.ENV: "many"}
    r = subprocess.run([sys.executable, "-m", "mlpcli", "train", str(ROOT / "configs/xor.yaml"), "-q", "--out", str(tmp_path / "run")],
                       capture_output=True, text=True, env=env, cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0
    assert "MLPCLI_THREADS: expected a thread count >= 1 or 'auto' (got 'many')" in r.stderr


def test_mlp_train_threads_option_is_the_config_key(tmp_path):
    from typer.testing import CliRunner

    from mlpcli.cli import app

    from .conftest import ROOT

    r = CliRunner().invoke(app, ["train", str(ROOT / "configs/xor.yaml"), "--threads", "1", "--set", "training.epochs=2",
                                 "-q", "--out", str(tmp_path / "run")])
    assert r.exit_code == 0, r.output
    assert mlpcli.load_config(tmp_path / "run" / "config.yaml").training.threads == 1
    assert CliRunner().invoke(app, ["train", str(ROOT / "configs/xor.yaml"), "--threads", "0"]).exit_code == 2


@pytest.mark.parametrize("bad", [0, -2, "two", 1.5, True])
def test_training_threads_must_be_a_count_or_auto(bad):
    with pytest.raises(ConfigError, match=r"training\.threads: expected an integer >= 1 or 'auto'"):
        mlpcli.load_config(None, [f"training.threads={bad}"])
