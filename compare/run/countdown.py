"""Progress through a known number of steps: how far along, and about how long is left."""

from __future__ import annotations

import time


class Countdown:
    """Counts finished steps of ``total`` and estimates the rest from their average so far."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.started = time.monotonic()

    def elapsed(self) -> float:
        """Seconds since it started."""
        return time.monotonic() - self.started

    def left(self) -> float | None:
        """Seconds still to go at the pace so far (None before the first step is done)."""
        if not self.done:
            return None
        return self.elapsed() / self.done * (self.total - self.done)

    def step(self) -> str:
        """Count one step done; '3/14 done, 12 s so far, about 44 s left'."""
        self.done += 1
        elapsed, left = self.elapsed(), self.left() or 0.0
        return f"{self.done}/{self.total} done, {elapsed:.0f} s so far, about {left:.0f} s left"
