"""Reading delimited text (``.csv``, ``.tsv``) with a header row into a :class:`Table`, without pandas.

The delimiter is the config's or the header's (:mod:`mlpcli.csvdialect`); in a ``;``-separated file
(a spreadsheet's export where ',' is the decimal mark), numbers may be written with decimal commas (``2,5``),
read through ``Fields.dotted``.

Fast path: the file is read once as bytes and split block by block on delimiters and newlines
with NumPy; each column's fields are gathered as 64-bit words (:mod:`mlpcli.csvfields`) and
typed by :class:`~mlpcli.csvcolumns.ColumnParser`. A file holding a double quote anywhere is
split by the ``csv`` module instead (RFC 4180: quoted fields, doubled quotes, newlines inside
quotes), and its fields go through the same conversions, so both paths read a table alike.
Spaces around a field or a header name are not part of it (``39, State-gov, ?``: the UCI
style; a quoted field may follow its delimiter's space or precede one), so they never make a category, a class
or a column name of their own, nor hide a missing-value marker. Every malformed input is a :class:`DataError` naming the file, the line and the column.
"""

from __future__ import annotations

import csv
import io
import re
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .csvcolumns import SAMPLE, ColumnParser
from .csvdialect import DELIMITERS, as_utf8, check_header_line, closing_quote_spaces, sniff_delimiter
from .csvfields import Fields, _word_view
from .errors import DataError
from .tablecolumns import NA_VALUES, Table, check_names
from .threads import cores, requested

BLOCK_BYTES = 4 << 20  # the fast path parses this much of the file at a time
MAX_THREADS = 4
_NOT_SPACE = re.compile(rb"\S")
SPACE = ord(" ")


def parse_csv(data, path: str, delim: str | None = None, na_values=NA_VALUES, text=None, usecols=None, *, quoted=None,
              skip=(), numeric=(), threads=None, decimal: str = "auto", default: str = ",", encoding: str = "auto") -> Table:
    """A table from the bytes of a delimited text file with a header row.

    ``encoding``: the file's (``csvdialect.as_utf8``; ``auto``: UTF-8, UTF-16/32 by its mark, else Windows-1252).
    ``delim``: the delimiter; None: the header's (``csvdialect.sniff_delimiter``, ``default`` first).
    ``decimal``: ``','`` reads decimal commas in numeric columns (``2,5`` is 2.5); ``auto`` does so when the
    delimiter is ``';'`` (a spreadsheet's export), where a numeric column holding both ``2,5`` and ``2.5`` is an error
    (``,`` a thousands separator or the decimal mark?); ``'.'`` never. ``quoted``: split with the ``csv`` module (True) or by the fast path (False); by default the
    fast path unless the file holds a double quote. ``numeric``: columns read as numbers whatever
    their first rows hold (a trained model's numeric inputs). ``threads``: at most this many conversion
    threads (default: $MLPCLI_THREADS, else up to ``MAX_THREADS`` of the cores; README "Threads").
    """
    data = as_utf8(data if isinstance(data, bytearray) else bytearray(data), encoding, path)
    if data.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte-order mark, as spreadsheets write
        del data[:3]
    if b"\r" in data:
        data = bytearray(data.replace(b"\r\n", b"\n").replace(b"\r", b"\n"))
    end = len(data)
    while end and data[end - 1] in b"\n":
        end -= 1
    del data[end:]
    if not _NOT_SPACE.search(data):
        raise DataError(f"{path}: empty file (expected a header row and data rows)")
    nul = data.find(b"\0")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise DataError(f"{path}:{line}: a NUL byte: this is binary data, not a text table")
    delim = sniff_delimiter(data, default) if delim is None else delim
    check_header_line(data, delim, path)
    quoted = b'"' in data if quoted is None else quoted
    if quoted:
        names, lines, split = _split_quoted(bytes(data), path, delim)
    else:
        nl = data.find(b"\n")
        names, lines = _header(data[: nl if nl >= 0 else len(data)], path, delim), None
        if nl < 0:
            raise DataError(f"{path}: only a header row (line 1), no data rows")
    check_names(names, path)
    _check_delimiter(names, path, delim)
    wanted = (set(names) if usecols is None else set(usecols)) - set(skip)
    comma = "," if decimal == "," else "auto" if decimal == "auto" and delim == ";" else ""
    parser = ColumnParser(path, names, wanted, na_values, text, numeric, comma)
    if quoted:
        parser.reserve(len(lines))
        parser.add_block({n: Fields.of([s.encode() for s in col]) for n, col in zip(names, split, strict=True)
                          if n in wanted}, 0, lines)
    else:
        _fast_blocks(data, len(data), nl + 1, names, delim, parser, threads)
    table = parser.table(lines)
    skip = set(skip)
    table.skipped = tuple(n for n in names if n in skip)
    return table


# ---------------------------------------------------------------------------- header
def _header(line: bytes, path: str, delim: str) -> list[str]:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}:1: the header is not UTF-8 text ({e.reason} at byte {e.start}; set data.encoding to the "
                        f"file's, e.g. cp1252, or save it as UTF-8)") from None
    return [name.strip(" ") for name in text.split(delim)]


def _check_delimiter(names: list[str], path: str, delim: str) -> None:
    """A header that did not split on the configured delimiter is another delimiter's file: say so, rather
    than call its first data row ragged (a sniffed delimiter always splits a header that holds one)."""
    if len(names) != 1:
        return
    for other, word in DELIMITERS.items():
        if other != delim and names[0].count(other):
            n = names[0].count(other)
            raise DataError(f"{path}:1: the header is one column holding {n} {word}{'s' if n > 1 else ''}, so the file "
                            f"looks {word}-separated, but data.delimiter is {delim!r} (set it to {other!r}, or to auto)")


# ---------------------------------------------------------------------------- fast path (no quotes)
def _fast_blocks(data: bytearray, end: int, start: int, names: list[str], delim: str, parser, threads=None) -> None:
    """Parse ``data[start:end]`` block by block: fields located by vectorised delimiter search.

    The first block (at least ``SAMPLE`` rows) decides the columns' types; the others are converted on up to ``MAX_THREADS``
    threads (NumPy releases the GIL in its loops) and joined in file order, so a bad value is
    reported at the same line as by one thread.
    """
    blocks, row0, buf = [], 0, np.frombuffer(data, np.uint8)
    first = start - 1
    for _ in range(SAMPLE):  # the first block holds the rows that decide the types
        first = data.find(b"\n", first + 1, end)
        if first < 0:
            first = end
            break
    while start < end:
        stop = data.find(b"\n", max(min(start + BLOCK_BYTES, end), first if not blocks else 0), end)
        stop = end if stop < 0 else stop
        blocks.append((start, stop, row0))
        row0 += np.count_nonzero(buf[start:stop] == 10) + 1
        start = stop + 1
    want = [j for j, name in enumerate(names) if name in parser.wanted]

    def convert(block):
        s, e, r = block
        return parser.convert(_split_block(buf, s, e, r, names, want, delim, parser.path), r, None)

    parser.reserve(row0)
    parser.merge(convert(blocks[0]), blocks[0][2])
    threads = min(threads or requested() or min(MAX_THREADS, cores()), len(blocks) - 1)
    if threads > 1:
        with ThreadPoolExecutor(threads) as pool:
            for block, converted in zip(blocks[1:], pool.map(convert, blocks[1:]), strict=True):
                parser.merge(converted, block[2])
    else:
        for block in blocks[1:]:
            parser.merge(convert(block), block[2])


def _split_block(buf, start, stop, row0, names, want, delim, path) -> dict[str, Fields]:
    """The fields of the wanted columns in ``buf[start:stop]``, whole rows whose first is data row ``row0``."""
    n_cols, a = len(names), buf[start:stop]
    sep = np.flatnonzero((a == ord(delim)) | (a == 10))
    is_nl = a[sep] == 10
    n_rows = int(is_nl.sum()) + 1  # the block ends without its last newline
    if len(sep) + 1 != n_rows * n_cols or (n_cols > 1 and not _regular(is_nl, n_cols)):
        _raise_ragged(np.append(sep, len(a)), is_nl, n_cols, row0, path)
    ends = np.empty(len(sep) + 1, np.int64)
    ends[:-1], ends[-1] = sep + start, stop
    lengths = np.empty_like(ends)
    lengths[0] = ends[0] - start
    np.subtract(ends[1:], ends[:-1] + 1, out=lengths[1:])
    ends, lengths = ends.reshape(n_rows, n_cols), lengths.reshape(n_rows, n_cols)
    if len(want) < n_cols:
        ends, lengths = ends[:, want], lengths[:, want]
    if _spaced(a, delim):  # the wanted columns' fields only
        _strip_spaces(buf, ends, lengths)
    first = _word_view(buf)[ends - 8].T if start >= 8 else [None] * len(want)  # each column's last words, in row order
    ends, lengths = ends.T.copy(), lengths.T.copy()
    return {names[j]: Fields.gather(buf, ends[i], lengths[i], first[i]) for i, j in enumerate(want)}


def _spaced(a: np.ndarray, delim: str) -> bool:
    """Whether a field of the block ``a`` (whole rows) starts or ends with a space: the block's spaces
    next to a delimiter, a newline or its ends. One pass over the bytes; the fields are looked at
    only when one does (most files have none)."""
    at = np.flatnonzero(a == SPACE)
    if len(at) == 0:
        return False
    if at[0] == 0 or at[-1] == len(a) - 1:
        return True
    around = np.concatenate([a[at - 1], a[at + 1]])
    return bool(((around == ord(delim)) | (around == 10)).any())


def _strip_spaces(buf, ends, lengths) -> None:
    """Fields ``buf[ends - lengths : ends]`` without their leading and trailing spaces, in place."""
    for trailing in (True, False):
        while True:
            at = ends - 1 if trailing else ends - lengths
            hit = (lengths > 0) & (buf[np.clip(at, 0, len(buf) - 1)] == SPACE)
            if not hit.any():
                break
            lengths[hit] -= 1
            if trailing:
                ends[hit] -= 1


def _regular(is_nl: np.ndarray, n_cols: int) -> bool:
    """Every row has n_cols fields: the separators run (n_cols - 1) delimiters, then a newline."""
    grid = np.append(is_nl, True).reshape(-1, n_cols)
    return bool(grid[:, -1].all()) and not grid[:, :-1].any()


def _raise_ragged(bounds, is_nl, n_cols, row0, path):
    """The first row whose field count is not the header's; ``bounds``: separator positions, then the block's end."""
    ends = np.append(np.flatnonzero(is_nl), len(is_nl))  # the separator that closes each row
    counts = np.diff(np.append(-1, ends))  # fields per row = separators up to its newline
    bad = int(np.flatnonzero(counts != n_cols)[0])
    line, got = row0 + bad + 2, int(counts[bad])
    start = bounds[ends[bad - 1]] + 1 if bad else 0
    empty = got == 1 and bounds[ends[bad]] == start
    what = "is empty" if empty else f"has {got} field{'s' if got > 1 else ''}"
    raise DataError(f"{path}:{line}: row {what}, the header has {n_cols} columns")


# ---------------------------------------------------------------------------- quoted files
def _split_quoted(data: bytes, path: str, delim: str):
    """Names, the line of each row, and the columns (tuples of str), by the csv module (RFC 4180)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise DataError(f"{path}:{line}: not UTF-8 text ({e.reason}; set data.encoding to the file's, e.g. cp1252, or "
                        f"save it as UTF-8)") from None
    reader = csv.reader(io.StringIO(closing_quote_spaces(text, delim)), delimiter=delim, strict=True, skipinitialspace=True)
    rows, lines = [], []
    try:
        names = [name.strip(" ") for name in next(reader)]
        n = len(names)
        for row in reader:
            if len(row) != n and not (n == 1 and not row):
                what = "is empty" if not row else f"has {len(row)} fields"
                raise DataError(f"{path}:{reader.line_num}: row {what}, the header has {n} columns")
            rows.append([f.strip(" ") for f in row] or [""])
            lines.append(reader.line_num)
    except csv.Error as e:
        raise DataError(f"{path}:{reader.line_num}: malformed quoting: {e}") from None
    except StopIteration:
        names = []
    if not rows:
        raise DataError(f"{path}: only a header row (line 1), no data rows")
    return names, np.array(lines, dtype=np.int64), list(zip(*rows, strict=True))
