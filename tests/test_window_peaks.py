"""The kernel's peaks over a cell's window: reset and read from the load generator's events."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from compare.report.metrics import read_cell
from compare.run.lifecycle import MeasuredServer, worker_processes
from compare.run.loadcell import run_load_cell
from compare.run.peakwatch import EventTail, WindowPeaks
from compare.servers.stacks import get_stack
from tests.timed_stack import short_config, short_run

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


class Reader:
    """An independent reader of processes' RSS straight from /proc/PID/status, every 0.5 ms."""

    def __init__(self) -> None:
        self.readings: dict[int, list[tuple[float, int]]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, pids: list[int]) -> None:
        self._thread = threading.Thread(target=self._read, args=(pids,), daemon=True)
        self._thread.start()

    def _read(self, pids: list[int]) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            for pid in pids:
                with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as handle:
                    found = [line for line in handle if line.startswith("VmRSS:")]
                    if found:  # a process exiting has no VmRSS left
                        self.readings.setdefault(pid, []).append(
                            (now, int(found[0].split()[1]) * 1024)
                        )
            time.sleep(0.0005)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def increase(self, since: float, until: float) -> int:
        """Each process's highest RSS in [since, until] over its first reading, summed."""
        return sum(
            max(v for t, v in seq if since <= t <= until) - seq[0][1]
            for seq in self.readings.values()
        )


@pytest.mark.server
def test_a_buffered_bodys_peak_is_what_an_independent_reader_of_proc_sees(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Review [11]: uvicorn builds each 200k-row body (11.7 MB) in memory before sending it, and
    # joins its pieces; the 100 ms samples of tree PSS miss the join's top, the kernel's marks
    # over the window do not. A reader of VmRSS every 0.5 ms, started at the same reset (before
    # the load), sees the same peak.
    reader = Reader()

    class Read(MeasuredServer):
        def reset_peaks(self) -> None:
            super().reset_peaks()
            reader.start([p.pid for p in worker_processes(self.server.pid)])

    monkeypatch.setattr("compare.run.run.MeasuredServer", Read)
    config = short_config(tmp_path, stacks=("uvicorn",), users=1, rows=200_000, workers=1)
    try:
        with short_run(config) as run:
            cell = run_load_cell(run, get_stack("uvicorn"), "buffered", 0, tmp_path / "cell")
    finally:
        reader.stop()
    assert cell["status"] == "ok", cell["error"]
    memory = cell["memory"]
    # The marks were reset as the window opened and read as it closed (within the 20 ms poll).
    opened, closed = (cell["t0"] + cell["window"][end] for end in ("start", "end"))
    since, until = memory["hwm_since"], memory["hwm_until"]
    assert until is not None, "the marks were never read"
    assert since >= opened - 0.06 and abs(until - closed) < 0.5
    f = read_cell(cell)
    independent = reader.increase(since, until) / 1e6
    assert f["peak_pss_increase_mb"] == pytest.approx(independent, rel=0.1, abs=2.0)
    body = max(f.records, key=lambda r: r.bytes).bytes / 1e6
    assert independent > 2 * body  # the pieces, the CSV and the joined body held at once
    sampled, peak = f["peak_sampled_increase_mb"], f["peak_pss_increase_mb"]
    assert sampled is not None and peak is not None and sampled <= peak
