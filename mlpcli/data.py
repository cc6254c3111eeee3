"""Loading a dataset by config name (registered in sources.py, tabledata.py), normalisation
fitted on the training split, and data checks.

``load_data(cfg)`` returns a :class:`Dataset` with ``train``, ``val`` and ``test`` splits of
``(X, y)``. Inputs are float arrays of the training dtype (a very large ``.npy`` stays
memory-mapped and batches are gathered and normalised from it); targets stay as given
(integer labels or float values) and are shaped for the loss by ``losses.targets_for``.
Every check that needs the data (widths, label range, finite values) runs here, before
any training.
"""

from __future__ import annotations

import contextlib
import os

import numpy as np

from .dataset import DATASETS, Dataset, Split
from .errors import DataError
from .memory import available_bytes, check_allocation
from .safeio import open_regular
from .task import Task, fit_config, of_arrays

MATERIALIZE_LIMIT = 2 << 30  # inputs up to 2 GiB (as floats) are normalised once in memory
MAX_NPZ_RATIO = 100  # a data .npz member that decompresses more than 100:1 (above 1 MiB) is a zip bomb


# ---------------------------------------------------------------------------- normalisation
def _chunks(X, rows=None, size=8192):
    """Successive blocks of rows of X (all rows, or the given row indices), as arrays."""
    n = len(X) if rows is None else len(rows)
    for i in range(0, n, size):
        yield i, np.asarray(X[i : i + size] if rows is None else X[rows[i : i + size]])


def fit_normalizer(cfg_data, X, rows=None) -> dict:
    """Statistics from the training inputs only: none, scale (1/scale) or standard (mean, std)."""
    kind = cfg_data.normalize
    if kind == "scale":
        return {"kind": "scale", "scale": float(cfg_data.scale)}
    if kind == "standard":
        mean, sq, n = np.zeros(X.shape[1]), np.zeros(X.shape[1]), 0
        for _, c in _chunks(X, rows):  # chunked: works on memory-mapped files too
            c = c.astype(np.float64)
            mean += c.sum(0)
            sq += (c * c).sum(0)
            n += len(c)
        mean /= n
        std = np.sqrt(np.maximum(sq / n - mean**2, 0.0))
        std[std < 1e-8] = 1.0  # constant features (MNIST's border pixels) are only centred
        return {"kind": "standard", "mean": mean.tolist(), "std": std.tolist()}
    return {"kind": "none"}


def normalize_(X, norm: dict):
    """Apply the normaliser in place to float inputs: X <- (X - shift) * factor."""
    dtype = X.dtype
    if norm["kind"] == "scale":
        X *= np.asarray(1.0 / norm["scale"], dtype)
    elif norm["kind"] == "standard":
        X -= np.asarray(norm["mean"], dtype)
        X *= np.asarray(1.0 / np.asarray(norm["std"]), dtype)
    return X


def prepare_inputs(X, norm, dtype, rows=None, source: str = "", name: str = "inputs", lazy: bool = True):
    """Inputs as the network reads them: normalised floats of the training dtype in memory,
    converted block by block straight from the source (no full-size intermediate), or (``lazy``)
    a lazy view of a file too large for memory. Either way every value is checked to be finite
    after conversion and normalisation (1e39 is inf in float32)."""
    n = len(X) if rows is None else len(rows)
    nbytes = np.dtype(dtype).itemsize * n * X.shape[1]
    if lazy and nbytes > min(MATERIALIZE_LIMIT, available_bytes() // 2):
        view = LazyInputs(X, norm, dtype, rows)
        for i in range(0, n, 8192):
            check_finite(view[i : i + 8192], name, source, dtype)
        return view
    check_allocation(nbytes, f"{source}: {name} ({n:,} x {X.shape[1]:,} {np.dtype(dtype).name})", DataError)
    out = np.empty((n, X.shape[1]), dtype)
    with np.errstate(over="ignore", invalid="ignore"):  # values beyond the dtype's range are reported below
        for i, c in _chunks(X, rows):
            out[i : i + len(c)] = c
            release_pages(X)  # rows are read in order: what is copied is not needed again
        normalize_(out, norm)
    check_finite(out, name, source, dtype)
    return out


def release_pages(X) -> None:
    """Drop a memory-mapped file's pages from this process once its rows are copied (they stay in
    the OS page cache, and later reads of a few rows fault them back in)."""
    mm = getattr(X, "_mmap", None)
    if mm is not None and hasattr(mm, "madvise"):
        import mmap

        with contextlib.suppress(OSError, ValueError):
            mm.madvise(mmap.MADV_DONTNEED)


class LazyInputs:
    """Rows of an array (a memory-mapped file, or a split of one), normalised as they are read.

    Used for splits that are only read in order (validation, test) and for training sets
    larger than memory; ``take`` gathers a batch, slicing gives a block of rows.
    """

    def __init__(self, X, norm, dtype, rows=None):
        self.raw, self.norm, self.dtype, self.rows = X, norm, np.dtype(dtype), rows
        self._stamp = _stamp(X)
        self.shape, self.ndim = (len(X) if rows is None else len(rows), X.shape[1]), 2

    def __len__(self):
        return self.shape[0]

    def _raw_rows(self, idx):
        return self.raw[idx] if self.rows is None else self.raw[self.rows[idx]]

    def __getitem__(self, idx):
        with np.errstate(over="ignore", invalid="ignore"):
            return normalize_(np.asarray(self._raw_rows(idx)).astype(self.dtype), self.norm)

    def take(self, idx, out):
        out[...] = self._raw_rows(np.asarray(idx))
        return normalize_(out, self.norm)

    def check_unchanged(self) -> None:
        """A memory-mapped file rewritten or truncated during the run would kill the process with
        SIGBUS: the trainer calls this at each epoch start (README: the file must not change)."""
        if self._stamp is not None and _stamp(self.raw) != self._stamp:
            raise DataError(f"{self.raw.filename}: changed during the run (its size or modification time); "
                            f"a data file must not change while mlp trains on it")


def _stamp(X):
    """(inode, size, mtime) of the file a memory-mapped array reads, or None."""
    name = getattr(X, "filename", None)
    try:
        st = os.stat(name) if name else None
    except OSError:
        return ("missing",)
    return None if st is None else (st.st_ino, st.st_size, st.st_mtime_ns)


# ---------------------------------------------------------------------------- loading arrays
def load_array(path, what: str = "array") -> np.ndarray:
    """A numeric array from .npy (memory-mapped) or the x/y of an .npz; never unpickles."""
    path = str(path)
    with open_regular(path, DataError, "file", "a .npy file") as f:
        magic = f.read(6)
    if magic != b"\x93NUMPY" and not magic.startswith(b"PK"):
        raise DataError(f"{path}: not a .npy or .npz file")
    if magic.startswith(b"PK"):
        raise DataError(f"{path}: an .npz holds several arrays; give it as the split itself (train: {path})")
    try:
        a = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as e:
        msg = str(e)
        if "pickle" in msg.lower() or "object" in msg.lower():
            raise DataError(f"{path}: holds Python objects (an object array); expected a numeric array") from None
        raise DataError(f"{path}: not a readable .npy/.npz file: {' '.join(msg.split())}") from None
    except (OSError, EOFError) as e:
        raise DataError(f"{path}: not a readable .npy/.npz file: {e}") from None
    return _numeric(a, path)


def _numeric(a, path):
    if a.dtype.kind not in "biuf" or a.dtype.hasobject:
        raise DataError(f"{path}: dtype {a.dtype} is not numeric; expected integers or floats")
    return a


def load_xy(spec, what: str) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) of an ``XY`` config: two .npy files, or one .npz with arrays x and y."""
    if spec.y is None:
        from .npzread import open_npz

        path = spec.x
        r = open_npz(path, DataError, "data", MAX_NPZ_RATIO)
        try:
            if not {"x", "y"} <= set(r.infos):
                raise DataError(f"{path}: expected an .npz with arrays 'x' and 'y' (or give {what}.y)")
            X, y = _numeric(r.read("x"), f"{path}[x]"), _numeric(r.read("y"), f"{path}[y]")
        finally:
            r.close()
        return X, y
    return load_array(spec.x), load_array(spec.y)


def _check_split(X, y, name, source):
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    elif X.ndim > 2:  # images (n, h, w) or (n, h, w, c): one row of features per sample, as predict does
        X = X.reshape(len(X), -1)
    if X.ndim != 2:
        raise DataError(f"{source}: {name} inputs have shape {X.shape}; expected (n_samples, n_features)")
    if y.ndim == 2 and y.shape[1] == 1 and y.dtype.kind in "biu":
        y = y[:, 0]  # a column of integer labels is a vector of labels
    if len(X) != len(y):
        raise DataError(f"{source}: {name} has {len(X)} inputs but {len(y)} targets")
    if len(X) == 0:
        raise DataError(f"{source}: {name} split is empty")
    if y.ndim > 2:
        raise DataError(f"{source}: {name} targets have shape {y.shape}; expected (n,) or (n, k)")
    return X, y


def check_finite(a, name, source, dtype=None):
    """Refuse NaN and infinities; with ``dtype``, ``a`` is already converted (and normalised), and
    the message says so (1e39 is a finite float64 but inf in float32)."""
    if a.dtype.kind == "f":
        rows = max(1, (1 << 20) // max(1, a[:1].size))  # blocks of about 2^20 values: memory-mapped files are
        for i in range(0, len(a), rows):  # not read whole, and the test's booleans take 1 MiB
            if not np.isfinite(a[i : i + rows]).all():
                how = (f" after conversion to {np.dtype(dtype).name} and normalisation (values beyond {np.dtype(dtype).name}'s "
                       f"range, or a data.scale too small?)") if dtype is not None else ""
                raise DataError(f"{source}: {name} contain NaN or infinite values{how}")


def _finite_targets(y, name, source, dtype):
    """Float targets as the loss sees them, in the training dtype, must be finite."""
    if y.dtype.kind == "f":
        for i in range(0, len(y), 65536):
            with np.errstate(over="ignore"):
                if not np.isfinite(np.asarray(y[i : i + 65536], dtype=dtype)).all():
                    raise DataError(f"{source}: {name} contain values that are NaN or infinite in {np.dtype(dtype).name}")


def load_data(cfg, rng=None, normalizer: dict | None = None, task: Task | None = None) -> Dataset:
    """The dataset ``cfg.data`` for the model ``cfg.model``, loaded, split, checked and normalised
    (``load_for_model``, whose config with the data's ends this returns without)."""
    return load_for_model(cfg, rng, normalizer, task)[1]


def load_for_model(cfg, rng=None, normalizer: dict | None = None, task: Task | None = None):
    """(the config with the network's ends the data decides, the Dataset): ``cfg.data`` loaded,
    split, checked and normalised for the model ``cfg.model``.

    The task is decided here, once, from the config and the training targets (task.py), and the
    normaliser fitted on the training split, unless they are given (a checkpoint's, at eval and
    predict time). The data is checked against the network the config describes, its ``auto``
    ends sized by the data (``task.fit_config``).
    """
    from .rng import streams

    d = cfg.data
    rng = rng if rng is not None else streams(cfg.seed)["data"]
    entry = DATASETS.entry(d.name)
    if entry.whole:  # a dataset that splits and encodes itself (a table: tabledata.py); its widths checked here
        ds = entry.impl(cfg, rng, normalizer, task)
        shaped = fit_config(cfg, ds.task, ds.train.X.shape[1])
        for name, s in ds.splits().items():
            check_fits_model(shaped, ds.task, s.X, s.y, ds.source, name, ds.feature_names)
        return shaped, ds
    source = d.source()
    (Xtr, ytr), test = entry.impl(d, rng)
    Xtr, ytr = _check_split(np.asarray(Xtr) if not isinstance(Xtr, np.memmap) else Xtr, np.asarray(ytr), "train", source)
    if test is not None:
        Xte, yte = _check_split(test[0], np.asarray(test[1]), "test", source)
    test_source = d.test.x if d.name == "npy" and d.test is not None else source
    for a, n, src in ((Xtr, "train inputs", source), (ytr, "train targets", source)) + (
            ((Xte, "test inputs", test_source), (yte, "test targets", test_source)) if test is not None else ()):
        check_finite(a, n, src)
        if n.endswith("targets"):
            _finite_targets(a, n, src, cfg.training.dtype)
    task = task if task is not None else of_arrays(ytr, cfg.loss, cfg.model.layers[-1])
    shaped = fit_config(cfg, task, Xtr.shape[1])
    check_fits_model(shaped, task, Xtr, ytr, source, "train")
    if test is not None:
        check_fits_model(shaped, task, Xte, yte, source, "test")

    train_rows = val_rows = None  # the split is kept as row indices: no copy of the raw inputs
    if d.validation_split:
        n_val = int(round(len(ytr) * d.validation_split))
        if n_val < 1 or n_val >= len(ytr):
            raise DataError(f"{source}: validation_split {d.validation_split} of {len(ytr)} samples leaves an empty split")
        perm = rng.permutation(len(ytr))
        val_rows, train_rows = np.sort(perm[:n_val]), np.sort(perm[n_val:])
    norm = normalizer if normalizer is not None else fit_normalizer(d, Xtr, train_rows)
    dtype = cfg.training.dtype
    y_train = np.array(ytr) if train_rows is None else ytr[train_rows]  # targets are small: in memory
    # every split in memory (a file changed during the run cannot reach validation or test), but a
    # training set too large for memory, which stays memory-mapped and is checked at each epoch start
    ds = Dataset(train=Split(prepare_inputs(Xtr, norm, dtype, train_rows, source, "train inputs"), y_train),
                 task=task, normalizer=norm, source=source)
    if val_rows is not None:
        ds.val = Split(prepare_inputs(Xtr, norm, dtype, val_rows, source, "validation inputs", lazy=False), ytr[val_rows])
    if test is not None:
        ds.test = Split(prepare_inputs(Xte, norm, dtype, None, test_source, "test inputs", lazy=False), np.array(yte))
    return shaped, ds


def check_fits_model(cfg, task: Task, X, y, source, name, features=None) -> None:
    """The checks that need both data and model: input width, target kind and label range.
    ``features``: the names of a table's encoded inputs, for the width's message."""
    layers, loss = cfg.model.layers, cfg.loss
    k = layers[-1]
    if X.shape[1] != layers[0] and features is not None:
        raise DataError(f"{source}: the table gives {len(features)} inputs ({', '.join(features[:8])}"
                        f"{', ...' if len(features) > 8 else ''}: numeric columns and one per category) but "
                        f"model.layers[0] is {layers[0]}")
    if X.shape[1] != layers[0]:
        raise DataError(f"{source}: {name} inputs have {X.shape[1]} features but model.layers[0] is {layers[0]}")
    integer = y.dtype.kind in "biu"
    if task.classification:
        if y.ndim == 1:
            if not integer:
                if loss == "binary_cross_entropy" and np.isin(y, (0.0, 1.0)).all():
                    return
                raise DataError(f"{source}: {name} labels are floats ({y.dtype}); {loss} needs integer class labels "
                                f"(or one-hot rows)")
            lo, hi = int(y.min()), int(y.max())
            n_classes = 2 if k == 1 else k
            if lo < 0 or hi >= n_classes:
                raise DataError(f"{source}: {name} labels range over [{lo}, {hi}] but the output layer "
                                f"({k} unit{'s' if k > 1 else ''}) predicts classes 0..{n_classes - 1}")
        elif y.shape[1] != k:
            raise DataError(f"{source}: {name} targets have {y.shape[1]} columns but model.layers[-1] is {k}")
    else:
        width = 1 if y.ndim == 1 else y.shape[1]
        if width != k:
            raise DataError(f"{source}: {name} targets have {width} column(s) but model.layers[-1] is {k}")
