"""The hostile-input matrix: every case is a real ``mlp`` invocation (in-process) that must end
with its exit code, exactly one stderr line for exit 2, no traceback, and nothing lost.

Cases are grouped by class (types, YAML, non-regular files, sizes, command-line numbers, finite
data, forged checkpoints, zip archives, run directories); each class is fixed at one place in
the package, and the cases here are examples of it, not the fix's definition.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import socket
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from mlpcli.cli import app

from .conftest import ROOT

runner = CliRunner()
XOR = ROOT / "configs" / "xor.yaml"
FAST = ["--quiet", "--set", "training.epochs=2"]


# ---------------------------------------------------------------------------- helpers
def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def assert_contract(r, code, parts=()):
    err = r.stderr
    assert r.exit_code == code, (r.exit_code, err, r.stdout[-500:], r.exception)
    assert "Traceback" not in err and (r.exception is None or isinstance(r.exception, SystemExit)), (err, r.exception)
    if code == 2:
        assert err.count("\n") == 1 and err.startswith("mlp: error:"), err
    for p in parts:
        assert p in err, (p, err)


def snapshot(d) -> dict:
    """Every file under ``d`` with its bytes (and directories as None): 'nothing lost' is equality."""
    out = {}
    for root, dirs, files in os.walk(d):
        for name in dirs:
            out[os.path.relpath(os.path.join(root, name), d)] = None
        for name in files:
            p = os.path.join(root, name)
            out[os.path.relpath(p, d)] = Path(p).read_bytes() if os.path.isfile(p) else "special"
    return out


def forge(src, dst, mutate=None, arrays=None):
    """A copy of checkpoint ``src`` whose meta (and arrays) are changed and whose checksums are
    recomputed, as a careful forger would: only the validation of the content can refuse it."""
    with zipfile.ZipFile(src) as z:
        members = {i.filename[:-4]: np.load(io.BytesIO(z.read(i)), allow_pickle=False) for i in z.infolist()}
    meta = json.loads(members.pop("meta").item())
    for k, v in (arrays or {}).items():
        members[k] = v
        meta["sha256"][k] = hashlib.sha256(np.ascontiguousarray(v).view(np.uint8).reshape(-1).data).hexdigest()
    if mutate:
        mutate(meta)
    raw = json.dumps(meta).encode()
    members["meta"] = np.array(raw)
    with zipfile.ZipFile(dst, "w") as z:
        z.comment = ("mlpcli-meta-sha256:" + hashlib.sha256(raw).hexdigest()).encode()
        for k, v in members.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, v, allow_pickle=False)
            z.writestr(k + ".npy", buf.getvalue())
    return dst


def setter(path, value):
    def mutate(meta):
        node = meta
        for p in path[:-1]:
            node = node[p]
        if value is DELETE:
            del node[path[-1]]
        else:
            node[path[-1]] = value

    return mutate


DELETE = object()


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile")
    r = run("train", XOR, "--out", d / "run", "--quiet", "--set", "training.epochs=3", "--set", "data.validation_split=0.25",
            "--set", "data.repeat=4")
    assert r.exit_code == 0, r.stderr
    r = run("train", ROOT / "configs" / "regression.yaml", "--out", d / "reg", "--quiet", "--set", "training.epochs=2",
            "--set", "data.n_samples=40")
    assert r.exit_code == 0, r.stderr
    rng = np.random.default_rng(0)
    np.save(d / "x.npy", rng.normal(size=(20, 2)))
    np.save(d / "y.npy", rng.integers(0, 2, 20))
    np.save(d / "yreg.npy", rng.normal(size=(20, 1)))
    os.mkfifo(d / "fifo")
    os.mkdir(d / "adir")
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(d / "sock"))  # the socket file stays after the socket is closed
    s.close()
    return d


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a case that wrote to runs/ or output.dir would write here, not in the repo


def npy_cfg(d, name, x="x.npy", y="y.npy", extra="", layers="[2, 4, 1]"):
    p = d / name
    xs = x if str(x).startswith("/") else d / x
    ys = y if str(y).startswith("/") else d / y
    p.write_text(f"data: {{name: npy, train: {{x: {xs}, y: {ys}}}}}\nmodel: {{layers: {layers}}}\ntraining: {{epochs: 2}}\n")
    if extra:
        p.write_text(p.read_text() + extra)
    return p


# ---------------------------------------------------------------------------- 1. strict types, finite numbers
TYPE_CASES = [
    ("training.epochs", "true"), ("training.epochs", "3.5"), ("training.epochs", "'3'"), ("training.epochs", ".inf"),
    ("training.epochs", "[3]"), ("optimizer.lr", "true"), ("optimizer.lr", ".inf"), ("optimizer.lr", ".nan"),
    ("optimizer.lr", "-.inf"), ("optimizer.lr", "1e400"), ("optimizer.lr", "fast"), ("optimizer.lr", "{a: 1}"),
    ("optimizer.lr", "0"), ("training.shuffle", "1"), ("training.shuffle", "0"), ("training.shuffle", "'true'"),
    ("seed", "-1"), ("seed", "true"), ("seed", "1.5"), ("seed", "1e400"), ("data.scale", ".inf"), ("data.scale", "true"),
    ("data.validation_split", ".nan"), ("data.validation_split", "true"), ("model.layers", "[2, true, 1]"),
    ("model.layers", "[2, 4.0, 1]"), ("model.layers", "[2, .inf, 1]"), ("model.layers", "[2, -1, 1]"),
    ("model.layers", "'abc'"), ("model.bias", "1"), ("l2", ".inf"), ("l2", "true"), ("l2", "-1"), ("l2", "1e400"),
    ("training.batch_size", "true"), ("training.batch_size", "1.5"), ("training.batch_size", "half"),
    ("training.batch_size", ".inf"), ("schedule.warmup_epochs", "true"), ("optimizer.momentum", "true"),
    ("optimizer.momentum", ".nan"), ("optimizer.betas", "[true, 0.9]"), ("optimizer.betas", "[.nan, 0.9]"),
    ("optimizer.betas", "[0.9]"), ("training.grad_tol", ".inf"), ("training.grad_tol", "true"),
    ("data.noise", ".inf"), ("data.repeat", "true"), ("data.repeat", "0"), ("model.init.std", ".inf"),
    ("training.dtype", "float16"), ("training.dtype", "32"), ("output.dir", "5"), ("training.early_stopping", "3"),
    ("model.activation", "{name: leaky_relu, alpha: true}"), ("model.activation", "{name: leaky_relu, alpha: .nan}"),
]


@pytest.mark.parametrize("key,value", TYPE_CASES, ids=[f"{k}={v}" for k, v in TYPE_CASES])
def test_strict_type_via_set(ws, key, value):
    extra = {"optimizer.betas": ["--set", "optimizer.name=adam"], "model.init.std": ["--set", "model.init.name=normal"]}.get(key, [])
    r = run("train", XOR, *extra, "--set", f"{key}={value}", "--out", ws / "never", "--quiet")
    assert_contract(r, 2, [f"--set {key.split('.')[0]}"])
    assert not (ws / "never").exists()


@pytest.mark.parametrize("text,where", [
    ("training:\n  epochs: true\n", "x.yaml:2: training.epochs"), ("optimizer:\n  lr: .inf\n", "x.yaml:2: optimizer.lr"),
    ("optimizer: {lr: 1e400}\n", "x.yaml:1: optimizer.lr"), ("training: {shuffle: 1}\n", "x.yaml:1: training.shuffle"),
    ("seed: -3\n", "x.yaml:1: seed"), ("data: {name: xor, scale: .nan, normalize: scale}\n", "x.yaml:1: data.scale"),
])
def test_strict_type_in_file_names_the_line(ws, text, where):
    p = ws / "x.yaml"
    p.write_text(text)
    assert_contract(run("train", p, "--out", ws / "never", "--quiet"), 2, [where])


def test_yaml_numbers_like_1e_minus_3_are_numbers(ws):
    r = run("train", XOR, "--set", "optimizer.lr=5e-2", "--set", "training.epochs=1", "--out", ws / "lr", "--quiet", "--json")
    assert_contract(r, 0)
    assert json.loads(r.stdout)["epochs_run"] == 1


# ---------------------------------------------------------------------------- 2. YAML
def yaml_cases(d):
    deep = "a: " + "[" * 5000 + "]" * 5000 + "\n"
    block = "".join("  " * i + f"k{i}:\n" for i in range(300))
    bomb = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(f"{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n"
                                                    for p, c in zip("abcdefgh", "bcdefghi", strict=True))
    return {
        "deep flow nesting": (deep.encode(), ["nests"]),
        "deep block nesting": (block.encode(), ["nests"]),
        "NUL byte": (b"seed: 1\x00\n", ["#x0000"]),
        "bell character": (b"seed: \x07\n", ["#x0007"]),
        "escape character": (b"optimizer: {lr: 0.1}\x1b[31m\n", ["#x001b"]),
        "invalid UTF-8": (b"seed: \xff\xfe\n", ["UTF-8"]),
        "tab indentation": (b"training:\n\tepochs: 3\n", ["invalid YAML"]),
        "alias bomb": (bomb.encode(), ["alias"]),
        "unclosed bracket": (b"model: {layers: [2, 4\n", ["invalid YAML"]),
        "python tag": (b"seed: !!python/object/apply:os.system [true]\n", ["invalid YAML"]),
        "top-level scalar": (b"42\n", ["mapping"]),
        "over 1 MiB": (b"seed: 1\n" + b"#" * (1 << 20) + b"\n", ["1,048,576"]),
        "binary garbage": (bytes(range(256)) * 4, ["x.yaml"]),
    }


@pytest.mark.parametrize("name", list(yaml_cases(ROOT)))
def test_hostile_yaml_file(ws, name):
    content, parts = yaml_cases(ws)[name]
    p = ws / "x.yaml"
    p.write_bytes(content)
    assert_contract(run("train", p, "--out", ws / "never", "--quiet"), 2, ["x.yaml", *parts])


@pytest.mark.parametrize("item,parts", [
    ("model.layers=" + "[" * 3000 + "]" * 3000, ["nests"]),
    ("seed=" + "{a: " * 200 + "1" + "}" * 200, ["nests"]),
    (".".join(["a"] * 5000) + "=1", ["key path"]),
    ("seed=1\x00", ["#x0000"]),
    ("optimizer.lr=\x07", ["#x0007"]),
    ("=3", ["key.path=value"]),
    ("seed.x=1", ["not a mapping"]),
])
def test_hostile_set(ws, item, parts):
    assert_contract(run("train", XOR, "--set", item, "--out", ws / "never", "--quiet"), 2, parts)


def test_config_through_a_pipe_is_bounded_by_bytes_read(ws):
    """A config from a pipe has no size to stat: the limit counts what is read, nothing is cut silently."""
    r_fd, w_fd = os.pipe()

    def feed():
        with contextlib.suppress(BrokenPipeError), os.fdopen(w_fd, "wb") as w:
            w.write(b"seed: 1\n" + b"#" * (1 << 20) + b"\ntraining: {epochs: 1}\n")

    t = threading.Thread(target=feed)
    t.start()
    try:
        r = run("train", f"/dev/fd/{r_fd}", "--out", ws / "never", "--quiet")
    finally:
        os.close(r_fd)
        t.join()
    assert_contract(r, 2, ["too large"])


def test_small_config_through_a_pipe_is_read(ws):
    r_fd, w_fd = os.pipe()
    os.write(w_fd, b"training: {epochs: 1}\n")
    os.close(w_fd)
    try:
        r = run("train", f"/dev/fd/{r_fd}", "--out", ws / "piped", "--quiet", "--json")
    finally:
        os.close(r_fd)
    assert_contract(r, 0)
    assert json.loads(r.stdout)["epochs_run"] == 1


# ---------------------------------------------------------------------------- 3. non-regular files
SPECIALS = {"FIFO": "fifo", "directory": "adir", "socket": "sock"}
DEVICES = ["/dev/null", "/dev/zero"]


SPECIAL_USES = {
    "config": lambda d, p: ["train", p],
    "checkpoint (eval)": lambda d, p: ["eval", p],
    "checkpoint (inspect)": lambda d, p: ["inspect", p],
    "checkpoint (gradcheck)": lambda d, p: ["gradcheck", f"{p}.npz" if str(p).startswith("/dev") else p],
    "predict input": lambda d, p: ["predict", d / "run" / "last.npz", p],
    "data x": lambda d, p: ["train", npy_cfg(d, "special-x.yaml", x=p)],
    "data y": lambda d, p: ["train", npy_cfg(d, "special-y.yaml", y=p)],
    "resume checkpoint": lambda d, p: ["train", XOR, "--resume", p, "--out", d / "never"],
    "init.from": lambda d, p: ["train", XOR, "--set", f"model.init={{from: {p}}}", "--out", d / "never"],
    "eval --data config": lambda d, p: ["eval", d / "run" / "last.npz", "--data", p],
}
SPECIAL_CASES = [(use, kind) for use in SPECIAL_USES for kind in [*SPECIALS, *DEVICES]]


@pytest.mark.parametrize("use,kind", SPECIAL_CASES, ids=[f"{u} is {k}" for u, k in SPECIAL_CASES])
def test_non_regular_inputs_are_refused_up_front(ws, use, kind):
    """A FIFO with no writer would block forever and /dev/zero never ends: both refused at once."""
    p = ws / SPECIALS[kind] if kind in SPECIALS else kind
    args = SPECIAL_USES[use](ws, p)
    r = run(*args, "--quiet") if args[0] == "train" else run(*args)
    assert_contract(r, 2)
    assert not (ws / "never").exists()


# ---------------------------------------------------------------------------- 4. sizes before allocation
def test_huge_layer_names_key_and_estimate(ws):
    r = run("train", XOR, "--set", "model.layers=[2,1000000000000,1]", "--quiet")
    assert_contract(r, 2, ["--set model.layers[1]", "1,000,000,000,000 units", "GB", "memory available"])


@pytest.mark.parametrize("sets,parts", [
    (["model.layers=[2,300000,300000,1]"], ["model.layers[2]", "W2 alone"]),
    (["model.layers=[2,2000000000,1]", "training.dtype=float64"], ["model.layers[1]"]),
    (["data.repeat=100000000000"], ["data.repeat", "samples need"]),
    (["data.n_samples=1000000000000"], ["data.n_samples"]),
])
def test_sizes_checked_before_allocation(ws, tmp_path, sets, parts):
    args = [a for s in sets for a in ("--set", s)]
    cfg = ROOT / "configs" / ("regression.yaml" if "n_samples" in sets[0] else "xor.yaml")
    assert_contract(run("train", cfg, *args, "--out", tmp_path / "never", "--quiet"), 2, parts)
    assert not (tmp_path / "never").exists()


def test_gradcheck_samples_checked(ws):
    assert_contract(run("gradcheck", "--samples", "100000000000000"), 2, ["--samples", "memory available"])


def test_npy_declaring_a_huge_shape(ws):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10**12, 2)})
    (ws / "xhuge.npy").write_bytes(b"\x93NUMPY\x01\x00" + header.getvalue()[8:] + b"\0" * 64)
    assert_contract(run("train", npy_cfg(ws, "huge.yaml", x="xhuge.npy"), "--quiet"), 2, ["xhuge.npy"])


def test_data_npz_zip_bomb_is_refused_before_decompressing(ws):
    """A 1 MB .npz whose x decompresses to 1 GB: refused by its compression ratio, like checkpoints."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": (1 << 26, 2)})
    head = b"\x93NUMPY\x01\x00" + buf.getvalue()[8:]
    with zipfile.ZipFile(ws / "bomb.npz", "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("x.npy", "w", force_zip64=True) as m:
            m.write(head)
            zeros = bytes(1 << 20)
            for _ in range(1 << 10):
                m.write(zeros)
        z.writestr("y.npy", (ws / "y.npy").read_bytes())
    assert (ws / "bomb.npz").stat().st_size < 4 << 20
    p = ws / "bomb.yaml"
    p.write_text(f"data: {{name: npy, train: {ws / 'bomb.npz'}}}\nmodel: {{layers: [2, 4, 1]}}\n")
    assert_contract(run("train", p, "--quiet"), 2, ["bomb.npz", "zip bomb"])


# ---------------------------------------------------------------------------- 5. command-line numbers
CLI_CASES = {
    "--min-accuracy nan": (["eval", "{ck}", "--min-accuracy", "nan"], ["--min-accuracy", "finite"]),
    "--min-accuracy inf": (["eval", "{ck}", "--min-accuracy", "inf"], ["--min-accuracy"]),
    "--min-accuracy -inf": (["eval", "{ck}", "--min-accuracy", "-inf"], ["--min-accuracy"]),
    "--min-r2 nan": (["eval", "{reg}", "--min-r2", "nan"], ["--min-r2"]),
    "--min-accuracy 95 (a percentage)": (["eval", "{ck}", "--min-accuracy", "95"], ["between 0 and 1 (got 95; 95% is 0.95)"]),
    "--min-accuracy -0.5": (["eval", "{ck}", "--min-accuracy", "-0.5"], ["between 0 and 1 (got -0.5)"]),
    "--min-accuracy text": (["eval", "{ck}", "--min-accuracy", "high"], ["--min-accuracy"]),
    "--eps nan": (["gradcheck", "--eps", "nan"], ["--eps"]),
    "--eps inf": (["gradcheck", "--eps", "inf"], ["--eps"]),
    "--eps 0": (["gradcheck", "--eps", "0"], ["--eps"]),
    "--eps -1": (["gradcheck", "--eps", "-1"], ["--eps"]),
    "--tol nan": (["gradcheck", "--tol", "nan"], ["--tol"]),
    "--samples 0": (["gradcheck", "--samples", "0"], ["--samples"]),
    "--samples text": (["gradcheck", "--samples", "many"], ["--samples"]),
    "--max-entries 0": (["gradcheck", "--max-entries", "0"], ["--max-entries"]),
    "--split bogus": (["eval", "{ck}", "--split", "bogus"], ["--split"]),
    "missing argument": (["train"], ["give the CONFIG to train, or --resume RUN_DIR"]),
    "unknown option": (["train", str(XOR), "--bogus"], ["--bogus"]),
    "unknown command": (["trian"], ["trian"]),
    "unknown group option": (["--bogus"], ["--bogus"]),
    "eval needs a checkpoint": (["eval"], ["Missing argument"]),
    "predict needs inputs": (["predict", "{ck}"], ["Missing argument"]),
}


@pytest.mark.parametrize("name", list(CLI_CASES))
def test_command_line_values(ws, name):
    args, parts = CLI_CASES[name]
    args = [a.format(ck=ws / "run" / "last.npz", reg=ws / "reg" / "last.npz") for a in args]
    assert_contract(run(*args), 2, parts)


# ---------------------------------------------------------------------------- 6. finite where it computes
def test_value_that_is_inf_in_float32_is_bad_data_not_divergence(ws):
    x = np.random.default_rng(1).normal(size=(20, 2))
    x[5, 0] = 1e39  # finite in float64, inf in float32
    np.save(ws / "x39.npy", x)
    assert_contract(run("train", npy_cfg(ws, "x39.yaml", x="x39.npy"), "--quiet"), 2, ["x39.npy", "float32"])


def test_float64_training_accepts_what_float32_cannot_hold(ws):
    x = np.random.default_rng(1).normal(size=(20, 2))
    x[5, 0] = 1e39
    np.save(ws / "x39b.npy", x)
    p = npy_cfg(ws, "x39b.yaml", x="x39b.npy", extra="data: {name: npy, normalize: standard}\n")
    p.write_text(p.read_text().replace("data: {name: npy, normalize: standard}\n", ""))
    r = run("train", p, "--set", "training.dtype=float64", "--set", "data.normalize=standard", "--out", ws / "f64", "--quiet")
    assert r.exit_code in (0, 3) and "Traceback" not in r.stderr


def test_scale_that_overflows_is_bad_data(ws):
    r = run("train", XOR, "--set", "data.normalize=scale", "--set", "data.scale=1e-40", "--out", ws / "never", "--quiet")
    assert_contract(r, 2, ["data xor", "normalisation"])
    assert not (ws / "never").exists()


def test_regression_targets_beyond_float32(ws):
    y = np.random.default_rng(2).normal(size=(20, 1))
    y[3, 0] = -1e39
    np.save(ws / "y39.npy", y)
    r = run("train", npy_cfg(ws, "y39.yaml", y="y39.npy", extra="loss: squared_error\n"), "--quiet")
    assert_contract(r, 2, ["targets", "float32"])


@pytest.mark.parametrize("value", [np.nan, np.inf, 1e39])
def test_predict_refuses_non_finite_inputs(ws, value):
    x = np.zeros((4, 2))
    x[1, 1] = value
    np.save(ws / "pbad.npy", x)
    assert_contract(run("predict", ws / "run" / "last.npz", ws / "pbad.npy"), 2, ["pbad.npy"])


def test_predict_output_never_non_finite(ws):
    np.save(ws / "pbig.npy", np.full((3, 2), 1e37))  # finite in float32, but the network's sums overflow
    r = run("predict", ws / "run" / "last.npz", ws / "pbig.npy", "--proba")
    assert r.exit_code in (0, 2) and "Traceback" not in r.stderr
    if r.exit_code == 0:
        assert np.isfinite(np.loadtxt(io.StringIO(r.stdout))).all()
    else:
        assert_contract(r, 2, ["pbig.npy"])


def test_eval_json_is_strict(ws):
    r = run("eval", ws / "reg" / "last.npz", "--json")
    assert_contract(r, 0)
    json.loads(r.stdout, parse_constant=lambda c: pytest.fail(f"non-strict JSON token {c}"))


def test_eval_on_data_with_inf(ws):
    x = np.zeros((20, 2))
    x[0, 0] = np.inf
    np.save(ws / "xinf.npy", x)
    assert_contract(run("eval", ws / "run" / "last.npz", "--data", npy_cfg(ws, "einf.yaml", x="xinf.npy"), "--split", "train"),
                    2, ["xinf.npy"])


# ---------------------------------------------------------------------------- 7. forged checkpoint meta
META_CASES = {
    "epoch negative": (("epoch",), -1, "meta.epoch"),
    "epoch boolean": (("epoch",), True, "meta.epoch"),
    "epoch string": (("epoch",), "3", "meta.epoch"),
    "step negative": (("step",), -5, "meta.step"),
    "batch huge": (("batch",), 10**30, "meta.batch"),
    "rng not a state": (("rng", "shuffle"), "seed", "meta.rng.shuffle"),
    "rng other generator": (("rng", "shuffle", "bit_generator"), "MT19937", "meta.rng.shuffle"),
    "rng state negative": (("rng", "shuffle", "state", "state"), -1, "meta.rng.shuffle"),
    "rng missing": (("rng",), DELETE, "meta"),
    "normalizer kind": (("normalizer", "kind"), "magic", "meta.normalizer.kind"),
    "normalizer scale zero": (("normalizer",), {"kind": "scale", "scale": 0}, "meta.normalizer.scale"),
    "normalizer mean width": (("normalizer",), {"kind": "standard", "mean": [0.0] * 5, "std": [1.0] * 5}, "5 means"),
    "normalizer std zero": (("normalizer",), {"kind": "standard", "mean": [0.0, 0.0], "std": [0.0, 1.0]}, "meta.normalizer.std"),
    "normalizer not a mapping": (("normalizer",), [1, 2], "meta.normalizer"),
    "optimizer other": (("optimizer", "name"), "rmsprop", "optimizer"),
    "optimizer t negative": (("optimizer", "t"), -1, "meta.optimizer.t"),
    "schedule lr negative": (("schedule", "plateau_lr"), -1.0, "meta.schedule.plateau_lr"),
    "schedule missing": (("schedule",), DELETE, "meta"),
    "early stopping bad": (("early_stopping", "bad_epochs"), "x", "meta.early_stopping.bad_epochs"),
    "history not a list": (("history",), "lots", "meta.history"),
    "history row not a mapping": (("history",), [1, 2], "meta.history"),
    "metrics a string": (("metrics",), "good", "meta.metrics"),
    "has_best a string": (("has_best",), "yes", "meta.has_best"),
    "mid-epoch without partial": (("batch",), 1, "mid-epoch"),
    "format foreign": (("format",), "something-else", "not an mlpcli-checkpoint"),
    "version future": (("version",), 2, "version"),
    "config missing": (("config",), DELETE, "config"),
    "config invalid": (("config", "optimizer", "lr"), -1, "config is invalid"),
    "task bogus": (("task",), "ranking", "meta.task"),
    "callbacks not a mapping": (("callbacks",), [1], "meta.callbacks"),
    "callback state forged": (("callbacks",), {"EarlyStopping": {"wait": "x", "best": 0.1}}, "meta.callbacks"),
}


@pytest.mark.parametrize("name", list(META_CASES))
@pytest.mark.parametrize("command", ["inspect", "resume"])
def test_forged_meta(ws, tmp_path, name, command):
    path, value, part = META_CASES[name]
    bad = forge(ws / "run" / "last.npz", tmp_path / f"forged-{command}.npz", setter(path, value))
    args = ["inspect", bad] if command == "inspect" else ["train", XOR, "--resume", bad, "--out", tmp_path / "never", "--quiet"]
    r = run(*args)
    assert_contract(r, 2, [f"forged-{command}.npz", part])
    assert not (tmp_path / "never").exists()


@pytest.mark.parametrize("value", [np.nan, np.inf])
@pytest.mark.parametrize("command", ["eval", "predict", "inspect"])
def test_non_finite_weights_refused(ws, value, command):
    W1 = np.load(io.BytesIO(zipfile.ZipFile(ws / "run" / "last.npz").read("W1.npy")))
    W1[0, 0] = value
    bad = forge(ws / "run" / "last.npz", ws / "nanw.npz", arrays={"W1": W1})
    args = {"eval": ["eval", bad], "inspect": ["inspect", bad], "predict": ["predict", bad, ws / "x.npy"]}[command]
    assert_contract(run(*args), 2, ["nanw.npz", "W1", "NaN or infinite"])


# ---------------------------------------------------------------------------- 8. zip archives
def weights_npz(d, name, compression=zipfile.ZIP_STORED):
    p = d / name
    with zipfile.ZipFile(p, "w", compression) as z:
        for k, shape in (("W1", (8, 2)), ("b1", (8,)), ("W2", (1, 8)), ("b2", (1,))):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.full(shape, 0.1, np.float32))
            z.writestr(k + ".npy", buf.getvalue())
    return p


def corrupt_crc(p):
    """Flip bytes inside the first member's data (stored: a bad CRC; deflated: a broken stream)."""
    raw = bytearray(p.read_bytes())
    with zipfile.ZipFile(p) as z:
        info = z.infolist()[0]
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for i in range(start + info.compress_size // 2, start + info.compress_size // 2 + 4):
        raw[i] ^= 0xFF
    p.write_bytes(bytes(raw))
    return p


def set_encrypted(p):
    raw = bytearray(p.read_bytes())
    for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        i = 0
        while (i := raw.find(sig, i)) >= 0:
            raw[i + off] |= 1
            i += 4
    p.write_bytes(bytes(raw))
    return p


def zip_cases(d):
    return {
        "init.from bad CRC": corrupt_crc(weights_npz(d, "crc.npz")),
        "init.from encrypted": set_encrypted(weights_npz(d, "enc.npz")),
        "init.from truncated": (lambda p: (p.write_bytes(p.read_bytes()[:300]), p)[1])(weights_npz(d, "trunc.npz")),
        "init.from bad deflate": (lambda p: (corrupt_crc(p), p)[1])(weights_npz(d, "defl.npz", zipfile.ZIP_DEFLATED)),
        "init.from not a zip": (lambda p: (p.write_bytes(b"PK\x03\x04" + b"\x00" * 200), p)[1])(d / "notzip.npz"),
        "init.from empty": (lambda p: (p.write_bytes(b""), p)[1])(d / "empty.npz"),
    }


ZIP_CASES = ["init.from bad CRC", "init.from encrypted", "init.from truncated", "init.from bad deflate",
             "init.from not a zip", "init.from empty"]


@pytest.mark.parametrize("name", ZIP_CASES)
def test_zip_errors_of_init_from(ws, name):
    p = zip_cases(ws)[name]
    r = run("train", XOR, "--set", "model.layers=[2,8,1]", "--set", f"model.init={{from: {p}}}", "--out", ws / "never", "--quiet")
    assert_contract(r, 2, [p.name])
    assert not (ws / "never").exists()


@pytest.mark.parametrize("mangle", ["crc", "encrypted"])
def test_zip_errors_of_checkpoint_and_data(ws, mangle):
    ck = ws / f"ck-{mangle}.npz"
    ck.write_bytes((ws / "run" / "last.npz").read_bytes())
    (corrupt_crc if mangle == "crc" else set_encrypted)(ck)
    assert_contract(run("eval", ck), 2, [ck.name])
    data = ws / f"data-{mangle}.npz"
    np.savez(data, x=np.random.default_rng(0).normal(size=(20, 2)), y=np.arange(20) % 2)
    (corrupt_crc if mangle == "crc" else set_encrypted)(data)
    p = ws / "zd.yaml"
    p.write_text(f"data: {{name: npy, train: {data}}}\nmodel: {{layers: [2, 4, 1]}}\n")
    assert_contract(run("train", p, "--quiet"), 2, [data.name])


# ---------------------------------------------------------------------------- 9. run directories: nothing lost
def test_resume_into_another_runs_directory_is_refused(ws, tmp_path):
    a, b = tmp_path / "A", tmp_path / "B"
    assert run("train", XOR, "--out", a, *FAST).exit_code == 0
    assert run("train", XOR, "--out", b, *FAST, "--set", "seed=5").exit_code == 0
    before = snapshot(b)
    assert_contract(run("train", XOR, "--resume", a / "last.npz", "--out", b, *FAST), 2, [str(b), "holds a run", "--overwrite"])
    assert snapshot(b) == before
    assert_contract(run("train", XOR, "--resume", a / "last.npz", "--out", b, "--overwrite", "--quiet",
                        "--set", "training.epochs=3"), 0)


def test_overwrite_with_a_failing_start_leaves_the_old_run_intact(ws, tmp_path):
    out = tmp_path / "run"
    assert run("train", XOR, "--out", out, *FAST).exit_code == 0
    before = snapshot(out)
    cfg = npy_cfg(ws, "missing.yaml", x="no-such.npy")
    assert_contract(run("train", cfg, "--out", out, "--overwrite", "--quiet"), 2, ["no-such.npy"])
    assert snapshot(out) == before
    assert_contract(run("train", XOR, "--out", out, "--overwrite", "--quiet", "--set", "model.layers=[2,0,1]"), 2)
    assert snapshot(out) == before


def test_resume_of_a_checkpoint_in_a_users_folder_touches_nothing(ws, tmp_path):
    proj = tmp_path / "proj"
    assert run("train", XOR, "--out", tmp_path / "src", *FAST).exit_code == 0
    proj.mkdir()
    (proj / "model.npz").write_bytes((tmp_path / "src" / "last.npz").read_bytes())
    (proj / "config.yaml").write_text("# the user's own config\n")
    (proj / ".notes.tmp").write_text("another program's temporary file\n")
    before = snapshot(proj)
    r = run("train", XOR, "--resume", proj / "model.npz", *FAST)
    assert_contract(r, 2, [str(proj), "not an mlp run directory", "--out"])
    assert snapshot(proj) == before
    r = run("train", XOR, "--resume", proj / "model.npz", "--out", tmp_path / "continued", "--quiet", "--set", "training.epochs=3")
    assert_contract(r, 0)
    assert snapshot(proj) == before and (tmp_path / "continued" / ".mlp-run").is_file()


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_folder_that_is_not_a_run_directory_is_never_written(ws, tmp_path, overwrite):
    d = tmp_path / "mine"
    d.mkdir()
    (d / "notes.txt").write_text("mine\n")
    (d / "last.npz").write_text("not mlp's\n")
    before = snapshot(d)
    r = run("train", XOR, "--out", d, *FAST, *(["--overwrite"] if overwrite else []))
    assert_contract(r, 2, ["not an mlp run directory"])
    assert snapshot(d) == before


def test_failing_start_creates_no_directory_and_no_lock(ws, tmp_path):
    for args in (["--set", "model.layers=[3,4,1]"], ["--resume", tmp_path / "nope.npz"], ["--set", "model.init={from: /nope.npz}"]):
        r = run("train", XOR, "--out", tmp_path / "new" / "run", *args, "--quiet")
        assert_contract(r, 2)
        assert not (tmp_path / "new").exists(), args
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_contract(run("train", XOR, "--out", empty, "--set", "model.layers=[3,4,1]", "--quiet"), 2)
    assert os.listdir(empty) == []


def test_overwrite_keeps_files_mlp_did_not_write(ws, tmp_path):
    out = tmp_path / "run"
    assert run("train", XOR, "--out", out, *FAST).exit_code == 0
    (out / "notes.txt").write_text("mine\n")
    (out / ".notes.tmp").write_text("another program's\n")
    assert_contract(run("train", XOR, "--out", out, "--overwrite", *FAST), 0)
    assert (out / "notes.txt").read_text() == "mine\n" and (out / ".notes.tmp").exists()


def test_leftover_temporaries_are_removed_only_when_they_are_mlps(ws, tmp_path):
    out = tmp_path / "run"
    assert run("train", XOR, "--out", out, *FAST).exit_code == 0
    (out / ".last.npz.12345.tmp").write_bytes(b"half a checkpoint")
    (out / ".last.npz.999.tmp").mkdir()  # a directory with mlp's temporary name: not mlp's, kept
    assert_contract(run("train", XOR, "--resume", out / "last.npz", "--quiet", "--set", "training.epochs=3"), 0)
    assert not (out / ".last.npz.12345.tmp").exists() and (out / ".last.npz.999.tmp").is_dir()


def test_temporary_name_that_is_a_directory_does_not_block_writing(ws, tmp_path):
    out = tmp_path / "run"
    assert run("train", XOR, "--out", out, *FAST).exit_code == 0
    (out / f".last.npz.{os.getpid()}.tmp").mkdir()  # this process's own temporary name
    assert_contract(run("train", XOR, "--resume", out / "last.npz", "--quiet", "--set", "training.epochs=3"), 0)
    assert (out / f".last.npz.{os.getpid()}.tmp").is_dir()


@pytest.mark.parametrize("name", [".lock", ".mlp-run"])
def test_lock_or_marker_that_is_a_directory(ws, tmp_path, name):
    out = tmp_path / "run"
    assert run("train", XOR, "--out", out, *FAST).exit_code == 0
    (out / name).unlink()
    (out / name).mkdir()
    before = snapshot(out)
    r = run("train", XOR, "--resume", out / "last.npz", "--quiet", "--set", "training.epochs=3")
    assert_contract(r, 2, [name])
    assert snapshot(out) == before


def test_out_that_is_a_file(ws, tmp_path):
    (tmp_path / "f").write_text("x")
    assert_contract(run("train", XOR, "--out", tmp_path / "f", *FAST), 2, ["not a directory"])
    assert_contract(run("train", XOR, "--out", tmp_path / "f" / "run", *FAST), 2, ["f"])
    assert (tmp_path / "f").read_text() == "x"


@pytest.mark.parametrize("where", ["missing/dir/x.yaml", "file/x.yaml"])
def test_init_into_a_missing_or_impossible_place(ws, tmp_path, where):
    (tmp_path / "file").write_text("x")
    assert_contract(run("init", tmp_path / where), 2, [str(tmp_path / where)])


@pytest.mark.parametrize("where", ["missing/p.npy", "file/p.npy"])
def test_predict_out_into_a_missing_or_impossible_place(ws, tmp_path, where):
    (tmp_path / "file").write_text("x")
    r = run("predict", ws / "run" / "last.npz", ws / "x.npy", "--out", tmp_path / where)
    assert_contract(r, 2, [str(tmp_path / where)])


def test_plot_out_into_an_impossible_place(ws, tmp_path):
    pytest.importorskip("matplotlib")
    (tmp_path / "file").write_text("x")
    assert_contract(run("plot", ws / "run", "--out", tmp_path / "file" / "plots"), 2, ["file"])


def test_mnist_out_into_an_impossible_place(ws, tmp_path):
    (tmp_path / "file").write_text("x")
    src = tmp_path / "idx"
    src.mkdir()
    assert_contract(run("data", "mnist", "--from", src, "--out", tmp_path / "file" / "m"), 2)


def test_corrupt_gz_in_mnist(ws, tmp_path):
    import gzip

    src = tmp_path / "idx"
    src.mkdir()
    raw = gzip.compress(b"\x00\x00\x08\x01" + (60000).to_bytes(4, "big") + bytes(60000))
    (src / "train-images-idx3-ubyte.gz").write_bytes(raw[:40] + b"\xff" * 20 + raw[60:])
    assert_contract(run("data", "mnist", "--from", src, "--out", tmp_path / "m"), 2, ["train-images-idx3-ubyte.gz"])
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("content", [b"epoch,train_loss\n1,abc\n", b"\x97\xff\x00garbage", b"epoch,train_loss\n1,0.5,7\n2\n"])
def test_plot_of_a_garbled_metrics_csv(ws, tmp_path, content):
    pytest.importorskip("matplotlib")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "last.npz").write_bytes((ws / "run" / "last.npz").read_bytes())
    (run_dir / "metrics.csv").write_bytes(content)
    assert_contract(run("plot", run_dir, "--out", tmp_path / "plots"), 2, ["metrics.csv"])
