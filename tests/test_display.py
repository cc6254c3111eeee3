"""Numbers with 4 significant digits; tables whole off a terminal and on a narrow one."""

import io
import sys

import pytest
from rich.table import Table

from mlpcli.display import number, plain_table, print_table

from .conftest import ROOT, run_in_pty


@pytest.mark.parametrize(("x", "text"), [(1.0, "1.000"), (0.98123, "0.9812"), (3.2241e-5, "3.224e-05"), (1234.4, "1234"),
                                         (12345.6, "1.235e+04"), (0.0, "0.000"), (-0.5, "-0.5000"), (float("nan"), "nan"),
                                         (float("inf"), "inf"), (None, "-"), (7, "7.000")])
def test_number_has_four_significant_digits(x, text):
    assert number(x) == text


def wide_table(n=30):
    t = Table()
    t.add_column("class")
    for j in range(n):
        t.add_column(f"c{j}", justify="right")
    t.add_row("[bold]x[/]", *[str(1000 + j) for j in range(n)])
    return t


def test_plain_table_is_aligned_whole_and_without_markup():
    text = plain_table(wide_table(3))
    assert text.splitlines() == ["class    c0    c1    c2", "x      1000  1001  1002"]


def test_off_a_terminal_the_table_is_plain_and_whole():
    out = io.StringIO()
    print_table(wide_table(), out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and lines[1].endswith("1029") and "┃" not in out.getvalue() and len(lines[1]) > 150


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_eval_on_terminals_of_each_width(tmp_path):
    from typer.testing import CliRunner

    from mlpcli.cli import app

    run = tmp_path / "run"
    assert CliRunner().invoke(app, ["train", str(ROOT / "configs/xor.yaml"), "--out", str(run), "-q",
                                    "--set", "training.epochs=5"]).exit_code == 0
    code, wide = run_in_pty([sys.executable, "-m", "mlpcli", "eval", str(run)], cols=100)
    assert code == 0 and "┏" in wide and "accuracy" in wide  # fits: Rich's table
    code, narrow = run_in_pty([sys.executable, "-m", "mlpcli", "eval", str(run)], cols=20)
    assert code == 0 and "┏" not in narrow and "…" not in narrow
    assert "test split: 4 samples\n" in narrow  # not wrapped by Rich: the terminal wraps long lines itself
    assert "class  0  1  precision  recall" in narrow  # the plain layout, whole, wider than the terminal
