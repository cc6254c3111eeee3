"""The task a network learns, decided once: classification (with its classes) or regression
(with its number of targets).

It is decided from the config and the training targets when the data is loaded, printed
when training starts, stored in the checkpoint (``Task.to_dict``), and read back by eval,
predict, inspect and plot, which never decide it again. The rules (README, "Tables"):

- a table's target column (``of_column``): ``data.task`` if given; else text or boolean is
  classification, integers (``1.0`` counts as ``1``) with at most 50 distinct values are
  classification, anything else regression;
- arrays (``of_arrays``: ``npy``, ``mnist``, ``xor``, ``regression``): integer labels ``(n,)``
  are classes, and so are targets of a loss that needs classes (one-hot rows for
  ``cross_entropy``, 0/1 for ``binary_cross_entropy``); other float targets are regression.

The task also gives the network's ends where the config leaves them to the data
(``fit_config``): ``model.layers: [auto, 64, auto]`` takes the input width from the data and
the output width from the task, and without ``loss`` and ``model.output`` the head follows it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import ConfigError, DataError

KINDS = ("classification", "regression")
MAX_AUTO_CLASSES = 50  # task: auto: integer targets with at most this many distinct values are classes
CLASS_LOSSES = ("cross_entropy", "binary_cross_entropy")
AUTO = "auto"  # a width of model.layers the data decides


@dataclass(frozen=True)
class Task:
    kind: str  # "classification" or "regression"
    classes: tuple = ()  # classification: the class names, in label order
    n_targets: int = 1  # regression: targets per sample

    @property
    def classification(self) -> bool:
        return self.kind == "classification"

    @property
    def n_outputs(self) -> int:
        """The output width the task implies: k classes (1 for two: one sigmoid unit), or one per target."""
        if not self.classification:
            return self.n_targets
        return 1 if len(self.classes) == 2 else len(self.classes)

    def fits(self, n_outputs: int) -> bool:
        """Whether a network with ``n_outputs`` units can learn this task (two classes: 1 or 2 units)."""
        return n_outputs == self.n_outputs or (self.classification and len(self.classes) == n_outputs == 2)

    def describe(self) -> str:
        """``classification, 3 classes: setosa, versicolor, virginica`` or ``regression, 2 targets``."""
        if not self.classification:
            return f"regression, {self.n_targets} target{'s' if self.n_targets != 1 else ''}"
        names = ", ".join(self.classes[:10]) + (", ..." if len(self.classes) > 10 else "")
        return f"classification, {len(self.classes)} classes: {names}"

    def to_dict(self) -> dict:
        if self.classification:
            return {"kind": self.kind, "classes": list(self.classes)}
        return {"kind": self.kind, "n_targets": self.n_targets}

    @classmethod
    def from_dict(cls, d: dict) -> Task:
        return cls(d["kind"], tuple(str(c) for c in d.get("classes") or ()), int(d.get("n_targets") or 1))


def classes_task(classes) -> Task:
    return Task("classification", tuple(str(c) for c in classes))


def regression_task(y) -> Task:
    return Task("regression", n_targets=1 if np.ndim(y) == 1 else int(np.shape(y)[1]))


def of_column(col, requested: str = "auto", path: str = "") -> Task:
    """The task of a table's target column (a ``table.Column``); ``requested`` (``data.task``)
    other than auto decides the kind. Class names are the distinct values, sorted."""
    present = col.values[~col.missing]
    if not col.numeric:
        if requested == "regression":
            raise DataError(f"{path}: target {col.name!r} holds text ({col.categories[:3]}...); it cannot be regressed "
                            f"(data.task: regression)")
        classes = [col.categories[i] for i in np.unique(present)]
    else:
        distinct = np.unique(present)
        integer = np.array_equal(distinct, np.round(distinct))  # 1.0 as 1: pandas writes an int column with gaps so
        auto = "classification" if integer and len(distinct) <= MAX_AUTO_CLASSES else "regression"
        if (requested if requested != "auto" else auto) == "regression":
            return Task("regression")
        if not integer:  # data.task: classification of measurements would make a class of every value
            odd = ", ".join(f"{v:.10g}" for v in distinct[distinct != np.round(distinct)][:3])
            raise DataError(f"{path}: target {col.name!r} holds numbers that are not whole ({odd}, ...), which "
                            f"data.task: classification cannot use as class labels (as scikit-learn refuses continuous "
                            f"targets); use data.task: regression, or list {col.name!r} in data.categorical to take "
                            f"its values as class names")
        classes = [number_name(v, col.integer) for v in distinct]
    if len(classes) < 2:
        raise DataError(f"{path}: target {col.name!r} has one class only ({classes[0]!r}); a classifier needs two or more")
    return classes_task(classes)


def number_name(v: float, integer: bool) -> str:
    """A numeric class's name: ``3`` for 3 and 3.0, ``0.5`` for 0.5."""
    return str(int(v)) if integer or float(v).is_integer() else f"{v:.10g}"


def of_arrays(y, loss: str | None = None, n_outputs=AUTO) -> Task:
    """The task of an array dataset from its training targets ``y`` and the config's loss and
    output width (``auto`` when the data decides it). Class labels are ``0 .. k-1``: k is the
    output width if given (2 for one unit), else the largest label + 1."""
    y = np.asarray(y) if not isinstance(y, np.ndarray) else y
    integer = y.dtype.kind in "biu"
    if not (loss in CLASS_LOSSES or (integer and y.ndim == 1)):
        return regression_task(y)
    if y.ndim == 2:  # one-hot / probability rows, or a 0/1 column
        k = int(y.shape[1])
    elif n_outputs != AUTO:
        k = int(n_outputs)
    elif integer and len(y):
        k = int(y.max()) + 1
    else:  # 0/1 floats for binary cross-entropy
        k = 2
    return classes_task(range(max(2, k)))


def head(task: Task, n_outputs: int) -> tuple[str, str]:
    """(output activation, loss) for a task when the config gives neither: one unit of two
    classes -> sigmoid + binary_cross_entropy, k units -> softmax + cross_entropy, regression ->
    identity + squared_error."""
    if not task.classification:
        return "identity", "squared_error"
    return ("sigmoid", "binary_cross_entropy") if n_outputs == 1 else ("softmax", "cross_entropy")


def of_network(loss: str, output: str, n_outputs: int) -> Task:
    """The task of a network that has seen no data (built by hand, or by the API before training):
    a probability or threshold output, or a classification loss, predicts classes."""
    if loss in CLASS_LOSSES or output in ("softmax", "sigmoid", "step"):
        return classes_task(range(max(2, n_outputs)))
    return Task("regression", n_targets=n_outputs)


def from_meta(meta: dict, n_outputs: int) -> Task:
    """The task stored in a checkpoint's meta (``meta["task"]``, ``Task.to_dict``). Earlier versions
    stored only the kind (or nothing: classification), and kept a table's class names in its
    preprocessing (``meta["normalizer"]["target"]``); without those, the classes are the output
    units' numbers."""
    value = meta.get("task")
    if isinstance(value, dict):
        task = Task.from_dict(value)
    else:
        old = (meta.get("normalizer") or {}).get("target") or {}
        if (value or old.get("task")) == "regression":
            task = Task("regression", n_targets=n_outputs)
        else:
            task = classes_task(old.get("classes") or range(max(2, n_outputs)))
    if not task.fits(n_outputs):
        raise ValueError(f"{task.describe()} does not fit the network's {n_outputs} output(s)")
    return task


def needs_data(cfg) -> bool:
    """Whether the config leaves the network's ends (widths, head) to the data."""
    return AUTO in (cfg.model.layers[0], cfg.model.layers[-1]) or cfg.loss is None


def fit_config(cfg, task: Task | None = None, n_in: int | None = None):
    """``cfg`` with the network's ends the data decides: ``auto`` widths (the input width; the
    task's output width) and, when neither ``loss`` nor ``model.output`` is given, the task's
    head. Explicit values stay, and the data checks refuse those that contradict the data.

    Without data (``task`` None: a network built by hand before any training), explicit widths
    give the head of classes: one sigmoid unit for two, else softmax; ``auto`` is an error."""
    if not needs_data(cfg):
        return cfg
    layers = list(cfg.model.layers)
    if task is None:
        if AUTO in layers:
            raise ConfigError(f"{cfg.source}: model.layers: {layers}: auto widths come from the data; load it first "
                              "(mlpcli.train does) or give the widths")
        task = classes_task(range(max(2, layers[-1])))
    if layers[0] == AUTO:
        layers[0] = int(n_in)
    if layers[-1] == AUTO:  # two classes: one sigmoid unit, or two softmax units for an explicit cross_entropy
        layers[-1] = len(task.classes) if task.classification and cfg.loss == "cross_entropy" else task.n_outputs
    update, loss = {"layers": layers}, cfg.loss
    if loss is None:
        update["output"], loss = head(task, layers[-1])
    return cfg.model_copy(update={"model": cfg.model.model_copy(update=update), "loss": loss})
