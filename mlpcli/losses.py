"""Losses ``L(yhat, y)`` averaged over the m samples of a batch, keyed by config name.

Like the costs of Nielsen's ``network2.py``, a loss is a tiny class with ``fn`` (the value)
and ``delta`` (the error signal of the output layer, ``delta = dL/dZ``, the batch mean
already taken, so backprop never divides by m again). Cross-entropy losses are fused with
their output activation and computed from the logits ``Z``: their ``delta`` is ``(p - y)/m``.
"""

from __future__ import annotations

import numpy as np

from .errors import ConfigError, unknown_name


class Loss:
    """A loss bound to the output layer's activation; ``requires_output`` names the one it fuses with."""

    name = ""
    requires_output = None

    def __init__(self, output):
        self.output = output  # the output layer's bound activation


class SquaredError(Loss):
    """L = 1/(2m) * sum_i ||yhat_i - y_i||^2, for any output activation."""

    name = "squared_error"

    def fn(self, Z, A, Y):
        m = len(A)
        diff = A - Y
        return 0.5 * float(np.vdot(diff, diff)) / m

    def delta(self, Z, A, Y, out, work, scale=1.0):
        # dL/dA = (A - Y)/m, then through the output activation: delta = dL/dA * g'(z)
        np.subtract(A, Y, out=out)
        out *= scale / len(A)
        return self.output.backward(out, A, out, work)


class BinaryCrossEntropy(Loss):
    """L = -1/m * sum_i sum_k [y log p + (1-y) log(1-p)], p = sigmoid(z), from the logits."""

    name = "binary_cross_entropy"
    requires_output = "sigmoid"

    def fn(self, Z, A, Y):
        # -[y log p + (1-y) log(1-p)] = max(z, 0) - y z + log(1 + e^-|z|): stable for any z
        with np.errstate(under="ignore"):  # e^-|z| -> 0 is exact for large |z|
            t = np.log1p(np.exp(-np.abs(Z)))
        t += np.maximum(Z, 0)
        t -= Y * Z
        return float(t.sum()) / len(Z)

    def delta(self, Z, A, Y, out, work, scale=1.0):
        np.subtract(A, Y, out=out)  # (p - y)/m: the sigmoid's derivative cancels
        out *= scale / len(A)
        return out

    def output_loss_delta(self, Z, A, Y, out, scale=1.0):
        """Training's fast path: sigmoid(Z) into A, ``scale`` * delta into ``out``, and the loss, in
        preallocated buffers. softplus(z) = max(z, 0) + log(1 + e^-|z|) is np.logaddexp(0, z), one call."""
        with np.errstate(under="ignore"):  # e^-|z| -> 0 is exact for large |z|
            np.logaddexp(0, Z, out=out)
        out -= np.multiply(Y, Z, out=A)  # softplus(z) - y z, per element; A is overwritten below
        loss = float(out.sum()) / len(Z)
        self.output(Z, out=A)
        self.delta(Z, A, Y, out, None, scale)
        return loss


class CrossEntropy(Loss):
    """L = -1/m * sum_i sum_k t_ik log softmax(z_i)_k, from the logits (log-sum-exp).

    Targets are integer class labels (N,) or rows of class probabilities / one-hot (N, k).
    """

    name = "cross_entropy"
    requires_output = "softmax"

    def fn(self, Z, A, Y):
        m = len(Z)
        zmax = Z.max(axis=1, keepdims=True)
        with np.errstate(under="ignore"):  # terms far below the maximum underflow to 0: exact
            lse = np.log(np.exp(Z - zmax).sum(axis=1)) + zmax[:, 0]  # log sum_j e^z_j, (m,)
        if Y.ndim == 1:  # integer labels: -log softmax(z)_y = lse - z_y
            return float((lse - Z[np.arange(m), Y]).sum()) / m
        return float((Y.sum(axis=1) * lse).sum() - np.vdot(Y, Z)) / m

    def delta(self, Z, A, Y, out, work, scale=1.0, pos=None):
        k = scale / len(A)  # delta = (p - t)/m: the softmax Jacobian cancels
        if Y.ndim == 1:  # integer labels: t is one-hot, so only the label column moves
            np.multiply(A, k, out=out)
            if out.flags.c_contiguous:  # reshape is then a view; pos: the labels' flat positions, if known
                out.reshape(-1)[_label_positions(Y, out.shape[1]) if pos is None else pos] -= k
            else:
                out[np.arange(len(Y)), Y] -= k
        else:
            np.subtract(A, Y, out=out)
            out *= k
        return out

    def output_loss_delta(self, Z, A, Y, out, scale=1.0):
        """Training's fast path: softmax(Z) into A, ``scale`` * delta into ``out``, and the loss,
        from one pass of exponentials (log sum_j e^z_j = shift + log sum_j e^(z_j - shift))."""
        m = len(Z)
        pos = _label_positions(Y, Z.shape[1]) if Y.ndim == 1 else None  # found once for the loss and delta
        # Shift by the batch's largest logit: one reduction, where the row-wise maximum costs
        # several times more on (m, 10) logits. A row far below it would keep too few digits,
        # so a batch whose smallest row sum is below sqrt(tiny) is redone with row maxima.
        s, picked = self._exp_shifted(Z, Z.max(), A, Y, pos)
        if s.min() < _SQRT_TINY[A.dtype.char]:
            s, picked = self._exp_shifted(Z, Z.max(axis=1, keepdims=True), A, Y, pos)
        A /= s
        log_s = np.log(s[:, 0])  # (m,): log sum_j e^(z_ij - shift_i)
        if Y.ndim == 1:  # sum_i [log s_i - (z_i,y_i - shift_i)]: one reduction
            loss = float(np.subtract(log_s, picked, out=log_s).sum())
        else:
            loss = float(np.vdot(Y.sum(axis=1), log_s)) - picked
        self.delta(Z, A, Y, out, None, scale, pos)
        return loss / m

    @staticmethod
    def _exp_shifted(Z, shift, E, Y, pos):
        """E = e^(Z - shift) and its row sums (m, 1); also the label term of the loss: t_i . (z_i - shift_i)
        per row for integer labels (m,), or its sum over the rows for target rows."""
        np.subtract(Z, shift, out=E)
        picked = E.reshape(-1).take(pos) if Y.ndim == 1 else float(np.vdot(Y, E))
        with np.errstate(under="ignore"):  # terms far below the shift underflow to 0: exact enough
            np.exp(E, out=E)
        return E @ _ones(E.shape[1], E.dtype), picked  # row sums as one BLAS call: E.sum(axis=1) is slow on (m, 10)


LOSSES = {cls.name: cls for cls in (SquaredError, BinaryCrossEntropy, CrossEntropy)}

_STARTS: dict[tuple, np.ndarray] = {}
_ONES: dict[tuple, np.ndarray] = {}
_SQRT_TINY = {c: float(np.sqrt(np.finfo(c).tiny)) for c in "efdg"}  # by dtype.char: float16 ... longdouble


def _label_positions(Y, k: int) -> np.ndarray:
    """Where each row's label is in a C-ordered (m, k) array, as flat indices i*k + y_i: one
    take/assignment, several times faster than indexing with (rows, Y) every step."""
    starts = _STARTS.get((len(Y), k))
    if starts is None:
        starts = _STARTS[(len(Y), k)] = np.arange(0, len(Y) * k, k)
    return starts + Y


def _ones(k: int, dtype) -> np.ndarray:
    """A (k, 1) column of ones, kept."""
    key = (k, np.dtype(dtype).char)
    ones = _ONES.get(key)
    if ones is None:
        ones = _ONES[key] = np.ones((k, 1), dtype)
    return ones


def get_loss(name: str, output):
    """The loss ``name`` bound to the output layer's activation (checked to fit the loss)."""
    if name not in LOSSES:
        raise ConfigError(unknown_name("loss", name, list(LOSSES)))
    cls = LOSSES[name]
    if cls.requires_output and output.name != cls.requires_output:
        raise ConfigError(
            f"loss {name!r} needs output activation {cls.requires_output!r} (got {output.name!r})"
        )
    return cls(output)


def targets_for(y, loss_name: str, k: int, dtype):
    """Targets in the form the loss takes: integer labels for cross_entropy, one-hot for SE with k > 1."""
    y = np.asarray(y)
    if loss_name == "cross_entropy":
        return y.astype(np.intp) if y.ndim == 1 else y.astype(dtype)
    if y.ndim == 1 and y.dtype.kind in "biu" and k > 1:  # labels, squared error on k outputs
        return np.eye(k, dtype=dtype)[y]
    return (y.reshape(-1, 1) if y.ndim == 1 else y).astype(dtype)
