"""What a sweep shows: a Rich table on a terminal, one plain line per finished trial off it, sweep.csv."""

import io

import pytest

from mlpcli.sweepfile import SweepSpec
from mlpcli.sweepview import SweepView, best_of, sweep_csv, trial_rows

optuna = pytest.importorskip("optuna")

SPEC = SweepSpec.model_validate({"metric": "val_acc", "space": {"optimizer.lr": {"log_uniform": [1e-3, 1]},
                                                                "model.layers": {"choice": [[2, 4, 1], [2, 8, 1]]}}})


def trials():
    s = optuna.create_study(direction="maximize")
    for lr, layers, acc in ((0.01, "[2, 4, 1]", 0.5), (0.1, "[2, 8, 1]", 0.75)):
        s.add_trial(optuna.create_trial(
            params={"optimizer.lr": lr, "model.layers": layers}, value=acc, user_attrs={"epochs": 3, "seconds": 1.5},
            distributions={"optimizer.lr": optuna.distributions.FloatDistribution(1e-3, 1, log=True),
                           "model.layers": optuna.distributions.CategoricalDistribution(["[2, 4, 1]", "[2, 8, 1]"])}))
    return s.trials


def test_plain_lines_once_per_finished_trial():
    out = io.StringIO()
    view = SweepView(SPEC, 5, stream=out, live=False)
    ts = trials()
    view.refresh(ts)
    view.refresh(ts)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and lines[1].startswith("trial 1  complete  val_acc 0.75  best 0.75 (trial 1)  optimizer.lr=0.1")


def test_the_live_table_marks_the_best_trial():
    out = io.StringIO()
    view = SweepView(SPEC, 5, stream=out, live=True)
    ts = trials()
    view.refresh(ts)
    view.close()
    text = out.getvalue()
    assert "optimizer.lr" in text and "model.layers" in text and "2 finished of 5; best val_acc 0.75 at trial 1" in text
    assert best_of(ts, SPEC).number == 1  # maximize: the higher accuracy


def test_sweep_csv_has_a_column_per_parameter():
    ts = trials()
    text = sweep_csv(trial_rows(ts, SPEC), SPEC).splitlines()
    assert text[0] == "trial,optimizer.lr,model.layers,val_acc,state,epochs,seconds,run_dir,note"
    assert text[1] == '0,0.01,"[2, 4, 1]",0.5,complete,3,1.5,,'
