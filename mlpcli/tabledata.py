"""The ``table`` dataset: read the file(s), decide the task, split, fit the preprocessing, encode.

Splits are seeded (the config's data stream) and stratified by class for classification, so
eval re-creates the very test and validation rows training held out. The preprocessing is
fitted on the training rows only; at eval and predict time the checkpoint's is re-applied.
Rows without a target value are dropped, with a count on stderr (README, "Tables").
"""

from typing import Literal

import numpy as np
from pydantic import Field, field_validator, model_serializer, model_validator

from .csvdialect import DELIMITERS
from .dataset import DATASETS, Dataset, Split
from .errors import DataError
from .preprocess import TablePreprocessor, warn
from .registry import Params
from .sections import AbsPath, Section, field_error
from .tablecolumns import NA_VALUES, Table
from .task import Task, of_column


class MissingConfig(Section):
    numeric: Literal["mean", "median", "zero", "drop"] = Field(
        "mean", description="a missing number becomes the training mean, median or zero, or drops its row")
    categorical: Literal["most_frequent", "missing_category", "drop"] = Field(
        "most_frequent", description="a missing category becomes the most frequent one, a category of its own, or drops its row")


class TableParams(Params):
    train: AbsPath | None = Field(None, description="the table file (.csv, .tsv, .csv.gz, .parquet)")
    test: AbsPath | None = Field(None, description="a test table (default: test_fraction of train)")
    target: str | list[str] | None = Field(None, description="the target column (a list: multi-output regression)")
    features: list[str] | None = Field(None, description="the input columns (default: every column but the target and drop)")
    drop: list[str] = Field([], description="columns that are not inputs (identifiers); never read, whatever they hold")
    categorical: Literal["auto"] | list[str] = Field("auto", description="one-hot encoded columns; auto: the columns that hold text")
    missing: MissingConfig = Field(default_factory=MissingConfig, description="what a missing value becomes")
    na_values: list[str] = Field(list(NA_VALUES), description="the texts that mark a missing value (an empty field always does)")
    encoding: str = Field("auto", description="the text encoding of a text table (utf-8, cp1252, latin-1, utf-16, ...); "
                          "auto: UTF-8, UTF-16 or UTF-32 by its byte-order mark, else Windows-1252, with a warning")
    delimiter: Literal[("auto", *DELIMITERS)] = Field(
        "auto", description="the field delimiter of a text table; auto: the one the header row holds (',', ';', tab or '|')")
    decimal: Literal["auto", ".", ","] = Field(
        "auto", description="the decimal mark of numbers; auto: ',' too (2,5 is 2.5) in a ';'-separated file, where a "
        "numeric column holding both 2,5 and 2.5 is an error")
    task: Literal["auto", "classification", "regression"] = Field(
        "auto", description="auto: a text or boolean target, or an integer one with at most 50 values, is classification; "
        "anything else regression")
    normalize_target: bool = Field(True, description="regression: fit standardised targets; predictions are in original units")
    test_fraction: float = Field(0.2, gt=0, lt=1, description="fraction of the rows held out as the test split "
                                 "(stratified by class), when no test file is given")

    @field_validator("train", "test", mode="before")
    @classmethod
    def _one_file(cls, v, info):
        if isinstance(v, dict):
            raise field_error("table_file", "a table is one file: data.{key}: PATH.csv", key=info.field_name)
        return v

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, v):
        import codecs

        if v != "auto":
            try:
                # rot13, hex, base64, zlib are codecs but not text encodings: str.encode refuses them by this flag
                text = codecs.lookup(v)._is_text_encoding  # noqa: SLF001
            except LookupError:
                text = None
            if not text:
                what = "unknown encoding {name!r}" if text is None else "{name!r} is not a text encoding"
                raise field_error("encoding", what + "; e.g. auto, utf-8, cp1252, latin-1, utf-16", name=v)
        return v

    @model_validator(mode="after")
    def _complete(self):
        if self.train is None or self.target is None:
            raise field_error("missing", "dataset 'table' needs data.train (a table file) and data.target (a column)",
                              at="train" if self.train is None else "target")
        if "normalize" not in self.model_fields_set:
            self.normalize = "standard"  # tables are standardised unless the config says otherwise
        if self.test is not None and "test_fraction" in self.model_fields_set:
            raise field_error("table_test", "give data.test or data.test_fraction, not both", at="test_fraction")
        if dropped := [t for t in targets_of(self) if t in self.drop]:  # else: 'no column' for a column the file has
            raise field_error("table_drop", "{name!r} is the target (data.target); it cannot also be in data.drop",
                              name=dropped[0], at="drop")
        return self

    @model_serializer(mode="wrap")
    def _resolved(self, dump):
        d = dump(self)
        if self.test is not None:  # the resolved config must load again: a test file replaces test_fraction
            d.pop("test_fraction", None)
        return d

    def source(self) -> str:
        return self.train

    def reading(self) -> dict:
        """How its text tables are read: ``read_table``'s na_values, delimiter, decimal and encoding."""
        return {"na_values": self.na_values, "delimiter": self.delimiter, "decimal": self.decimal, "encoding": self.encoding}


def targets_of(d) -> list[str]:
    return [d.target] if isinstance(d.target, str) else list(d.target)


def read_for(d, path: str, fitted: TablePreprocessor | None, threads: int | None = None) -> Table:
    """The table at ``path``, only the columns that matter read (categorical ones as text)."""
    from .table import read_table  # the CSV reader: imported when a table is read, not when a config is validated

    target = targets_of(d)
    if fitted is not None:  # read as the model was trained: its text as text, its numbers as numbers
        text, numeric = fitted.column_types(with_target=True)
    else:
        text, numeric = (list(d.categorical) if isinstance(d.categorical, list) else None), ()
    usecols = None if d.features is None else [*d.features, *target]
    return read_table(path, text=text, usecols=usecols, skip=d.drop, numeric=numeric, threads=threads, **d.reading())


def without_missing_target(table: Table, target: list[str]) -> Table:
    bad = np.zeros(table.n_rows, bool)
    for name in target:
        bad |= table.column(name).missing
    if not bad.any():
        return table
    lines = [table.line(int(i)) for i in np.flatnonzero(bad)[:3]]
    warn(f"{table.path}: {int(bad.sum())} row{'s' if bad.sum() > 1 else ''} without a target value dropped "
         f"(line{'s' if len(lines) > 1 else ''} {', '.join(map(str, lines))}{', ...' if bad.sum() > 3 else ''})")
    if bad.all():
        raise DataError(f"{table.path}: every row's target {', '.join(map(repr, target))} is missing")
    return table.rows(np.flatnonzero(~bad))


def split_rows(n: int, fraction: float, labels, rng, what: str, path: str):
    """(held-out rows, kept rows), sorted: ``fraction`` of each class (of all rows for regression)."""
    groups = [np.arange(n)] if labels is None else [np.flatnonzero(labels == k) for k in np.unique(labels)]
    held = []
    for g in groups:
        g = g[rng.permutation(len(g))]
        held.append(g[: int(round(len(g) * fraction))])
    held = np.sort(np.concatenate(held))
    if len(held) == 0 or len(held) == n:
        why, largest = "", max(map(len, groups))
        if labels is not None and len(held) == 0 and round(n * fraction) > 0:  # a target of mostly distinct values
            why = (f" (stratified by class: each of the {len(groups)} classes is too small to hold {fraction} of it "
                   f"out, the largest has {largest} row{'s' if largest != 1 else ''}; is the target a class label? If not, set "
                   f"data.task: regression)")
        raise DataError(f"{path}: {what} {fraction} of {n} row{'s' if n != 1 else ''} leaves an empty split{why}")
    keep = np.setdiff1d(np.arange(n), held, assume_unique=True)
    return held, keep


def class_labels(table: Table, target: list[str], task: Task):
    """Integer labels to stratify by (None for regression)."""
    if not task.classification:
        return None
    col = table.column(target[0])
    return np.unique(col.values, return_inverse=True)[1].reshape(-1)


def load_table(cfg, rng, fitted: dict | None = None, task: Task | None = None):
    """The Dataset of a ``table`` config; ``fitted`` and ``task``: a checkpoint's preprocessing and
    task, re-applied (else decided from the training rows)."""
    d = cfg.data
    target = targets_of(d)
    pre = TablePreprocessor.from_dict(fitted, task) if fitted is not None else None
    from .threads import requested

    path, threads = d.train, requested(cfg.training.threads)  # mlp train --threads N reads with N threads too
    train = without_missing_target(read_for(d, path, pre, threads), target)
    for name in target:
        train.column(name)
    if pre is None:
        if len(target) > 1 and d.task == "classification":
            raise DataError(f"{path}: several target columns are multi-output regression; data.task: classification takes one")
        task = Task("regression", n_targets=len(target)) if len(target) > 1 else of_column(train.column(target[0]), d.task, path)
        _check_loss(cfg, task, path)
    else:  # another table than the model's: name its missing column before the split can fail on it
        pre.check_columns(train, with_target=True)
    labels = class_labels(train, target, task)
    test = None
    if d.test is not None:
        test = without_missing_target(read_for(d, d.test, pre, threads), target)
    else:
        held, keep = split_rows(train.n_rows, d.test_fraction, labels, rng, "data.test_fraction", path)
        test, train = train.rows(held), train.rows(keep)
        labels = labels[keep] if labels is not None else None
    val = None
    if d.validation_split:
        held, keep = split_rows(train.n_rows, d.validation_split, labels, rng, "data.validation_split", path)
        val, train = train.rows(held), train.rows(keep)
    if pre is None:
        pre = TablePreprocessor.fit(train, target, task, features=d.features, drop=d.drop,
                                    categorical=d.categorical, missing=d.missing.model_dump(), normalize=d.normalize,
                                    scale=d.scale, normalize_target=d.normalize_target)
    dtype = np.dtype(cfg.training.dtype)
    splits = {}
    for name, t in (("train", train), ("val", val), ("test", test)):
        if t is not None:
            t = _complete(pre, t)
            splits[name] = Split(pre.transform(t, dtype), pre.encode_target(t))
    return Dataset(train=splits["train"], val=splits.get("val"), test=splits.get("test"), task=task,
                   normalizer=pre.to_dict(), source=path, feature_names=pre.feature_names)


def _complete(pre: TablePreprocessor, table: Table) -> Table:
    """The rows whose inputs can be encoded: those with a missing value in a ``missing: drop`` column go."""
    pre.check_columns(table, with_target=True)
    bad = pre.incomplete_rows(table)
    if not bad.any():
        return table
    warn(f"{table.path}: {int(bad.sum())} row(s) with a missing input dropped (data.missing: drop)")
    if bad.all():
        raise DataError(f"{table.path}: every row has a missing input (data.missing: drop)")
    return table.rows(np.flatnonzero(~bad))


def _check_loss(cfg, task: Task, path: str) -> None:
    """The config's loss, when given, must fit the task the data decided."""
    loss, classes = cfg.loss, task.classes
    if loss is None:  # the task's head (task.fit_config)
        return
    if not task.classification and loss != "squared_error":
        raise DataError(f"{path}: target {cfg.data.target!r} is regression (numbers), but loss is {loss}; "
                        f"set loss: squared_error (or data.task: classification)")
    if task.classification and loss == "squared_error":
        raise DataError(f"{path}: target {cfg.data.target!r} is classification ({len(classes)} classes), but loss is "
                        f"squared_error; set loss: cross_entropy")
    if task.classification and len(classes) > 2 and loss == "binary_cross_entropy" and cfg.model.layers[-1] not in (len(classes), "auto"):
        raise DataError(f"{path}: target {cfg.data.target!r} has {len(classes)} classes; set loss: cross_entropy with "
                        f"model.layers ending in {len(classes)}")


DATASETS.register("table", load_table, TableParams, "your table: CSV, TSV, .csv.gz or Parquet, one row per sample", whole=True)
