"""A dataset's splits: what ``load_data`` returns (mlpcli/data.py) and every data source builds."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import DataError


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
    task: str = "classification"
    normalizer: dict = field(default_factory=lambda: {"kind": "none"})
    source: str = ""
    classes: list | None = None  # class names, when the data has them (a table's)

    def describe_task(self) -> str:
        """The task the data decided, as printed when training starts."""
        if self.task != "classification":
            return "task: regression"
        names = self.classes
        if names is None:
            return "task: classification"
        shown = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
        return f"task: classification, {len(names)} classes: {shown}"

    def splits(self) -> dict:
        """The splits this dataset has, by name: train, then val and test when present."""
        return {name: s for name in ("train", "val", "test") if (s := getattr(self, name)) is not None}

    def split(self, name: str) -> Split:
        s = getattr(self, name)
        if s is None:
            raise DataError(f"{self.source}: no {name!r} split in this dataset" +
                            (" (set data.validation_split)" if name == "val" else ""))
        return s
