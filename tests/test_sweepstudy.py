"""The study's bookkeeping: per-trial seeding, which trials count, and retrying unfinished ones."""

import pytest

from mlpcli.sweepfile import SweepSpec
from mlpcli.sweepstudy import counted, make_pruner, make_sampler, recover, retried_numbers

optuna = pytest.importorskip("optuna")
from optuna.trial import TrialState  # noqa: E402

SPEC = SweepSpec.model_validate({"sampler": {"name": "random", "seed": 7}, "space": {"l2": {"uniform": [0, 1]}}})


def study():
    return optuna.create_study(sampler=make_sampler(SPEC))


def test_trial_k_draws_the_same_value_whatever_ran_before_it():
    a, b = study(), study()
    a.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=4)
    b.add_trial(optuna.create_trial(params={"x": 0.5}, distributions={"x": optuna.distributions.FloatDistribution(0, 1)}, value=0.5))
    b.add_trial(optuna.create_trial(state=TrialState.FAIL))
    b.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)  # trials 2 and 3 of b
    xa, xb = [t.params["x"] for t in a.trials], [t.params.get("x") for t in b.trials]
    assert xb[2:] == xa[2:] and len(set(xa)) == 4
    c = optuna.create_study(sampler=make_sampler(SweepSpec.model_validate({**SPEC.to_dict(), "sampler": {"name": "random", "seed": 8}})))
    c.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=4)
    assert not set(xa) & {t.params["x"] for t in c.trials}  # another seed, other draws


def test_a_killed_trial_is_failed_queued_again_and_does_not_count():
    s = study()
    s.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    mine, theirs = s.ask(), s.ask()
    mine.suggest_float("x", 0, 1)
    mine.set_user_attr("owner", "host:/sweeps/a")
    theirs.set_user_attr("owner", "host:/sweeps/b")  # another sweep's trial, maybe still running
    assert len(counted(s.trials)) == 2
    assert recover(s, "host:/sweeps/a") == [2]
    t = s.trials
    assert t[2].state == TrialState.FAIL and t[3].state == TrialState.RUNNING
    assert t[4].state == TrialState.WAITING and t[4].params == t[2].params and t[4].system_attrs["failed_trial"] == 2
    assert retried_numbers(t) == {2} and len(counted(t)) == 2
    assert recover(s, "host:/sweeps/a") == []  # queued once only
    s.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)  # the queued values run first
    assert s.trials[4].state == TrialState.COMPLETE and s.trials[4].params == t[2].params and len(counted(s.trials)) == 3


def test_a_trial_stopped_by_a_signal_is_queued_again():
    s = study()

    def stopped(trial):
        trial.suggest_float("x", 0, 1)
        trial.set_user_attr("stopped", True)
        raise RuntimeError("SIGINT")

    with pytest.raises(RuntimeError):
        s.optimize(stopped, n_trials=1)
    assert counted(s.trials) == [] and recover(s, "nobody") == [0]
    assert s.trials[1].state == TrialState.WAITING and s.trials[1].params == s.trials[0].params


def test_pruners_take_optunas_parameters():
    spec = SweepSpec.model_validate({**SPEC.to_dict(), "pruner": {"name": "median", "n_warmup_steps": 5}})
    p = make_pruner(spec.pruner)
    assert isinstance(p, optuna.pruners.MedianPruner) and p._n_warmup_steps == 5 and p._n_startup_trials == 5  # noqa: SLF001 - Optuna keeps them private
    assert isinstance(make_pruner(SweepSpec.model_validate({**SPEC.to_dict(), "pruner": "hyperband"}).pruner),
                      optuna.pruners.HyperbandPruner)
    assert isinstance(make_pruner(SPEC.pruner), optuna.pruners.NopPruner)
