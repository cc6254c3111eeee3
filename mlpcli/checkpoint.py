"""Checkpoints: ``.npz`` files of plain arrays plus a JSON ``meta`` entry; nothing is pickled.

Members: ``W1, b1, W2, ...`` (``W_l`` shaped (out, in)), optimiser state as
``<slot>.<param>`` (e.g. ``exp_avg.W1``), optionally ``best.<param>`` (early stopping's
best weights), and ``meta``: a 0-d bytes array holding UTF-8 JSON (format version, the
resolved config, normalisation statistics, epoch, step, RNG states, metrics, and the
SHA-256 of every other array).

Reading validates before it allocates: member names, ``.npy`` headers, dtypes and shapes
(implied by the config in ``meta``) and declared sizes are all checked before any array
data is read; then each array's checksum is verified. Every failure is a CheckpointError.
Writes are atomic and durable: temporary file in the same directory, fsync, os.replace,
fsync of the directory.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import zipfile

import numpy as np

from .errors import CheckpointError, ConfigError, MLPError, WriteError
from .npzread import NpzReader, open_npz

FORMAT, VERSION = "mlpcli-checkpoint", 1
COMMENT_PREFIX = "mlpcli-meta-sha256:"
MAX_META_BYTES = 64 << 20


# ---------------------------------------------------------------------------- durable writes
def fsync_dir(path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


_DEFERRED_DIRS: list = []  # inside synced_together(): [set of directories whose fsync waits for the block's end]


@contextlib.contextmanager
def synced_together():
    """Atomic writes in this block fsync each file as usual but their directory once, at the end:
    files written together (config.yaml and the first last.npz; last.npz and best.npz) are all
    durable when the block returns, for one directory fsync instead of one each."""
    _DEFERRED_DIRS.append(set())
    try:
        yield
    finally:
        for d in sorted(_DEFERRED_DIRS.pop()):
            fsync_dir(d)


def atomic_write(path, write) -> None:
    """Call ``write(f)`` on a temporary file beside ``path``, then fsync and rename it into place.

    The temporary name is created exclusively (a file or directory already there is never
    reused); an OS failure (disk full, read-only, file too large) is a WriteError naming the
    path, and leaves ``path`` as it was.
    """
    path = os.fspath(path)
    d = os.path.dirname(os.path.abspath(path))
    tmp = None
    try:
        fd, tmp = _exclusive_temp(d, os.path.basename(path))
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        if isinstance(e, OSError):
            from .safeio import os_reason

            raise WriteError(f"{path}: cannot write: {os_reason(e)}") from None
        raise
    if _DEFERRED_DIRS:
        _DEFERRED_DIRS[-1].add(d)
    else:
        fsync_dir(d)


def _exclusive_temp(d: str, base: str):
    """(fd, path) of a new temporary file ``.<base>.<pid>[-n].tmp`` in directory ``d``."""
    for i in range(100):
        tmp = os.path.join(d, f".{base}.{os.getpid()}{'' if i == 0 else f'-{i}'}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(17, "no free temporary name", os.path.join(d, f".{base}.{os.getpid()}.tmp"))


def atomic_write_text(path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def sha256(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).view(np.uint8).reshape(-1).data).hexdigest() if a.size else hashlib.sha256(b"").hexdigest()


def save_checkpoint(path, arrays: dict, meta: dict, raw_json: dict | None = None) -> None:
    """Write arrays and meta (with every array's SHA-256) atomically to ``path``. ``raw_json`` adds
    meta entries already encoded as JSON bytes (the history, whose rows are encoded once each)."""
    arrays = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    for k, v in arrays.items():
        if v.dtype.kind == "f" and not np.isfinite(v).all():
            raise ValueError(f"refusing to save non-finite array {k}")
    meta = {**meta, "format": FORMAT, "version": VERSION, "sha256": {k: sha256(v) for k, v in arrays.items()}}
    meta_bytes = json.dumps(meta, separators=(",", ":")).encode("utf-8")
    for key, encoded in (raw_json or {}).items():  # spliced in before the closing brace
        meta_bytes = meta_bytes[:-1] + b"," + json.dumps(key).encode() + b":" + encoded + b"}"
    arrays["meta"] = np.array(meta_bytes)  # 0-d bytes: UTF-8 JSON

    def write(f):
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            zf.comment = (COMMENT_PREFIX + hashlib.sha256(meta_bytes).hexdigest()).encode()  # guards meta itself
            for name, a in arrays.items():
                with zf.open(name + ".npy", "w", force_zip64=True) as m:
                    np.lib.format.write_array(m, a, allow_pickle=False)

    atomic_write(path, write)


def param_shapes(layers, bias: bool) -> dict:
    """The parameters of ``layers``, in order, as in a checkpoint: W1 (m_1, n_0), b1 (m_1,), W2, ..."""
    shapes = {}
    for i, (n, m) in enumerate(zip(layers[:-1], layers[1:], strict=False), start=1):
        shapes[f"W{i}"] = (m, n)
        if bias:
            shapes[f"b{i}"] = (m,)
    return shapes


# ---------------------------------------------------------------------------- validated reads
def _read_meta(r: NpzReader) -> dict:
    f, shape, dtype, nbytes = r.header("meta")
    f.close()
    if dtype.kind != "S" or shape != ():
        raise r.error(f"'meta' has dtype {dtype} and shape {shape}; expected a JSON string")
    if nbytes > MAX_META_BYTES:
        raise r.error(f"'meta' is {nbytes} bytes, over the {MAX_META_BYTES} limit")
    raw = r.read("meta")[()]
    expected = r.zf.comment.decode("ascii", "replace")
    if not expected.startswith(COMMENT_PREFIX) or hashlib.sha256(raw).hexdigest() != expected[len(COMMENT_PREFIX):]:
        raise r.error("'meta' fails its SHA-256 checksum (the file is corrupted)")
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise r.error(f"'meta' is not valid JSON: {e}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise r.error(f"not an {FORMAT} file (meta.format is {meta.get('format') if isinstance(meta, dict) else meta!r})")
    if meta.get("version") != VERSION:
        raise r.error(f"checkpoint format version {meta.get('version')!r}; this mlpcli reads version {VERSION}")
    if not isinstance(meta.get("sha256"), dict) or not isinstance(meta.get("config"), dict):
        raise r.error("'meta' lacks the config or the checksums")
    return meta


def expected_arrays(cfg, meta: dict) -> dict:
    """name -> shape of every array the checkpoint of this config must hold (meta aside)."""
    from .optimizers import OPTIMIZERS

    shapes = param_shapes(cfg.model.layers, cfg.model.bias)
    out = dict(shapes)
    opt = meta.get("optimizer") or {}
    if opt:
        cls = OPTIMIZERS[cfg.optimizer.name]
        slots = cls(0, np.float32, **cfg.optimizer.hyperparams()).slots
        for s in slots:
            out.update({f"{s}.{k}": v for k, v in shapes.items()})
    if meta.get("has_best"):
        out.update({f"best.{k}": v for k, v in shapes.items()})
    return out


def find_checkpoint(path, prefer=("best.npz", "last.npz")) -> str:
    """The checkpoint a user means: a file as it is; in a run directory the first of ``prefer``."""
    path = os.fspath(path)
    if not os.path.isdir(path):
        return path
    for name in prefer:
        if os.path.isfile(os.path.join(path, name)):
            return os.path.join(path, name)
    if os.path.isfile(os.path.join(path, "sweep.csv")):
        raise CheckpointError(f"{path}: a sweep directory; give one of its trials' run directories "
                              f"({os.path.join(path, 'trial-NNNN')}): best.yaml names the best one")
    raise CheckpointError(f"{path}: a directory without {' or '.join(prefer)}; "
                          "give a run directory written by mlp train, or a checkpoint .npz")


def read_checkpoint(path) -> tuple[dict, dict, object]:
    """(arrays, meta, cfg) of a checkpoint (or of a run directory's best.npz, else last.npz), fully validated."""
    from .checkmeta import validate_meta  # pydantic models a training that writes checkpoints never builds
    from .config import validate

    path = find_checkpoint(path)
    r = open_npz(path)
    try:
        meta = _read_meta(r)
        try:
            cfg = validate(meta["config"], f"{r.path} (its config)")
        except ConfigError as e:
            raise r.error(f"its config is invalid: {e}") from None
        validate_meta(meta, cfg, r.path)
        expected = expected_arrays(cfg, meta)
        present = set(r.infos) - {"meta"}
        if present != set(expected):
            extra, missing = sorted(present - set(expected)), sorted(set(expected) - present)
            raise r.error("does not fit its config: " + "; ".join(
                ([f"missing {', '.join(missing)}"] if missing else []) + ([f"unexpected {', '.join(extra)}"] if extra else [])))
        dtype = np.dtype(cfg.training.dtype)
        for name in expected:  # every header first: nothing is allocated for a bad file
            f, shape, dt, _ = r.header(name)
            f.close()
            if tuple(shape) != expected[name]:
                raise r.error(f"array {name!r} has shape {tuple(shape)}, the config needs {expected[name]}")
            if dt != dtype:
                raise r.error(f"array {name!r} has dtype {dt}, the config's training.dtype is {dtype}")
        arrays = {}
        for name in expected:
            a = r.read(name, expected[name], (dtype,))
            if meta["sha256"].get(name) != sha256(a):
                raise r.error(f"array {name!r} fails its SHA-256 checksum (the file is corrupted)")
            if not np.isfinite(a).all():
                raise r.error(f"array {name!r} holds NaN or infinite values")
            arrays[name] = a
        return arrays, meta, cfg
    except MLPError as e:
        raise CheckpointError(str(e)) from None
    except Exception as e:  # noqa: BLE001 - any malformed input is one CheckpointError
        raise r.error(f"unreadable: {type(e).__name__}: {e}") from None
    finally:
        r.close()


def read_weights(path, net) -> dict:
    """Starting weights for ``init: {from: PATH}``: a checkpoint, or a plain .npz of W1, b1, ..."""
    path = os.fspath(path)
    r = open_npz(path)
    try:
        is_checkpoint = "meta" in r.infos
    finally:
        r.close()
    if is_checkpoint:
        arrays = read_checkpoint(path)[0]
    else:
        r = open_npz(path)
        try:
            extra = sorted(set(r.infos) - set(net.names))
            if extra:
                raise ConfigError(f"model.init.from: {path} holds {', '.join(extra)}, which this network "
                                  f"({', '.join(net.names)}) does not have")
            arrays = {}
            for name in net.names:
                if name not in r.infos:
                    raise ConfigError(f"model.init.from: {path} has no {name} (the network needs {', '.join(net.names)})")
                f, shape, dt, _ = r.header(name)
                f.close()
                if tuple(shape) != net.shapes[name]:
                    raise ConfigError(f"model.init.from: {name} in {path} has shape {tuple(shape)}, "
                                      f"model.layers {net.layers} need {net.shapes[name]}")
                if dt.kind not in "fiu":
                    raise ConfigError(f"model.init.from: {name} in {path} has dtype {dt}; expected numbers")
                arrays[name] = r.read(name, net.shapes[name])
        finally:
            r.close()
    for name in net.names:
        if name not in arrays:
            raise ConfigError(f"model.init.from: {path} has no {name}")
        if tuple(arrays[name].shape) != net.shapes[name]:
            raise ConfigError(f"model.init.from: {name} in {path} has shape {tuple(arrays[name].shape)}, "
                              f"model.layers {net.layers} need {net.shapes[name]}")
        if not np.isfinite(arrays[name]).all():
            raise ConfigError(f"model.init.from: {name} in {path} holds NaN or infinite values")
    return {k: arrays[k] for k in net.names}
