"""The kernel's per-process memory peaks over a cell's window, from the load generator's events.

A sampler every 100 ms misses a body joined and freed within milliseconds (a buffered response);
the kernel's high-water mark (VmHWM) does not. Reset when the window opens and read when it
closes, the marks hold each process's exact peak over the window, not over the spawn, settling
and drain around it. The window's ends are the load generator's events (loadtests.recorder
flushes each as it happens): ``spawning_complete`` plus the settling time opens it, the first
``test_stopping`` closes it. Both are acted on within POLL_S of being written, and a window that
opens later than that (a distributed run's last worker, a scenario whose window waits for its
first downloads to end) lies inside the span watched.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Self

POLL_S = 0.02
OPENS = "spawning_complete"
CLOSES = "test_stopping"


class EventTail:
    """The events appended to a directory's ``records-*.jsonl`` files since the last look."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._read: dict[Path, int] = {}  # file -> bytes consumed (whole lines only)

    def new(self) -> list[tuple[str, float]]:
        """(event, monotonic time) of each event line written since the last call."""
        found: list[tuple[str, float]] = []
        for path in sorted(self.directory.glob("records-*.jsonl")):
            try:
                with path.open("rb") as handle:
                    handle.seek(self._read.get(path, 0))
                    data = handle.read()
            except OSError:
                continue
            whole = data[: data.rfind(b"\n") + 1]  # a line still being written waits
            self._read[path] = self._read.get(path, 0) + len(whole)
            for line in whole.splitlines():
                if line.startswith(b'{"event"'):
                    try:
                        item = json.loads(line)
                        found.append((str(item["event"]), float(item["t"])))
                    except (ValueError, KeyError, TypeError):
                        continue
        return found


class WindowPeaks:
    """Call ``reset`` when the window opens and ``read`` when it closes, from a thread."""

    def __init__(
        self,
        directory: Path,
        settle_s: float,
        reset: Callable[[], None],
        read: Callable[[], None],
    ) -> None:
        self.events = EventTail(directory)
        self.settle_s = settle_s
        self._reset, self._read = reset, read
        self.opened: float | None = None  # monotonic: when the marks were reset
        self.closed: float | None = None  # monotonic: when they were read
        self._due: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="window-peaks", daemon=True)

    def start(self) -> Self:
        """Watch from now on."""
        self._thread.start()
        return self

    @property
    def watching(self) -> bool:
        """Whether it still waits for the window to open or close."""
        return self._thread.is_alive()

    def stop(self) -> None:
        """Stop watching (whatever was seen stays)."""
        self._stop.set()
        self._thread.join()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _watch(self) -> None:
        while not self._stop.wait(POLL_S):
            for name, t in self.events.new():
                if name == OPENS and self._due is None:
                    self._due = t + self.settle_s
                elif name == CLOSES:
                    # A load stopped before the settling time was over has no window peaks.
                    if self.opened is not None:
                        self._read()
                        self.closed = time.monotonic()
                    return
            if self.opened is None and self._due is not None and time.monotonic() >= self._due:
                self._reset()
                self.opened = time.monotonic()
