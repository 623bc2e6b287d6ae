"""Stop signals unwind a command like Ctrl-C, and only while it runs."""

from __future__ import annotations

import os
import signal

import pytest

from compare.system.interrupts import held_stop_signals, stop_signals_interrupt


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_stop_signal_raises_keyboard_interrupt_and_handlers_come_back(
    sig: signal.Signals,
) -> None:
    # The default disposition, whatever the test run inherited: under nohup SIGHUP arrives
    # ignored, and an ignored hangup rightly stays ignored (the next test).
    inherited = signal.signal(
        sig, signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL
    )
    try:
        before = signal.getsignal(sig)
        with pytest.raises(KeyboardInterrupt), stop_signals_interrupt():
            os.kill(os.getpid(), sig)  # Python runs the handler before the next statement
        assert signal.getsignal(sig) is before
    finally:
        signal.signal(sig, inherited)


def test_an_ignored_hangup_stays_ignored() -> None:
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under nohup
    try:
        with stop_signals_interrupt():
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, signal.SIG_IGN)
    finally:
        signal.signal(signal.SIGHUP, previous)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_held_stop_signal_lets_the_block_finish_then_interrupts(sig: signal.Signals) -> None:
    finished = []
    with pytest.raises(KeyboardInterrupt), stop_signals_interrupt():
        installed = signal.getsignal(sig)
        with held_stop_signals():
            os.kill(os.getpid(), sig)
            finished.append(True)  # what the block started is owned before the interrupt
        assert signal.getsignal(sig) is installed
        finished.append(False)  # never reached: the held signal is raised as the block ends
    assert finished == [True]


def test_a_block_without_a_stop_signal_runs_as_usual() -> None:
    with stop_signals_interrupt():
        installed = signal.getsignal(signal.SIGTERM)
        with held_stop_signals():
            pass
        assert signal.getsignal(signal.SIGTERM) is installed
