"""Reading a table (``.csv``, ``.tsv``, ``.csv.gz``, ``.parquet``) into typed columns.

A :class:`Table` holds one :class:`Column` per header name: numeric columns as float64 with
NaN for missing values, text columns as integer codes into their ``categories`` (-1 for a
missing value). Nothing here knows about models; ``preprocess.py`` turns columns into the
network's inputs.

The CSV reader is built for speed without pandas: the file is read once as bytes and split
block by block on delimiters and newlines with NumPy; each column's fields are gathered
into a fixed-width byte-string array and converted by NumPy's C string-to-float cast. A
file holding a double quote anywhere is read by the ``csv`` module instead (RFC 4180:
quoted fields, doubled quotes, newlines inside quotes), then converted the same way. Every
malformed input is a :class:`DataError` naming the file, the line and the column.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from .errors import DataError, DependencyError

NA_VALUES = ("", "NA", "N/A", "NaN", "nan", "null", "NULL", "None", "?")
BLOCK_BYTES = 8 << 20  # the fast path parses this much of the file at a time
PAD = 64  # bytes after the end of the buffer: the widest field a window gather reads
NOT_INTEGER = np.zeros(256, bool)
NOT_INTEGER[np.frombuffer(b".eEnNiI", np.uint8)] = True
SUFFIXES = (".csv", ".tsv", ".csv.gz", ".tsv.gz", ".parquet")
GROUPED = re.compile(rb"[+-]?\d+(,\d+)+(\.\d*)?")  # 151,000.5 or 2,5: thousands separators or a decimal comma
DELIMITERS = ((";", "semicolon"), ("\t", "tab"), (",", "comma"), ("|", "pipe"))


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
        return Table(self.path, _RowsOf(self.columns, rows), len(lines), lines)


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


# ---------------------------------------------------------------------------- entry point
def read_table(path, *, na_values=NA_VALUES, text=None, usecols=None) -> Table:
    """The table in ``path``, its format chosen by suffix.

    ``text``: columns to read as text whatever they hold (default: those whose values are
    mostly not numbers); ``usecols``: only these columns are converted (default: all).
    """
    path = os.fspath(path)
    low = path.lower()
    if not os.path.exists(path):
        raise DataError(f"{path}: no such file")
    if not os.path.isfile(path):
        raise DataError(f"{path}: not a regular file")
    if low.endswith(".parquet"):
        return _read_parquet(path, na_values, text, usecols)
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
        size = os.path.getsize(path)
        data = bytearray(size + PAD)  # read once, into a buffer with room for the last fields' windows
        with open(path, "rb") as f:
            got = f.readinto(memoryview(data)[:size])
        del data[got:]
    delim = "\t" if low.endswith((".tsv", ".tsv.gz")) else ","
    return parse_csv(data, path, delim, na_values, text, usecols)


def parse_csv(data, path: str, delim: str = ",", na_values=NA_VALUES, text=None, usecols=None) -> Table:
    """A table from the bytes of a delimited text file with a header row."""
    data = data if isinstance(data, bytearray) else bytearray(data)
    if data.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte-order mark, as spreadsheets write
        del data[:3]
    if b"\r" in data:
        data = bytearray(data.replace(b"\r\n", b"\n").replace(b"\r", b"\n"))
    end = len(data)
    while end and data[end - 1] in b"\n":
        end -= 1
    del data[end:]
    if not data.strip():
        raise DataError(f"{path}: empty file (expected a header row and data rows)")
    nul = data.find(b"\0")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise DataError(f"{path}:{line}: a NUL byte: this is binary data, not a text table")
    if b'"' in data:
        names, cols, lines = _split_quoted(bytes(data), path, delim)
    else:
        nl = data.find(b"\n")
        names = _header(data[: nl if nl >= 0 else len(data)], path, delim)
        cols, lines = None, None
        if nl < 0:
            raise DataError(f"{path}: only a header row (line 1), no data rows")
    _check_names(names, path)
    _check_delimiter(names, path, delim)
    wanted = set(names) if usecols is None else set(usecols)
    parser = _ColumnParser(path, names, wanted, na_values, text)
    if cols is not None:
        parser.add_block({n: c for n, c in zip(names, cols, strict=True) if n in wanted}, 0, lines)
    else:
        n = len(data)
        data.extend(bytes(PAD))  # windows of the last fields may reach past the end
        _fast_blocks(data, n, nl + 1, len(names), delim, parser)
    return parser.table(lines)


# ---------------------------------------------------------------------------- header
def _header(line: bytes, path: str, delim: str) -> list[str]:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}:1: the header is not UTF-8 text ({e.reason} at byte {e.start})") from None
    return text.split(delim)


def no_column(path, name, names: list[str]) -> DataError:
    """An unknown column, with the column it most likely means: the same name in another case or
    with spaces around it (``' Age '`` for ``age``), else a close spelling (``tagret``)."""
    import difflib

    key = str(name).strip().casefold()
    same = [n for n in names if n.strip().casefold() == key] or difflib.get_close_matches(name, names, n=1, cutoff=0.75)
    hint = f"; did you mean {same[0]!r}?" if same else ""
    return DataError(f"{path}: no column {name!r}{hint} (columns: {', '.join(names)})")


def _check_delimiter(names: list[str], path: str, delim: str) -> None:
    """A header that did not split is another delimiter's file (a spreadsheet's ';'-separated export with
    decimal commas): say so, rather than call its first data row ragged."""
    if len(names) != 1:
        return
    for other, word in DELIMITERS:
        if other != delim and names[0].count(other):
            raise DataError(f"{path}:1: the header is one column holding {names[0].count(other)} {word}s, so the file "
                            f"looks {word}-separated; mlp splits {'.tsv files on tabs' if delim == chr(9) else '.csv files on commas'} "
                            f"(save it as comma-separated .csv with '.' decimals, or as tab-separated .tsv)")


def _check_names(names: list[str], path: str) -> None:
    for j, name in enumerate(names):
        if name.strip() == "":
            names[j] = f"Unnamed: {j}"  # as pandas names a blank header (an exported index column)
    seen = {}
    for j, name in enumerate(names):
        if name in seen:
            raise DataError(f"{path}:1: duplicate column name {name!r} (columns {seen[name] + 1} and {j + 1})")
        seen[name] = j


# ---------------------------------------------------------------------------- fast path (no quotes)
def _fast_blocks(data: bytearray, end: int, start: int, n_cols: int, delim: str, parser) -> None:
    """Parse ``data[start:end]`` block by block: fields located by vectorised delimiter search."""
    buf = np.frombuffer(data, np.uint8)
    d, row0 = ord(delim), 0
    while start < end:
        stop = data.find(b"\n", min(start + BLOCK_BYTES, end), end)
        stop = end if stop < 0 else stop
        a = buf[start:stop]
        sep = np.flatnonzero((a == d) | (a == 10))
        is_nl = a[sep] == 10
        n_rows = int(is_nl.sum()) + 1  # the block ends without its last newline
        if len(sep) + 1 != n_rows * n_cols or (n_cols > 1 and not _regular(is_nl, n_cols)):
            _raise_ragged(np.append(sep, len(a)), is_nl, n_cols, row0, parser)
        starts = np.empty(len(sep) + 1, np.int64)
        starts[0], starts[1:] = start, sep + (start + 1)
        ends = np.empty(len(sep) + 1, np.int64)
        ends[:-1], ends[-1] = sep + start, stop
        starts, ends = starts.reshape(n_rows, n_cols), ends.reshape(n_rows, n_cols)
        cols = {}
        for j, name in enumerate(parser.names):
            if name in parser.wanted:
                cols[name] = _gather(buf, starts[:, j], ends[:, j])
        parser.add_block(cols, row0, None)
        row0 += n_rows
        start = stop + 1


def _regular(is_nl: np.ndarray, n_cols: int) -> bool:
    """Every row has n_cols fields: the separators run (n_cols - 1) delimiters, then a newline."""
    grid = np.append(is_nl, True).reshape(-1, n_cols)
    return bool(grid[:, -1].all()) and not grid[:, :-1].any()


def _raise_ragged(bounds, is_nl, n_cols, row0, parser):
    """The first row whose field count is not the header's; ``bounds``: separator positions, then the block's end."""
    ends = np.append(np.flatnonzero(is_nl), len(is_nl))  # the separator that closes each row
    counts = np.diff(np.append(-1, ends))  # fields per row = separators up to its newline
    bad = int(np.flatnonzero(counts != n_cols)[0])
    line, got = row0 + bad + 2, int(counts[bad])
    start = bounds[ends[bad - 1]] + 1 if bad else 0
    empty = got == 1 and bounds[ends[bad]] == start
    what = "is empty" if empty else f"has {got} field{'s' if got > 1 else ''}"
    raise DataError(f"{parser.path}:{line}: row {what}, the header has {n_cols} columns")


def _gather(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The fields buf[starts[i]:ends[i]] as one fixed-width byte-string array (NumPy 'S').

    Each field is copied as a window of the widest field's width (one row gather), then the
    bytes past its own end are zeroed: NumPy's 'S' strips trailing NULs.
    """
    lengths = ends - starts
    width = max(int(lengths.max()) if len(lengths) else 0, 1)
    if width <= PAD:
        mat = np.lib.stride_tricks.sliding_window_view(buf, width)[starts]
    else:
        mat = buf[np.minimum(starts[:, None] + np.arange(width), len(buf) - 1)]
    mat *= np.arange(width, dtype=np.int32) < lengths[:, None].astype(np.int32)
    return mat.view(f"S{width}").reshape(len(starts))


# ---------------------------------------------------------------------------- quoted files
def _split_quoted(data: bytes, path: str, delim: str):
    """Names, columns (arrays of str) and the line of each row, by the csv module (RFC 4180)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise DataError(f"{path}:{line}: not UTF-8 text ({e.reason})") from None
    reader = csv.reader(io.StringIO(text), delimiter=delim, strict=True)
    rows, lines = [], []
    try:
        names = next(reader)
        n = len(names)
        for row in reader:
            if len(row) != n and not (n == 1 and not row):
                what = "is empty" if not row else f"has {len(row)} fields"
                raise DataError(f"{path}:{reader.line_num}: row {what}, the header has {n} columns")
            rows.append(row or [""])
            lines.append(reader.line_num)
    except csv.Error as e:
        raise DataError(f"{path}:{reader.line_num}: malformed quoting: {e}") from None
    except StopIteration:
        names = []
    if not rows:
        raise DataError(f"{path}: only a header row (line 1), no data rows")
    cols = [np.array(col, dtype=str) for col in zip(*rows, strict=True)]
    return names, cols, np.array(lines, dtype=np.int64)


# ---------------------------------------------------------------------------- typing columns
class _ColumnParser:
    """Converts each block's raw fields into typed columns and joins the blocks.

    A column's type is decided on the first block: text when listed in ``text`` or when
    fewer than half of its present values are numbers; numeric otherwise, and from then on
    a value that is neither a number nor a missing-value marker is an error.
    """

    def __init__(self, path, names, wanted, na_values, text):
        unknown = [c for c in wanted if c not in names]
        if unknown:
            raise no_column(path, unknown[0], names)
        self.path, self.names, self.wanted = path, names, wanted
        self.na_str = [str(v) for v in na_values]
        self.na_bytes = [v.encode() for v in self.na_str]
        self.text = set(text or ())
        self.kind: dict[str, str] = {}
        self.parts: dict[str, list] = {n: [] for n in names if n in wanted}
        self.integer = {n: True for n in self.parts}
        self.vocab: dict[str, dict] = {n: {} for n in self.parts}

    def add_block(self, cols: dict, row0: int, lines) -> None:
        for name, raw in cols.items():
            na = self.na_bytes if raw.dtype.kind == "S" else self.na_str
            missing = np.zeros(len(raw), bool)
            for v in na:
                missing |= raw == v
            kind = self.kind.get(name) or self._decide(name, raw, missing, row0, lines)
            if kind == "numeric":
                self.parts[name].append(self._numeric(name, raw, missing, row0, lines))
            else:
                self.parts[name].append(self._codes(name, raw, missing, row0, lines))

    def _decide(self, name, raw, missing, row0, lines) -> str:
        if name in self.text:
            kind = "text"
        else:
            present = raw[~missing]
            kind = "numeric" if _n_numbers(present[:2000]) * 2 >= min(len(present), 2000) else "text"
            grouped = _grouped_number(raw, missing) if kind == "text" else -1
            if grouped >= 0:  # numbers as text would silently become categories (or a target's classes)
                line = int(lines[row0 + grouped]) if lines is not None else row0 + grouped + 2
                raise DataError(f"{self.path}:{line}: column {name!r}: {_decoded(raw[grouped])!r} is a number with a "
                                f"',' (thousands separators or a decimal comma), which mlp does not read (write it as "
                                f"151000 or 2.5, or list "
                                f"{name!r} in data.categorical if its values are labels)")
        self.kind[name] = kind
        return kind

    def _numeric(self, name, raw, missing, row0, lines) -> np.ndarray:
        if missing.any():
            raw = raw.copy()
            raw[missing] = "0"
        try:
            vals = _to_floats(raw)
        except (ValueError, OverflowError):
            bad = _first_non_number(raw)
            line = int(lines[row0 + bad]) if lines is not None else row0 + bad + 2
            val = _decoded(raw[bad])
            raise DataError(f"{self.path}:{line}: column {name!r}: {val!r} is not a number, but the column is numeric "
                            f"(add {val!r} to data.na_values if it marks a missing value, or list {name!r} "
                            f"in data.categorical)") from None
        vals[missing] = np.nan
        infinite = np.flatnonzero(np.isinf(vals))  # 'inf', '-Infinity', '1e400'
        if len(infinite):
            bad = int(infinite[0])
            line = int(lines[row0 + bad]) if lines is not None else row0 + bad + 2
            raise DataError(f"{self.path}:{line}: column {name!r}: {_decoded(raw[bad])!r} is not a finite number, and "
                            f"it would make every output it reaches NaN (add it to data.na_values to read it as missing)")
        if self.integer[name] and len(raw):
            # no '.', 'e' or 'E' (nor the letters of nan/inf) in any field
            self.integer[name] = not (NOT_INTEGER[raw.view(np.uint8)].any() if raw.dtype.kind == "S"
                                      else any(c in s for s in raw.tolist() for c in ".eEnNiI"))
        return vals

    def _codes(self, name, raw, missing, row0, lines) -> np.ndarray:
        uniq, inv = _unique(raw)
        vocab = self.vocab[name]
        ids = np.empty(len(uniq), np.int32)
        for i, u in enumerate(uniq.tolist()):
            key = u if isinstance(u, str) else self._utf8(u, name, raw, row0, lines)
            ids[i] = vocab.setdefault(key, len(vocab))
        codes = ids[inv.reshape(-1)]
        codes[missing] = -1
        return codes

    def _utf8(self, u: bytes, name, raw, row0, lines) -> str:
        try:
            return u.decode("utf-8")
        except UnicodeDecodeError:
            bad = int(np.flatnonzero(raw == u)[0])
            line = int(lines[row0 + bad]) if lines is not None else row0 + bad + 2
            raise DataError(f"{self.path}:{line}: column {name!r}: not UTF-8 text") from None

    def table(self, lines) -> Table:
        cols, n = {}, None
        for name in self.parts:
            values = np.concatenate(self.parts[name])
            n = len(values)
            if self.kind[name] == "numeric":
                cols[name] = Column(name, values, None, self.integer[name])
            else:
                cols[name] = _sorted_text(name, values, self.vocab[name], self.na_str)
        if n is None:
            n = 0 if lines is None else len(lines)
        return Table(self.path, cols, n, lines)


def _unique(raw: np.ndarray):
    """(distinct values, index of each value into them), as np.unique, faster for byte strings:
    each string is hashed to one 64-bit integer (8 bytes at a time) and the integers are sorted;
    a hash collision (checked) falls back to sorting the strings."""
    if raw.dtype.kind != "S" or not len(raw):
        uniq, inv = np.unique(raw, return_inverse=True)
        return uniq, inv.reshape(-1)
    words = -(-raw.dtype.itemsize // 8)
    parts = raw.astype(f"S{8 * words}").view(np.uint64).reshape(len(raw), words)
    h = parts[:, 0].copy()
    for k in range(1, words):
        h *= np.uint64(0x100000001B3)
        h ^= parts[:, k]
    hashes, first, inv = np.unique(h, return_index=True, return_inverse=True)
    uniq = raw[first]
    if words > 1 and not (uniq[inv] == raw).all():
        uniq, inv = np.unique(raw, return_inverse=True)
    return uniq, inv.reshape(-1)


def _sorted_text(name, codes, vocab: dict, na) -> Column:
    """A text column whose categories are sorted (codes renumbered), so order never depends on blocks."""
    cats = list(vocab)
    order = sorted(range(len(cats)), key=lambda i: cats[i])
    remap = np.empty(len(cats) + 1, np.int32)
    remap[-1] = -1
    remap[np.array(order, dtype=np.intp)] = np.arange(len(order), dtype=np.int32)
    return Column(name, remap[codes], [cats[i] for i in order])


def _to_floats(raw: np.ndarray) -> np.ndarray:
    """NumPy's string-to-float cast, sped up for plain decimals (``-12.50``, at most 15 digits):
    those are parsed digit by digit for the whole column at once, the rest go through the cast."""
    if raw.dtype.kind != "S" or not len(raw):
        return raw.astype(np.float64)
    n, width = len(raw), raw.dtype.itemsize
    T = np.ascontiguousarray(raw.view(np.uint8).reshape(n, width).T)  # (width, n): position k of every field
    d = T - np.uint8(48)  # a digit is 0..9; anything else wraps to >= 10
    is_digit = d < 10
    is_dot = T == 46
    after_dot = np.cumsum(is_dot, axis=0, dtype=np.uint8) > 0
    n_digits = is_digit.sum(0, dtype=np.int64)
    sign = (T[0] == 45) | (T[0] == 43)
    plain = (n_digits + is_dot.sum(0, dtype=np.int64) + sign == np.count_nonzero(T, axis=0)) & (n_digits > 0)
    plain &= (n_digits <= 15) & (is_dot.sum(0) <= 1)
    frac = (is_digit & after_dot).sum(0, dtype=np.int64)
    np.multiply(d, is_digit, out=d)
    mant = np.zeros(n, np.int64)
    for k in range(width):  # Horner over the digits: mant = the digits read as one integer
        np.multiply(mant, np.where(is_digit[k], 10, 1), out=mant)
        mant += d[k]
    vals = mant / POW10[np.minimum(frac, 22)]  # exact integer over an exact power of ten: correctly rounded
    np.negative(vals, out=vals, where=T[0] == 45)
    if not plain.all():
        vals[~plain] = raw[~plain].astype(np.float64)
    return vals


POW10 = 10.0 ** np.arange(23)


def _n_numbers(values: np.ndarray) -> int:
    try:
        values.astype(np.float64)
        return len(values)
    except (ValueError, OverflowError):
        return sum(_is_number(v) for v in values.tolist())


def _is_number(v) -> bool:
    try:  # exactly NumPy's cast, which the columns go through
        np.array([v]).astype(np.float64)
        return True
    except (ValueError, OverflowError):
        return False


def _grouped_number(raw: np.ndarray, missing: np.ndarray) -> int:
    """The row of the first ``151,000`` or ``2,5`` in a column (its first 2000 present values) that holds
    only numbers, some written with commas; -1 for any other column."""
    first = -1
    for i in np.flatnonzero(~missing)[:2000].tolist():
        v = raw[i] if isinstance(raw[i], bytes) else str(raw[i]).encode()
        if GROUPED.fullmatch(v.strip()):
            first = i if first < 0 else first
        elif not _is_number(v):
            return -1
    return first


def _first_non_number(raw: np.ndarray) -> int:
    for i, v in enumerate(raw.tolist()):
        if not _is_number(v):
            return i
    return 0


def _decoded(v) -> str:
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)


# ---------------------------------------------------------------------------- parquet
def _read_parquet(path, na_values, text, usecols) -> Table:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise DependencyError(f'{path}: reading .parquet needs pyarrow: python -m pip install -e ".[table]"') from None
    try:
        t = pq.read_table(path, columns=list(usecols) if usecols is not None else None)
    except (pa.ArrowException, OSError) as e:
        raise DataError(f"{path}: not a readable Parquet file: {e}") from None
    names = list(t.column_names)
    _check_names(names, path)
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
        cats = [u for u in uniq.tolist() if u not in na]  # sorted, as np.unique returns them
        ids = np.array([-1 if u in na else cats.index(u) for u in uniq.tolist()], np.int32)
        cols[name] = Column(name, ids[inv.reshape(-1)], cats)
    return Table(path, cols, t.num_rows)
