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


def cases(d):
    ck = d / "run" / "last.npz"
    good = ck.read_bytes()
    c = {}
    # ---- configs
    c["malformed yaml"] = (["train", write(d, "c1.yaml", "model: [1, 2\n")], ["c1.yaml", "invalid YAML"])
    c["top-level list"] = (["train", write(d, "c2.yaml", "- a\n- b\n")], ["c2.yaml", "mapping"])
    c["unknown top key"] = (["train", write(d, "c3.yaml", "optimiser: {lr: 0.1}\n")], ["c3.yaml:1", "optimiser", "did you mean 'optimizer'"])
    c["unknown nested key"] = (["train", write(d, "c4.yaml", "training:\n  epoch: 3\n")], ["c4.yaml:2", "training.epoch", "epochs"])
    c["wrong type"] = (["train", write(d, "c5.yaml", "training:\n  epochs: lots\n")], ["c5.yaml:2", "training.epochs"])
    c["negative lr"] = (["train", write(d, "c6.yaml", "optimizer: {lr: -0.1}\n")], ["c6.yaml:1", "optimizer.lr"])
    c["zero batch size"] = (["train", write(d, "c7.yaml", "training: {batch_size: 0}\n")], ["c7.yaml:1", "training.batch_size"])
    c["zero width"] = (["train", write(d, "c8.yaml", "model: {layers: [2, 0, 1]}\n")], ["c8.yaml:1", "model.layers"])
    c["unknown activation"] = (["train", write(d, "c9.yaml", "model: {activation: sigmod}\n")], ["c9.yaml:1", "model.activation", "sigmoid"])
    c["unknown loss"] = (["train", write(d, "c10.yaml", "loss: hinge\n")], ["c10.yaml:1", "loss", "unknown loss"])
    c["unknown optimizer"] = (["train", write(d, "c11.yaml", "optimizer: {name: adamw}\n")], ["c11.yaml:1", "optimizer.name", "adam"])
    c["softmax hidden"] = (["train", write(d, "c12.yaml", "model: {activation: softmax}\n")], ["c12.yaml:1", "model.activation", "output"])
    c["duplicate key"] = (["train", write(d, "c13.yaml", "seed: 1\nseed: 2\n")], ["c13.yaml:2", "duplicate key"])
    c["python tag"] = (["train", write(d, "c14.yaml", "seed: !!python/object/apply:os.system ['true']\n")], ["c14.yaml:1", "invalid YAML"])
    c["missing config"] = (["train", d / "nope.yaml"], ["nope.yaml", "no such config file"])
    c["config is a directory"] = (["train", d], [str(d), "directory"])
    c["width vs data"] = (["train", write(d, "c15.yaml", "model: {layers: [3, 4, 1]}\n")], ["data xor", "model.layers[0] is 3"])
    np.save(d / "y5.npy", np.arange(20) % 5)
    c["label range vs output"] = (["train", npy_config(d, "c16.yaml", y="y5.npy", extra="loss: cross_entropy\n", layers="[2, 4, 3]")],
                                  ["x.npy", "labels range over [0, 4]", "classes 0..2"])
    c["bad early stopping monitor"] = (["train", write(d, "c17.yaml", "training: {early_stopping: {monitor: val_loss}}\n")],
                                       ["c17.yaml:1: training.early_stopping.monitor", "validation_split"])
    c["validation split 1"] = (["train", write(d, "c18.yaml", "data: {validation_split: 1}\n")], ["c18.yaml:1", "data.validation_split"])
    c["init from missing file"] = (["train", write(d, "c19.yaml", f"model: {{init: {{from: {d / 'w.npz'}}}}}\n")], ["model.init.from", "w.npz"])
    # ---- data
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
    c["missing data file"] = (["train", npy_config(d, "d1.yaml", x="missing.npy")], ["missing.npy", "no such file"])
    c["nan in data"] = (["train", npy_config(d, "d2.yaml", x="xnan.npy")], ["x", "NaN"])
    c["inf in data"] = (["train", npy_config(d, "d3.yaml", x="xinf.npy")], ["NaN or infinite"])
    c["x/y length mismatch"] = (["train", npy_config(d, "d4.yaml", y="yshort.npy")], ["20 inputs but 19 targets"])
    c["float labels for classifier"] = (["train", npy_config(d, "d5.yaml", y="yfloat.npy", extra="loss: binary_cross_entropy\n")],
                                        ["labels are floats"])
    c["object array"] = (["train", npy_config(d, "d6.yaml", x="xobj.npy")], ["xobj.npy", "object"])
    c["garbage npy"] = (["train", npy_config(d, "d7.yaml", x="xgarbage.npy")], ["xgarbage.npy", "not a .npy"])
    c["truncated npy"] = (["train", npy_config(d, "d8.yaml", x="xtrunc.npy")], ["xtrunc.npy"])
    c["mnist dir missing"] = (["train", write(d, "d9.yaml", f"data: {{name: mnist, path: {d / 'nomnist'}}}\nmodel: {{layers: [784, 10]}}\n")],
                              ["nomnist", "mlp data mnist"])
    # ---- checkpoints
    c["empty checkpoint"] = (["eval", write(d, "k1.npz", b"")], ["k1.npz", "empty"])
    c["garbage checkpoint"] = (["eval", write(d, "k2.npz", b"PK\x03\x04garbage" * 10)], ["k2.npz"])
    c["truncated checkpoint"] = (["eval", write(d, "k3.npz", good[: len(good) // 2])], ["k3.npz"])
    c["checkpoint missing W1"] = (["eval", rewrite_checkpoint(ck, d / "k4.npz", drop=("W1",))], ["k4.npz", "W1"])
    c["checkpoint object array"] = (["eval", rewrite_checkpoint(ck, d / "k5.npz", replace={"W1": np.array([None] * 16, dtype=object).reshape(8, 2)})],
                                    ["k5.npz", "W1"])
    c["checkpoint wrong shape"] = (["eval", rewrite_checkpoint(ck, d / "k6.npz", replace={"W1": np.zeros((8, 3), np.float32)})],
                                   ["k6.npz", "W1", "(8, 3)"])
    c["checkpoint missing"] = (["inspect", d / "k7.npz"], ["k7.npz", "no such checkpoint"])
    c["resume with another model"] = (["train", XOR, "--set", "model.layers=[2,5,1]", "--resume", ck, "--out", d / "r2"],
                                      ["last.npz", "model.layers ([2, 8, 1] in the run, [2, 5, 1] in"])
    # ---- command line
    c["--set unknown key"] = (["train", XOR, "--set", "training.epoks=3"], ["--set training.epoks", "did you mean 'epochs'"])
    c["--set bad value"] = (["train", XOR, "--set", "training.epochs=-3"], ["--set training.epochs"])
    c["--set not key=value"] = (["train", XOR, "--set", "training.epochs"], ["key.path=value"])
    np.save(d / "p3.npy", np.zeros((4, 3)))
    c["predict wrong width"] = (["predict", ck, d / "p3.npy"], ["p3.npy", "3 features but the network expects 2"])
    np.save(d / "pobj.npy", np.array([object()] * 4, dtype=object), allow_pickle=True)
    c["predict object input"] = (["predict", ck, d / "pobj.npy"], ["pobj.npy", "object"])
    c["predict missing input"] = (["predict", ck, d / "none.npy"], ["none.npy", "no such file"])
    c["eval missing split"] = (["eval", ck, "--split", "val"], ["val"])
    c["eval bad --data config"] = (["eval", ck, "--data", write(d, "e1.yaml", "data: {name: cifar}\n")], ["e1.yaml:1", "data.name"])
    c["gradcheck bad config"] = (["gradcheck", write(d, "g1.yaml", "model: {layers: [2]}\n")], ["g1.yaml:1", "model.layers"])
    c["init unknown preset"] = (["init", d / "i.yaml", "--data", "imagenet"], ["imagenet"])
    return c


CASE_NAMES = [
    "malformed yaml", "top-level list", "unknown top key", "unknown nested key", "wrong type", "negative lr", "zero batch size",
    "zero width", "unknown activation", "unknown loss", "unknown optimizer", "softmax hidden", "duplicate key", "python tag",
    "missing config", "config is a directory", "width vs data", "label range vs output", "bad early stopping monitor",
    "validation split 1", "init from missing file", "missing data file", "nan in data", "inf in data", "x/y length mismatch",
    "float labels for classifier", "object array", "garbage npy", "truncated npy", "mnist dir missing", "empty checkpoint",
    "garbage checkpoint", "truncated checkpoint", "checkpoint missing W1", "checkpoint object array", "checkpoint wrong shape",
    "checkpoint missing", "resume with another model", "--set unknown key", "--set bad value", "--set not key=value",
    "predict wrong width", "predict object input", "predict missing input", "eval missing split", "eval bad --data config",
    "gradcheck bad config", "init unknown preset",
]


def test_case_list_is_complete(ws):
    assert sorted(cases(ws)) == sorted(CASE_NAMES) and len(CASE_NAMES) >= 30


@pytest.mark.parametrize("name", CASE_NAMES)
def test_bad_input_exits_2_with_one_line(ws, name):
    args, expected = cases(ws)[name]
    r = runner.invoke(app, [str(a) for a in args])
    assert r.exit_code == 2, (r.exit_code, r.stdout, r.stderr, r.exception)
    err = r.stderr
    assert err.count("\n") == 1 and err.startswith("mlp: error:"), err
    assert "Traceback" not in err and r.exception is None or isinstance(r.exception, SystemExit)
    for part in expected:
        assert part in err, (part, err)
