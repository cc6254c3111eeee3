"""Numbers and tables for people.

``number`` writes a loss or metric with 4 significant digits (``0.9812``, ``3.224e-05``,
never ``0.0000``). ``print_table`` prints a ``rich.table.Table`` with Rich's boxes on a
terminal wide enough for it and as plain aligned text otherwise (a file, a pipe, a narrow
terminal), so that no column is ever cut or squeezed.
"""

from __future__ import annotations

import math
import sys


def number(x) -> str:
    """4 significant digits: 0.9812, 1.000, 3.224e-05, 1234, 1.235e+04; nan and inf as words."""
    if x is None:
        return "-"
    x = float(x)
    if not math.isfinite(x):
        return str(x)
    return f"{x:#.4g}".rstrip(".").replace(".e", "e")

WIDE = 1 << 20  # "unlimited" width, for measuring a table's natural width


def _plain(cell) -> str:
    from rich.text import Text

    if isinstance(cell, Text):
        return cell.plain
    return Text.from_markup(cell).plain if isinstance(cell, str) else str(cell)


def plain_table(table) -> str:
    """The table as text: the header, then one line per row, columns two spaces apart."""
    columns = [[_plain(c.header), *map(_plain, c.cells)] for c in table.columns]
    widths = [max(map(len, col)) for col in columns]
    lines = []
    for i in range(len(columns[0]) if columns else 0):
        cells = [col[i].rjust(w) if c.justify == "right" else col[i].ljust(w)
                 for col, w, c in zip(columns, widths, table.columns, strict=True)]
        lines.append("  ".join(cells).rstrip())
    if table.title:
        lines.insert(0, _plain(table.title))
    return "\n".join(lines) + "\n"


def natural_width(table) -> int:
    """How wide the table is when nothing is squeezed."""
    import io

    from rich.console import Console
    from rich.measure import Measurement

    console = Console(file=io.StringIO(), width=WIDE)
    return Measurement.get(console, console.options, table).maximum


def print_table(table, file=None) -> None:
    """Rich's table on a terminal that fits it; the plain layout anywhere else."""
    file = file or sys.stdout
    if file.isatty():
        from rich.console import Console

        console = Console(file=file, highlight=False)
        if natural_width(table) <= console.width:
            console.print(table)
            return
    file.write(plain_table(table))
