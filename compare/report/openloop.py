"""The figures only an arrival-rate (open-loop) load has: offered against served, arrivals not
started or started late, requests the window's end cut. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from compare.report.rawrecords import Request, tail, whole_downloads
from compare.results import Cell, Window
from loadtests.catalog import Scenario
from loadtests.record import NOT_STARTED, OK, STOPPED

# Open loop: a request sent this much after its intended start started late; when a tenth of
# the starts lag CLIENT_LAG_MS (p90, so one hiccup of a few dozen starts does not count) the load
# generator could not keep its schedule: client-bound.
LATE_START_MS = 10.0
CLIENT_LAG_MS = 50.0


@dataclass(frozen=True)
class OpenLoop:
    """The figures only an arrival-rate load has."""

    offered_rate_per_s: float
    arrivals: int
    achieved_rate_per_s: float
    not_started: int
    late_starts: int
    start_lag_p90_ms: float | None
    start_lag_p99_ms: float | None
    in_flight_at_end: int
    max_in_flight: int | None


def _served_per_s(
    everything: Sequence[Request],
    main: str,
    by_first_byte: bool,
    start: float,
    end: float,
    received: int,
) -> float:
    """Requests per second the server took on in [start, end)."""
    length = end - start
    if length <= 0:
        return 0.0
    if by_first_byte:
        # One download outlasts the window (slow clients), or there is no download
        # (first-byte): a response whose first body byte arrived in it was taken on.
        taken = [
            r
            for r in everything
            if r.kind == main
            and r.outcome in (OK, STOPPED)
            and r.first_byte is not None
            and start <= r.first_byte < end
        ]
        return len(taken) / length
    sizes = [r.bytes for r in everything if r.kind == main and r.outcome == OK]
    if sizes and received:
        return whole_downloads(received, sizes) / length
    # No body bytes binned: verified downloads that ended in the window.
    ended = [r for r in everything if r.kind == main and r.outcome == OK and start <= r.end < end]
    return len(ended) / length


def open_loop(
    scenario: Scenario, cell: Cell, everything: Sequence[Request], window: Window, received: int
) -> OpenLoop:
    """Offered against achieved rate, arrivals not started or late, and what the stop cut.

    ``received``: body bytes that arrived in the window (partial downloads included), of
    requests that did not fail.
    """
    start, end = window.start, window.end
    main = scenario.step.kind
    arrivals = [r for r in everything if r.kind == main and start <= r.origin < end]
    started = [r for r in arrivals if r.outcome != NOT_STARTED]
    lags = [(r.start - r.origin) * 1000 for r in started]
    by_first_byte = main == "first-byte" or not scenario.steady
    achieved = _served_per_s(everything, main, by_first_byte, start, end, received)
    arrival = cell.get("arrival", {})
    load = cell.get("load", {})
    return OpenLoop(
        offered_rate_per_s=float(load.get("level") or arrival.get("rate") or 0.0),
        arrivals=len(arrivals),
        achieved_rate_per_s=achieved,
        not_started=len(arrivals) - len(started),
        late_starts=sum(1 for lag in lags if lag > LATE_START_MS),
        start_lag_p90_ms=tail(lags, 90),
        start_lag_p99_ms=tail(lags, 99),
        in_flight_at_end=sum(1 for r in started if r.end >= end),
        max_in_flight=arrival.get("max_in_flight"),
    )
