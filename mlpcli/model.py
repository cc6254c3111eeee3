"""The multilayer perceptron of the notes, batch-first.

Layer l computes ``Z = A_prev @ W.T + b`` and ``A = g(Z)``, with ``W`` shaped (out, in) as
``W^[l]``. Backpropagation with the error signal ``delta = dL/dZ``::

    dW = delta.T @ A_prev        db = delta.sum(0)        dA_prev = delta @ W
    delta_prev = dA_prev * g'(z_prev)

The loss has already divided by the batch size m, so nothing here does. All parameters live
in one flat vector (each ``W_l``, ``b_l`` is a view into it) and so do their gradients: an
optimiser step is then a few vectorised calls. Training passes reuse per-batch-size buffers.

The contract the trainer, optimisers, gradcheck, evaluation and diagnostics use:
``params``/``grads`` (dicts of views keyed ``W1, b1, ...``) over ``flat``/``grad_flat`` (one
vector each); ``workspace(n)`` (the buffers of a batch of n rows); ``train_step(X, Y, ws,
scale)`` (forward and backward, filling ``grad_flat``, returning the loss);
``forward_into(X, ws)`` (a forward pass whose per-layer activations stay in ``ws.A``) and
``forward(X, record=True)`` (the activations of every layer, copied out).
"""

from __future__ import annotations

import numpy as np

from .activations import get_activation
from .checkpoint import param_shapes
from .errors import ConfigError
from .losses import get_loss, targets_for
from .metrics import predicted_classes
from .task import fit_config, of_network

PREDICT_CHUNK = 4096  # rows per forward pass in predict/evaluate: bounded memory, still large GEMMs


class Workspace:
    """Preallocated buffers for one batch size: Z/A per layer and, for training, deltas and scratch."""

    def __init__(self, n, layers, dtype, train=True):
        sizes = layers[1:]
        self.A = [np.empty((n, m), dtype) for m in sizes]  # hidden layers: Z overwritten by A
        self.Z_out = np.empty((n, sizes[-1]), dtype)  # the logits are kept for the loss
        self.delta = [np.empty((n, m), dtype) for m in sizes] if train else None
        self.work = [np.empty((n, m), dtype) for m in sizes] if train else [None] * len(sizes)
        self.n_in = layers[0]
        self._X = np.empty((n, self.n_in), dtype) if train else None  # the gathered input batch (see X)
        self.pred = np.empty(n, np.intp)
        self.ones = np.ones((1, n), dtype)  # db = ones @ delta: the column sums as one BLAS call
        self.fused = [False] * len(sizes)  # layer l's work buffer holds g'(z) from the forward pass
        self.targets = {}  # the gathered targets of a batch, by dtype and shape

    @property
    def X(self):
        """The input buffer. Evaluation allocates it only when its inputs need a copy (another
        dtype): its chunks of the data's float rows are used in place."""
        if self._X is None:
            self._X = np.empty((len(self.pred), self.n_in), self.Z_out.dtype)
        return self._X

    def head(self, n) -> Workspace:
        """The first ``n`` rows of this workspace's buffers, as views (the last, shorter chunk of an evaluation)."""
        ws = object.__new__(Workspace)
        ws.A, ws.Z_out, ws.n_in = [a[:n] for a in self.A], self.Z_out[:n], self.n_in
        ws.delta = None if self.delta is None else [d[:n] for d in self.delta]
        ws.work = [None if w is None else w[:n] for w in self.work]
        ws._X = None if self._X is None else self._X[:n]
        ws.pred, ws.ones, ws.fused, ws.targets = self.pred[:n], self.ones[:, :n], list(self.fused), {}
        return ws


class MLP:
    """A fully connected network ``layers = [n_in, m_1, ..., n_out]`` with one activation per layer."""

    def __init__(self, layers, activations, loss="squared_error", *, bias=True, dtype="float32", l2=0.0):
        self.layers = [int(n) for n in layers]
        if len(self.layers) < 2 or min(self.layers) < 1:
            raise ConfigError(f"layers must list at least an input and an output width >= 1 (got {layers})")
        L = len(self.layers) - 1
        if isinstance(activations, (str, dict)):
            activations = [activations] * L
        if len(activations) != L:
            raise ConfigError(f"{L} layers need {L} activations (got {len(activations)})")
        self.activations = [get_activation(a) for a in activations]
        for g in self.activations[:-1]:
            if g.spec.output_only:
                raise ConfigError(f"activation {g.name!r} is for the output layer only")
        self.loss = get_loss(loss, self.activations[-1])
        self.bias, self.l2, self.dtype = bool(bias), float(l2), np.dtype(dtype)
        self.shapes = param_shapes(self.layers, self.bias)
        self.names = list(self.shapes)
        self.flat, views = _flat_views(self.shapes.values(), self.dtype)
        self.grad_flat, gviews = _flat_views(self.shapes.values(), self.dtype)
        self.params = dict(zip(self.names, views, strict=True))
        self.grads = dict(zip(self.names, gviews, strict=True))
        layer_numbers = range(1, L + 1)
        self.W = [self.params[f"W{i}"] for i in layer_numbers]
        self.b = [self.params[f"b{i}"] for i in layer_numbers] if self.bias else [None] * L
        self.dW = [self.grads[f"W{i}"] for i in layer_numbers]
        self.db = [self.grads[f"b{i}"] for i in layer_numbers] if self.bias else [None] * L
        self._db_rows = [db.reshape(1, -1) if db is not None else None for db in self.db]  # (1, m) views
        self._l2_work = [np.empty_like(W) for W in self.W] if self.l2 else []
        self._ws: dict[int, Workspace] = {}
        # a network that has seen no data guesses from its head; training and loading set the data's task (task.py)
        self.task = of_network(self.loss.name, self.activations[-1].name, self.layers[-1])

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_config(cls, cfg, rng=None) -> MLP:
        """Build and initialise the network a config describes (seeded by ``cfg.seed``)."""
        from .initializers import init_weights
        from .rng import streams

        cfg = fit_config(cfg)  # ends left to the data: a network built before any data gets a classifier's head
        m = cfg.model
        net = cls(m.layers, m.all_activations(), cfg.loss, bias=m.bias, dtype=cfg.training.dtype, l2=cfg.l2)
        init = m.init
        if init.path is not None:
            from .checkpoint import read_weights
            from .errors import CheckpointError

            try:
                net.set_params(read_weights(init.path, net))
            except CheckpointError as e:
                raise ConfigError(f"model.init.from: {e}") from None
        else:
            rng = rng if rng is not None else streams(cfg.seed)["init"]
            for W, W0 in zip(net.W, init_weights(init.name, rng, net.layers, net.dtype, **init.params()), strict=True):
                W[...] = W0
        return net

    def set_params(self, params: dict) -> None:
        for k, v in params.items():
            if k not in self.params:
                raise ConfigError(f"no parameter {k!r} in this network (has {', '.join(self.names)})")
            if np.shape(v) != self.params[k].shape:
                raise ConfigError(f"{k} has shape {np.shape(v)}, the network needs {self.params[k].shape}")
            self.params[k][...] = v

    def astype(self, dtype) -> MLP:
        """A copy of this network computing in ``dtype`` (gradcheck uses float64)."""
        net = MLP(self.layers, [{"name": g.name, **g.params} for g in self.activations], self.loss.name,
                  bias=self.bias, dtype=dtype, l2=self.l2)
        net.flat[...] = self.flat
        return net

    @property
    def n_params(self) -> int:
        return self.flat.size

    def __repr__(self):
        acts = ", ".join(map(repr, self.activations))
        return f"MLP(layers={self.layers}, activations=[{acts}], loss={self.loss.name}, bias={self.bias}, dtype={self.dtype})"

    # ------------------------------------------------------------------ forward
    def forward_into(self, X, ws, train=False, output=True):
        """Forward pass into the workspace; returns (Z_out, A_out). With ``output=False`` the
        output activation is left to the caller (training fuses it with the loss)."""
        A_prev, L = X, len(self.W)
        for layer in range(L):
            Z = ws.Z_out if layer == L - 1 else ws.A[layer]
            np.matmul(A_prev, self.W[layer].T, out=Z)  # Z = A_prev @ W.T + b, (n, m_l)
            if self.bias:
                Z += self.b[layer]
            g = self.activations[layer]
            if layer == L - 1 and not output:
                break
            fast = train and layer < L - 1 and g.spec.forward_train is not None
            if fast:  # A = g(Z) and g'(z) together; backward then only multiplies
                g.spec.forward_train(Z, ws.A[layer], ws.work[layer], **g.params)
            else:
                g.spec.forward(Z, ws.A[layer], **g.params)  # A = g(Z), in place for hidden layers
            ws.fused[layer] = fast
            A_prev = ws.A[layer]
        return ws.Z_out, ws.A[-1]

    def workspace(self, n, train=True) -> Workspace:
        """The preallocated buffers for a batch of ``n`` rows (kept for reuse)."""
        ws = self._ws.get((n, train))
        if ws is None and not train:  # a shorter chunk (a split's last) uses the rows of a larger one
            larger = [w for (size, t), w in self._ws.items() if not t and size > n]
            if larger:
                return larger[0].head(n)
        if ws is None:
            if len(self._ws) > 4:  # only a couple of batch sizes occur in a run
                self._ws.clear()
            ws = self._ws[(n, train)] = Workspace(n, self.layers, self.dtype, train)
        return ws

    def batch_input(self, Xc, ws):
        """A chunk of inputs as a float array of the network's dtype (copied only if it is not one)."""
        if isinstance(Xc, np.ndarray) and Xc.dtype == self.dtype and Xc.flags.c_contiguous:
            return Xc
        np.copyto(ws.X, Xc, casting="unsafe")
        return ws.X

    def as_input(self, X):
        """X as a 2-D batch of this network's input width (one sample or a column of scalars reshaped)."""
        if not isinstance(X, np.ndarray) and hasattr(X, "take"):  # LazyInputs: rows normalised as read
            return X
        X = np.asarray(X)
        if X.ndim == 1:  # a column of scalars for a 1-input network, else one sample
            X = X.reshape(-1, 1) if self.layers[0] == 1 else X.reshape(1, -1)
        if X.ndim != 2 or X.shape[1] != self.layers[0]:
            from .errors import DataError

            raise DataError(f"input has shape {X.shape}, the network expects (n, {self.layers[0]})")
        return X

    def forward(self, X, record: bool = False):
        """The network's output ``A_L`` for inputs X (n, n_in), computed in chunks. With ``record``,
        the activations of every layer instead: ``[A_1, ..., A_L]``, each (n, m_l)."""
        X = self.as_input(X)
        outs = [np.empty((len(X), m), self.dtype) for m in (self.layers[1:] if record else self.layers[-1:])]
        for i in range(0, len(X), PREDICT_CHUNK):
            Xc = X[i : i + PREDICT_CHUNK]
            ws = self.workspace(len(Xc), train=False)
            self.forward_into(self.batch_input(Xc, ws), ws)
            for out, A in zip(outs, ws.A if record else ws.A[-1:], strict=True):
                out[i : i + len(Xc)] = A
        return outs if record else outs[0]

    def predict(self, X):
        """Class labels for classification (argmax, or output > 0.5 for one output); outputs otherwise."""
        A = self.forward(X)
        return predicted_classes(A) if self.task.classification else A

    # ------------------------------------------------------------------ backward
    def train_step(self, X, Y, ws, scale=1.0) -> float:
        """One forward and backward pass; fills the flat gradient with ``scale`` * dL/dp and
        returns the loss (with l2). Backprop is linear in delta, so a factor the optimiser wants
        on every gradient (plain SGD's lr) costs one multiply of the small output delta."""
        fused = getattr(self.loss, "output_loss_delta", None)  # softmax, loss and delta from one exp pass
        Z_out, A_out = self.forward_into(X, ws, train=True, output=fused is None)
        if fused is not None:
            delta = ws.delta[-1]
            loss = fused(Z_out, A_out, Y, delta, scale)
        else:
            loss = self.loss.fn(Z_out, A_out, Y)
            delta = self.loss.delta(Z_out, A_out, Y, ws.delta[-1], ws.work[-1], scale)  # scale * dL/dZ_L, mean inside
        L = len(self.W)
        for layer in range(L - 1, -1, -1):
            A_prev = ws.A[layer - 1] if layer > 0 else X
            np.matmul(delta.T, A_prev, out=self.dW[layer])  # dW = delta.T @ A_prev, (m_l, m_{layer-1})
            if self.bias:
                np.matmul(ws.ones, delta, out=self._db_rows[layer])  # db = delta.sum(0), as ones @ delta
            if layer > 0:
                dA = np.matmul(delta, self.W[layer], out=ws.delta[layer - 1])  # dA_prev = delta @ W
                delta = self.activations[layer - 1].backward(dA, ws.A[layer - 1], dA, ws.work[layer - 1], ws.fused[layer - 1])
        if self.l2:
            for W, dW, tmp in zip(self.W, self.dW, self._l2_work, strict=True):
                loss += 0.5 * self.l2 * float(np.vdot(W, W))  # L + lambda/2 ||W||^2
                np.multiply(W, scale * self.l2, out=tmp)
                dW += tmp
        return loss

    def _batch(self, X, y):
        """(X, Y, workspace) for one whole batch: inputs in the network's dtype, targets shaped for the loss."""
        X = self.as_input(X)
        ws = Workspace(len(X), self.layers, self.dtype)
        np.copyto(ws.X, X, casting="unsafe")
        return ws.X, targets_for(y, self.loss.name, self.layers[-1], self.dtype), ws

    def loss_and_gradients(self, X, y):
        """(loss, grads): the loss (l2 term included) and dL/dp for every parameter, keyed like ``params``."""
        X, Y, ws = self._batch(X, y)
        loss = self.train_step(X, Y, ws)
        return loss, {k: v.copy() for k, v in self.grads.items()}

    def compute_loss(self, X, y) -> float:
        """The loss L(X, y) with the l2 term, without gradients."""
        X, Y, ws = self._batch(X, y)
        Z, A = self.forward_into(X, ws)
        return self.loss.fn(Z, A, Y) + 0.5 * self.l2 * sum(float(np.vdot(W, W)) for W in self.W)


def _flat_views(shapes, dtype):
    """One zeroed flat buffer and a view of it per shape, in order."""
    shapes = list(shapes)
    sizes = [int(np.prod(s)) for s in shapes]
    flat = np.zeros(sum(sizes), dtype)
    views, off = [], 0
    for s, n in zip(shapes, sizes, strict=True):
        views.append(flat[off : off + n].reshape(s))
        off += n
    return flat, views


def split_metrics(model, ds, unscale) -> dict:
    """Every split's metrics as mlp eval gives them (split_report), mse/rmse/mae in the target's own units
    through ``unscale`` (``dataset.target_units`` of the data's normalizer, None for a classifier)."""
    return {k: split_report(model, s.X, s.y, ds.task, unscale)[0] for k, s in ds.splits().items()}


def split_report(model, X, y, task, unscale=None):
    """Every metric of one split, the set ``mlp eval`` reports and ``mlp train``'s summary gives for each
    split: ``evaluate``'s loss and accuracy (or mse, rmse, mae, r2 in the target's units through
    ``unscale``), and for classification the :func:`~mlpcli.metrics.confusion_report` in the task's class names.
    Returns (metrics, confusion matrix or None, the network's outputs (n, k))."""
    from .metrics import confusion_report, true_classes

    A = np.empty((len(y), model.layers[-1]))  # the outputs, from the metrics' own forward pass
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        result = evaluate(model, X, y, task, confusion=task.classification, out=A, unscale=unscale)
    if not task.classification:
        return result, None, A
    metrics, cm = result
    names = list(task.classes)  # a table's class names, else the labels 0 .. k-1
    scores = (A[:, 0] if A.shape[1] == 1 else A[:, 1]) if len(names) == 2 else None
    metrics.update(confusion_report(cm, names, true_classes(y) if scores is not None else None, scores))
    return metrics, cm, A


def evaluate(model, X, y, task: str | None = None, confusion: bool = False, out=None, unscale=None):
    """loss (with the l2 term, as in training) and accuracy, or mse/mae/r2, over (X, y) in chunks.

    ``unscale`` takes regression outputs and targets to the target's own units for mse/rmse/mae/r2
    (the loss stays the training objective, in the units the network was fitted in).

    With ``confusion`` (classification), also the confusion matrix from the same forward pass:
    returns (metrics, counts[true, predicted]). ``out``, an (n, n_out) array, receives the
    network's outputs from that pass too.
    """
    from .metrics import confusion_matrix, predicted_classes, regression_metrics, true_classes

    task = task or model.task
    n, k = len(y), max(2, model.layers[-1])
    total, cm, outs = 0.0, np.zeros((k, k), np.int64), []
    for i in range(0, n, PREDICT_CHUNK):
        Xc, yc = X[i : i + PREDICT_CHUNK], y[i : i + PREDICT_CHUNK]
        ws = model.workspace(len(Xc), train=False)
        Z, A = model.forward_into(model.batch_input(Xc, ws), ws)
        if out is not None:
            out[i : i + len(Xc)] = A
        total += model.loss.fn(Z, A, targets_for(yc, model.loss.name, model.layers[-1], model.dtype)) * len(Xc)
        if task.classification:
            cm += confusion_matrix(predicted_classes(A), true_classes(yc), k)
        else:
            outs.append(A.copy())
    loss = total / n
    if model.l2:  # as in training: without l2 no penalty is computed (0 x an overflowed ||W||^2 would be nan)
        loss += 0.5 * model.l2 * sum(float(np.vdot(W, W)) for W in model.W)
    if not task.classification:
        pair = (np.concatenate(outs), y) if unscale is None else (unscale(np.concatenate(outs)), unscale(y))
        return {"loss": loss, **regression_metrics(*pair), "n_samples": n}
    metrics = {"loss": loss, "accuracy": int(np.trace(cm)) / n, "n_samples": n}
    return (metrics, cm) if confusion else metrics


def full_gradient_norm(model, X, Y) -> float:
    """||grad E|| over the whole set (Y shaped for the loss): the notes' stopping test ||grad E|| < tau."""
    n = len(Y)
    acc = np.zeros_like(model.grad_flat, dtype=np.float64)
    for i in range(0, n, PREDICT_CHUNK):
        Xc, Yc = X[i : i + PREDICT_CHUNK], Y[i : i + PREDICT_CHUNK]
        ws = model.workspace(len(Xc))
        model.train_step(model.batch_input(Xc, ws), Yc, ws)  # each chunk's gradient is its mean (l2 included) ...
        acc += model.grad_flat * (len(Yc) / n)  # ... so the weighted sum is the full mean
    return float(np.linalg.norm(acc))
