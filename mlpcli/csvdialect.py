"""How a text table is written: which delimiter it uses, when the config does not say (README "Tables",
``data.delimiter``), and the spaces after a closing quote that hand-aligned files hold.

Spreadsheets export ``;``-separated files with decimal commas where ``,`` is the decimal mark
(the UCI wine-quality tables are ``;``-separated too), and people name ``|``- or tab-separated
files ``.csv``. The header row decides, as pandas' ``sep=None`` and ``csv.Sniffer`` do, but
more simply: outside quoted fields, the delimiters it holds; when it holds several, the one
that splits the first data rows into as many fields as the header, the suffix's own first.
"""

from __future__ import annotations

import re

from .errors import DataError

DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
SNIFF_BYTES = 1 << 16  # the rows looked at: the header and the first data rows in this many bytes
SNIFF_ROWS = 20
_QUOTED = re.compile(rb'"(?:[^"]|"")*"')


def sniff_delimiter(data, default: str) -> str:
    """The delimiter of the table ``data`` (bytes, header first): ``default`` (the suffix's, ',' or tab) unless
    the header holds none of it but another of ``DELIMITERS``, or the first rows split evenly on another only."""
    head = bytes(data[:SNIFF_BYTES])
    if len(data) > SNIFF_BYTES:
        head = head[: head.rfind(b"\n") + 1] or head  # whole rows only
    rows = _QUOTED.sub(b"", head).split(b"\n")  # quoted fields (with their delimiters and newlines) removed
    header, body = rows[0], [r for r in rows[1 : SNIFF_ROWS + 1] if r.strip()]
    found = [d for d in dict.fromkeys((default, *DELIMITERS)) if header.count(d.encode())]
    if len(found) <= 1:
        return found[0] if found else default
    even = [d for d in found if all(r.count(d.encode()) == header.count(d.encode()) for r in body)]
    return even[0] if even else max(found, key=lambda d: header.count(d.encode()))


def closing_quote_spaces(text: str, delim: str) -> str:
    """``text`` without the spaces between a quoted field's closing quote and its delimiter or line end
    (``"a" ,b``), which the csv module's strict mode calls malformed and pandas reads as ``'a '``.

    Each quoted field is matched whole from its opening quote, so a quote or a space inside one is never
    taken for the end of another."""
    if '" ' not in text:
        return text
    end = re.escape(delim)
    return re.sub(rf'"(?:[^"]|"")*"(?: +(?={end}|\n|\Z))?', lambda m: m.group(0).rstrip(" "), text)


def check_header_line(data, delim: str, path: str) -> None:
    """The first line must be the header row: a blank line, or a title or comment line (one field) above
    rows of several fields, is said to be that, rather than called a ragged row 2."""
    nl = data.find(b"\n")
    first = bytes(data[: nl if nl >= 0 else len(data)])
    if not first.strip():
        raise DataError(f"{path}:1: the first line is blank; it must be the header row (delete the lines above it)")
    if nl < 0 or any(d.encode() in _QUOTED.sub(b"", first) for d in DELIMITERS):  # split, or another delimiter's
        return
    end = data.find(b"\n", nl + 1)
    n = _QUOTED.sub(b"", bytes(data[nl + 1 : end if end >= 0 else len(data)])).count(delim.encode()) + 1
    if n > 1:
        title = first.decode("utf-8", "replace").strip()
        raise DataError(f"{path}:1: the first line, {title[:60]!r}, is one field, but line 2 has {n}: the first line "
                        f"must be the header row (delete title or comment lines above it)")
