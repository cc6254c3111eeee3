"""Property-based: generated configs, ``--set`` values and command lines all keep the contract.

For every generated invocation: the exit code is one of 0, 1, 2, 3; no traceback reaches
stderr; exit 2 is exactly one stderr line; and nothing outside the run directory is touched
(a user's files beside it stay byte for byte, and nothing new appears). Runs in-process,
with bounded examples and small numbers so that each example trains in milliseconds.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
import yaml

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from mlpcli.cli import app  # noqa: E402

from .conftest import ROOT  # noqa: E402

runner = CliRunner()
SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))

# numbers small enough to train in milliseconds, and the hostile ones that must be refused up front
HOSTILE = st.sampled_from([True, False, None, -1, 0, 10**30, -(10**30), float("nan"), float("inf"), -float("inf"), 1e-40,
                           "", "abc", "1e400", "\x00", "\x07", [], {}, [[[]]], {"a": {"b": 1}}, 0.5, 1.5, -0.5])
SMALL = st.one_of(st.integers(-2, 6), st.floats(-2, 2, allow_nan=False), st.booleans())
VALID = st.sampled_from(["xor", "regression", "tanh", "relu", "sigmoid", "softmax", "identity", "adam", "sgd", "rmsprop",
                         "constant", "cosine", "plateau", "step", "float64", "float32", "full", "standard", "scale", "he",
                         "cross_entropy", "squared_error", "binary_cross_entropy", 0.01, 0.1, 0.9, 1, 2, 4, [2, 3, 1],
                         [2, 4, 2], [2, 3], {"patience": 1}])
VALUE = st.one_of(VALID, VALID, VALID, VALID, SMALL, HOSTILE, st.lists(SMALL, max_size=4), st.text(max_size=6))
KEYS = ["seed", "l2", "loss", "data.name", "data.repeat", "data.noise", "data.normalize", "data.scale",
        "data.validation_split", "data.n_samples", "data.function", "model.layers", "model.activation", "model.output",
        "model.bias", "model.init", "optimizer.name", "optimizer.lr", "optimizer.momentum", "optimizer.betas",
        "schedule.name", "schedule.warmup_epochs", "schedule.gamma", "training.batch_size", "training.shuffle",
        "training.dtype", "training.early_stopping", "training.grad_tol", "checkpoint.every_epochs", "bogus.key"]
SAFE = ["--set", "training.epochs=2"]  # the last word: every example trains at most two epochs


def nested(pairs) -> dict:
    out: dict = {}
    for key, value in pairs:
        *parents, last = key.split(".")
        node = out
        for p in parents:
            node = node.setdefault(p, {}) if isinstance(node.get(p, {}), dict) else node
        if isinstance(node, dict):
            node[last] = value
    return out


def snapshot(d: Path, skip: str) -> dict:
    out = {}
    for root, dirs, files in os.walk(d):
        dirs[:] = [x for x in dirs if os.path.join(root, x) != str(d / skip)]
        for name in files:
            p = Path(root) / name
            out[str(p.relative_to(d))] = p.read_bytes() if p.is_file() else "special"
    return out


@contextlib.contextmanager
def workspace():
    """A fresh directory with a finished run, a user's project beside it, and mlp run from inside it."""
    old = os.getcwd()
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        (d / "proj").mkdir()
        (d / "proj" / "config.yaml").write_text("# the user's own\n")
        (d / "proj" / ".notes.tmp").write_text("another program's\n")
        np.save(d / "proj" / "x.npy", np.zeros((3, 2)))
        os.chdir(d)
        try:
            yield d
        finally:
            os.chdir(old)


def check(r, d: Path, before: dict, touched: str = "run"):
    err = r.stderr
    assert r.exit_code in (0, 1, 2, 3), (r.exit_code, err, r.exception)
    assert "Traceback" not in err and (r.exception is None or isinstance(r.exception, SystemExit)), (err, repr(r.exception))
    if r.exit_code == 2:
        lines = err.splitlines()  # one line per error (a config's errors come together, up to 10)
        assert 1 <= len(lines) <= 10 and all(line.startswith("mlp: error:") for line in lines), err
    assert snapshot(d, touched) == before, "files outside the run directory changed"


@SETTINGS
@given(pairs=st.lists(st.tuples(st.sampled_from(KEYS), VALUE), max_size=3))
def test_generated_configs_keep_the_contract(pairs):
    with workspace() as d:
        try:
            text = yaml.safe_dump(nested(pairs), allow_unicode=True)
        except yaml.YAMLError:
            text = "seed: 0\n"
        (d / "proj" / "gen.yaml").write_text(text)
        before = snapshot(d, "run")
        r = runner.invoke(app, ["train", "proj/gen.yaml", "--out", "run", "--quiet", *SAFE])
        check(r, d, before)


@SETTINGS
@given(sets=st.lists(st.tuples(st.sampled_from([*KEYS, "model", "training", "a.b.c.d"]),
                               st.one_of(st.text(max_size=12), VALUE.map(lambda v: yaml.safe_dump(v).strip()))),
                     max_size=3))
def test_generated_set_values_keep_the_contract(sets):
    with workspace() as d:
        before = snapshot(d, "run")
        args = [a for k, v in sets for a in ("--set", f"{k}={v}")]
        r = runner.invoke(app, ["train", str(ROOT / "configs" / "xor.yaml"), *args, "--out", "run", "--quiet", *SAFE])
        check(r, d, before)


WORDS = st.sampled_from(["--json", "--quiet", "--overwrite", "--proba", "--data", "--split", "test", "val", "--eps", "--tol",
                         "--samples", "--max-entries", "--min-accuracy", "--min-r2", "--resume", "--set", "nan", "inf", "-1",
                         "0", "1e-3", "abc", "proj/x.npy", "proj/config.yaml", "proj", "run", "run/last.npz", "/dev/null",
                         "proj/missing.npz", "seed=-1", "training.epochs=true", "--help"])


@SETTINGS
@given(command=st.sampled_from(["train", "eval", "predict", "gradcheck", "inspect", "init", "schema", "plot", "trian"]),
       words=st.lists(WORDS, max_size=6))
def test_generated_command_lines_keep_the_contract(command, words):
    with workspace() as d:
        r0 = runner.invoke(app, ["train", str(ROOT / "configs" / "xor.yaml"), "--out", "run", "--quiet", *SAFE])
        assert r0.exit_code == 0, r0.stderr
        before = snapshot(d, "run")
        first = {"eval": ["run/last.npz"], "inspect": ["run/last.npz"], "predict": ["run/last.npz", "proj/x.npy"],
                 "plot": ["run"], "init": ["run/new.yaml"]}.get(command, [])
        if command == "train":
            words = [str(ROOT / "configs" / "xor.yaml"), *words, "--out", "run", *SAFE]
        elif command == "plot":
            words = [*first, *words, "--out", "run/plots"]
        else:
            words = [*first, *words]
        r = runner.invoke(app, [command, *words])
        check(r, d, before)
