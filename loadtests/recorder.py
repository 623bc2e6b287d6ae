"""One locust process's raw records, written to its own file as the load runs.

Each process (a headless run, or each worker and the master of a distributed one) appends to
``DIR/records-<pid>.jsonl``; the harness merges every file of the directory after the run. The
file is flushed every FLUSH_S by a greenlet and once more when locust quits, so a process killed
mid-run loses at most the last fraction of a second, never the whole cell.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import IO

import gevent

from loadtests.record import BIN_S, RequestRecord

logger = logging.getLogger(__name__)

FLUSH_S = 0.5


class Recorder:
    """Collects request records, byte counts per time bin and run events; None dir: keeps none."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self._lines: list[str] = []
        self._bins: defaultdict[int, int] = defaultdict(int)
        self._failed: defaultdict[int, int] = defaultdict(int)  # bytes of failed requests
        self._file: IO[str] | None = None
        self._flusher: gevent.Greenlet[[], None] | None = None
        self._users = 0
        # Counted requests (for the adaptive window): when each began and ended, and those in
        # flight by id (a record's first_byte is set on it as the body begins).
        self._starts: list[float] = []
        self._ends: list[float] = []
        self._in_flight: dict[int, RequestRecord] = {}

    @property
    def enabled(self) -> bool:
        """Whether anything is kept (a run without --record-dir keeps nothing)."""
        return self.directory is not None

    def new_user(self) -> int:
        """A number for a new simulated user, unique within this process."""
        self._users += 1
        return os.getpid() * 100_000 + self._users

    def started(self, record: RequestRecord) -> None:
        """Count a request that just began (it is kept when it ends, by ``request``)."""
        self._starts.append(record.start)
        self._in_flight[id(record)] = record

    def started_since(self, t: float) -> int:
        """How many counted requests began at or after ``t``, finished or not."""
        return sum(1 for s in self._starts if s >= t)

    def finished_since(self, t: float) -> int:
        """How many counted requests ended at or after ``t``."""
        return sum(1 for e in self._ends if e >= t)

    def awaiting_first_byte(self, before: float) -> int:
        """How many counted requests that began before ``before`` still have no first byte."""
        return sum(1 for r in self._in_flight.values() if r.start < before and r.first_byte is None)

    def request(self, record: RequestRecord) -> None:
        """Keep one finished request."""
        if self._in_flight.pop(id(record), None) is not None:
            self._ends.append(record.end)
        if self.enabled:
            self._lines.append(json.dumps({"request": record.as_json()}))

    def body_bytes(self, count: int) -> int:
        """Count body bytes that just arrived; return their time bin (now)."""
        index = int(time.monotonic() / BIN_S)
        if self.enabled and count:
            self._bins[index] += count
        return index

    def failed_bytes(self, bins: Mapping[int, int]) -> None:
        """Count again, apart, the body bytes (per time bin) of a request that then failed."""
        if self.enabled:
            for index, count in bins.items():
                self._failed[index] += count

    def event(self, name: str) -> None:
        """Note when something happened to the run (spawning complete, stopping)."""
        if self.enabled:
            self._lines.append(json.dumps({"event": name, "t": time.monotonic()}))
            self.flush()

    def start(self) -> None:
        """Open the file and flush it periodically from a greenlet."""
        if self.directory is None or self._flusher is not None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"records-{os.getpid()}.jsonl"
        self._file = path.open("a", encoding="utf-8")
        self._flusher = gevent.spawn(self._flush_loop)

    def _flush_loop(self) -> None:
        while True:
            gevent.sleep(FLUSH_S)
            self.flush()

    def flush(self) -> None:
        """Append what was collected since the last flush."""
        if self._file is None:
            return
        lines, self._lines = self._lines, []
        for key, kept in (("bytes", self._bins), ("failed_bytes", self._failed)):
            if kept:
                lines.append(json.dumps({key: {str(k): v for k, v in kept.items()}}))
                kept.clear()
        if lines:
            try:
                self._file.write("\n".join(lines) + "\n")
                self._file.flush()
            except OSError as error:  # a full disk must not stop the load; the harness notices
                logger.error("cannot write records: %s", error)

    def close(self) -> None:
        """Flush for the last time and close the file."""
        if self._flusher is not None:
            self._flusher.kill(block=False)
            self._flusher = None
        self.flush()
        if self._file is not None:
            self._file.close()
            self._file = None


_CURRENT = Recorder(None)


def install(directory: Path | None) -> Recorder:
    """Make a recorder for this process (the locustfile calls it once, at locust's init)."""
    global _CURRENT
    _CURRENT.close()
    _CURRENT = Recorder(directory)
    _CURRENT.start()
    return _CURRENT


def current_recorder() -> Recorder:
    """This process's recorder (one that keeps nothing until install() is called)."""
    return _CURRENT
