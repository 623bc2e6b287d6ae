"""When an open-loop load starts each request: the arrival schedule, pure (no gevent, no locust).

An arrival-rate load offers ``rate`` requests per second whatever the server does; a request's
latency counts from its *intended* start, the instant on this schedule, so time it spent waiting
for the client (or queued in the server) is part of it, not hidden (coordinated omission).

How the well-known open-loop tools schedule, and what is taken from each:

- wrk2 keeps a fixed rate and measures each request from the moment it *should* have been sent,
  so a late send still counts the delay: done here (``intended``), for every request.
- k6's constant-arrival-rate executor starts iterations on a fixed schedule from a pool of
  pre-allocated VUs up to ``maxVUs``; an iteration with no VU free is not started and counted as
  ``dropped_iterations``: done here as ``--max-in-flight`` and records with outcome
  ``not-started``.
- vegeta paces hits from a ticker and grows its workers on demand up to ``-max-workers``: here a
  connection is opened on demand, up to the same bound, and kept for later arrivals.

With several streams (one per locust worker) each offers ``rate / streams``; Poisson streams
superpose into one Poisson stream of the whole rate, and constant streams are offset from each
other by ``index / rate`` on a shared grid so that together they stay evenly spaced.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

ArrivalKind = Literal["constant", "poisson"]
# Streams anchor their first arrival on the next boundary of this grid of wall-clock time, so
# constant streams in several processes (even on several machines) keep their offsets.
ANCHOR_GRID_S = 0.1
T = TypeVar("T")


@dataclass(frozen=True)
class Schedule:
    """The arrival times of one stream: ``rate`` per second shared by ``streams`` streams."""

    rate: float  # the whole load's arrivals per second
    kind: ArrivalKind = "constant"
    streams: int = 1
    index: int = 0  # this stream's place among them
    seed: int = 1

    def __post_init__(self) -> None:
        if not self.rate > 0:
            raise ValueError(f"the arrival rate must be positive, got {self.rate}")
        if self.streams < 1 or self.index < 0:
            raise ValueError(f"bad stream {self.index} of {self.streams}")

    @property
    def stream_rate(self) -> float:
        """Arrivals per second of this stream."""
        return self.rate / self.streams

    def times(self, anchor: float) -> Iterator[float]:
        """Intended start times from ``anchor`` on (same clock as ``anchor``), without end."""
        if self.kind == "constant":
            gap = 1 / self.stream_rate
            offset = (self.index % self.streams) / self.rate
            k = 0
            while True:
                # Multiplied, not summed: no rounding drift over a long run.
                yield anchor + offset + k * gap
                k += 1
        else:
            # Exponential gaps make a Poisson process; a fixed seed per stream gives every stack
            # of a run the same arrivals.
            rng = random.Random(self.seed * 1_000_003 + self.index)
            t = anchor
            while True:
                t += rng.expovariate(self.stream_rate)
                yield t


def anchor(now_monotonic: float, now_wall: float, grid_s: float = ANCHOR_GRID_S) -> float:
    """The next grid boundary of wall-clock time, as a monotonic instant (shared by streams)."""
    wait = math.ceil(now_wall / grid_s) * grid_s - now_wall
    return now_monotonic + wait


class Connections(Generic[T]):
    """Idle connections to reuse, opened on demand: never more than requests once in flight."""

    def __init__(self, open_one: Callable[[], T]) -> None:
        self._open = open_one
        self.idle: list[T] = []
        self.opened = 0

    def take(self) -> T:
        """The most recently used idle connection (likeliest still open), else a new one."""
        if self.idle:
            return self.idle.pop()
        self.opened += 1
        return self._open()

    def give(self, connection: T) -> None:
        """Return a connection after its request."""
        self.idle.append(connection)
