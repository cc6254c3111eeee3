import io
import json
import os
import tracemalloc
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlpcli
from mlpcli import checkpoint
from mlpcli.checkpoint import atomic_write, read_checkpoint, save_checkpoint, synced_together
from mlpcli.errors import CheckpointError


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    d = tmp_path_factory.mktemp("ck")
    cfg = mlpcli.load_config(None, ["optimizer=adam", "training.epochs=2", "data.repeat=2", "training.batch_size=2",
                                    "data.validation_split=0.25", "training.early_stopping=true"])
    mlpcli.train(cfg, run_dir=d / "run")
    path = d / "run" / "last.npz"
    arrays, meta, _ = read_checkpoint(path)
    return path, arrays


def test_plain_numpy_reads_it_without_pickle(ckpt):
    path, arrays = ckpt
    with np.load(path, allow_pickle=False) as z:
        assert set(z.files) == set(arrays) | {"meta"}
        meta = json.loads(z["meta"].item().decode())
        np.testing.assert_array_equal(z["W1"], arrays["W1"])
    assert meta["format"] == "mlpcli-checkpoint" and meta["epoch"] == 2 and set(meta["sha256"]) == set(arrays)
    assert {"exp_avg.W1", "exp_avg_sq.b2", "best.W1"} <= set(arrays)
    assert meta["rng"]["shuffle"]["bit_generator"] == "PCG64" and meta["config"]["optimizer"]["name"] == "adam"


def _zip_with(members: dict, comment=b""):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.comment = comment
        for name, data in members.items():
            z.writestr(name + ".npy", data)
    return buf.getvalue()


def _npy_header(shape, dtype="<f4"):
    h = io.BytesIO()
    np.lib.format.write_array_header_1_0(h, {"descr": dtype, "fortran_order": False, "shape": shape})
    return h.getvalue()


def _peak_bytes(fn):
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError) as e:
            fn()
        return tracemalloc.get_traced_memory()[1], str(e.value)
    finally:
        tracemalloc.stop()


def test_header_claiming_1e12_elements_is_refused_without_allocating(ckpt, tmp_path):
    path, _ = ckpt
    with zipfile.ZipFile(path) as z:
        members = {i.filename[:-4]: z.read(i) for i in z.infolist()}
        comment = z.comment
    members["W1"] = _npy_header((1_000_000, 1_000_000)) + b"\0" * 64
    bad = tmp_path / "huge.npz"
    bad.write_bytes(_zip_with(members, comment))
    peak, msg = _peak_bytes(lambda: read_checkpoint(bad))
    assert "W1" in msg and peak < 20_000_000


def test_size_claim_consistent_with_config_is_still_bounded_by_the_file(ckpt, tmp_path):
    """Even a config asking for a 10^8-element W1 (400 MB, which would fit in memory) cannot make the
    reader allocate it: the file is small."""
    path, _ = ckpt
    with zipfile.ZipFile(path) as z:
        meta = json.loads(np.load(io.BytesIO(z.read("meta.npy"))).item())
    meta["config"]["model"]["layers"] = [10_000, 10_000]
    meta["has_best"], meta["optimizer"] = False, None
    meta_bytes = json.dumps(meta).encode()
    mbuf = io.BytesIO()
    np.lib.format.write_array(mbuf, np.array(meta_bytes))
    import hashlib

    raw = _zip_with({"meta": mbuf.getvalue(), "W1": _npy_header((10_000, 10_000)) + b"\0" * 64,
                     "b1": _npy_header((10_000,)) + b"\0" * 64},
                    ("mlpcli-meta-sha256:" + hashlib.sha256(meta_bytes).hexdigest()).encode())
    bad = tmp_path / "claim.npz"
    bad.write_bytes(raw)
    peak, msg = _peak_bytes(lambda: read_checkpoint(bad))
    assert peak < 20_000_000 and ("declares" in msg or "holds" in msg)


MUTATIONS = st.one_of(
    st.tuples(st.just("flip"), st.lists(st.tuples(st.integers(0, 10**7), st.integers(1, 255)), min_size=1, max_size=4)),
    st.tuples(st.just("truncate"), st.integers(0, 10**7)),
    st.tuples(st.just("swap"), st.tuples(st.integers(0, 50), st.integers(0, 50))),
    st.tuples(st.just("reorder"), st.randoms(use_true_random=False)),
)


def mutate(raw: bytes, m) -> bytes:
    kind, arg = m
    if kind == "flip":
        b = bytearray(raw)
        for pos, x in arg:
            b[pos % len(b)] ^= x
        return bytes(b)
    if kind == "truncate":
        return raw[: arg % len(raw)]
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        infos = z.infolist()
        data = [(i.filename, z.read(i)) for i in infos]
        comment = z.comment
    if kind == "swap":  # two members exchange their contents under the same names
        i, j = arg[0] % len(data), arg[1] % len(data)
        data[i], data[j] = (data[i][0], data[j][1]), (data[j][0], data[i][1])
    else:
        arg.shuffle(data)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.comment = comment
        for name, d in data:
            z.writestr(name, d)
    return buf.getvalue()


@settings(max_examples=600, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(m=MUTATIONS)
def test_mutated_checkpoint_raises_checkpoint_error_or_loads_identical(ckpt, tmp_path_factory, m):
    path, arrays = ckpt
    bad = tmp_path_factory.getbasetemp() / "mutant.npz"
    bad.write_bytes(mutate(path.read_bytes(), m))
    try:
        got, _, _ = read_checkpoint(bad)
    except CheckpointError:
        return
    assert set(got) == set(arrays)
    for k in arrays:
        assert np.array_equal(got[k], arrays[k]) and got[k].dtype == arrays[k].dtype


def test_every_array_checksum_is_verified(ckpt, tmp_path):
    path, arrays = ckpt
    with zipfile.ZipFile(path) as z:
        members = {i.filename[:-4]: z.read(i) for i in z.infolist()}
        comment = z.comment
    w = arrays["W2"].copy()
    w[0, 0] += 1
    buf = io.BytesIO()
    np.lib.format.write_array(buf, w)
    members["W2"] = buf.getvalue()  # a valid array with a valid CRC, but not the one the checksum names
    bad = tmp_path / "tampered.npz"
    bad.write_bytes(_zip_with(members, comment))
    with pytest.raises(CheckpointError, match="W2.*SHA-256"):
        read_checkpoint(bad)


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path):
    p = tmp_path / "f.bin"
    p.write_bytes(b"old")

    def boom(f):
        f.write(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(p, boom)
    assert p.read_bytes() == b"old" and os.listdir(tmp_path) == ["f.bin"]


def test_files_written_together_share_one_directory_fsync(tmp_path, monkeypatch):
    synced = []
    monkeypatch.setattr(checkpoint, "fsync_dir", synced.append)
    atomic_write(tmp_path / "alone", lambda f: f.write(b"1"))
    assert synced == [str(tmp_path)]  # a write on its own syncs its directory at once
    with synced_together():
        atomic_write(tmp_path / "a", lambda f: f.write(b"a"))
        atomic_write(tmp_path / "b", lambda f: f.write(b"b"))
        assert len(synced) == 1  # not yet: the block's end syncs the directory once for both
    assert synced == [str(tmp_path)] * 2 and (tmp_path / "a").read_bytes() == b"a" and (tmp_path / "b").read_bytes() == b"b"


def test_non_finite_arrays_are_never_saved(tmp_path):
    with pytest.raises(ValueError, match="non-finite"):
        save_checkpoint(tmp_path / "x.npz", {"W1": np.array([np.nan], np.float32)}, {"config": {}})
    assert not (tmp_path / "x.npz").exists()


def test_a_directory_without_a_checkpoint_says_what_to_give(tmp_path):
    from mlpcli.checkpoint import find_checkpoint

    with pytest.raises(CheckpointError, match="a directory without best.npz or last.npz; give a run directory"):
        find_checkpoint(tmp_path)
    (tmp_path / "sweep.csv").write_text("trial,state\n")
    with pytest.raises(CheckpointError, match="a sweep directory; give one of its trials' run directories .*best.yaml"):
        find_checkpoint(tmp_path)
    (tmp_path / "last.npz").write_bytes(b"")
    assert find_checkpoint(tmp_path) == str(tmp_path / "last.npz")
