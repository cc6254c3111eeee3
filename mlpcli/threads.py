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
    """Chooses the BLAS thread count while training runs, by timing its steps at each count.

    Call :meth:`tick` once per training step (and :meth:`pause` before work that is not a
    step). Steps are timed in windows of ``window_seconds``; a window's figure is its *mean*
    step time. Not the median: beside a competing process, most steps of a split GEMM finish
    at full speed and every few steps one waits a whole scheduler time slice for the core it
    shares, so the median step looks fast while the epoch takes three times as long.

    A *probe* compares the count in use with a neighbour (one thread fewer or more): windows
    alternate between the two, ``rounds`` of the neighbour's, so load that changes meanwhile
    hits both alike. The neighbour is kept only if the median of its windows beats the median
    of the others by ``margin``; one neighbour window ``reject`` times slower than those ends
    the probe at once. Probes run

    * at the start, after one warm-up window, and again at once while stepping down keeps winning;
    * every ``recheck`` seconds of training, doubling after each probe that keeps the count up
      to ``max_recheck`` (an idle machine: a probe of one thread fewer, less and less often);
    * soon (``react`` seconds of training after the last probe at the earliest) when three windows
      in a row are ``slowdown`` times slower than the count's usual (cores are being taken: one
      thread fewer), or when about half a core sat idle through a window below the most threads
      (cores are free again: one more).
    """

    def __init__(self, control: BlasThreads, most: int, *, window_seconds=0.08, rounds=3, margin=0.05, reject=1.5,
                 slowdown=1.3, react=1.0, recheck=3.0, max_recheck=30.0, clock=time.perf_counter, idle=idle_seconds):
        self.control, self.most = control, max(1, most)
        self.window_seconds, self.rounds, self.margin, self.reject = window_seconds, rounds, margin, reject
        self.slowdown, self.react, self.recheck, self.max_recheck = slowdown, react, recheck, max_recheck
        self.clock, self.idle = clock, idle
        self.count = self.most
        self.control.set(self.count)
        self.n, self.elapsed, self.last = 0, 0.0, None  # steps and seconds of the window so far
        self.seconds = dict.fromkeys(range(1, self.most + 1), 0.0)  # seconds of steps timed so far, at each count
        self.warmup = True  # the first window (cold caches, first touches of the buffers) is not compared
        self.usual: float | None = None  # the count in use's usual window (its last probe's median, or faster since)
        self.recent: list[float] = []  # the last windows outside probes, at most three
        self.interval, self.next_probe, self.probe_end = recheck, 0.0, 0.0
        self.direction = -1  # of the next scheduled probe
        self.probe: tuple | None = None  # (count in use, neighbour, {count: window times}) while probing
        self.window_start = (None, None)  # (clock, idle seconds) when the window began
        self.switches = self.probes = 0

    def tick(self) -> None:
        now = self.clock()
        last, self.last = self.last, now
        if last is None:
            return
        self.n += 1
        self.elapsed += now - last
        if self.elapsed >= self.window_seconds:  # a step slower than a window is a window
            t = self.elapsed / self.n
            self.seconds[self.count] += self.elapsed
            self.n, self.elapsed = 0, 0.0
            self._window(t, now)

    @property
    def trained(self) -> float:
        """Seconds of steps timed so far, at any count: probes are scheduled on this clock."""
        return sum(self.seconds.values())

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
        if self.warmup:
            self.warmup = False
        elif self.probe is not None:
            self._probe_window(t)
        else:
            self._watch(t, idle)

    def _watch(self, t: float, idle: float) -> None:
        """A window at the count in use, outside probes: start one when due."""
        recent = self.recent = [*self.recent[-2:], t]
        usual = self.usual = t if self.usual is None else min(self.usual, sorted(recent)[len(recent) // 2])
        soon = self.probe_end + self.react
        if len(recent) == 3 and min(recent) > usual * self.slowdown and self.count > 1:
            self.next_probe, self.direction = min(self.next_probe, soon), -1
        elif idle >= 0.5 and self.count < self.most:
            self.next_probe, self.direction = min(self.next_probe, soon), +1
        if self.trained >= self.next_probe:
            step = self.direction if 1 <= self.count + self.direction <= self.most else -self.direction
            if 1 <= self.count + step <= self.most:
                self.probe = (self.count, self.count + step, {self.count: [t], self.count + step: []})
                self.probes += 1
                self._set(self.count + step)

    def _probe_window(self, t: float) -> None:
        home, other, times = self.probe
        times[self.count].append(t)
        if self.count == home:
            self._set(other)
            return
        ours, theirs = float(np.median(times[home])), float(np.median(times[other]))
        if t > self.reject * ours:  # far slower: this probe cannot win, stop paying for it
            self._end_probe(home, ours)
        elif len(times[other]) < self.rounds:
            self._set(home)
        else:
            self._end_probe(other, theirs) if theirs < ours * (1 - self.margin) else self._end_probe(home, ours)

    def _end_probe(self, keep: int, usual: float) -> None:
        home, other, _ = self.probe
        self.probe, self.usual, self.recent, self.probe_end = None, usual, [], self.trained
        self._set(keep)
        if keep == home:  # no better: look again later, less often each time
            self.next_probe = self.trained + self.interval
            self.interval = min(2 * self.interval, self.max_recheck)
            return
        self.interval, self.direction = self.recheck, other - home  # it helped: the next step that way may too, at once
        onward = 1 <= keep + self.direction <= self.most
        self.next_probe = self.trained + (0.0 if onward else self.recheck)
        self.direction = self.direction if onward else -self.direction

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
