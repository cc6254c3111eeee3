"""What every ``mlp`` command shares: the error boundary, JSON output, common options.

``command`` turns library errors into one line on stderr and their exit code; ``emit_json``
prints one strict JSON object. ``Commands`` lets the modules of ``mlpcli/commands/`` declare
commands that ``cli.py`` adds to the app, in the order ``mlp --help`` lists them.
"""

from __future__ import annotations

import functools
import sys

import typer

SET_HELP = "Override a config key, value parsed as YAML (repeatable): --set optimizer.lr=0.05"
SET = typer.Option([], "--set", "-s", metavar="KEY=VALUE", help=SET_HELP)


def fail(message: str, code: int = 2):
    """One line on stderr (one per error when a config has several), then exit with ``code``."""
    lines = [" ".join(line.split()) for line in str(message).splitlines()]
    sys.stderr.write("".join(f"mlp: error: {line}\n" for line in lines if line) or "mlp: error:\n")
    raise typer.Exit(code)


def require_finite(**options) -> None:
    """Numbers given on the command line are finite: ``--min-accuracy nan`` is bad usage, not a gate."""
    import math

    for name, value in options.items():
        if value is not None and not math.isfinite(value):
            fail(f"--{name.replace('_', '-')} must be a finite number (got {value})")


def gate_failed(message: str):
    """A CI gate was not met: one line on stderr, exit 1."""
    sys.stderr.write(f"mlp: gate failed: {message}\n")
    raise typer.Exit(1)


CHECKPOINT = typer.Argument(..., metavar="RUN_DIR|CKPT",
                            help="Run directory (its best.npz, else last.npz) or a checkpoint .npz written by mlp train.")
JSON_OUT = typer.Option(False, "--json", help="Print one JSON object on stdout (logs stay on stderr).")


def command(fn):
    """Turn library errors into one stderr line and the exit code of their type."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from .errors import MLPError

        try:
            result = fn(*args, **kwargs)
            sys.stdout.flush()  # a full stdout (/dev/full) fails here, not at interpreter exit
            return result
        except MLPError as e:
            fail(str(e), e.exit_code)
        except KeyboardInterrupt:
            sys.stderr.write("mlp: interrupted\n")
            raise typer.Exit(130) from None
        except BrokenPipeError:
            _silence_stdout()
            raise typer.Exit(0) from None
        except OSError as e:  # the environment failed: a full disk or stdout, a missing or read-only place
            from .safeio import os_reason

            if e.filename is None:
                _silence_stdout()
            fail(f"{e.filename or '<stdout>'}: {os_reason(e)}")
        except MemoryError:
            fail("out of memory (the network or the data is too large for this machine; try smaller model.layers "
                 "or training.batch_size)")

    return wrapper


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush of unwritable output cannot fail."""
    import contextlib
    import os

    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def emit_json(obj) -> None:
    """One strict JSON object on stdout: NaN and infinities, which JSON has no words for, become null."""
    import json

    text = json.dumps(_strict(obj), indent=2, default=_json_default, allow_nan=False)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _strict(o):
    import math

    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, dict):
        return {k: _strict(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_strict(v) for v in o]
    if type(o).__module__ == "numpy":
        return _strict(_json_default(o))
    return o


def _json_default(o):
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


class Commands:
    """Commands declared away from the app, added to it (in the order declared) by ``register``."""

    def __init__(self):
        self.entries = []

    def command(self, *args, **kwargs):
        """Like ``app.command(...)``: the same arguments, ``examples=[...]`` included."""

        def declare(fn):
            self.entries.append((args, kwargs, fn))
            return fn

        return declare

    def register(self, app) -> None:
        for args, kwargs, fn in self.entries:
            app.command(*args, **kwargs)(fn)
