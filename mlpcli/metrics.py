"""Metrics reported next to the loss: accuracy for classification, MSE/MAE/R^2 for regression."""

from __future__ import annotations

import numpy as np


def predicted_classes(A):
    """Class per row: argmax of k > 1 outputs; a single output predicts 1 when it exceeds 0.5."""
    A = np.asarray(A)
    if A.ndim == 1 or A.shape[1] == 1:
        return (A.reshape(-1) > 0.5).astype(np.intp)
    return A.argmax(axis=1)


def class_probabilities(A):
    """One probability column per class: a single (sigmoid) output p is the probability of class 1,
    so two classes give the columns (1 - p, p), as scikit-learn's ``predict_proba``."""
    A = np.asarray(A)
    A = A.reshape(len(A), -1)
    return np.hstack([1 - A, A]) if A.shape[1] == 1 else A


def true_classes(Y):
    """Integer labels from labels (N,), one-hot / probability rows (N, k) or 0/1 columns (N, 1)."""
    Y = np.asarray(Y)
    if Y.ndim == 1:
        return Y.astype(np.intp)
    if Y.shape[1] == 1:
        return (Y[:, 0] > 0.5).astype(np.intp)
    return Y.argmax(axis=1)


def accuracy(A, Y) -> float:
    return float(np.mean(predicted_classes(A) == true_classes(Y)))


def regression_metrics(A, Y) -> dict:
    """mse and mae over all outputs; r2 averaged uniformly over outputs (as scikit-learn)."""
    A = np.asarray(A, dtype=np.float64).reshape(len(A), -1)
    Y = np.asarray(Y, dtype=np.float64).reshape(len(Y), -1)
    err = A - Y
    ss_res = (err**2).sum(axis=0)
    ss_tot = ((Y - Y.mean(axis=0)) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(ss_tot > 0, 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0), 0.0)
    mse = float((err**2).mean())
    return {"mse": mse, "rmse": float(np.sqrt(mse)), "mae": float(np.abs(err).mean()), "r2": float(r2.mean())}


def confusion_matrix(pred, true, k: int):
    """counts[i, j] = samples of true class i predicted as j."""
    return np.bincount(np.asarray(true) * k + np.asarray(pred), minlength=k * k).reshape(k, k)


class RunningMetrics:
    """The epoch's training loss and accuracy (or MSE and R^2), accumulated batch by batch from the
    outputs the training pass computed anyway (a running figure: the weights move during the epoch).

    ``scale``: regression targets fitted as ``(y - shift) / scale`` (a table's normalize_target):
    the MSE is reported in the target's own units, the loss stays the training objective."""

    def __init__(self, y, Y, classification: bool, scale=None):
        self.classification = classification
        self.true = true_classes(y) if classification else None
        if not classification:  # per-output total sum of squares, for R^2; squared units, for the MSE
            Yf = Y.reshape(len(Y), -1).astype(np.float64)
            self.sst = ((Yf - Yf.mean(0)) ** 2).sum(0)
            self.units = np.ones(Yf.shape[1]) if scale is None else np.asarray(scale, np.float64) ** 2
        self.reset()

    def reset(self) -> None:
        self.loss_sum, self.metric_sum, self.seen, self.seconds, self.sse = 0.0, 0.0, 0, 0.0, None

    def add(self, loss: float, A, Yb, idx, pred, work) -> None:
        """One batch: its mean loss, outputs A, targets Yb (rows ``idx`` of the set); ``pred`` and
        ``work`` are scratch buffers shaped like a batch of class indices and of outputs."""
        nb = len(A)
        self.loss_sum += loss * nb
        self.seen += nb
        if self.classification:
            pred = A.argmax(axis=1, out=pred) if A.shape[1] > 1 else np.greater(A[:, 0], 0.5, out=pred, casting="unsafe")
            true = Yb if Yb.ndim == 1 else self.true[idx]  # integer labels: the batch already has them
            self.metric_sum += int(np.count_nonzero(pred == true))
        else:
            d = np.subtract(A, Yb, out=work)
            sse = np.einsum("ij,ij->j", d, d).astype(np.float64)  # per output
            self.sse = sse if self.sse is None else self.sse + sse

    def metric(self) -> float:
        """The accuracy so far, or the MSE in the target's units (0 before any batch)."""
        if self.classification or self.sse is None:
            return self.metric_sum / max(self.seen, 1)
        return float(np.mean(self.sse * self.units)) / self.seen

    def row(self) -> dict:
        """train_loss and train_acc, or train_loss, train_mse and train_r2 (R^2 averaged over outputs)."""
        key = "acc" if self.classification else "mse"
        row = {"train_loss": self.loss_sum / self.seen, f"train_{key}": self.metric()}
        if not self.classification:
            sst = self.sst
            row["train_r2"] = float(np.mean(np.where(sst > 0, 1 - self.sse / np.where(sst > 0, sst, 1), 0.0)))
        return row

    def state_dict(self) -> dict:
        s = {"loss_sum": self.loss_sum, "metric_sum": self.metric_sum, "seen": self.seen, "seconds": self.seconds}
        return s if self.sse is None else {**s, "sse": self.sse.tolist()}

    def load_state_dict(self, s: dict) -> None:
        self.loss_sum, self.metric_sum, self.seen, self.seconds = s["loss_sum"], s["metric_sum"], s["seen"], s["seconds"]
        self.sse = np.asarray(s["sse"]) if "sse" in s else None


HEADLINE = ("loss", "accuracy", "f1", "roc_auc", "mse", "rmse", "mae", "r2")  # a split's metrics in a summary line or table


def classification_report(true, pred, names, scores=None) -> dict:
    """Precision, recall and F1 per class, their macro and weighted averages, and ROC AUC for two classes.

    As scikit-learn: a ratio with a zero denominator is 0, and the averages run over the classes
    that occur in ``true`` or ``pred``. ``scores``: the probability of the second class, per row.
    """
    return confusion_report(confusion_matrix(pred, true, len(names)), names, true, scores)


def confusion_report(cm, names, true=None, scores=None) -> dict:
    """:func:`classification_report` from a confusion matrix already counted (``cm[true, pred]``);
    ``true`` is needed only with ``scores``, for ROC AUC."""
    k = len(names)
    tp, support, predicted = np.diag(cm).astype(np.float64), cm.sum(1), cm.sum(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / np.maximum(predicted, 1), 0.0)
        recall = np.where(support > 0, tp / np.maximum(support, 1), 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / np.where(precision + recall > 0, precision + recall, 1), 0.0)
    seen = (support + predicted) > 0
    w = support / max(support.sum(), 1)
    scores_by_name = {"precision": precision, "recall": recall, "f1": f1}
    out = {label: float(v[seen].mean()) for label, v in scores_by_name.items()}
    out.update({f"{label}_weighted": float((v * w).sum()) for label, v in scores_by_name.items()})
    out["per_class"] = {str(n): {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                                 "support": int(support[i])} for i, n in enumerate(names)}
    if k == 2 and scores is not None and 0 < support[1] < support.sum():  # both classes present
        out["roc_auc"] = roc_auc(np.asarray(true) == 1, scores)
    return out


def roc_auc(positive, scores) -> float:
    """Area under the ROC curve: the probability that a positive scores above a negative (ties count half),
    from the ranks of the scores (Mann-Whitney U)."""
    positive = np.asarray(positive, bool)
    scores = np.asarray(scores, np.float64)
    order = np.argsort(scores, kind="mergesort")
    s = scores[order]
    ranks = np.empty(len(s))
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    ends = np.r_[starts[1:], len(s)]
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)  # tied scores share their mean rank
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
