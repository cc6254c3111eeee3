"""How many threads NumPy's BLAS uses, and a tuner that follows the cores training actually gets.

NumPy's wheels ship OpenBLAS (``scipy-openblas``), whose thread count can be changed while a
program runs through its ``*_set_num_threads`` function; :func:`blas` finds it with ctypes in
the library NumPy loaded. Another or an unknown BLAS gives ``None``, and training then runs
with whatever threads that BLAS chose: the count is a speed setting, never a correctness one.

Why tune at all: with every core busy, a GEMM split over two threads waits for the thread
whose core is shared (OpenBLAS's threads spin while they wait), so one competing process can
make an MNIST epoch two to three times slower with two threads than with one. The README
("Threads") says how the count is chosen and how to force it.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import math
import os
import time

import numpy as np

from .errors import ConfigError
from .hooks import Callback

ENV = "MLPCLI_THREADS"  # forces a thread count, like --threads and training.threads

# (setter, getter) symbol names: NumPy's scipy-openblas (64-bit and 32-bit integer builds), plain OpenBLAS
_SYMBOLS = [("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
            ("scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads"),
            ("openblas_set_num_threads64_", "openblas_get_num_threads64_"),
            ("openblas_set_num_threads", "openblas_get_num_threads")]


class BlasThreads:
    """Get and set the thread count of one loaded OpenBLAS."""

    def __init__(self, path, setter, getter):
        self.path, self._set, self._get = path, setter, getter
        self._set.argtypes, self._set.restype, self._get.restype = [ctypes.c_int], None, ctypes.c_int
        self.initial = self.get()

    def get(self) -> int:
        return int(self._get())

    def set(self, n: int) -> None:
        self._set(int(n))


_BLAS: list = []  # [BlasThreads | None] once looked up


def blas() -> BlasThreads | None:
    """NumPy's OpenBLAS, or None when NumPy uses another BLAS (or none is found)."""
    if not _BLAS:
        _BLAS.append(_find())
    return _BLAS[0]


def _candidates():
    import numpy as np

    here = os.path.dirname(np.__file__)
    yield from sorted(glob.glob(os.path.join(here + ".libs", "*openblas*")))  # Linux wheels
    yield from sorted(glob.glob(os.path.join(here, ".dylibs", "*openblas*")))  # macOS wheels
    with contextlib.suppress(OSError), open("/proc/self/maps") as f:  # any other OpenBLAS loaded (Linux)
        yield from sorted({line.split()[-1] for line in f if "openblas" in line.rsplit("/", 1)[-1].lower()})


def _find() -> BlasThreads | None:
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)  # already loaded by NumPy: this returns the same library
        except OSError:
            continue
        for set_name, get_name in _SYMBOLS:
            setter, getter = getattr(lib, set_name, None), getattr(lib, get_name, None)
            if setter is not None and getter is not None:
                return BlasThreads(path, setter, getter)
    return None


def cores() -> int:
    """The cores this process may run on (its affinity mask, where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def requested(config_value="auto") -> int | None:
    """The thread count to force: ``training.threads`` (which ``mlp train --threads N`` sets), else
    $MLPCLI_THREADS; ``None`` when both are ``auto`` (or unset): the tuner decides."""
    env = os.environ.get(ENV, "").strip()
    value, where = (config_value, "training.threads") if config_value not in (None, "auto") else (env, ENV)
    if value in ("", "auto"):
        return None
    text = str(value).strip()
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(f"{where}: expected a thread count >= 1 or 'auto' (got {value!r})")
    return int(text)


def idle_seconds() -> float | None:
    """CPU seconds all cores have spent idle since boot (Linux's /proc/stat), or None."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
        return (int(fields[4]) + int(fields[5])) / os.sysconf("SC_CLK_TCK")  # idle + iowait
    except (OSError, ValueError, IndexError, AttributeError):
        return None


class ThreadTuner:
    """Chooses the BLAS thread count while training runs, from the time of its steps.

    Call :meth:`tick` once per training step (and :meth:`pause` before work that is not a
    step). Steps are timed in windows of about ``window_seconds`` (sized in steps from the first
    ones, and ended early when they take twice that); a window's time is its median step time. At the start every count from the most threads down to one is tried
    for a window, and the fastest kept. Afterwards a *trial* of a neighbouring count runs
    for one window:

    * one thread fewer, when a window is ``slowdown`` times slower than the best window seen
      at the current count (cores are being taken);
    * one thread more, while below the most threads, when about half a core or more sat idle
      during the last window (cores are free again), or else every so often.

    A trial's count is kept only if its window is faster by ``margin`` (a trial whose steps take
    three times the old count's is stopped at once); each lost trial
    doubles the wait before the next one in that direction (from ``recheck`` up to
    ``max_recheck`` seconds; an idle core shortens the wait back to ``recheck``). On an idle
    machine no trial runs after the first windows.
    """

    def __init__(self, control: BlasThreads, most: int, *, window_seconds=0.15, slowdown=1.25, margin=0.05,
                 recheck=4.0, max_recheck=32.0, clock=time.perf_counter, idle=idle_seconds):
        self.control, self.most = control, max(1, most)
        self.window_seconds, self.slowdown, self.margin = window_seconds, slowdown, margin
        self.recheck, self.max_recheck, self.clock, self.idle = recheck, max_recheck, clock, idle
        self.count = self.most
        self.control.set(self.count)
        self.best: dict[int, float] = {}  # count -> fastest window (median step seconds) seen
        self.times = np.empty(4)  # step seconds of the window so far: the first 4 size the windows
        self.n, self.window_steps, self.elapsed = 0, 0, 0.0
        self.last = None
        self.calibrating = list(range(self.most - 1, 0, -1))  # counts still to try at the start
        self.trial: tuple | None = None  # (count before the trial, its window time, at the start?)
        self.wait = {-1: recheck, +1: recheck}  # seconds before the next trial, by direction
        self.last_try = {-1: -math.inf, +1: -math.inf}
        self.window_start = (None, None)  # (clock, idle seconds) when the window began
        self.switches = 0

    def tick(self) -> None:
        now = self.clock()
        if self.last is not None:
            dt = now - self.last
            self.times[self.n] = dt  # into a preallocated buffer: training allocates nothing per step
            self.n += 1
            self.elapsed += dt
        self.last = now
        n = self.n
        if not (n == len(self.times)
                or (n >= 3 and self.elapsed >= 2 * self.window_seconds)  # steps became much slower than when sized
                or (self.trial is not None and self.elapsed > 3 * n * self.trial[1])):  # a trial this slow cannot win
            return
        t, self.n, self.elapsed = float(np.median(self.times[:n])), 0, 0.0
        if self.window_steps:
            self._window(t, now)
        else:  # the first steps: windows of about window_seconds
            self.window_steps = max(8, min(2000, int(self.window_seconds / max(t, 1e-7))))
            self.times = np.empty(self.window_steps)
            self.window_start = (now, self.idle())

    def pause(self) -> None:
        """The next interval is not a step (evaluation, checkpoints between epochs): do not time it,
        and do not count the idle cores of this window (the pause may have left them idle)."""
        self.last = None
        self.window_start = (None, None)

    def _idle_cores(self, now) -> float:
        """Cores idle on average since the window began (0 where the OS does not tell)."""
        (t0, idle0), idle1 = self.window_start, self.idle()
        self.window_start = (now, idle1)
        return 0.0 if idle0 is None or idle1 is None or now <= t0 else (idle1 - idle0) / (now - t0)

    def _window(self, t: float, now: float) -> None:
        idle = self._idle_cores(now)
        self.best[self.count] = min(t, self.best.get(self.count, t))
        if self.trial is not None:
            t = self._end_trial(t, now)
        if self.calibrating:
            self._try(self.calibrating.pop(0), t, now, calibrating=True)
        elif self.count > 1 and t > self.best[self.count] * self.slowdown and self._due(-1, now):
            self._try(self.count - 1, t, now)
        elif self.count < self.most and self._due(+1, now, idle_core=idle >= 0.5):
            self._try(self.count + 1, t, now)

    def _due(self, direction: int, now: float, idle_core=False) -> bool:
        wait = min(self.wait[direction], self.recheck) if idle_core else self.wait[direction]
        return now - self.last_try[direction] >= wait

    def _try(self, n: int, t_now: float, now: float, calibrating=False) -> None:
        self.trial = (self.count, t_now, calibrating)
        if not calibrating:
            self.last_try[1 if n > self.count else -1] = now
        self._set(n)

    def _end_trial(self, t: float, now: float) -> float:
        """Keep the trial's count if it was faster; returns the window time of the count kept.
        Trials after the start back off: a loss doubles the wait in its direction."""
        prev, t_prev, calibrating = self.trial
        self.trial = None
        direction = 1 if self.count > prev else -1
        won = t < t_prev * (1 - self.margin)
        if calibrating:
            self.last_try[+1] = now  # more threads were just measured: look again after the usual wait
        elif won:
            self.wait[direction] = 0.0  # it helped: the next step in that direction may help too
            self.wait[-direction], self.last_try[-direction] = self.recheck, now
        else:
            self.wait[direction] = min(max(self.wait[direction], self.recheck / 2) * 2, self.max_recheck)
        if won:
            return t
        self._set(prev)
        return t_prev

    def _set(self, n: int) -> None:
        if n != self.count:
            self.switches += 1
        self.count = n
        self.control.set(n)


SPLIT_MNK = 65536 * 4  # OpenBLAS runs a GEMM (m, k) @ (k, n) with m*n*k at most this on one thread


def tuner_for(forced: int | None, largest_gemm: int) -> ThreadTuner | None:
    """Apply a forced thread count now; otherwise return a tuner when there is a choice to
    make: NumPy's OpenBLAS found, more than one core, and a GEMM per step (``largest_gemm`` =
    m*n*k) big enough for OpenBLAS to split. Call ``restore()`` when training ends."""
    control = blas()
    if control is None:
        return None
    if forced is not None:
        control.set(forced)
        return None
    if largest_gemm <= SPLIT_MNK:  # steps OpenBLAS never splits: another thread would only split the evaluations
        control.set(1)  # between epochs, and busy-wait ~0.1 s after each on a core others could use
        return None
    most = min(control.initial, cores())
    return ThreadTuner(control, most) if most >= 2 else None


def restore() -> None:
    """The BLAS's own thread count again, after training forced or tuned it."""
    control = blas()
    if control is not None:
        control.set(control.initial)


@contextlib.contextmanager
def at_most(n: int):
    """Inside, this process's BLAS runs at most ``n`` threads, as if it had started with ``n``:
    training tunes within them and gives them back (a sweep's share of the cores per worker)."""
    control = blas()
    if control is None:
        yield
        return
    before = control.initial
    control.initial = max(1, min(n, before))
    control.set(control.initial)
    try:
        yield
    finally:
        control.initial = before
        control.set(before)


# ---------------------------------------------------------------------------- the training callback
class ThreadCount(Callback):
    """While training runs: the forced BLAS thread count, or the tuner's (a callback, see
    mlpcli/callbacks.py). The BLAS gets its own count back when training aborts, or from the
    trainer once its final evaluation is done."""

    order = 0

    def __init__(self, forced: int | None, largest_gemm: int):
        self.forced, self.largest_gemm, self.tuner = forced, largest_gemm, None

    def apply(self) -> None:
        """Set this run's count (again): the count is one setting for the whole process."""
        if self.tuner is not None:
            self.tuner.control.set(self.tuner.count)
        elif self.forced is not None and blas() is not None:
            blas().set(self.forced)

    def on_train_start(self, trainer) -> None:
        self.tuner = tuner_for(self.forced, self.largest_gemm)

    def on_abort(self, trainer, reason) -> None:
        restore()  # after a normal end, the trainer restores once its final evaluation is done


class TunedThreadCount(ThreadCount):
    """ThreadCount that also times every batch for the tuner."""

    def on_batch_end(self, trainer, loss) -> None:
        if self.tuner is not None:
            self.tuner.tick()

    def on_epoch_end(self, trainer, row):
        if self.tuner is not None:
            self.tuner.pause()  # validation and checkpoints follow: not steps
        return None


def thread_callback(trainer) -> ThreadCount:
    """The callback that sets training's BLAS threads; it sees every batch only when there is something to tune."""
    count = requested(trainer.cfg.training.threads)
    m = trainer.model
    largest = trainer.batch_size * max(a * b for a, b in zip(m.layers[:-1], m.layers[1:], strict=True))
    tune = count is None and largest > SPLIT_MNK and blas() is not None and min(blas().initial, cores()) > 1
    return (TunedThreadCount if tune else ThreadCount)(count, largest)
