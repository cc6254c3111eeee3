"""Sizes checked before anything is allocated: the one guard between a config or a file that
declares something huge and a ``MemoryError`` (or the OOM killer, since Linux overcommits).

``check_allocation(nbytes, what)`` refuses (exit 2) what would not fit in the memory
available now, naming ``what`` and the estimate: ``model.layers[1]: 1,000,000,000 units need
~8.0 GB for W1 alone``.
"""

from __future__ import annotations

import os

from .errors import ConfigError, MLPError

FALLBACK_AVAILABLE = 8 << 30  # when the OS does not say (assume a small machine)


def available_bytes() -> int:
    """Memory available to this process now: MemAvailable (Linux), else physical memory, else 8 GiB;
    lowered by an address-space limit (ulimit -v) when one is set."""
    avail = None
    try:
        with open("/proc/meminfo", "rb") as f:
            for line in f:
                if line.startswith(b"MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    if avail is None:
        try:
            avail = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            avail = FALLBACK_AVAILABLE
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft != resource.RLIM_INFINITY:
            avail = min(avail, soft)
    except (ImportError, OSError, ValueError):
        pass
    return avail


def human(nbytes: float) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if nbytes >= size:
            return f"{nbytes / size:.1f} {unit}"
    return f"{int(nbytes)} bytes"


def check_allocation(nbytes: int, what: str, error: type[MLPError] = ConfigError) -> None:
    """Refuse an allocation of ``nbytes`` that does not fit in the memory available: ``what needs ~X``."""
    avail = available_bytes()
    if nbytes > avail:
        raise error(f"{what} needs ~{human(nbytes)}, more than the {human(avail)} of memory available")


def network_too_large(layers, dtype_size: int, batch: int = 1, copies: int = 4) -> tuple[str, str] | None:
    """(key, message) when a network's parameters (times ``copies``: weights, gradients,
    optimiser state) and a batch of activations would not fit; the key names the widest layer."""
    layers = [int(n) for n in layers]
    sizes = [(i, layers[i] * layers[i - 1]) for i in range(1, len(layers))]
    avail = available_bytes()
    for i, n in sizes:  # a single weight matrix that alone does not fit: name it
        if n * dtype_size > avail:
            return (f"model.layers[{i}]", f"{layers[i]:,} units need ~{human(n * dtype_size)} for W{i} alone, "
                    f"more than the {human(avail)} of memory available")
    params = sum(n + layers[i] for i, n in sizes)
    total = (params * copies + batch * sum(layers) * 4) * dtype_size
    if total > avail:
        i = max(sizes, key=lambda s: s[1])[0]
        return (f"model.layers[{i}]", f"{layers[i]:,} units make {params:,} parameters, which need ~{human(total)} "
                f"to train (weights, gradients, optimiser state), more than the {human(avail)} of memory available")
    return None


def data_too_large(n_rows: int, width: int, key: str, copies: int = 3) -> tuple[str, str] | None:
    """(key, message) when ``n_rows`` generated samples of ``width`` float64 numbers would not fit."""
    nbytes = n_rows * width * 8 * copies
    avail = available_bytes()
    if nbytes > avail:
        return key, f"{n_rows:,} samples need ~{human(nbytes)}, more than the {human(avail)} of memory available"
    return None
