"""A dataset's splits: what ``load_data`` returns (mlpcli/data.py) and every data source builds;
and the registry of datasets by config name (entries in sources.py and tabledata.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import DataError
from .registry import Registry
from .task import Task, of_arrays, regression_task


@dataclass
class Split:
    X: np.ndarray  # (n, n_in), float; or a LazyInputs view of a memory-mapped file
    y: np.ndarray  # (n,) integer labels, or (n,) / (n, k) float targets

    def __len__(self):
        return len(self.y)


@dataclass
class Dataset:
    train: Split
    test: Split | None = None
    val: Split | None = None
    task: Task | str = "classification"  # decided once (task.py); a kind alone is completed from the labels
    normalizer: dict = field(default_factory=lambda: {"kind": "none"})
    source: str = ""
    feature_names: list[str] | None = None  # a table's encoded inputs by name (numeric columns, one per category)

    def __post_init__(self):
        if isinstance(self.task, str):
            if self.task not in ("classification", "regression"):
                raise ValueError(f"task must be classification or regression (got {self.task!r})")
            y = self.train.y
            self.task = of_arrays(y, "cross_entropy") if self.task == "classification" else regression_task(y)

    @property
    def classes(self) -> list | None:
        """The class names (classification), as eval and predict speak them."""
        return list(self.task.classes) if self.task.classification else None

    def describe_task(self) -> str:
        """The task the data decided, as printed when training starts."""
        return f"task: {self.task.describe()}"

    def splits(self) -> dict:
        """The splits this dataset has, by name: train, then val and test when present."""
        return {name: s for name in ("train", "val", "test") if (s := getattr(self, name)) is not None}

    def split(self, name: str) -> Split:
        s = getattr(self, name)
        if s is None:
            raise DataError(f"{self.source}: no {name!r} split in this dataset" +
                            (" (set data.validation_split)" if name == "val" else ""))
        return s


def target_scaling(normalizer: dict | None) -> tuple[np.ndarray, np.ndarray] | None:
    """(scale, shift) per target of a regression table model, which fits ``(y - shift) / scale``
    (README "Tables": normalize_target), or None when there are none (arrays, a classifier)."""
    t = (normalizer or {}).get("target") if (normalizer or {}).get("kind") == "table" else None
    if not t or "scale" not in t:  # a classifier's target has no units
        return None
    return np.asarray(t["scale"], np.float64), np.asarray(t["shift"], np.float64)


def target_units(normalizer: dict | None):
    """The function that takes a regression table model's outputs (or its fitted targets) back to the
    target's own units, ``values * scale + shift``, or None when they already are in them."""
    scaling = target_scaling(normalizer)
    if scaling is None:
        return None
    scale, shift = scaling
    return lambda values: np.asarray(values, np.float64).reshape(len(values), -1) * scale + shift


DATASETS = Registry("dataset", default="xor")
