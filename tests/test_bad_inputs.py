"""Bad input never crashes: each case exits 2 with one line on stderr naming the file, no traceback."""

import zipfile

import numpy as np
import pytest
from typer.testing import CliRunner

from mlpcli.cli import app

from .conftest import ROOT

runner = CliRunner()
XOR = ROOT / "configs" / "xor.yaml"


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    """A workspace with a trained checkpoint and good data files to corrupt."""
    d = tmp_path_factory.mktemp("bad")
    r = runner.invoke(app, ["train", str(XOR), "--out", str(d / "run"), "--quiet", "--set", "training.epochs=3"])
    assert r.exit_code == 0, r.stderr
    rng = np.random.default_rng(0)
    np.save(d / "x.npy", rng.normal(size=(20, 2)))
    np.save(d / "y.npy", rng.integers(0, 2, 20))
    np.save(d / "y5.npy", np.arange(20) % 5)
    np.save(d / "ynan.npy", np.zeros(20))
    xn = np.random.default_rng(0).normal(size=(20, 2))
    xn[3, 1] = np.nan
    np.save(d / "xnan.npy", xn)
    xi = xn.copy()
    xi[3, 1] = np.inf
    np.save(d / "xinf.npy", xi)
    np.save(d / "yshort.npy", np.zeros(19, int))
    np.save(d / "yfloat.npy", np.full(20, 0.3))
    np.save(d / "xobj.npy", np.array([object()] * 20, dtype=object), allow_pickle=True)
    write(d, "xgarbage.npy", b"this is not an npy file at all")
    write(d, "xtrunc.npy", (d / "x.npy").read_bytes()[:100])
    np.save(d / "p3.npy", np.zeros((4, 3)))
    np.save(d / "pobj.npy", np.array([object()] * 4, dtype=object), allow_pickle=True)
    return d


def write(d, name, content):
    p = d / name
    if isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_text(content)
    return p


def npy_config(d, name, x="x.npy", y="y.npy", extra="", layers="[2, 4, 1]"):
    return write(d, name, f"data: {{name: npy, train: {{x: {d / x}, y: {d / y}}}}}\nmodel: {{layers: {layers}}}\n{extra}")


def rewrite_checkpoint(src, dst, drop=(), replace=None):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        zout.comment = zin.comment
        for info in zin.infolist():
            name = info.filename[:-4]
            if name in drop:
                continue
            data = zin.read(info)
            if replace and name in replace:
                import io

                buf = io.BytesIO()
                np.lib.format.write_array(buf, replace[name], allow_pickle=True)
                data = buf.getvalue()
            zout.writestr(info.filename, data)
    return dst


CASES = {
    # ---- configs
    "malformed yaml": lambda d, ck, good: (["train", write(d, "c1.yaml", "model: [1, 2\n")], ["c1.yaml", "invalid YAML"]),
    "top-level list": lambda d, ck, good: (["train", write(d, "c2.yaml", "- a\n- b\n")], ["c2.yaml", "mapping"]),
    "unknown top key": lambda d, ck, good: (["train", write(d, "c3.yaml", "optimiser: {lr: 0.1}\n")], ["c3.yaml:1", "optimiser", "did you mean 'optimizer'"]),
    "unknown nested key": lambda d, ck, good: (["train", write(d, "c4.yaml", "training:\n  epoch: 3\n")], ["c4.yaml:2", "training.epoch", "epochs"]),
    "wrong type": lambda d, ck, good: (["train", write(d, "c5.yaml", "training:\n  epochs: lots\n")], ["c5.yaml:2", "training.epochs"]),
    "negative lr": lambda d, ck, good: (["train", write(d, "c6.yaml", "optimizer: {lr: -0.1}\n")], ["c6.yaml:1", "optimizer.lr"]),
    "zero batch size": lambda d, ck, good: (["train", write(d, "c7.yaml", "training: {batch_size: 0}\n")], ["c7.yaml:1", "training.batch_size"]),
    "zero width": lambda d, ck, good: (["train", write(d, "c8.yaml", "model: {layers: [2, 0, 1]}\n")], ["c8.yaml:1", "model.layers"]),
    "unknown activation": lambda d, ck, good: (["train", write(d, "c9.yaml", "model: {activation: sigmod}\n")], ["c9.yaml:1", "model.activation", "sigmoid"]),
    "unknown loss": lambda d, ck, good: (["train", write(d, "c10.yaml", "loss: hinge\n")], ["c10.yaml:1", "loss", "unknown loss"]),
    "unknown optimizer": lambda d, ck, good: (["train", write(d, "c11.yaml", "optimizer: {name: adamw}\n")], ["c11.yaml:1", "optimizer.name", "adam"]),
    "softmax hidden": lambda d, ck, good: (["train", write(d, "c12.yaml", "model: {activation: softmax}\n")], ["c12.yaml:1", "model.activation", "output"]),
    "duplicate key": lambda d, ck, good: (["train", write(d, "c13.yaml", "seed: 1\nseed: 2\n")], ["c13.yaml:2", "duplicate key"]),
    "python tag": lambda d, ck, good: (["train", write(d, "c14.yaml", "seed: !!python/object/apply:os.system ['true']\n")], ["c14.yaml:1", "invalid YAML"]),
    "missing config": lambda d, ck, good: (["train", d / "nope.yaml"], ["nope.yaml", "no such config file"]),
    "config is a directory": lambda d, ck, good: (["train", d], [str(d), "directory"]),
    "width vs data": lambda d, ck, good: (["train", write(d, "c15.yaml", "model: {layers: [3, 4, 1]}\n")], ["data xor", "model.layers[0] is 3"]),
    "label range vs output": lambda d, ck, good: (["train", npy_config(d, "c16.yaml", y="y5.npy", extra="loss: cross_entropy\n", layers="[2, 4, 3]")], ["x.npy", "labels range over [0, 4]", "classes 0..2"]),
    "bad early stopping monitor": lambda d, ck, good: (["train", write(d, "c17.yaml", "training: {early_stopping: {monitor: val_loss}}\n")], ["c17.yaml:1: training.early_stopping.monitor", "validation_split"]),
    "validation split 1": lambda d, ck, good: (["train", write(d, "c18.yaml", "data: {validation_split: 1}\n")], ["c18.yaml:1", "data.validation_split"]),
    "init from missing file": lambda d, ck, good: (["train", write(d, "c19.yaml", f"model: {{init: {{from: {d / 'w.npz'}}}}}\n")], ["model.init.from", "w.npz"]),
    # ---- data
    "missing data file": lambda d, ck, good: (["train", npy_config(d, "d1.yaml", x="missing.npy")], ["missing.npy", "no such file"]),
    "nan in data": lambda d, ck, good: (["train", npy_config(d, "d2.yaml", x="xnan.npy")], ["x", "NaN"]),
    "inf in data": lambda d, ck, good: (["train", npy_config(d, "d3.yaml", x="xinf.npy")], ["NaN or infinite"]),
    "x/y length mismatch": lambda d, ck, good: (["train", npy_config(d, "d4.yaml", y="yshort.npy")], ["20 inputs but 19 targets"]),
    "float labels for classifier": lambda d, ck, good: (["train", npy_config(d, "d5.yaml", y="yfloat.npy", extra="loss: binary_cross_entropy\n")], ["labels are floats"]),
    "object array": lambda d, ck, good: (["train", npy_config(d, "d6.yaml", x="xobj.npy")], ["xobj.npy", "object"]),
    "garbage npy": lambda d, ck, good: (["train", npy_config(d, "d7.yaml", x="xgarbage.npy")], ["xgarbage.npy", "not a .npy"]),
    "truncated npy": lambda d, ck, good: (["train", npy_config(d, "d8.yaml", x="xtrunc.npy")], ["xtrunc.npy"]),
    "mnist dir missing": lambda d, ck, good: (["train", write(d, "d9.yaml", f"data: {{name: mnist, path: {d / 'nomnist'}}}\nmodel: {{layers: [784, 10]}}\n")], ["nomnist", "mlp data mnist"]),
    # ---- checkpoints
    "empty checkpoint": lambda d, ck, good: (["eval", write(d, "k1.npz", b"")], ["k1.npz", "empty"]),
    "garbage checkpoint": lambda d, ck, good: (["eval", write(d, "k2.npz", b"PK\x03\x04garbage" * 10)], ["k2.npz"]),
    "truncated checkpoint": lambda d, ck, good: (["eval", write(d, "k3.npz", good[: len(good) // 2])], ["k3.npz"]),
    "checkpoint missing W1": lambda d, ck, good: (["eval", rewrite_checkpoint(ck, d / "k4.npz", drop=("W1",))], ["k4.npz", "W1"]),
    "checkpoint object array": lambda d, ck, good: (["eval", rewrite_checkpoint(ck, d / "k5.npz", replace={"W1": np.array([None] * 16, dtype=object).reshape(8, 2)})], ["k5.npz", "W1"]),
    "checkpoint wrong shape": lambda d, ck, good: (["eval", rewrite_checkpoint(ck, d / "k6.npz", replace={"W1": np.zeros((8, 3), np.float32)})], ["k6.npz", "W1", "(8, 3)"]),
    "checkpoint missing": lambda d, ck, good: (["inspect", d / "k7.npz"], ["k7.npz", "no such checkpoint"]),
    "resume with another model": lambda d, ck, good: (["train", XOR, "--set", "model.layers=[2,5,1]", "--resume", ck, "--out", d / "r2"], ["last.npz", "model.layers ([2, 8, 1] in the run, [2, 5, 1] in"]),
    # ---- command line
    "--set unknown key": lambda d, ck, good: (["train", XOR, "--set", "training.epoks=3"], ["--set training.epoks", "did you mean 'epochs'"]),
    "--set bad value": lambda d, ck, good: (["train", XOR, "--set", "training.epochs=-3"], ["--set training.epochs"]),
    "--set not key=value": lambda d, ck, good: (["train", XOR, "--set", "training.epochs"], ["key.path=value"]),
    "predict wrong width": lambda d, ck, good: (["predict", ck, d / "p3.npy"], ["p3.npy", "3 features but the network expects 2"]),
    "predict object input": lambda d, ck, good: (["predict", ck, d / "pobj.npy"], ["pobj.npy", "object"]),
    "predict missing input": lambda d, ck, good: (["predict", ck, d / "none.npy"], ["none.npy", "no such file"]),
    "eval missing split": lambda d, ck, good: (["eval", ck, "--split", "val"], ["val"]),
    "eval bad --data config": lambda d, ck, good: (["eval", ck, "--data", write(d, "e1.yaml", "data: {name: cifar}\n")], ["e1.yaml:1", "data.name"]),
    "gradcheck bad config": lambda d, ck, good: (["gradcheck", write(d, "g1.yaml", "model: {layers: [2]}\n")], ["g1.yaml:1", "model.layers"]),
    "init unknown preset": lambda d, ck, good: (["init", d / "i.yaml", "--data", "imagenet"], ["imagenet"]),
    # ---- the other commands that read files
    "plot missing run": lambda d, ck, good: (["plot", d / "norun"], ["norun", "no such run directory"]),
    "compare not a run": lambda d, ck, good: (["compare", d], [str(d), "not a run directory"]),
    "export missing checkpoint": lambda d, ck, good: (["export", d / "k8.npz", "--format", "onnx"], ["k8.npz", "no such checkpoint"]),
    "sweep file without space": lambda d, ck, good: (["sweep", XOR, write(d, "s1.yaml", "metric: val_loss\n")], ["s1.yaml", "space"]),
    "mnist idx files missing": lambda d, ck, good: (["data", "mnist", "--from", d / "noidx", "--out", d / "mn"], ["noidx", "train-images"]),
}


TAKES_NO_FILE = {"schema"}  # prints the config's JSON Schema


def test_every_command_that_reads_a_file_has_a_bad_input_case(ws):
    """Against the commands the CLI registers: a new command must bring its bad-input case here."""
    commands = {c.name or c.callback.__name__ for c in app.registered_commands} | {g.name for g in app.registered_groups}
    assert {"train", "eval", "predict"} <= commands  # the registry is the one the CLI runs
    ck = ws / "run" / "last.npz"
    with_cases = {str(make(ws, ck, b"")[0][0]) for make in CASES.values()}
    assert commands - TAKES_NO_FILE <= with_cases, sorted(commands - TAKES_NO_FILE - with_cases)


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_exits_2_with_one_line(ws, name):
    ck = ws / "run" / "last.npz"
    args, expected = CASES[name](ws, ck, ck.read_bytes())  # a fresh copy of the good checkpoint's bytes to cut
    r = runner.invoke(app, [str(a) for a in args])
    assert r.exit_code == 2, (r.exit_code, r.stdout, r.stderr, r.exception)
    err = r.stderr
    assert err.count("\n") == 1 and err.startswith("mlp: error:"), err
    assert "Traceback" not in err and r.exception is None or isinstance(r.exception, SystemExit)
    for part in expected:
        assert part in err, (part, err)
