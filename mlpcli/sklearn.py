"""scikit-learn estimators over mlpcli's trainer: ``MLPClassifier`` and ``MLPRegressor``.

They take scikit-learn's parameter names with scikit-learn's meanings (README: "scikit-learn
estimators"), build an mlpcli config from them and train with ``mlpcli.train`` on the
in-memory arrays; there is no second training loop. Any other config key is given by its
dotted path in ``config={"optimizer.name": "rmsprop", "schedule.name": "cosine"}``.

scikit-learn adds ``alpha / (2 n_b) * sum ||W||^2`` to the mean loss of a batch of n_b
samples; mlpcli adds ``l2 / 2 * sum ||W||^2``. So ``l2 = alpha / batch_size``, which is exact
for every full batch (the last, smaller batch of an epoch gets ``alpha / batch_size`` where
scikit-learn's would get ``alpha / n_last``).

Needs the ``sklearn`` extra: ``python -m pip install -e ".[sklearn]"``.
"""

from __future__ import annotations

import numbers
import os
import tempfile
import warnings

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import LabelEncoder
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import check_classification_targets, type_of_target
    from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data
except ImportError as e:  # pragma: no cover - exercised only without the extra
    from .errors import DependencyError

    raise DependencyError('mlpcli.sklearn needs scikit-learn: python -m pip install -e ".[sklearn]"') from e

from .errors import MLPError
from .metrics import class_probabilities

# scikit-learn's activation names -> mlpcli's (mlpcli's own names are accepted as they are)
ACTIVATION_NAMES = {"logistic": "sigmoid"}
SOLVERS = ("sgd", "adam", "rmsprop")
# config keys the scikit-learn parameters set: giving them in ``config`` too would be ambiguous
OWNED_KEYS = {
    "seed": "random_state", "l2": "alpha", "loss": "the estimator (from y)",
    "model.layers": "hidden_layer_sizes", "model.activation": "activation", "model.output": "the estimator (from y)",
    "optimizer.name": "solver", "optimizer.lr": "learning_rate_init", "optimizer.momentum": "momentum",
    "optimizer.nesterov": "nesterovs_momentum", "optimizer.betas": "beta_1, beta_2", "optimizer.eps": "epsilon",
    "training.epochs": "max_iter", "training.batch_size": "batch_size", "training.shuffle": "shuffle",
    "training.early_stopping": "early_stopping, n_iter_no_change, tol", "data.validation_split": "validation_fraction",
}


def _set_path(d: dict, key: str, value) -> None:
    """d[a][b][c] = value for key 'a.b.c' (a nested mapping as value merges into place)."""
    parts = key.split(".")
    for p in parts[:-1]:
        nxt = d.get(p)
        if isinstance(nxt, str):  # optimizer: adam, then optimizer.lr
            nxt = {"name": nxt}
        d[p] = nxt if isinstance(nxt, dict) else {}
        d = d[p]
    d[parts[-1]] = value


def _flatten(config: dict, prefix: str = "") -> dict:
    """{'optimizer': {'momentum': 0.9}} and {'optimizer.momentum': 0.9} alike -> dotted keys."""
    out = {}
    for k, v in config.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and key not in ("model.init", "training.early_stopping"):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


class _MLPBase(BaseEstimator):
    """What both estimators share: parameters -> config, training through mlpcli, fitted attributes."""

    _monitor = "val_loss"

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate_init=0.001, max_iter=200, shuffle=True, random_state=None,
                 tol=1e-4, warm_start=False, momentum=0.9, nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, config=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.config = config

    # ------------------------------------------------------------------ parameters -> config
    def _batch(self, n: int) -> int:
        if self.batch_size == "auto":
            return min(200, n)
        if not isinstance(self.batch_size, numbers.Integral) or isinstance(self.batch_size, bool) or self.batch_size < 1:
            raise ValueError(f"batch_size must be 'auto' or an integer >= 1 (got {self.batch_size!r})")
        return min(int(self.batch_size), n)

    def _seed(self) -> int:
        rs = self.random_state
        if isinstance(rs, numbers.Integral) and not isinstance(rs, bool):
            return int(rs)  # the same seed as `mlp train --set seed=N`: the same initial weights
        return int(check_random_state(rs).randint(np.iinfo(np.int32).max))

    def _check_params(self):
        if self.solver == "lbfgs":
            raise ValueError("solver 'lbfgs' is not available in mlpcli; use 'adam', 'sgd' or 'rmsprop'")
        if self.solver not in SOLVERS:
            raise ValueError(f"solver must be one of {', '.join(SOLVERS)} (got {self.solver!r})")
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, numbers.Integral) else list(sizes)
        if not all(isinstance(s, numbers.Integral) and s >= 1 for s in sizes):
            raise ValueError(f"hidden_layer_sizes must be integers >= 1 (got {self.hidden_layer_sizes!r})")
        for name in ("max_iter", "n_iter_no_change"):
            v = getattr(self, name)
            if not isinstance(v, numbers.Integral) or v < (1 if name == "max_iter" else 0):
                raise ValueError(f"{name} must be an integer >= {1 if name == 'max_iter' else 0} (got {v!r})")
        if not 0 < self.validation_fraction < 1:
            raise ValueError(f"validation_fraction must be in (0, 1) (got {self.validation_fraction!r})")
        if self.alpha < 0:
            raise ValueError(f"alpha must be >= 0 (got {self.alpha!r})")
        return [int(s) for s in sizes]

    def _config(self, n_in: int, n_out: int, n_samples: int, epochs: int | None = None, stopping: bool = True):
        """The validated mlpcli config these parameters describe, for data of this shape."""
        from .config import validate

        hidden = self._check_params()
        B = self._batch(n_samples)
        act = ACTIVATION_NAMES.get(self.activation, self.activation)
        opt = {"name": self.solver, "lr": self.learning_rate_init}
        if self.solver == "sgd":
            opt.update(momentum=self.momentum, nesterov=bool(self.nesterovs_momentum and self.momentum))
        elif self.solver == "adam":
            opt.update(betas=[self.beta_1, self.beta_2], eps=self.epsilon)
        else:
            opt.update(momentum=self.momentum, eps=self.epsilon)
        raw = {
            "seed": self._seed(), "l2": self.alpha / B,
            "model": {"layers": [n_in, *hidden, n_out], "activation": act, "output": self._output(n_out)},
            "loss": self._loss(n_out), "optimizer": opt,
            "training": {"epochs": self.max_iter if epochs is None else epochs, "batch_size": B,
                         "shuffle": bool(self.shuffle), "dtype": "float64"},
        }
        if stopping:  # scikit-learn's stopping rule: no improvement by tol for n_iter_no_change epochs
            monitor = self._monitor if self.early_stopping else "train_loss"
            raw["training"]["early_stopping"] = {"monitor": monitor, "patience": self.n_iter_no_change,
                                                 "min_delta": self.tol, "restore_best": bool(self.early_stopping)}
            if self.early_stopping:
                raw["data"] = {"validation_split": self.validation_fraction}
        if self.config is not None and not isinstance(self.config, dict):
            raise ValueError(f"config must be a dict of mlpcli config keys, e.g. {{'schedule.name': 'cosine'}} (got {self.config!r})")
        for key, value in _flatten(self.config or {}).items():
            owner = next((o for k, o in OWNED_KEYS.items() if key == k or key.startswith(k + ".")), None)
            if owner is not None:
                raise ValueError(f"config key {key!r} is set by {owner}; give that parameter instead")
            _set_path(raw, key, value)
        try:
            return validate(raw, f"{type(self).__name__} parameters")
        except MLPError as e:
            raise ValueError(str(e)) from None

    # ------------------------------------------------------------------ training
    def _train(self, X, y, *, incremental: bool):
        """Train on (X, y) already encoded: fresh, warm-started or one more epoch (partial_fit)."""
        from .data import Dataset, Split
        from .errors import DivergenceError
        from .task import of_arrays
        from .trainer import Trainer

        n_out = self._n_outputs(y)
        resume = incremental and hasattr(self, "_state")
        warm = not incremental and self.warm_start and hasattr(self, "coefs_")
        epochs = int(self._state[1]["epoch"]) + 1 if resume else (1 if incremental else self.max_iter)
        cfg = self._config(X.shape[1], n_out, len(X), epochs, stopping=not incremental)
        if (resume or warm) and cfg.model.layers != self._layers:
            raise ValueError(f"the network has layers {self._layers}; these data and parameters need {cfg.model.layers}")
        task = of_arrays(y, cfg.loss, cfg.model.layers[-1])  # the one rule (task.py): class labels for a classifier's loss
        X = np.ascontiguousarray(X, dtype=cfg.training.dtype)
        if not task.classification:
            y = np.ascontiguousarray(y, dtype=cfg.training.dtype)
        train, val = (X, y), None
        if self.early_stopping and not incremental:
            strat = y if task.classification else None
            Xt, Xv, yt, yv = train_test_split(X, y, test_size=self.validation_fraction, random_state=cfg.seed, stratify=strat)
            train, val = (Xt, yt), Split(Xv, yv)
        ds = Dataset(train=Split(*train), val=val, task=task, source=type(self).__name__)
        try:
            trainer = Trainer(cfg, data=ds)
            if resume:
                with tempfile.TemporaryDirectory() as d:  # continue exactly as `mlp train --resume` does
                    from .checkpoint import save_checkpoint

                    path = os.path.join(d, "state.npz")
                    save_checkpoint(path, *self._state)
                    trainer.restore(path)
                    done = trainer.epoch
            else:
                done = 0
                if warm:  # scikit-learn's warm_start: the previous weights, a fresh optimiser
                    trainer.model.set_params(self._params)
            result = trainer.run_training()
        except DivergenceError as e:
            raise ValueError(f"{e}; try a smaller learning_rate_init") from None
        except MLPError as e:
            raise ValueError(str(e)) from None
        if result.stop_reason == "epochs" and not incremental and self.max_iter == len(result.history) - done:
            warnings.warn(f"{type(self).__name__}: max_iter ({self.max_iter}) reached and the optimisation has not "
                          f"converged yet", ConvergenceWarning, stacklevel=3)
        rows = result.history[done:]
        fresh = not (resume or warm)
        self.loss_curve_ = ([] if fresh else list(self.loss_curve_)) + [r["train_loss"] for r in rows]
        self.n_iter_ = (0 if fresh else self.n_iter_) + len(rows)
        if val is not None:
            key = "val_acc" if task.classification else "val_loss"
            self.validation_scores_ = [r[key] for r in result.history]
            self.best_validation_score_ = trainer.monitor.best
        else:
            self.validation_scores_ = self.best_validation_score_ = None
            self.best_loss_ = min(self.loss_curve_)
        self.t_ = trainer.step
        self._layers = cfg.model.layers
        self._state = trainer.checkpoint_state()
        self._set_model(result.model)
        return self

    def _set_model(self, model):
        self._net = model
        self._spec = {"layers": model.layers, "activations": [{"name": g.name, **g.params} for g in model.activations],
                      "loss": model.loss.name, "bias": model.bias, "dtype": model.dtype.name}
        self._params = {k: v.copy() for k, v in model.params.items()}
        L = len(model.W)
        # scikit-learn's layout: coefs_[l] is (in, out), the transpose of mlpcli's W (out, in)
        self.coefs_ = [np.array(W.T) for W in model.W]
        self.intercepts_ = [np.array(b) if b is not None else np.zeros(W.shape[0]) for W, b in zip(model.W, model.b, strict=True)]
        self.n_layers_ = L + 1
        self.n_outputs_ = model.layers[-1]
        self.out_activation_ = {"sigmoid": "logistic"}.get(model.activations[-1].name, model.activations[-1].name)

    def _forward(self, X):
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return self._network().forward(X)

    def _network(self):
        """The fitted network (rebuilt from its weights after unpickling: only arrays are pickled)."""
        if getattr(self, "_net", None) is None:
            from .model import MLP

            s = self._spec
            self._net = MLP(s["layers"], s["activations"], s["loss"], bias=s["bias"], dtype=s["dtype"])
            self._net.set_params(self._params)
        return self._net

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_net", None)  # its buffers and workspaces are rebuilt on first use
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags


class MLPClassifier(ClassifierMixin, _MLPBase):
    """A multilayer perceptron classifier trained by mlpcli, with scikit-learn's interface.

    Parameters and fitted attributes are those of ``sklearn.neural_network.MLPClassifier``
    (``solver`` also takes mlpcli's ``rmsprop``; ``lbfgs`` is not available); ``config``
    sets any other mlpcli config key by its dotted path. Two classes train one sigmoid
    output with binary cross-entropy, more classes a softmax with cross-entropy.
    """

    _monitor = "val_accuracy"

    def _n_outputs(self, y):
        k = len(self.classes_)
        return 1 if k == 2 else k

    def _output(self, n_out):
        return "sigmoid" if n_out == 1 else "softmax"

    def _loss(self, n_out):
        return "binary_cross_entropy" if n_out == 1 else "cross_entropy"

    def _encode(self, X, y, reset: bool, classes=None):
        X, y = validate_data(self, X, y, reset=reset, dtype=np.float64, y_numeric=False)
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if type_of_target(y) not in ("binary", "multiclass"):
            raise ValueError(f"MLPClassifier takes binary or multiclass targets (got {type_of_target(y)})")
        if reset:
            self._encoder = LabelEncoder().fit(y if classes is None else classes)
            self.classes_ = self._encoder.classes_
            if len(self.classes_) < 2:
                raise ValueError(f"MLPClassifier needs at least 2 classes in y (got 1 class: {self.classes_[0]!r})")
        unseen = np.setdiff1d(y, self.classes_)
        if len(unseen):
            raise ValueError(f"y holds labels not in classes_: {unseen[:5].tolist()}")
        return X, self._encoder.transform(y).astype(np.intp)

    def fit(self, X, y):
        """Train for up to ``max_iter`` epochs (from the previous weights with ``warm_start``)."""
        X, y = self._encode(X, y, reset=not (self.warm_start and hasattr(self, "coefs_")))
        return self._train(X, y, incremental=False)

    def partial_fit(self, X, y, classes=None):
        """One epoch over (X, y), continuing the optimiser's state; ``classes`` is needed on the first call."""
        first = not hasattr(self, "classes_")
        if first and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit")
        X, y = self._encode(X, y, reset=first, classes=classes)
        return self._train(X, y, incremental=True)

    def predict_proba(self, X):
        """Class probabilities, one column per class of ``classes_``."""
        check_is_fitted(self)
        return class_probabilities(self._forward(X))

    def predict_log_proba(self, X):
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        """The most probable class (a label from ``classes_``)."""
        check_is_fitted(self)
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


class MLPRegressor(RegressorMixin, _MLPBase):
    """A multilayer perceptron regressor trained by mlpcli, with scikit-learn's interface.

    Identity output and squared error; one output per target column. Parameters as
    ``sklearn.neural_network.MLPRegressor`` (early stopping monitors the validation loss).
    """

    def _n_outputs(self, y):
        return 1 if y.ndim == 1 else y.shape[1]

    def _output(self, n_out):
        return "identity"

    def _loss(self, n_out):
        return "squared_error"

    def _encode(self, X, y, reset: bool):
        X, y = validate_data(self, X, y, reset=reset, dtype=np.float64, multi_output=True, y_numeric=True)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        return X, np.asarray(y, dtype=np.float64)

    def fit(self, X, y):
        """Train for up to ``max_iter`` epochs (from the previous weights with ``warm_start``)."""
        X, y = self._encode(X, y, reset=not (self.warm_start and hasattr(self, "coefs_")))
        self._y_ndim = y.ndim
        return self._train(X, y, incremental=False)

    def partial_fit(self, X, y):
        """One epoch over (X, y), continuing the optimiser's state."""
        X, y = self._encode(X, y, reset=not hasattr(self, "coefs_"))
        self._y_ndim = y.ndim
        return self._train(X, y, incremental=True)

    def predict(self, X):
        """The network's outputs, in the shape of the training targets."""
        check_is_fitted(self)
        A = self._forward(X)
        return A[:, 0] if A.shape[1] == 1 and self._y_ndim == 1 else A

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
