"""``mlp data mnist``: the official MNIST IDX files to the four ``.npy`` files of ``data: {name: mnist}``.

Each file is verified by the SHA-256 of its IDX content (after gunzip), so a plain file, the
official ``.gz`` and a recompressed ``.gz`` are all accepted and anything else is refused.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import struct
import urllib.request
import zlib

import numpy as np

from .errors import DataError, WriteError
from .safeio import open_regular, os_reason

FILES = {  # our name: (official file name, SHA-256 of the uncompressed IDX content, shape)
    "train_images": ("train-images-idx3-ubyte", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db", (60000, 28, 28)),
    "train_labels": ("train-labels-idx1-ubyte", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", (60000,)),
    "test_images": ("t10k-images-idx3-ubyte", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", (10000, 28, 28)),
    "test_labels": ("t10k-labels-idx1-ubyte", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", (10000,)),
}
MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/")
MAX_IDX_BYTES = 60 << 20


def parse_idx(raw: bytes, source: str) -> np.ndarray:
    """An IDX file (magic 0x0000 08 <ndim>: unsigned bytes) as a uint8 array."""
    if len(raw) < 4 or raw[:3] != b"\x00\x00\x08":
        raise DataError(f"{source}: not an IDX file of unsigned bytes")
    ndim = raw[3]
    dims = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    if len(raw) != 4 + 4 * ndim + int(np.prod(dims)):
        raise DataError(f"{source}: IDX header declares {dims} but the file holds {len(raw)} bytes")
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _read(path: str) -> bytes:
    gz = False
    try:
        with open_regular(path, DataError, "file", "an IDX file") as f:
            gz = f.read(2) == b"\x1f\x8b"
            f.seek(0)
            with gzip.GzipFile(fileobj=f, mode="rb") if gz else contextlib.nullcontext(f) as src:
                raw = src.read(MAX_IDX_BYTES + 1)
    except (OSError, EOFError, zlib.error) as e:  # a corrupt .gz: bad header, broken deflate stream, bad CRC
        raise DataError(f"{path}: cannot read{' (corrupt .gz)' if gz else ''}: {e}") from None
    if len(raw) > MAX_IDX_BYTES:
        raise DataError(f"{path}: larger than any MNIST file")
    return raw


def _verified(raw: bytes, name: str, source: str) -> np.ndarray:
    official, digest, shape = FILES[name]
    got = hashlib.sha256(raw).hexdigest()
    if got != digest:
        raise DataError(f"{source}: SHA-256 {got[:16]}... does not match the official {official} ({digest[:16]}...)")
    a = parse_idx(raw, source)
    if a.shape != shape:
        raise DataError(f"{source}: shape {a.shape}, expected {shape}")
    return a


def find_local(src: str, name: str) -> str:
    official = FILES[name][0]
    for cand in (official, official + ".gz", official.replace("-idx", ".idx"), official.replace("-idx", ".idx") + ".gz"):
        p = os.path.join(src, cand)
        if os.path.exists(p):
            return p
    raise DataError(f"{src}: no {official} or {official}.gz")


def download(name: str, timeout: float = 30.0) -> bytes:
    official = FILES[name][0] + ".gz"
    mirrors = os.environ.get("MLPCLI_MNIST_MIRROR", "").split() or MIRRORS
    errors = []
    for base in mirrors:
        url = base.rstrip("/") + "/" + official
        try:
            with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - fixed https mirrors
                data = r.read(MAX_IDX_BYTES)
            return gzip.decompress(data)
        except Exception as e:  # noqa: BLE001 - try the next mirror
            errors.append(f"{base}: {getattr(e, 'reason', e)}")
    raise DataError(f"cannot download MNIST ({'; '.join(errors)}); offline? give the IDX files with --from DIR")


def convert(out: str, src: str | None = None, report=print) -> dict:
    """Write train/test images and labels as .npy into ``out`` (from ``src`` or downloaded)."""
    from .checkpoint import atomic_write

    arrays = {}  # all four read and verified before anything is written: a bad file writes nothing
    for name in FILES:
        if src is not None:
            path = find_local(src, name)
            arrays[name] = _verified(_read(path), name, path)
        else:
            arrays[name] = _verified(download(name), name, f"download of {FILES[name][0]}")
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        raise WriteError(f"{out}: cannot create the output directory: {os_reason(e)}") from None
    written = {}
    for name, arr in arrays.items():
        dest = os.path.join(out, name + ".npy")
        atomic_write(dest, lambda f, a=arr: np.lib.format.write_array(f, np.ascontiguousarray(a), allow_pickle=False))
        written[name] = {"path": dest, "shape": list(arr.shape), "sha256": FILES[name][1]}
        report(f"{dest}: {arr.shape} uint8, verified")
    return written
