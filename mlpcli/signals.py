"""SIGINT/SIGTERM during training: set a flag that the loop checks between batches.

The loop then saves a checkpoint and raises ``Interrupted`` (exit 130 or 143). The handler
only sets the flag, so a second signal during the save cannot interrupt the write.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

from .trainer import StopFlag


@contextmanager
def stop_on_signals(signals=(signal.SIGINT, signal.SIGTERM)):
    stop = StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum, frame):
        if not stop.signum:
            stop.signum = signum

    previous = {s: signal.signal(s, handler) for s in signals}
    try:
        yield stop
    finally:
        for s, h in previous.items():
            # once stopping, the process is on its way out: more Ctrl-C must not cut the exit short
            signal.signal(s, signal.SIG_IGN if stop.signum else h)
