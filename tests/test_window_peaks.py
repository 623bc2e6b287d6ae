"""The kernel's peaks over a cell's window: reset and read from the load generator's events."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from compare.run.peakwatch import EventTail, WindowPeaks

DEADLINE_S = 5.0  # for what the watcher does within 20 ms: generous on a machine 3x slower


def wait_for(done: Callable[[], bool]) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not done():
        assert time.monotonic() < deadline, "the watcher did not act"
        time.sleep(0.005)


def event(name: str, t: float) -> bytes:
    return json.dumps({"event": name, "t": t}).encode() + b"\n"


def test_only_whole_new_event_lines_are_read(tmp_path: Path) -> None:
    records = tmp_path / "records-1.jsonl"
    records.write_bytes(b'{"request": {}}\n' + event("test_start", 1.0) + b'{"event": "spawn')
    tail = EventTail(tmp_path)
    assert tail.new() == [("test_start", 1.0)]
    assert tail.new() == []
    with records.open("ab") as handle:  # the half-written line, finished
        handle.write(b'ing_complete", "t": 2.0}\n' + event("test_stopping", 3.0))
    (tmp_path / "records-2.jsonl").write_bytes(event("spawning_complete", 2.5))
    assert tail.new() == [
        ("spawning_complete", 2.0),
        ("test_stopping", 3.0),
        ("spawning_complete", 2.5),
    ]


def test_the_marks_are_reset_when_the_window_opens_and_read_when_it_closes(tmp_path: Path) -> None:
    calls: list[tuple[str, float]] = []
    records = tmp_path / "records-7.jsonl"
    settle = 0.2
    with WindowPeaks(
        tmp_path,
        settle,
        lambda: calls.append(("reset", time.monotonic())),
        lambda: calls.append(("read", time.monotonic())),
    ) as peaks:
        spawned = time.monotonic()
        records.write_bytes(event("spawning_complete", spawned))
        wait_for(lambda: peaks.opened is not None)
        assert calls[0][0] == "reset" and calls[0][1] >= spawned + settle  # never before
        stopping = time.monotonic()
        with records.open("ab") as handle:
            handle.write(event("test_stopping", stopping))
        wait_for(lambda: peaks.closed is not None)
    assert [name for name, _ in calls] == ["reset", "read"] and calls[1][1] >= stopping


def test_a_load_stopped_before_its_window_opened_has_no_window_peaks(tmp_path: Path) -> None:
    calls: list[str] = []
    now = time.monotonic()
    (tmp_path / "records-1.jsonl").write_bytes(
        event("spawning_complete", now) + event("test_stopping", now + 0.01)
    )
    with WindowPeaks(
        tmp_path, 60.0, lambda: calls.append("reset"), lambda: calls.append("read")
    ) as peaks:
        wait_for(lambda: not peaks.watching)
    assert calls == [] and peaks.opened is None and peaks.closed is None
