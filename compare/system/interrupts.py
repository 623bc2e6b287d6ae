"""Stop signals as Ctrl-C: a command that SIGTERM or SIGHUP ends unwinds like a KeyboardInterrupt.

Unwinding runs every ``finally`` and ``__exit__`` on the way out: servers, locust and PostgreSQL
are stopped and a run's partial results are saved, whichever way the command was stopped.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def stop_signals_interrupt() -> Iterator[None]:
    """In the block, SIGINT, SIGTERM and SIGHUP raise KeyboardInterrupt; the old handlers after."""
    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    # Even when started with SIGINT ignored (a background job of a non-interactive shell, where
    # Python keeps the SIG_IGN it inherits): SIGINT is how these commands are meant to be stopped.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    # An ignored hang-up is nohup's doing: the command is meant to outlive its terminal.
    if previous[signal.SIGHUP] is not signal.SIG_IGN:
        signal.signal(signal.SIGHUP, _interrupt)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def ignore_stop_signals() -> None:
    """Ignore the stop signals from now on: clean-up is not to be cut short by a second Ctrl-C."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
