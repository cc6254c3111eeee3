"""One error type per layer, caught once at the CLI boundary (exit codes in SPEC §4)."""


class MLPError(Exception):
    """Base class: a problem the user can act on. ``exit_code`` is what the CLI returns."""

    exit_code = 2


class ConfigError(MLPError):
    """The configuration is invalid (bad YAML, unknown key, wrong type, bad value)."""


class DataError(MLPError):
    """The data cannot be loaded or does not fit the model."""


class CheckpointError(MLPError):
    """A checkpoint is missing, malformed, corrupted or does not fit the config."""


class RunDirError(MLPError):
    """The run directory cannot be used (holds a run already, or is locked by another)."""


class WriteError(MLPError):
    """A file cannot be written: read-only or missing directory, disk full, file too large."""


class DependencyError(MLPError):
    """An optional dependency (an extra) is not installed."""


def require(module: str, extra: str, what: str):
    """``module`` imported, or a DependencyError: ``what``, then the command that installs ``extra``."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise DependencyError(f'{what}: python -m pip install -e ".[{extra}]"') from None


class DivergenceError(MLPError):
    """Training produced a non-finite loss or weights."""

    exit_code = 3


class Interrupted(MLPError):
    """Training was stopped by a signal after saving a checkpoint."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.exit_code = 128 + signum


def did_you_mean(name: str, valid) -> str:
    """' (did you mean 'x'?)' for the closest valid name, or ''."""
    import difflib

    close = difflib.get_close_matches(str(name), [str(v) for v in valid], n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def unknown_name(kind: str, name, valid, hint=None) -> str:
    """The message for a name that is not in a registry: a suggestion (``hint``, by default the
    closest spelling) plus the valid names."""
    hint = did_you_mean(name, valid) if hint is None else hint
    return f"unknown {kind} {name!r}{hint} (valid: {', '.join(valid)})"
