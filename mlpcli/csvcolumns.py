"""Typing a CSV's columns: each block's raw fields (:class:`~mlpcli.csvfields.Fields`) become
float64 values or category codes, and the blocks are joined into a :class:`Table`.

A column's type is decided on its first ``SAMPLE`` rows: text when listed in ``text`` or
when fewer than half of their present values are numbers; numeric when listed in ``numeric`` (a
trained model's numeric inputs) or otherwise, and from then on a value that is neither a number
nor a missing-value marker is a :class:`DataError` naming the file, the line and the column.
A column typed text by its first rows whose values are, over the whole file, at least half
numbers is numeric after all: its first text value is that error (numbers are never silently
made categories because the text came first).
"""

from __future__ import annotations

import re

import numpy as np

from .csvfields import Fields
from .errors import DataError
from .tablecolumns import Column, Table, no_column, not_a_model_number

GROUPED = re.compile(rb"[+-]?\d+(,\d+)+(\.\d*)?")  # 151,000.5 or 2,5: thousands separators or a decimal comma
GROUPED_DOTS = re.compile(rb"[+-]?\d{1,3}(\.\d{3})+(,\d*)?")  # 1.234,5 where ',' is the decimal mark
_CURRENCY, _NUMBER = b"(?:" + b"|".join(re.escape(c.encode()) for c in "$€£¥") + b")", rb"[+-]?\d+(?:[.,]\d+)*"
WITH_UNIT = re.compile(rb"[+-]?%s ?%s|%s ?(?:%%|%s)" % (_CURRENCY, _NUMBER, _NUMBER, _CURRENCY))  # 45%, $12.50, 12 €
SAMPLE = 2000  # the rows whose values decide a column's type


class ColumnParser:
    """Converts each block's fields into typed columns and joins the blocks (see the module docstring)."""

    def __init__(self, path, names, wanted, na_values, text, numeric=(), comma=False):
        known = set(names)  # a set: a table of 20,000 columns is 20,000 lookups, not 400 million comparisons
        unknown = [c for c in wanted if c not in known]
        if unknown:
            raise no_column(path, unknown[0], names)
        self.path, self.names, self.wanted = path, names, wanted
        self.na = [str(v).encode() for v in na_values]  # compared with raw fields; decoded for messages
        self.text = set(text or ())
        self.fixed = {n for n in numeric or () if n in wanted}  # numeric because a trained model says so
        self.kind: dict[str, str] = dict.fromkeys(self.fixed, "numeric")
        self.n_rows = 0  # set by ``reserve``: the table's rows, so each column is allocated once
        self.out: dict[str, np.ndarray | None] = {n: None for n in names if n in wanted}
        self.integer = {n: True for n in self.out}
        self.vocab: dict[str, dict] = {n: {} for n in self.out}
        self.comma = comma  # ',' or 'auto': numbers are written with decimal commas (2,5), read as decimal points
        self.marks: dict[str, dict] = {n: {} for n in self.out}  # 'auto': a numeric column's first 2,5 and 2.5

    def reserve(self, n_rows: int) -> None:
        self.n_rows = n_rows

    def add_block(self, cols: dict[str, Fields], row0: int, lines) -> None:
        """One block of rows (the first is data row ``row0``; ``lines``: each row's file line, or None for row + 2)."""
        self.merge(self.convert(cols, row0, lines), row0)

    def convert(self, cols: dict[str, Fields], row0: int, lines) -> dict:
        """A block's columns converted (the heavy part; blocks after the first may run in threads):
        numeric ones to float64, text ones to their distinct values and each row's index into them.
        Of the block's bad values, the first in file order (row, then column) is the error."""
        out, worst = {}, None
        for name, fields in cols.items():
            missing = fields.equal_any(self.na)
            at = _Lines(self.path, name, fields, row0, lines)  # errors quote the field as written
            numbers = fields.dotted() if self.comma and self.kind.get(name) != "text" and name not in self.text else fields
            # a block no longer than the sample (every small table) is parsed once, for its type and its values
            parsed = numbers.floats(skip=missing) if name not in self.kind and name not in self.text and len(fields) <= SAMPLE else None
            try:
                kind = self.kind.get(name) or self._decide(name, numbers, missing, at, parsed)
                out[name] = (self._numeric(name, numbers, missing, at, parsed) + (self._marks(name, fields, missing, at),)
                             if kind == "numeric" else self._distinct(name, fields, missing, at))
            except _Bad as bad:
                worst = bad if worst is None or bad.row < worst.row else worst
        if worst is not None:
            raise DataError(worst.message)
        return out

    def merge(self, converted: dict, row0: int) -> None:
        """A converted block (its first row data row ``row0``) joins the columns, which blocks fill in place
        (category codes numbered as first seen in file order)."""
        for name, part in converted.items():
            numeric = self.kind[name] == "numeric"
            if self.out[name] is None:
                self.out[name] = np.empty(self.n_rows, np.float64 if numeric else np.int32)
            if numeric:
                vals, integer, marks = part
                seen = self.marks[name]
                for mark, (where, val) in marks.items():
                    other = next((v for m, v in seen.items() if m != mark), None)
                    if other is not None:
                        raise DataError(_ambiguous(where, name, val, *other))
                    seen.setdefault(mark, (where, val))
                self.integer[name] &= integer
                self.out[name][row0 : row0 + len(vals)] = vals
                continue
            values, inverse, missing = part
            vocab = self.vocab[name]
            ids = np.array([vocab.setdefault(v, len(vocab)) for v in values], np.int32)
            codes = self.out[name][row0 : row0 + len(inverse)]
            np.take(ids, inverse, out=codes)
            codes[missing] = -1

    def _decide(self, name, fields: Fields, missing, at, parsed=None) -> str:
        kind = "text"
        if name not in self.text:
            present = np.flatnonzero(~missing[:SAMPLE])
            ok = fields.take(present).floats()[1] if parsed is None else parsed[1][present]
            kind = "numeric" if ok.sum() * 2 >= len(present) else "text"
            for pattern in (GROUPED_DOTS if self.comma else GROUPED, WITH_UNIT) if kind == "text" else ():
                row = _written_number(at.fields, present, ok, pattern)
                if row >= 0:  # numbers as text would silently become categories (or a target's classes)
                    raise _Bad(row, self._grouped(name, at, row))
        self.kind[name] = kind
        return kind

    def _grouped(self, name, at, i) -> str | None:
        """The error for a number written with grouped digits at the block's row ``i``; None if it is not one."""
        val = at.text(i)
        if WITH_UNIT.fullmatch(val.strip().encode()):
            return (f"{at(i)}: column {name!r}: {val!r} is a number with a unit ('%' or a currency), which mlp does not "
                    f"read (write the number alone, e.g. 45 for 45%; or list {name!r} in data.drop, or in "
                    f"data.categorical if its values are labels)")
        if not (GROUPED_DOTS if self.comma else GROUPED).fullmatch(val.strip().encode()):
            return None
        if self.comma:
            return (f"{at(i)}: column {name!r}: {val!r} is a number with '.' thousands separators, which mlp does not "
                    f"read (write it as 1234,5, or list {name!r} in data.categorical if its values are labels)")
        return (f"{at(i)}: column {name!r}: {val!r} is a number with a ',' (thousands separators or a decimal comma), "
                f"which mlp reads only in a ';'-separated file or with data.decimal: \",\" (write it as 151000 or 2.5, "
                f"set data.decimal: \",\" if ',' is the decimal mark, or list {name!r} in data.categorical if its "
                f"values are labels)")

    def _numeric(self, name, fields: Fields, missing, at, parsed=None) -> tuple[np.ndarray, bool]:
        vals, ok, integer = fields.floats(skip=missing) if parsed is None else parsed
        vals[missing] = np.nan
        bad = np.flatnonzero(~ok | np.isinf(vals))  # inf, -Infinity, 1e400 would make every output they reach NaN
        if len(bad):
            i, val = int(bad[0]), at.text(bad[0])
            if not ok[i] and name in self.fixed:
                raise _Bad(i, str(not_a_model_number(at(i), name, val, [v.decode() for v in self.na])))
            if not ok[i] and (grouped := self._grouped(name, at, i)):
                raise _Bad(i, grouped)
            if not ok[i]:
                raise _Bad(i, _not_a_number(at(i), name, val))
            raise _Bad(i, f"{at(i)}: column {name!r}: {val!r} is not a finite number, and it would make every output "
                          f"it reaches NaN (add it to data.na_values to read it as missing)")
        return vals, integer

    def _marks(self, name, fields: Fields, missing, at) -> dict:
        """``data.decimal: auto``: the block's first number written with a ',' and first with a '.', each as
        (path:line, value); both in one column is an error (is 1,000 a thousand or one?), never a guess."""
        if self.comma != "auto":
            return {}
        u8 = fields.words.view(np.uint8).reshape(len(fields), -1)
        comma, dot = ((u8 == ord(m)).any(axis=1) & ~missing for m in ",.")
        first = {m: int(np.argmax(only)) for m, only in ((",", comma & ~dot), (".", dot & ~comma)) if only.any()}
        if len(first) == 2:
            i, j = max(first.values()), min(first.values())
            raise _Bad(i, _ambiguous(at(i), name, at.text(i), at(j), at.text(j)))
        return {m: (at(i), at.text(i)) for m, i in first.items()}

    def _distinct(self, name, fields: Fields, missing, at) -> tuple:
        """(each distinct value as text, each row's index into them, missing)."""
        keys, inverse = np.unique(fields.keys(), return_inverse=True)
        first = _first_rows(inverse, len(keys))
        if not fields.distinct(first, inverse):  # two values share a key: sort the strings themselves
            keys, inverse = np.unique(fields.strings(), return_inverse=True)
            first = _first_rows(inverse, len(keys))
        values, bad = [], []
        for row in first.tolist():
            try:
                values.append(fields.value(row).decode("utf-8"))
            except UnicodeDecodeError:
                bad.append(row)
        if bad:
            raise _Bad(min(bad), f"{at(min(bad))}: column {name!r}: not UTF-8 text ({at.text(min(bad))!r}; "
                                     f"set data.encoding to the file's, e.g. cp1252, or save it as UTF-8)")
        return values, inverse.reshape(-1), missing

    def table(self, lines) -> Table:
        cols = {}
        for name, values in self.out.items():
            if self.kind[name] == "numeric":
                cols[name] = Column(name, values, None, self.integer[name])
                continue
            cols[name] = col = _sorted_text(name, values, self.vocab[name], {v.decode() for v in self.na})
            row = -1 if name in self.text else _numbers_after_all(col)
            if row >= 0:
                at = f"{self.path}:{int(lines[row]) if lines is not None else row + 2}"
                val = col.categories[col.values[row]]
                raise DataError(_not_a_number(at, name, val, "most of its values are numbers; "))
        return Table(self.path, cols, self.n_rows, lines)


def _not_a_number(at: str, name: str, val: str, why: str = "") -> str:
    """A value that is not a number in a numeric column (``why``: how the column came to be numeric)."""
    return (f"{at}: column {name!r}: {val!r} is not a number, but the column is numeric ({why}add {val!r} to "
            f"data.na_values if it marks a missing value, or list {name!r} in data.categorical)")


def _ambiguous(at: str, name: str, val: str, other_at: str, other: str) -> str:
    """A ';'-separated file's numeric column holding numbers written with a ',' and with a '.' (``data.decimal: auto``)."""
    return (f"{at}: column {name!r}: {val!r}, but {other!r} at {other_at}: the column's numbers are written with both "
            f"',' and '.', so a ',' may be a thousands separator or the decimal mark (write them alike, e.g. 1234.5 or "
            f"1234,5, or set data.decimal to the file's decimal mark, '.' or ',')")


class _Bad(Exception):
    """A bad value at a block's row ``row``: the block's first one becomes the DataError."""

    def __init__(self, row, message):
        super().__init__(message)
        self.row, self.message = int(row), message


class _Lines:
    """Where a block's row is: ``at(i)`` is ``path:line`` of its row ``i``, ``at.text(i)`` that row's field."""

    def __init__(self, path, name, fields, row0, lines):
        self.path, self.fields, self.row0, self.lines = path, fields, row0, lines

    def __call__(self, i) -> str:
        i = int(i)
        return f"{self.path}:{int(self.lines[self.row0 + i]) if self.lines is not None else self.row0 + i + 2}"

    def text(self, i) -> str:
        return self.fields.value(int(i)).decode("utf-8", "replace")


def _first_rows(inverse: np.ndarray, n: int) -> np.ndarray:
    """The first row holding each of ``n`` distinct values (``inverse``: each row's value); cheaper than
    np.unique's return_index, which needs a stable sort."""
    inverse = inverse.reshape(-1)
    first = np.full(n, len(inverse), np.int64)
    np.minimum.at(first, inverse, np.arange(len(inverse)))
    return first


def _sorted_text(name, codes, vocab: dict, na: set) -> Column:
    """A text column whose categories are sorted (codes renumbered), so order never depends on blocks;
    missing-value markers are not categories."""
    cats = list(vocab)
    order = sorted((i for i in range(len(cats)) if cats[i] not in na), key=lambda i: cats[i])
    remap = np.full(len(cats) + 1, -1, np.int32)
    remap[np.array(order, dtype=np.intp)] = np.arange(len(order), dtype=np.int32)
    return Column(name, remap[codes], [cats[i] for i in order])


def _numbers_after_all(col: Column) -> int:
    """A column typed text on its first rows that holds, over all its rows, at least half numbers: the
    row of its first value that is not a number; -1 for a text column."""
    if not col.categories:
        return -1
    number = Fields.of([c.encode() for c in col.categories]).floats()[1]
    present = col.values[col.values >= 0]
    counts = np.bincount(present, minlength=len(number))
    if not number.any() or counts[number].sum() * 2 < len(present):
        return -1
    return int(np.flatnonzero((col.values >= 0) & ~number[np.maximum(col.values, 0)])[0])


def _written_number(fields: Fields, present: np.ndarray, ok: np.ndarray, pattern) -> int:
    """The row of the first number written as ``pattern`` (``151,000``, ``2,5``, ``1.234,5``, ``45%``) among
    ``present`` rows of a column that holds only numbers (``ok``: which of them read as one), some written so;
    -1 for any other column."""
    first = -1
    for i, number in zip(present.tolist(), ok.tolist(), strict=True):
        if pattern.fullmatch(fields.value(i).strip()):
            first = i if first < 0 else first
        elif not number:
            return -1
    return first
