"""Stop signals as Ctrl-C: a command that SIGTERM or SIGHUP ends unwinds like a KeyboardInterrupt.

Unwinding runs every ``finally`` and ``__exit__`` on the way out: servers, locust and PostgreSQL
are stopped and a run's partial results are saved, whichever way the command was stopped.
"""

from __future__ import annotations

import contextlib
import signal
import threading
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


@contextlib.contextmanager
def held_stop_signals() -> Iterator[None]:
    """In the block a stop signal waits; it is raised as the block ends, with the old handlers.

    For starting a process and taking ownership of it as one step: a KeyboardInterrupt between
    the fork and the owner's record of the child would leave a server that nothing stops.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers run in the main thread alone: nothing can interrupt this one
        return
    held: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        held.append(signum)

    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    for sig, handler in previous.items():
        # An ignored signal stays ignored; one that a C library handles (None) is not ours.
        if handler not in (signal.SIG_IGN, None):
            signal.signal(sig, hold)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            if handler is not None:
                signal.signal(sig, handler)
        if held:
            # The handler in place now decides, as if the signal had come at this moment.
            signal.raise_signal(held[0])
