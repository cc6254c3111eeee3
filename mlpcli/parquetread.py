"""Reading a ``.parquet`` table (the ``table`` extra: pyarrow) into typed columns."""

from __future__ import annotations

import numpy as np

from .errors import DataError, require
from .tablecolumns import Column, Table, check_names, not_a_model_number


def read_parquet(path, na_values, text, usecols, skip=(), numeric=()) -> Table:
    pa = require("pyarrow", "table", f"{path}: reading .parquet needs pyarrow")
    pq = require("pyarrow.parquet", "table", f"{path}: reading .parquet needs pyarrow")
    try:
        everything = pq.read_schema(path).names if skip else None  # skipped columns are not even read
        columns = list(usecols) if usecols is not None else everything
        t = pq.read_table(path, columns=[n for n in columns if n not in skip] if columns is not None else None)
    except (pa.ArrowException, OSError) as e:
        raise DataError(f"{path}: not a readable Parquet file: {e}") from None
    names = list(t.column_names)
    check_names(names, path)
    if t.num_rows == 0:
        raise DataError(f"{path}: no data rows")
    na, text = set(str(v) for v in na_values), set(text or ())
    cols = {}
    for name, col in zip(names, t.columns, strict=True):
        typ = col.type
        if (pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_decimal(typ)) and name not in text:
            vals = np.asarray(col.cast(pa.float64()).to_numpy(zero_copy_only=False), np.float64).copy()
            if np.isinf(vals).any():
                row = int(np.flatnonzero(np.isinf(vals))[0])
                raise DataError(f"{path}: column {name!r}, row {row + 1}: {vals[row]} is not a finite number")
            cols[name] = Column(name, vals, None, pa.types.is_integer(typ))
            continue
        if pa.types.is_boolean(typ) or pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_temporal(typ):
            col = col.cast(pa.string())  # a date or time is text, as in a CSV: dropped, or one category per value
        elif not (pa.types.is_string(typ) or pa.types.is_large_string(typ) or pa.types.is_dictionary(typ)):
            raise DataError(f"{path}: column {name!r} has type {typ}; expected numbers, booleans, dates or text")
        raw = np.array(["" if v is None else str(v) for v in col.to_pylist()], dtype=str)
        uniq, inv = np.unique(raw, return_inverse=True)
        if name in numeric:  # text where a trained model reads numbers: numbers written as text, or an error
            cols[name] = _model_numbers(path, name, uniq, inv.reshape(-1), na_values)
            continue
        cats = [u for u in uniq.tolist() if u not in na]  # sorted, as np.unique returns them
        ids = np.array([-1 if u in na else cats.index(u) for u in uniq.tolist()], np.int32)
        cols[name] = Column(name, ids[inv.reshape(-1)], cats)
    return Table(path, cols, t.num_rows, skipped=tuple(n for n in everything or () if n in skip))


def _model_numbers(path, name, uniq, inv, na_values) -> Column:
    """A text column of a trained model's numeric input as numbers (a missing-value text as NaN)."""
    values = np.full(len(uniq), np.nan)
    for i, u in enumerate(uniq.tolist()):
        if u in na_values:
            continue
        try:
            values[i] = float(u)
        except ValueError:
            values[i] = np.inf
        if not np.isfinite(values[i]):
            row = int(np.flatnonzero(inv == i).min())
            raise not_a_model_number(f"{path}: row {row + 1}", name, u, na_values)
    return Column(name, values[inv], None, False)
