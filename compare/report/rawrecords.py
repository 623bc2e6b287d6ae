"""A cell's raw request records as objects, and what is read straight off them. Pure.

Times are seconds relative to the cell's start. A record's *origin* is where its latency counts
from: its intended start under an open loop (the schedule's instant), else the moment it was sent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from compare.report.stats import percentile
from compare.results import Cell


def too_few(n: int, q: float) -> bool:
    """Whether n samples are too few for a q-th percentile above the median to exist."""
    return q > 50 and n < 100 / (100 - q)


def tail(values: list[float], q: float) -> float | None:
    """The q-th percentile, or the maximum when there are too few samples for it (see too_few)."""
    if not values:
        return None
    return max(values) if too_few(len(values), q) else percentile(values, q)


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

    @property
    def origin(self) -> float:
        """Where its latency counts from: the intended start when there is one, else the send."""
        return self.start if self.intended is None else self.intended


def requests(cell: Cell) -> list[Request]:
    """The cell's raw records as objects (empty for a cell that recorded none)."""
    table = cell.get("requests") or {}
    if not table.get("start"):
        return []
    intended = table.get("intended") or [None] * len(table["start"])
    return [
        Request(kind, user, start, end, first, size, outcome, worker, bool(new), due)
        for kind, user, start, end, first, size, outcome, worker, new, due in zip(
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
            strict=True,
        )
    ]


def in_flight_max(
    requests: Iterable[Request], kind: str, start: float, end: float, streaming: bool = False
) -> int:
    """The most requests of ``kind`` in progress at once within [start, end).

    ``streaming``: count a request from its first body byte instead of its send, so that only
    responses the server was actually sending count (not requests queued for a worker).
    """
    edges: list[tuple[float, int]] = []
    for r in requests:
        begin = r.first_byte if streaming else r.start
        if r.kind == kind and begin is not None and begin < end and r.end > start:
            edges += [(max(begin, start), 1), (r.end, -1)]
    edges.sort(key=lambda e: (e[0], e[1]))  # an end before a start at the same instant
    peak = current = 0
    for _, step in edges:
        current += step
        peak = max(peak, current)
    return peak
