"""Evaluation metrics: a hand-computed example, and scikit-learn's metrics as the reference."""

import numpy as np
import pytest

from mlpcli.metrics import classification_report, regression_metrics, roc_auc


def test_hand_computed_three_classes():
    # true:  a a a b b c ; pred: a a b b c c
    true, pred = np.array([0, 0, 0, 1, 1, 2]), np.array([0, 0, 1, 1, 2, 2])
    r = classification_report(true, pred, ["a", "b", "c"])
    # a: tp 2, predicted 2, support 3 -> p 1, r 2/3, f1 0.8
    # b: tp 1, predicted 2, support 2 -> p 1/2, r 1/2, f1 1/2
    # c: tp 1, predicted 2, support 1 -> p 1/2, r 1, f1 2/3
    assert r["per_class"]["a"] == pytest.approx({"precision": 1, "recall": 2 / 3, "f1": 0.8, "support": 3})
    assert r["per_class"]["c"] == pytest.approx({"precision": 0.5, "recall": 1, "f1": 2 / 3, "support": 1})
    assert r["precision"] == pytest.approx((1 + 0.5 + 0.5) / 3)
    assert r["f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert r["recall_weighted"] == pytest.approx((3 * 2 / 3 + 2 * 0.5 + 1 * 1) / 6)  # = accuracy 4/6
    assert "roc_auc" not in r


def test_hand_computed_auc_with_a_tie():
    # positives score 0.9, 0.4; negatives 0.4, 0.1: pairs (0.9>0.4, 0.9>0.1, 0.4=0.4 -> 1/2, 0.4>0.1) = 3.5 / 4
    assert roc_auc([1, 1, 0, 0], [0.9, 0.4, 0.4, 0.1]) == pytest.approx(0.875)


def test_against_scikit_learn():
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    for k in (2, 3, 5):
        true = rng.integers(0, k, 300)
        pred = np.where(rng.random(300) < 0.6, true, rng.integers(0, k, 300))
        pred[pred == k - 1] = 0  # one class never predicted: zero-division rules matter
        scores = np.round(rng.random(300) + 0.3 * true, 2)  # rounded: ties
        r = classification_report(true, pred, [f"c{i}" for i in range(k)], scores if k == 2 else None)
        for avg in ("macro", "weighted"):
            p, rc, f, _ = sk.precision_recall_fscore_support(true, pred, average=avg, zero_division=0)
            suffix = "" if avg == "macro" else "_weighted"
            assert (r["precision" + suffix], r["recall" + suffix], r["f1" + suffix]) == pytest.approx((p, rc, f))
        p, rc, f, s = sk.precision_recall_fscore_support(true, pred, labels=range(k), zero_division=0)
        assert [r["per_class"][f"c{i}"]["f1"] for i in range(k)] == pytest.approx(f)
        assert [r["per_class"][f"c{i}"]["support"] for i in range(k)] == s.tolist()
        if k == 2:
            assert r["roc_auc"] == pytest.approx(sk.roc_auc_score(true, scores))


def test_regression_metrics_against_scikit_learn():
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(1)
    y, a = rng.normal(size=(50, 2)), rng.normal(size=(50, 2))
    m = regression_metrics(a, y)
    assert m["mse"] == pytest.approx(sk.mean_squared_error(y, a))
    assert m["rmse"] == pytest.approx(np.sqrt(sk.mean_squared_error(y, a)))
    assert m["mae"] == pytest.approx(sk.mean_absolute_error(y, a))
    assert m["r2"] == pytest.approx(sk.r2_score(y, a))
