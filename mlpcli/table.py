"""Reading a table (``.csv``, ``.tsv``, ``.csv.gz``, ``.parquet``) into typed columns.

The readers live in ``csvread.py`` (delimited text, without pandas) and ``parquetread.py``
(the ``table`` extra); both return a :class:`~mlpcli.tablecolumns.Table`.
"""

from __future__ import annotations

import gzip
import os
import zlib

from .csvread import parse_csv
from .errors import DataError
from .tablecolumns import NA_VALUES, Column, Table, no_column

SUFFIXES = (".csv", ".tsv", ".csv.gz", ".tsv.gz", ".parquet")
__all__ = ["NA_VALUES", "SUFFIXES", "Column", "Table", "no_column", "parse_csv", "read_table"]


def read_table(path, *, na_values=NA_VALUES, text=None, usecols=None, skip=(), numeric=(), threads=None,
               delimiter="auto", decimal="auto", encoding="auto") -> Table:
    """The table in ``path``, its format chosen by suffix.

    ``encoding``: a text table's (``auto``: UTF-8, UTF-16/32 by its byte-order mark, else Windows-1252);
    ``delimiter``: its field delimiter; ``auto``: the header's (a ``.tsv``'s tab unless its header
    holds none); ``decimal``: ``','`` reads decimal commas, ``auto`` does in a ``;``-separated file.
    ``text``: columns to read as text whatever they hold (default: those whose values are
    mostly not numbers); ``numeric``: columns read as numbers whatever they hold (a trained model's
    numeric inputs: text in them is an error that says so); ``threads``: the CSV reader's threads at most
    (default: $MLPCLI_THREADS, else the cores'); ``usecols``: only these columns are converted (default: all);
    ``skip``: columns never converted nor checked, if the file has them (``data.drop``: a
    dropped column's contents do not matter); the table lists those it has in ``skipped``.
    """
    path = os.fspath(path)
    low = path.lower()
    if not os.path.exists(path):
        raise DataError(f"{path}: no such file")
    if not os.path.isfile(path):
        raise DataError(f"{path}: not a regular file")
    if low.endswith(".parquet"):
        from .parquetread import read_parquet

        return read_parquet(path, na_values, text, usecols, skip, numeric)
    if not low.endswith(SUFFIXES):
        raise DataError(f"{path}: not a table; expected one of {', '.join(SUFFIXES)}")
    if low.endswith(".gz"):
        from .memory import available_bytes

        limit = available_bytes() // 4  # a .gz that inflates past this is a zip bomb, not a table
        try:
            with gzip.open(path, "rb") as f:
                data = f.read(limit + 1)
        except (OSError, EOFError, ValueError, zlib.error) as e:  # zlib.error: a broken deflate stream
            raise DataError(f"{path}: not a readable gzip file: {e}") from None
        if len(data) > limit:
            raise DataError(f"{path}: decompresses to more than {limit:,} bytes, a quarter of the memory available")
    else:
        data = bytearray(os.path.getsize(path))  # read once, into the buffer the parser splits in place
        with open(path, "rb") as f:
            got = f.readinto(data)
        del data[got:]
    default = "\t" if low.endswith((".tsv", ".tsv.gz")) else ","
    return parse_csv(data, path, None if delimiter == "auto" else delimiter, na_values, text, usecols, skip=skip,
                     numeric=numeric, threads=threads, decimal=decimal, default=default, encoding=encoding)
