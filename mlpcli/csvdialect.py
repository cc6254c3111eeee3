"""How a text table is written: its encoding and delimiter, when the config does not say (README "Tables",
``data.encoding``, ``data.delimiter``), and the spaces after a closing quote that hand-aligned files hold.

Spreadsheets export ``;``-separated files with decimal commas where ``,`` is the decimal mark
(the UCI wine-quality tables are ``;``-separated too), and people name ``|``- or tab-separated
files ``.csv``. The header row decides, as pandas' ``sep=None`` and ``csv.Sniffer`` do, but
more simply: outside quoted fields, the delimiters it holds; when it holds several, the one
that splits the first data rows into as many fields as the header, the suffix's own first.
"""

from __future__ import annotations

import codecs
import re

from .errors import DataError

DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
SNIFF_BYTES = 1 << 16  # the rows looked at: the header and the first data rows in this many bytes
SNIFF_ROWS = 20
_QUOTED = re.compile(rb'"(?:[^"]|"")*"')
BOMS = ((b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"), (b"\xff\xfe", "utf-16-le"),
        (b"\xfe\xff", "utf-16-be"))
CHUNK = 16 << 20  # UTF-8 is validated this many bytes at a time
_WARNED: set[str] = set()  # the files said to be read as Windows-1252


def as_utf8(data: bytearray, encoding: str, path: str) -> bytearray:
    """The table's bytes as UTF-8, what the reader splits. ``encoding``: ``data.encoding``; ``auto``: UTF-8, or
    UTF-16/32 after its byte-order mark (a spreadsheet's "Unicode text"), else Windows-1252 (Excel's CSV
    export on Windows; Latin-1 text reads alike) with a warning that names the first byte that is not UTF-8.
    A file with UTF-8 characters (ü) before that byte is UTF-8 with a bad byte, an error: as Windows-1252
    its every ü would silently read as Ã¼."""
    if encoding == "auto":
        bom = next((name for mark, name in BOMS if data.startswith(mark)), None)
        if bom is not None:
            return _recode(data, bom, path)
        at = not_utf8(data)
        if at < 0:
            return data
        line = data.count(b"\n", 0, at) + 1
        if not data[:at].isascii():
            raise DataError(f"{path}:{line}: not UTF-8 text (byte 0x{data[at]:02x}), though the lines above it are "
                            f"UTF-8 (set data.encoding to the file's encoding, or save it as UTF-8)")
        if path not in _WARNED:  # once: mlp init and predict --keep read a file twice
            from .preprocess import warn

            _WARNED.add(path)
            warn(f"{path}:{line}: not UTF-8 text; read as Windows-1252 (set data.encoding if the file is in another)")
        try:
            return _recode(data, "cp1252", path)
        except DataError:  # one of the five bytes that cp1252 leaves undefined
            return _recode(data, "latin-1", path)
    if codecs.lookup(encoding).name == "utf-8":
        return data
    return _recode(data, encoding, path)


def not_utf8(data) -> int:
    """The offset of the first byte that is not UTF-8 text, or -1."""
    if data.isascii():
        return -1
    start = 0
    while start < len(data):
        stop = min(start + CHUNK, len(data))
        while stop < len(data) and stop > start + 1 and 0x80 <= data[stop] < 0xC0:  # not inside a character
            stop -= 1
        try:
            bytes(data[start:stop]).decode("utf-8")
        except UnicodeDecodeError as e:
            return start + e.start
        start = stop
    return -1


def _recode(data, encoding: str, path: str) -> bytearray:
    try:
        text = bytes(data).decode(encoding)
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise DataError(f"{path}:{line}: not {encoding} text ({e.reason}; set data.encoding to the file's encoding)") from None
    return bytearray(text.lstrip("\ufeff").encode("utf-8"))


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
