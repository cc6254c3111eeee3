"""A table's columns turned into the network's inputs and targets, fitted on the training split.

:class:`TablePreprocessor` is fitted once, on the training rows only, and is a plain
JSON-serialisable mapping (``to_dict``/``from_dict``) stored in the checkpoint; eval,
predict, the ONNX export and sweeps re-apply it with ``transform(table)``. Its layout
(README, "Tables"):

``columns``: one entry per input column, in order, each ``{"name", "type": "numeric",
"fill", "shift", "scale"}`` — the design column is ``(x - shift) / scale`` with a missing
``x`` replaced by ``fill`` (None: such rows are dropped) — or ``{"name", "type":
"categorical", "categories", "fill"}`` — one 0/1 column per category, a missing value
counted as ``fill`` (a category; None: dropped) and an unseen category as all zeros.
``target``: ``{"names"}`` for classification (the network's class ``i`` is the task's
``classes[i]``) or ``{"names", "shift", "scale"}`` for regression (outputs are
``y * scale + shift`` in the original units).

The task itself (classification with its classes, or regression) is the checkpoint's
(task.py), given to the preprocessor with its spec; it is not a part of the spec.
"""

from __future__ import annotations

import sys

import numpy as np

from .dataset import target_units
from .errors import DataError
from .tablecolumns import Column, Table, meant
from .task import Task, number_name

MISSING_CATEGORY = "(missing)"
CHUNK_ROWS = 8192  # rows of the design matrix filled together (a few hundred KiB)


def warn(message: str) -> None:
    sys.stderr.write(f"mlp: warning: {message}\n")


class TablePreprocessor:
    """Fitted per-column encoding of a table; see the module docstring for its JSON layout."""

    def __init__(self, spec: dict, task: Task | None = None):
        self.spec, self._task = spec, task  # the task: for the targets only (encode_target, decode)

    @property
    def task(self) -> Task:
        if self._task is None:
            raise ValueError("the targets need the model's task: TablePreprocessor(spec, run.task)")
        return self._task

    # ------------------------------------------------------------------ fitting
    @classmethod
    def fit(cls, table: Table, target: list[str], task: Task, *, features=None, drop=(),
            categorical="auto", missing=None, normalize="standard", scale=255.0, normalize_target=True) -> TablePreprocessor:
        missing = {"numeric": "mean", "categorical": "most_frequent", **(missing or {})}
        names = input_columns(table, target, features, drop)
        explicit = set(categorical) if isinstance(categorical, (list, tuple)) else None
        for name in explicit or ():
            table.column(name)  # an unknown name is an error listing the columns
        columns = []
        for name in names:
            col = table.columns[name]
            if col.missing.all():  # e.g. 'Unnamed: 12', from a comma at the end of every line
                raise DataError(f"{table.path}: column {name!r} is empty in every training row; list it in data.drop")
            if explicit is not None and not col.numeric and name not in explicit:
                row = int(np.flatnonzero(~col.missing)[0])
                raise DataError(f"{table.path}:{table.line(row)}: column {name!r} holds text "
                                f"({col.categories[col.values[row]]!r}); list it in data.categorical")
            columns.append(_fit_numeric(col, missing["numeric"], normalize, scale) if col.numeric
                           else _fit_categorical(col, missing["categorical"]))
        spec = {"kind": "table", "columns": columns, "target": _fit_target(table, target, task, normalize_target)}
        return cls(spec, task)

    def to_dict(self) -> dict:
        return self.spec

    @classmethod
    def from_dict(cls, spec: dict, task: Task | None = None) -> TablePreprocessor:
        return cls(spec, task)

    # ------------------------------------------------------------------ shape
    @property
    def input_names(self) -> list[str]:
        """The table columns the inputs are made of, in order."""
        return [c["name"] for c in self.spec["columns"]]

    @property
    def feature_names(self) -> list[str]:
        """The design matrix's columns: a numeric column's name, or ``name=category`` per category."""
        out = []
        for c in self.spec["columns"]:
            if c["type"] == "numeric":
                out.append(c["name"])
            else:
                out.extend(f"{c['name']}={v}" for v in c["categories"])
        return out

    @property
    def width(self) -> int:
        return len(self.feature_names)

    @property
    def target_names(self) -> list[str]:
        return self.spec["target"]["names"]

    def column_types(self, with_target: bool = False) -> tuple[list[str], list[str]]:
        """(text, numeric): the columns a table for this model is read as text and as numbers, whatever
        its first rows hold; ``with_target``: the target's too (text classes, or a regression's numbers)."""
        text = [c["name"] for c in self.spec["columns"] if c["type"] == "categorical"]
        numeric = [c["name"] for c in self.spec["columns"] if c["type"] == "numeric"]
        if with_target and not self.task.classification:
            numeric += self.target_names
        elif with_target and not all(_is_number(c) for c in self.task.classes):
            text += self.target_names
        return text, numeric

    # ------------------------------------------------------------------ applying
    def check_columns(self, table: Table, with_target: bool = False) -> None:
        need = self.input_names + (self.target_names if with_target else [])
        absent = [n for n in need if n not in table.columns]
        if absent:  # a column the model knows by another case or spelling: name it
            hint = meant(absent[0], [n for n in table.columns if n not in need])
            raise DataError(f"{table.path}: missing column{'s' if len(absent) > 1 else ''} {', '.join(map(repr, absent))}"
                            f"{hint} (the model was trained with {', '.join(need)})")

    def incomplete_rows(self, table: Table) -> np.ndarray:
        """Rows with a missing input where the column was fitted with ``missing: drop``."""
        bad = np.zeros(table.n_rows, bool)
        for c in self.spec["columns"]:
            if c["fill"] is None:
                bad |= table.columns[c["name"]].missing
        return bad

    def transform(self, table: Table, dtype=np.float32) -> np.ndarray:
        """The design matrix (n_rows, width): numeric columns imputed and scaled, categorical ones one-hot.

        Written in chunks of rows that stay in the cache while every column fills its cells."""
        self.check_columns(table)
        X = np.zeros((table.n_rows, self.width), dtype)
        dtype, steps, unseen, j = X.dtype.type, [], {}, 0
        for c in self.spec["columns"]:
            col = table.columns[c["name"]]
            if c["type"] == "numeric":
                if not col.numeric:
                    row = int(np.flatnonzero(~col.missing)[0])
                    raise DataError(f"{table.path}:{table.line(row)}: column {c['name']!r}: "
                                    f"{col.categories[col.values[row]]!r} is not a number, but the model was trained on numbers")
                steps.append((j, col.values, c["fill"], dtype(c["shift"]), dtype(1.0 / c["scale"]), c["name"]))
                j += 1
            else:
                codes, n_unseen = _codes_for(col, c["categories"], c["fill"])
                if n_unseen:
                    unseen[c["name"]] = n_unseen
                steps.append((j, codes, None, None, None, c["name"]))
                j += len(c["categories"])
        for r in range(0, table.n_rows, CHUNK_ROWS):
            Xc = X[r : r + CHUNK_ROWS]
            for j, values, fill, shift, inv_scale, name in steps:
                part = values[r : r + CHUNK_ROWS]
                if shift is None:  # one-hot: a 1 in the category's column (none for unseen or dropped)
                    rows = np.flatnonzero(part >= 0)
                    Xc.reshape(-1)[rows * X.shape[1] + (j + part[rows])] = 1
                    continue
                with np.errstate(over="ignore", invalid="ignore"):
                    v = part.astype(dtype)
                    if fill is not None:
                        v[np.isnan(v)] = fill
                    v -= shift
                    v *= inv_scale
                if not np.isfinite(v).all():  # 1e300 in a float32 network: inf, a silent prediction
                    row = r + int(np.flatnonzero(~np.isfinite(v))[0])
                    raise DataError(f"{table.path}:{table.line(row)}: column {name!r}: {values[row]:g} is too large "
                                    f"for the network's {X.dtype.name} once standardised")
                Xc[:, j] = v
        if unseen:
            warn(f"{table.path}: values not seen in training encode as all zeros: "
                 + ", ".join(f"{n} in {k!r}" for k, n in unseen.items()))
        return X

    def encode_target(self, table: Table) -> np.ndarray:
        """Targets for the loss: class indices (intp), or the (scaled) values of regression."""
        t, classes = self.spec["target"], self.task.classes
        if self.task.classification:
            col = table.column(t["names"][0])
            names = col.categories if not col.numeric else [number_name(v, col.integer) for v in col.values]
            lookup = {c: i for i, c in enumerate(classes)}
            if not col.numeric:
                ids = np.array([lookup.get(c, -1) for c in col.categories], np.intp)
                y = ids[col.values]
            else:
                y = np.array([lookup.get(c, -1) for c in names], np.intp)
            if (y < 0).any():
                row = int(np.flatnonzero(y < 0)[0])
                value = names[col.values[row]] if not col.numeric else names[row]
                raise DataError(f"{table.path}:{table.line(row)}: target {t['names'][0]!r}: class {value!r} was not in "
                                f"the training data (classes: {', '.join(classes)})")
            return y
        cols = [table.column(n) for n in t["names"]]
        for c in cols:
            if not c.numeric:
                raise DataError(f"{table.path}: target {c.name!r} holds text; the model predicts numbers")
        Y = np.stack([c.values for c in cols], axis=1)
        Y = (Y - np.asarray(t["shift"])) / np.asarray(t["scale"])
        return Y[:, 0] if len(cols) == 1 else Y

    def decode(self, outputs: np.ndarray) -> np.ndarray:
        """Network outputs as the target in its own terms: class names, or values in original units."""
        if self.task.classification:
            from .metrics import predicted_classes

            return np.asarray(self.task.classes, dtype=object)[predicted_classes(outputs)]
        return self.original_units(outputs)

    def original_units(self, values: np.ndarray) -> np.ndarray:
        return target_units(self.spec)(values)


def input_columns(table: Table, target: list[str], features=None, drop=()) -> list[str]:
    """The input columns: ``features`` (default every column but the target and ``drop``)."""
    for name in [*target, *(features or []), *(n for n in drop if n not in table.skipped)]:
        table.column(name)  # an unknown name is an error listing the columns (dropped ones were skipped unread)
    overlap = [n for n in (features or []) if n in target]
    if overlap:
        raise DataError(f"{table.path}: column {overlap[0]!r} is the target; it cannot also be a feature")
    names = [n for n in (features or table.columns) if n not in target and n not in drop]
    if not names:
        raise DataError(f"{table.path}: no input columns left (target {', '.join(target)}; drop {', '.join(drop) or 'none'})")
    return names


def _fit_numeric(col: Column, policy: str, normalize: str, scale: float) -> dict:
    v = col.values[~np.isnan(col.values)]
    if len(v) == 0:
        raise DataError(f"column {col.name!r} has no values in the training split")
    fill = {"mean": lambda: float(v.mean()), "median": lambda: float(np.median(v)), "zero": lambda: 0.0,
            "drop": lambda: None}[policy]()
    if normalize == "standard":
        filled = v if fill is None or len(v) == len(col.values) else np.where(np.isnan(col.values), fill, col.values)
        shift, sd = float(filled.mean()), float(filled.std())
        return {"name": col.name, "type": "numeric", "fill": fill, "shift": shift, "scale": sd if sd > 1e-12 else 1.0}
    return {"name": col.name, "type": "numeric", "fill": fill, "shift": 0.0, "scale": float(scale) if normalize == "scale" else 1.0}


def _fit_categorical(col: Column, policy: str) -> dict:
    present = col.values[col.values >= 0]
    counts = np.bincount(present, minlength=len(col.categories))
    cats = [c for c, k in zip(col.categories, counts, strict=True) if k > 0]  # categories of the training rows only
    if policy == "missing_category":
        return {"name": col.name, "type": "categorical", "categories": [*cats, MISSING_CATEGORY], "fill": MISSING_CATEGORY}
    if policy == "most_frequent":
        if not len(present):
            raise DataError(f"column {col.name!r} has no values in the training split")
        return {"name": col.name, "type": "categorical", "categories": cats, "fill": col.categories[int(counts.argmax())]}
    return {"name": col.name, "type": "categorical", "categories": cats, "fill": None}


def _fit_target(table: Table, target: list[str], task: Task, normalize_target: bool) -> dict:
    if task.classification:
        return {"names": list(target)}
    Y = np.stack([table.columns[n].values for n in target], axis=1)
    if normalize_target:
        shift, scale = Y.mean(0), Y.std(0)
        scale[scale < 1e-12] = 1.0
    else:
        shift, scale = np.zeros(Y.shape[1]), np.ones(Y.shape[1])
    return {"names": list(target), "shift": shift.tolist(), "scale": scale.tolist()}


def _codes_for(col: Column, cats: list[str], fill) -> tuple[np.ndarray, int]:
    """Each row's index into the fitted categories: -1 for unseen (all zeros) and for a missing value
    without a fill; the number of present values not seen in training."""
    lookup = {c: i for i, c in enumerate(cats)}
    if col.numeric:  # a column read as numbers here, as text in training (e.g. only numbers in this file)
        names = [None if v != v else number_name(v, col.integer) for v in col.values.tolist()]
        codes = np.array([-2 if s is None else lookup.get(s, -1) for s in names], np.intp)
    else:
        ids = np.array([lookup.get(c, -1) for c in col.categories] + [-2], np.intp)
        codes = ids[col.values]  # code -1 (missing) picks the trailing -2
    n_unseen = int((codes == -1).sum())
    missing = codes == -2
    codes[missing] = lookup[fill] if fill is not None else -1
    return codes, n_unseen


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False
