"""Metrics reported next to the loss: accuracy for classification, MSE/MAE/R^2 for regression."""

from __future__ import annotations

import numpy as np


def predicted_classes(A):
    """Class per row: argmax of k > 1 outputs; a single output predicts 1 when it exceeds 0.5."""
    A = np.asarray(A)
    if A.ndim == 1 or A.shape[1] == 1:
        return (A.reshape(-1) > 0.5).astype(np.intp)
    return A.argmax(axis=1)


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
    return {"mse": float((err**2).mean()), "mae": float(np.abs(err).mean()), "r2": float(r2.mean())}


def confusion_matrix(pred, true, k: int):
    """counts[i, j] = samples of true class i predicted as j."""
    return np.bincount(np.asarray(true) * k + np.asarray(pred), minlength=k * k).reshape(k, k)
