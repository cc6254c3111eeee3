"""Activation functions ``A = g(Z)`` and their derivatives, keyed by config name.

Each activation is a pair of small functions, as in the notes:

* ``forward(Z, out, **params)`` writes ``g(Z)`` into ``out`` (which may be ``Z`` itself);
* ``derivative(A, out, **params)`` writes ``g'(z)`` into ``out``, expressed through the
  layer's *output* ``A = g(Z)``. Every activation here allows this (``relu'`` is ``A > 0``,
  ``sigmoid'`` is ``A(1 - A)``, ...), so the forward pass may overwrite ``Z`` in place.

``softmax`` is not elementwise: it defines ``vjp(dA, A, out)`` (the product of ``dA`` with
the Jacobian) instead of a derivative. Adding an activation is one function pair and one
line in ``ACTIVATIONS``; the config validator, CLI help and docs read the names from there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .errors import ConfigError, unknown_name


def identity(Z, out, **_):
    if out is not Z:
        np.copyto(out, Z)
    return out


def identity_prime(A, out, **_):
    out.fill(1.0)
    return out


def relu(Z, out, **_):
    return np.multiply(Z, Z > 0, out=out)  # z * [z > 0]: faster than np.maximum's NaN-aware loop


def relu_train(Z, out, deriv, **_):
    """Forward for training: the derivative [z > 0] is the mask that computes A, so keep it."""
    np.greater(Z, 0, out=deriv)
    return np.multiply(Z, deriv, out=out)


def relu_prime(A, out, **_):
    return np.greater(A, 0, out=out)  # 1 where z > 0, else 0 (also at the kink z = 0)


def leaky_relu(Z, out, alpha=0.01, **_):
    return np.maximum(Z, alpha * Z, out=out)  # == max(alpha z, z) for 0 <= alpha <= 1


def leaky_relu_prime(A, out, alpha=0.01, **_):
    np.greater(A, 0, out=out)  # 1 or 0 ...
    out *= 1.0 - alpha  # ... 1 - alpha or 0 ...
    out += alpha  # ... 1 or alpha
    return out


def softplus(Z, out, **_):
    # log(1 + e^z) = max(z, 0) + log1p(e^-|z|): no overflow for large |z|
    t = np.abs(Z)
    np.negative(t, out=t)
    with np.errstate(under="ignore"):  # e^-|z| -> 0 for large |z| is the exact answer
        np.exp(t, out=t)
    np.log1p(t, out=t)
    np.maximum(Z, 0, out=out)
    out += t
    return out


def softplus_prime(A, out, **_):
    # softplus'(z) = sigmoid(z) = 1 - e^-A, written as -expm1(-A) to keep precision for small A
    np.negative(A, out=out)
    np.expm1(out, out=out)
    np.negative(out, out=out)
    return out


def sigmoid(Z, out, **_):
    # 1 / (1 + e^-z) == (1 + tanh(z/2)) / 2: the same value, with no overflow in e^-z
    np.multiply(Z, 0.5, out=out)
    np.tanh(out, out=out)
    out += 1.0
    out *= 0.5
    return out


def sigmoid_prime(A, out, **_):
    np.subtract(1.0, A, out=out)
    out *= A
    return out


def tanh(Z, out, **_):
    return np.tanh(Z, out=out)


def tanh_prime(A, out, **_):
    np.multiply(A, A, out=out)
    np.subtract(1.0, out, out=out)
    return out


def step(Z, out, **_):
    return np.greater(Z, 0, out=out)  # hard threshold: 1 if z > 0 else 0


def step_prime(A, out, **_):
    out.fill(0.0)  # zero almost everywhere: no gradient flows through a threshold unit
    return out


def softmax(Z, out, **_):
    """Row-wise softmax, shifted by the row maximum so that exp never overflows."""
    if out is not Z:
        np.copyto(out, Z)
    out -= out.max(axis=1, keepdims=True)
    with np.errstate(under="ignore"):  # tiny probabilities underflow to exactly 0
        np.exp(out, out=out)
    out /= out.sum(axis=1, keepdims=True)
    return out


def softmax_vjp(dA, A, out, **_):
    """dZ_i = A_i * (dA_i - sum_j dA_j A_j): the softmax Jacobian applied to each row of dA."""
    s = np.einsum("ij,ij->i", dA, A)[:, None]
    np.subtract(dA, s, out=out)
    out *= A
    return out


@dataclass(frozen=True)
class Activation:
    """One entry of the registry: ``forward`` and ``derivative`` (or ``vjp``) and its parameters."""

    name: str
    forward: Callable
    derivative: Callable | None = None
    vjp: Callable | None = None
    params: dict = field(default_factory=dict)  # parameter name -> default
    trainable: bool = True  # False: the derivative is 0, training through it is refused
    forward_train: Callable | None = None  # optional fast path: A = g(Z) and g'(z) in one go
    output_only: bool = False
    doc: str = ""


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in [
        Activation("identity", identity, identity_prime, doc="g(z) = z"),
        Activation("relu", relu, relu_prime, forward_train=relu_train, doc="g(z) = max(0, z)"),
        Activation("leaky_relu", leaky_relu, leaky_relu_prime, params={"alpha": 0.01}, doc="g(z) = max(alpha z, z)"),
        Activation("softplus", softplus, softplus_prime, doc="soft ReLU, g(z) = log(1 + e^z)"),
        Activation("sigmoid", sigmoid, sigmoid_prime, doc="logistic, g(z) = 1 / (1 + e^-z)"),
        Activation("tanh", tanh, tanh_prime, doc="g(z) = tanh(z)"),
        Activation("step", step, step_prime, trainable=False, doc="hard threshold, g(z) = 1 if z > 0 else 0"),
        Activation("softmax", softmax, vjp=softmax_vjp, output_only=True, doc="g(z)_k = e^z_k / sum_j e^z_j"),
    ]
}


class BoundActivation:
    """The notes' g for one layer: an activation bound to its parameters (e.g. leaky_relu with alpha=0.1)."""

    def __init__(self, name: str, **params):
        if name not in ACTIVATIONS:
            raise ConfigError(unknown_name("activation", name, list(ACTIVATIONS)))
        self.spec = ACTIVATIONS[name]
        extra = set(params) - set(self.spec.params)
        if extra:
            raise ConfigError(f"activation {name!r} takes no parameter {sorted(extra)[0]!r}")
        self.name = name
        self.params = {**self.spec.params, **params}

    def __call__(self, Z, out=None):
        return self.spec.forward(Z, np.empty_like(Z) if out is None else out, **self.params)

    def backward(self, dA, A, out, work, have_derivative=False):
        """delta = dA * g'(z), written into ``out``. ``work`` (same shape) receives g'(z), or already
        holds it when ``have_derivative`` (the forward pass computed it)."""
        if self.spec.vjp is not None:
            return self.spec.vjp(dA, A, out, **self.params)
        if self.name == "identity":  # g' = 1: nothing to multiply
            if out is not dA:
                np.copyto(out, dA)
            return out
        if not have_derivative:
            self.spec.derivative(A, work, **self.params)
        return np.multiply(dA, work, out=out)

    def __repr__(self):
        extra = "".join(f", {k}={v}" for k, v in self.params.items())
        return f"{self.name}{extra}"


def get_activation(spec) -> BoundActivation:
    """``'relu'`` or ``{'name': 'leaky_relu', 'alpha': 0.1}`` -> a bound activation."""
    if isinstance(spec, BoundActivation):
        return spec
    if isinstance(spec, dict):
        spec = dict(spec)
        return BoundActivation(spec.pop("name"), **spec)
    return BoundActivation(str(spec))
