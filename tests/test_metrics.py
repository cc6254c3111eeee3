"""Evaluation metrics: a hand-computed example, and scikit-learn's metrics as the reference."""

import numpy as np
import pytest

from mlpcli.metrics import (
    RunningMetrics,
    accuracy,
    classification_report,
    confusion_matrix,
    predicted_classes,
    regression_metrics,
    roc_auc,
    true_classes,
)


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


def test_classes_from_outputs_and_targets():
    # a single output predicts class 1 strictly above 0.5; k outputs predict the argmax
    assert predicted_classes(np.array([[0.2], [0.5], [0.51]])).tolist() == [0, 0, 1]
    assert predicted_classes(np.array([0.9, 0.1])).tolist() == [1, 0]
    assert predicted_classes(np.array([[0.1, 0.7, 0.2], [0.5, 0.2, 0.3]])).tolist() == [1, 0]
    assert true_classes(np.array([2, 0, 1])).tolist() == [2, 0, 1]
    assert true_classes(np.array([[1.0], [0.0]])).tolist() == [1, 0]
    assert true_classes(np.eye(3)[[2, 0]]).tolist() == [2, 0]
    # 3 of 4 right: rows 0, 1, 3
    assert accuracy(np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]]), np.array([0, 1, 1, 1])) == 0.75


def test_confusion_matrix_against_scikit_learn():
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(2)
    true, pred = rng.integers(0, 4, 200), rng.integers(0, 4, 200)
    np.testing.assert_array_equal(confusion_matrix(pred, true, 4), sk.confusion_matrix(true, pred, labels=range(4)))
    assert confusion_matrix([1, 0], [0, 0], 2).tolist() == [[1, 1], [0, 0]]  # rows: true class


def test_auc_against_scikit_learn_with_many_ties():
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(3)
    positive = rng.random(500) < 0.3
    scores = np.round(rng.random(500) + 0.2 * positive, 1)
    assert roc_auc(positive, scores) == pytest.approx(sk.roc_auc_score(positive, scores), rel=1e-12)
    assert roc_auc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == 1.0 and roc_auc([1, 1, 0, 0], [0.1, 0.2, 0.3, 0.4]) == 0.0


def test_binary_report_from_one_output_column_and_no_auc_with_one_class():
    sk = pytest.importorskip("sklearn.metrics")
    true = np.array([0, 1, 1, 0, 1, 0, 0])
    p1 = np.array([0.2, 0.7, 0.4, 0.6, 0.9, 0.1, 0.3])
    r = classification_report(true, predicted_classes(p1), ["no", "yes"], p1)
    assert r["per_class"]["yes"]["recall"] == pytest.approx(sk.recall_score(true, p1 > 0.5))
    assert r["roc_auc"] == pytest.approx(sk.roc_auc_score(true, p1))
    assert "roc_auc" not in classification_report(np.zeros(3, int), np.zeros(3, int), ["no", "yes"], np.ones(3))


@pytest.mark.parametrize("classification", [True, False])
def test_running_metrics_over_an_epoch_equal_the_whole_set_metrics(classification):
    """Batches added one by one give the same epoch figures as the metrics of all rows at once
    (the weights are fixed here, so the running figure is exact)."""
    rng = np.random.default_rng(4)
    n = 23
    if classification:
        y = rng.integers(0, 3, n)
        Y, A = np.eye(3)[y], rng.random((n, 3))
    else:
        y, A = rng.normal(size=(n, 2)), rng.normal(size=(n, 2))
        Y = y
    losses = rng.random(n)
    rm = RunningMetrics(y, Y, classification)
    for lo in range(0, n, 5):
        idx = np.arange(lo, min(lo + 5, n))
        m = len(idx)
        rm.add(float(losses[idx].mean()), A[idx], y[idx], idx,
               np.empty(m, np.intp), np.empty((m, A.shape[1])))
    row = rm.row()
    assert row["train_loss"] == pytest.approx(losses.mean())
    if classification:
        assert row["train_acc"] == pytest.approx(accuracy(A, y))
    else:
        ref = regression_metrics(A, Y)
        assert (row["train_mse"], row["train_r2"]) == pytest.approx((ref["mse"], ref["r2"]))
