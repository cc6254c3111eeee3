"""Validated reads of an ``.npz`` (a zip of ``.npy`` members), for checkpoints and data files:
member names, ``.npy`` headers, dtypes, shapes and declared sizes are checked before any array
data is read, and a member that claims to decompress more than deflate can (a zip bomb) is
refused. Every failure is the caller's error class (CheckpointError, DataError)."""

from __future__ import annotations

import os
import re
import zipfile
import zlib

import numpy as np

from .errors import CheckpointError, MLPError
from .memory import check_allocation
from .safeio import open_regular

MAX_DEFLATE_RATIO = 1100  # deflate cannot compress beyond ~1032:1; a larger claim is a lie
MIN_RATIO_CHECKED = 1 << 20  # members up to 1 MiB may compress as well as they like
MAX_HEADER_BYTES = 10_000
_MEMBER = re.compile(r"^[A-Za-z0-9_.]+\.npy$")


class NpzReader:
    """Reads members of one checkpoint zip, checking each header before any data."""

    def __init__(self, path, error=CheckpointError, noun: str = "checkpoint", max_ratio: int = MAX_DEFLATE_RATIO):
        self.path, self._error = os.fspath(path), error
        f = open_regular(self.path, error, f"{noun} file", f"a {noun} .npz" if noun == "checkpoint" else "an .npz file")
        try:
            size = os.fstat(f.fileno()).st_size
            if size == 0:
                raise error(f"{self.path}: empty file, not a {noun}")
            self.zf = zipfile.ZipFile(f)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
            f.close()
            raise error(f"{self.path}: not a {noun} (.npz zip archive): {e}") from None
        except BaseException:
            f.close()
            raise
        self._file = f
        try:
            self._check_members(size, max_ratio)
        except BaseException:
            self.close()
            raise

    def _check_members(self, size: int, max_ratio: int) -> None:
        infos = self.zf.infolist()
        names = [i.filename for i in infos]
        if len(set(names)) != len(names):
            raise self.error("duplicate members in the archive")
        for n in names:
            if not _MEMBER.match(n):
                raise self.error(f"unexpected member {n!r}")
        for i in infos:  # declared sizes against the file itself: nothing larger is ever allocated
            if i.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise self.error(f"member {i.filename!r} uses an unsupported compression")
            if i.flag_bits & 0x1:
                raise self.error(f"member {i.filename!r} is encrypted")
            if i.header_offset + i.compress_size > size or (
                    i.file_size != i.compress_size if i.compress_type == zipfile.ZIP_STORED
                    else i.file_size > max(max_ratio * max(i.compress_size, 1), MIN_RATIO_CHECKED)):
                raise self.error(f"member {i.filename!r} declares {i.file_size:,} bytes from {i.compress_size:,} "
                                 f"compressed, more than the file can hold (a zip bomb?)")
        self.infos = {i.filename[:-4]: i for i in infos}

    def error(self, msg):
        return self._error(f"{self.path}: {msg}")

    def close(self):
        self.zf.close()
        self._file.close()

    def header(self, name):
        """(file, shape, dtype, nbytes) of a member, checked to be a plain little-endian array."""
        info = self.infos.get(name)
        if info is None:
            raise self.error(f"missing array {name!r}")
        try:
            f = self.zf.open(info)
        except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError, ValueError, EOFError) as e:
            raise self.error(f"array {name!r} cannot be read: {e}") from None
        try:
            try:
                version = np.lib.format.read_magic(f)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(f, max_header_size=MAX_HEADER_BYTES)
                elif version in ((2, 0), (3, 0)):
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(f, max_header_size=MAX_HEADER_BYTES)
                else:
                    raise ValueError(f"unsupported .npy version {version}")
            except Exception as e:  # noqa: BLE001 - any malformed header is one error
                raise self.error(f"array {name!r} has a malformed .npy header: {e}") from None
            if dtype.hasobject or dtype.kind not in "fiubS" or dtype.byteorder == ">":
                raise self.error(f"array {name!r} has dtype {dtype}; expected a plain numeric array")
            if fortran:
                raise self.error(f"array {name!r} is in Fortran order; expected C order")
            nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
            held = info.file_size - f.tell()
            if held != nbytes:
                raise self.error(f"array {name!r} declares {shape} {dtype} ({nbytes} bytes) but its member holds {held} bytes")
        except BaseException:
            f.close()
            raise
        return f, shape, dtype, nbytes

    def read(self, name, shape=None, dtypes=None):
        f, got_shape, dtype, nbytes = self.header(name)
        with f:
            if shape is not None and tuple(got_shape) != tuple(shape):
                raise self.error(f"array {name!r} has shape {tuple(got_shape)}, the config needs {tuple(shape)}")
            if dtypes is not None and dtype not in dtypes:
                raise self.error(f"array {name!r} has dtype {dtype}, expected {' or '.join(map(str, dtypes))}")
            check_allocation(nbytes, f"{self.path}: array {name!r} of shape {tuple(got_shape)}", self._error)
            a = np.empty(got_shape, dtype)
            buf = memoryview(a.reshape(-1).view(np.uint8)) if a.size else memoryview(bytearray())
            try:
                got = f.readinto(buf) if a.size else 0
                extra = f.read(1)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError, zlib.error) as e:  # bad CRC, broken deflate
                raise self.error(f"array {name!r} cannot be read: {e}") from None
            if got != nbytes or extra:
                raise self.error(f"array {name!r} is truncated")
        return a


def open_npz(path, error=CheckpointError, noun: str = "checkpoint", max_ratio: int = MAX_DEFLATE_RATIO) -> NpzReader:
    try:
        return NpzReader(path, error, noun, max_ratio)
    except MLPError:
        raise
    except Exception as e:  # noqa: BLE001
        raise error(f"{os.fspath(path)}: not a readable {noun}: {e}") from None
