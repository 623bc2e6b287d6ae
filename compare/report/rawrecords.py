"""A cell's raw request records as objects, and what is read straight off them. Pure.

Times are seconds relative to the cell's start. A record's *origin* is where its latency counts
from: its intended start under an open loop (the schedule's instant), else the moment it was sent.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from compare.report.stats import percentile
from compare.results import Cell

Since = Literal["send", "first-byte", "server"]


def too_few(n: int, q: float) -> bool:
    """Whether n samples are too few for a q-th percentile above the median to exist (the
    maximum, q = 100, always does)."""
    return 50 < q < 100 and n < 100 / (100 - q)


def whole_downloads(received: int, sizes: Sequence[int]) -> float:
    """Whole downloads' worth of ``received`` bytes: a download straddling an edge of a window
    counts for its part, where counting completions is off by one (2/s over 2.5 s read 4 or 5
    of 5)."""
    return received / statistics.median_high(sizes) if sizes else 0.0


def tail(values: list[float], q: float) -> float | None:
    """The q-th percentile, or the maximum when there are too few samples for it (see too_few)."""
    if not values:
        return None
    return max(values) if too_few(len(values), q) else percentile(values, q)


def lower_bound(done: Sequence[float], censored: Sequence[float], q: float) -> bool:
    """Whether the q-th percentile (see tail) of ``done`` and ``censored`` values together is
    only a lower bound: a censored value, which only says the true one was at least that, sits
    at or below a rank the percentile reads (raising it could raise the percentile)."""
    if not censored:
        return False
    n = len(done) + len(censored)
    if too_few(n, q):
        return True  # the maximum: a censored value may exceed it
    # Ties: a censored value after the done ones it equals (it was at least that).
    ranked = sorted([(v, False) for v in done] + [(v, True) for v in censored])
    reads = math.ceil((n - 1) * q / 100)
    return any(cut for _, cut in ranked[: reads + 1])


@dataclass(frozen=True)
class Request:
    """One raw record, times relative to the cell's start."""

    kind: str
    user: int
    start: float
    end: float
    first_byte: float | None
    bytes: int
    outcome: str
    worker: int | None
    new_connection: bool
    intended: float | None = None  # when an open-loop schedule meant to send it
    server_start: float | None = None  # when the server began on it (its X-Server-Start)

    @property
    def origin(self) -> float:
        """Where its latency counts from: the intended start when there is one, else the send."""
        return self.start if self.intended is None else self.intended


def requests(cell: Cell) -> list[Request]:
    """The cell's raw records as objects (empty for a cell that recorded none)."""
    table = cell.get("requests") or {}
    if not table.get("start"):
        return []
    missing = [None] * len(table["start"])
    intended = table.get("intended") or missing
    began = table.get("server_start") or missing
    return [
        Request(kind, user, start, end, first, size, outcome, worker, bool(new), due, server)
        for kind, user, start, end, first, size, outcome, worker, new, due, server in zip(
            table["kind"],
            table["user"],
            table["start"],
            table["end"],
            table["first_byte"],
            table["bytes"],
            table["outcome"],
            table["worker"],
            table["new_connection"],
            intended,
            began,
            strict=True,
        )
    ]


def in_flight_max(
    requests: Iterable[Request], kind: str, start: float, end: float, since: Since = "send"
) -> int:
    """The most requests of ``kind`` in progress at once within [start, end), each counted
    ``since`` its send, its first body byte (a response being sent, not one queued for a
    worker) or the moment the server began on it (X-Server-Start; the send where unknown)."""
    edges: list[tuple[float, int]] = []
    for r in requests:
        begin = {
            "send": r.start,
            "first-byte": r.first_byte,
            "server": r.start if r.server_start is None else r.server_start,
        }[since]
        if r.kind == kind and begin is not None and begin < end and r.end > start:
            edges += [(max(begin, start), 1), (r.end, -1)]
    edges.sort(key=lambda e: (e[0], e[1]))  # an end before a start at the same instant
    peak = current = 0
    for _, step in edges:
        current += step
        peak = max(peak, current)
    return peak
