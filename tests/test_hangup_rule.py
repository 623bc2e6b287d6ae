"""The hang-up verdict's rule (compare.run.streamcheck._hang_up) on given CPU seconds: no server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import pytest

from compare.run import streamcheck
from compare.run.streamcheck import After, Cost
from compare.servers.server import ServerProcess

SERVER = cast(ServerProcess, object())
# A buffered response: its headers came with its body, so the client gives up on a timer.
BUFFERED = Cost(wall_s=0.56, first_byte_s=0.55, headers_s=0.55, cpu_s=0.56)
# A buffered one whose headers came at once (Django under ASGI sends them, then lists a sync
# generator whole): the client still gives up on the timer, the work having begun by then.
BUFFERED_EARLY_HEADERS = Cost(wall_s=0.66, first_byte_s=0.62, headers_s=0.002, cpu_s=0.64)
# A streamed one: its headers came at once, so the client hangs up once they are in.
STREAMED = Cost(wall_s=0.56, first_byte_s=0.1, headers_s=0.005, cpu_s=0.56)
# A streamed one whose headers came with its first byte (gunicorn's): the client gives up on the
# timer, and the stack, held back by the socket buffers, has done little by then.
STREAMED_LATE_HEADERS = Cost(wall_s=0.56, first_byte_s=0.005, headers_s=0.005, cpu_s=0.56)


def _probe(
    monkeypatch: pytest.MonkeyPatch, befores: list[float], after_cpu_s: float
) -> list[float]:
    """Each try spends the next of ``befores`` before its hang-up; the last, ``after_cpu_s``."""
    asked: list[float] = []
    tries: Iterator[float] = iter(befores)

    def ask(*args: Any) -> float:
        asked.append(next(tries))
        return asked[-1]

    def spent(server: Any, full: Cost, runs_on: float | None = 0.25) -> After:
        return After(after_cpu_s, 0.3, 0.3)

    monkeypatch.setattr(streamcheck, "_ask_and_leave", ask)
    monkeypatch.setattr(streamcheck, "_spent_after", spent)
    return asked


def test_a_give_up_before_the_work_began_is_asked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    # The first try found a worker that had not begun (its first request): 1% done, nothing after.
    asked = _probe(monkeypatch, [0.005, 0.14], after_cpu_s=0.4)
    stops, note = streamcheck._hang_up(SERVER, "/x", BUFFERED)
    assert asked == [0.005, 0.14]
    assert stops is False and note.startswith("runs on")


def test_a_buffered_response_is_given_up_on_the_timer_whenever_its_headers_came() -> None:
    # Leaving as soon as early headers are in raced the listing's start: no work, read "stops".
    assert BUFFERED_EARLY_HEADERS.give_up_s == pytest.approx(0.25 * 0.62)
    assert BUFFERED.give_up_s == pytest.approx(0.25 * 0.55)
    assert STREAMED.give_up_s is None  # streamed, headers early: leave once they are in
    assert STREAMED_LATE_HEADERS.give_up_s is not None


def test_a_buffered_response_with_early_headers_is_asked_again_when_too_early(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked = _probe(monkeypatch, [0.0, 0.16], after_cpu_s=0.2)
    stops, note = streamcheck._hang_up(SERVER, "/x", BUFFERED_EARLY_HEADERS)
    assert asked == [0.0, 0.16]
    assert stops is False and note.startswith("runs on")


def test_always_too_early_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    _probe(monkeypatch, [0.0, 0.01, 0.02], after_cpu_s=0.0)
    stops, note = streamcheck._hang_up(SERVER, "/x", BUFFERED)
    assert stops is None and "too early to tell" in note


@pytest.mark.parametrize("full", [STREAMED, STREAMED_LATE_HEADERS], ids=["early", "with-body"])
def test_a_streamed_response_is_never_too_early(
    monkeypatch: pytest.MonkeyPatch, full: Cost
) -> None:
    # Its work waits on the client: however little it did by the hang-up, it had begun.
    asked = _probe(monkeypatch, [0.005], after_cpu_s=0.01)
    stops, note = streamcheck._hang_up(SERVER, "/x", full)
    assert asked == [0.005]
    assert stops is True and note.startswith("quiet")


def test_always_too_late_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    _probe(monkeypatch, [0.5, 0.5, 0.5], after_cpu_s=0.0)
    stops, note = streamcheck._hang_up(SERVER, "/x", STREAMED)
    assert stops is None and "too late to tell" in note
