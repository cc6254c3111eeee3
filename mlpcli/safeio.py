"""Opening the files a user names: regular files only, reads bounded by bytes actually read.

Every input mlp reads (config, data, checkpoint, predict input) goes through ``check_regular``
or ``open_regular``: a FIFO, a device or a socket is refused up front instead of blocking
on it or reading it forever. A config may also come through an anonymous pipe
(``mlp train <(...)`` or ``/dev/stdin``); its size is then counted as it is read.
``resolved`` is how every ``--json`` output names a path. ``os_reason`` turns an ``OSError`` into the words of the OS (``No space left on device``).
"""

from __future__ import annotations

import os
import stat

KINDS = ((stat.S_ISFIFO, "FIFO (named pipe)"), (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"),
         (stat.S_ISSOCK, "socket"))


def resolved(path) -> str:
    """A path as every ``--json`` output gives it: absolute, symbolic links resolved, whatever the
    current directory (a script may run from anywhere)."""
    return os.path.realpath(os.fspath(path))


def os_reason(e: OSError) -> str:
    return e.strerror or str(e)


def kind_of(mode: int) -> str:
    return next((name for test, name in KINDS if test(mode)), "special file")


def is_anonymous_pipe(path) -> bool:
    """``/dev/stdin`` or ``/dev/fd/N`` naming a pipe (process substitution, ``cmd | mlp ...``)."""
    return os.path.basename(os.path.realpath(path)).startswith("pipe:[")


def check_regular(path, error, noun: str = "file", expected: str = "a regular file", allow_pipe: bool = False):
    """The ``os.stat`` of ``path``, or ``error`` saying why it is not a readable regular file."""
    p = os.fspath(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise error(f"{p}: no such {noun}") from None
    except OSError as e:
        raise error(f"{p}: cannot read: {os_reason(e)}") from None
    if stat.S_ISDIR(st.st_mode):
        raise error(f"{p}: is a directory, expected {expected}")
    if not stat.S_ISREG(st.st_mode) and not (allow_pipe and stat.S_ISFIFO(st.st_mode) and is_anonymous_pipe(p)):
        raise error(f"{p}: is a {kind_of(st.st_mode)}, not a regular file; expected {expected}")
    return st


def open_regular(path, error, noun: str = "file", expected: str = "a regular file"):
    """A binary file object of a regular file; opening never blocks (O_NONBLOCK), and what was
    opened is checked again, so a file swapped for a FIFO after the check is refused too."""
    p = os.fspath(path)
    check_regular(p, error, noun, expected)
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as e:
        raise error(f"{p}: cannot read: {os_reason(e)}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise error(f"{p}: is a {kind_of(mode)}, not a regular file; expected {expected}")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def read_bounded(path, limit: int, error, noun: str = "file", expected: str = "a regular file") -> bytes:
    """At most ``limit`` bytes of a regular file or an anonymous pipe; more is an error, counted
    on the bytes read (a pipe has no size to check first)."""
    p = os.fspath(path)
    st = check_regular(p, error, noun, expected, allow_pipe=True)
    try:
        with open(p, "rb") if stat.S_ISFIFO(st.st_mode) else open_regular(p, error, noun, expected) as f:
            raw = f.read(limit + 1)
    except OSError as e:
        raise error(f"{p}: cannot read: {os_reason(e)}") from None
    if len(raw) > limit:
        raise error(f"{p}: more than {limit:,} bytes, too large for a {noun} (limit {limit:,})")
    return raw


def stdout_console():
    """A Rich console on stdout whose closed pipe (``mlp eval RUN | head -3``) is a ``BrokenPipeError``,
    handled once at the CLI boundary like every other write, instead of Rich's own ``SystemExit(1)``
    (exit 1 means a failed gate)."""
    from rich.console import Console

    class PipeConsole(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise BrokenPipeError(32, "Broken pipe")

    return PipeConsole(highlight=False, soft_wrap=True)  # off a terminal too, a long line is one line: never cut at 80 columns
