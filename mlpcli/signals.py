"""SIGINT/SIGTERM during training: set a flag that the loop checks between batches.

The loop then saves a checkpoint and raises ``Interrupted`` (exit 130 or 143). The handler
only sets the flag, so a second signal during the save cannot interrupt the write. Before
training starts (config, data and checkpoint still being read) there is nothing to save: the
handler raises ``Interrupted`` at once, so a read blocked on an input still stops.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

from .errors import Interrupted
from .trainer import StopFlag


@contextmanager
def stop_on_signals(signals=(signal.SIGINT, signal.SIGTERM)):
    stop = StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum, frame):
        if not stop.armed:  # still reading inputs (perhaps blocked on one): nothing to save, stop now
            raise Interrupted(f"stopped by {signal.Signals(signum).name} before training started; nothing was written", signum)
        if not stop.signum:
            stop.signum = signum

    previous = {s: signal.signal(s, handler) for s in signals}
    try:
        yield stop
    finally:
        for s, h in previous.items():
            # once stopping, the process is on its way out: more Ctrl-C must not cut the exit short
            signal.signal(s, signal.SIG_IGN if stop.signum else h)
