"""A table as typed columns: what the CSV and Parquet readers return and preprocessing reads.

A :class:`Table` holds one :class:`Column` per header name: numeric columns as float64 with
NaN for missing values, text columns as integer codes into their ``categories`` (-1 for a
missing value). Nothing here knows about models; ``preprocess.py`` turns columns into the
network's inputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from .errors import DataError

NA_VALUES = ("", "NA", "N/A", "NaN", "nan", "null", "NULL", "None", "?")


@dataclass
class Column:
    name: str
    values: np.ndarray  # numeric: float64, NaN where missing; text: int32 codes, -1 where missing
    categories: list[str] | None = None  # text columns: what the codes index; None for numeric ones
    integer: bool = False  # numeric: every value is written as an integer (no '.', no exponent)

    @property
    def numeric(self) -> bool:
        return self.categories is None

    @property
    def missing(self) -> np.ndarray:
        return np.isnan(self.values) if self.numeric else self.values < 0

    def text(self) -> list[str]:
        """The column as strings, as a user would write them back ('' where missing)."""
        if not self.numeric:
            names = np.array([*self.categories, ""], dtype=object)
            return list(names[self.values])  # code -1 picks the trailing ''
        fmt = (lambda v: str(int(v))) if self.integer else (lambda v: f"{v:.10g}")
        return ["" if v != v else fmt(v) for v in self.values.tolist()]


@dataclass
class Table:
    path: str
    columns: Mapping[str, Column]
    n_rows: int
    lines: np.ndarray | None = field(default=None, repr=False)  # file line of each row, when not row + 2
    skipped: tuple = ()  # columns in the file that were not read (``read_table(skip=...)``: data.drop)

    def line(self, row: int) -> int:
        """The file line (1-based; the header is line 1) that holds data row ``row``."""
        return int(self.lines[row]) if self.lines is not None else row + 2

    def column(self, name: str) -> Column:
        if name not in self.columns:
            raise no_column(self.path, name, list(self.columns))
        return self.columns[name]

    def rows(self, rows: np.ndarray | None) -> Table:
        """The table's rows ``rows`` (indices, or None for all); a column is copied when first used."""
        if rows is None:
            return self
        lines = (self.lines if self.lines is not None else np.arange(self.n_rows, dtype=np.int64) + 2)[rows]
        return Table(self.path, _RowsOf(self.columns, rows), len(lines), lines, self.skipped)


class _RowsOf(Mapping):
    """Columns restricted to some rows, each copied on first access only."""

    def __init__(self, columns: dict, rows: np.ndarray):
        self.source, self.idx, self.cache = columns, rows, {}

    def __getitem__(self, name):
        if name not in self.cache:
            c = self.source[name]
            self.cache[name] = Column(c.name, c.values[self.idx], c.categories, c.integer)
        return self.cache[name]

    def __iter__(self):
        return iter(self.source)

    def __len__(self):
        return len(self.source)


def no_column(path, name, names: list[str]) -> DataError:
    """An unknown column, with the column it most likely means (``meant``)."""
    return DataError(f"{path}: no column {name!r}{meant(name, names)} (columns: {', '.join(names)})")


def meant(name, names) -> str:
    """``'; did you mean ...?'`` naming the column of ``names`` that ``name`` most likely means: the same name in
    another case or with other spaces, '_' or '-' (``' Age '`` for ``age``, ``Petal Width`` for ``petal_width``),
    else a close spelling (``tagret``); or ''."""
    import difflib

    def key(n):
        return "".join(c for c in str(n).casefold() if c not in " _-")

    names = list(names)
    same = [n for n in names if key(n) == key(name)] or difflib.get_close_matches(name, names, n=1, cutoff=0.75)
    return f"; did you mean {same[0]!r}?" if same else ""


def not_a_model_number(where: str, name: str, value: str, na_values) -> DataError:
    """Text in a column a trained model reads as numbers: the fix is in the data, not the config
    (the preprocessing comes from the checkpoint), so name the texts the model reads as missing."""
    na = ", ".join(repr(str(v)) for v in na_values)
    return DataError(f"{where}: column {name!r}: {value!r} is not a number, and the model was trained on numbers in "
                     f"this column (correct the value, or write one the model reads as missing: {na})")


def check_names(names: list[str], path: str) -> None:
    for j, name in enumerate(names):
        if name.strip() == "":
            names[j] = f"Unnamed: {j}"  # as pandas names a blank header (an exported index column)
    seen = {}
    for j, name in enumerate(names):
        if name in seen:
            raise DataError(f"{path}:1: duplicate column name {name!r} (columns {seen[name] + 1} and {j + 1})")
        seen[name] = j
