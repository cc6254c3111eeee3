"""Lint is part of the suite: ruff (rules in pyproject.toml) finds nothing."""

import ast
import shutil
import subprocess

import pytest

from .conftest import ROOT


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is installed by the test extra")
def test_ruff_clean():
    r = subprocess.run(["ruff", "check", "mlpcli", "tests", "benchmarks"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout


def _size(tree, kind, name) -> tuple[int, int]:
    """(lines, statements) of the class or function ``name`` in a parsed module."""
    node = next(n for n in ast.walk(tree) if isinstance(n, kind) and n.name == name)
    return node.end_lineno - node.lineno + 1, sum(isinstance(s, ast.stmt) for s in ast.walk(node)) - 1


def test_the_training_loop_stays_small():
    """The loop is small and everything around it is a callback (README "Callbacks"): the
    Trainer class at most 150 lines, its run_epoch at most 40 lines and 40 statements."""
    tree = ast.parse((ROOT / "mlpcli" / "trainer.py").read_text())
    assert _size(tree, ast.ClassDef, "Trainer")[0] <= 150
    lines, statements = _size(tree, ast.FunctionDef, "run_epoch")
    assert lines <= 40 and statements <= 40


def test_size_counts_lines_and_statements():
    tree = ast.parse("class A:\n    def f(self):\n        x = 1\n\n        return x\n")
    assert _size(tree, ast.ClassDef, "A") == (5, 3) and _size(tree, ast.FunctionDef, "f") == (4, 2)
