"""The open loop, pure parts: the arrival schedule, and figures measured from intended starts."""

from __future__ import annotations

import itertools
import statistics
from pathlib import Path
from typing import Any

import pytest

from compare.config import BenchConfig
from compare.report.metrics import read_cell
from compare.results import Cell
from compare.run.loadcell import Load, load_s
from loadtests.schedule import Connections, Schedule, anchor
from tests.cells import Req, cell, download


def first(schedule: Schedule, n: int, at: float = 100.0) -> list[float]:
    return list(itertools.islice(schedule.times(at), n))


def test_constant_arrivals_are_evenly_spaced_and_streams_interleave() -> None:
    assert first(Schedule(4.0), 4) == pytest.approx([100.0, 100.25, 100.5, 100.75])
    # Three streams of a 6/s load: each 2/s, offset by 1/6 s, together evenly spaced.
    merged = sorted(t for i in range(3) for t in first(Schedule(6.0, streams=3, index=i), 4))
    gaps = [b - a for a, b in itertools.pairwise(merged)]
    assert gaps == pytest.approx([1 / 6] * 11)
    # No drift after many arrivals: the k-th is exactly k gaps on.
    (late,) = list(itertools.islice(Schedule(3.0).times(0.0), 30_000, 30_001))
    assert late == pytest.approx(10_000.0, abs=1e-9)


def test_poisson_arrivals_have_the_rate_and_are_reproducible() -> None:
    times = first(Schedule(10.0, "poisson", seed=7), 5000, at=0.0)
    gaps = [b - a for a, b in itertools.pairwise([0.0, *times])]
    assert statistics.mean(gaps) == pytest.approx(0.1, rel=0.05)
    # Exponential gaps: the standard deviation equals the mean (constant ones have none).
    assert statistics.stdev(gaps) == pytest.approx(0.1, rel=0.08)
    assert first(Schedule(10.0, "poisson", seed=7), 5) == first(
        Schedule(10.0, "poisson", seed=7), 5
    )
    other = first(Schedule(10.0, "poisson", streams=2, index=1, seed=7), 5)
    assert other != first(Schedule(10.0, "poisson", streams=2, index=0, seed=7), 5)


def test_bad_schedules_and_the_shared_anchor() -> None:
    with pytest.raises(ValueError, match="positive"):
        Schedule(0.0)
    with pytest.raises(ValueError, match="bad stream"):
        Schedule(1.0, streams=0)
    # The next 100 ms boundary of wall-clock time, expressed on the monotonic clock.
    assert anchor(50.0, 1_000.03) == pytest.approx(50.07)
    assert anchor(50.0, 1_000.1) == pytest.approx(50.0)


def test_connections_open_on_demand_and_are_reused() -> None:
    made = itertools.count(1)
    pool = Connections(lambda: next(made))
    a, b = pool.take(), pool.take()
    pool.give(a)
    assert pool.take() == a and (b, pool.opened) == (2, 2)


def arrival(intended: float, lag: float = 0.001, **kw: object) -> Req:
    """An open-loop download due at ``intended``, sent ``lag`` s later."""
    start = intended + lag
    fields: dict[str, object] = {"first_byte": start + 0.02, "end": start + 0.1, "bytes": 1000}
    fields.update(kw)
    return Req("download", start, intended=intended, **fields)  # type: ignore[arg-type]


def open_cell(reqs: list[Req], **extra: Any) -> Cell:
    arrival_info = {"rate": 4.0, "arrivals": "constant", "max_in_flight": 3, "streams": 1}
    return cell(reqs, load={"kind": "rate", "level": 4.0}, arrival=arrival_info, users=1, **extra)


def test_latency_counts_from_the_intended_start_and_arrivals_are_accounted() -> None:
    reqs = [arrival(1.0 + 0.25 * k) for k in range(16)]  # 4/s over the window [1, 5)
    # One sent 300 ms late (the client fell behind): its TTFB holds the wait.
    reqs[5] = arrival(2.25, lag=0.3)
    # Three refused at the in-flight bound, and one still running when the window closed.
    for k in (9, 10, 11):
        reqs[k] = Req(
            "download",
            1.0 + 0.25 * k,
            1.0 + 0.25 * k,
            outcome="not-started",
            intended=1.0 + 0.25 * k,
        )
    reqs[15] = arrival(4.75, end=5.6)
    # Due before the window but sent inside it: belongs to the moment it was due.
    reqs.append(arrival(0.9, lag=0.2))
    f = read_cell(open_cell(reqs))
    assert f.load_kind == "rate" and f["offered_rate_per_s"] == 4.0
    assert f["arrivals"] == 16 and f["not_started"] == 3
    assert f["n_ttfb"] == 13 and f["ttfb_max_ms"] == pytest.approx(320.0)
    assert f["ttfb_p50_ms"] == pytest.approx(21.0)
    assert f["late_starts"] == 1 and f["start_lag_p99_ms"] == pytest.approx(300.0)  # max of 13
    assert f["in_flight_at_end"] == 1
    # Served: the verified downloads that ended in the window (the one due at 0.9 included).
    assert f["achieved_rate_per_s"] == pytest.approx(13 / 4.0)
    assert f.achieved_share == pytest.approx(13 / 16)
    # Refusals are neither failures nor users left unserved; the bound is flagged.
    assert f.failures == 0 and f.starved == 0
    assert "in-flight-limit" in f.flags
    assert "client-bound" not in f.flags  # one late start of 13 is a hiccup ...
    for k in (1, 2, 3):
        reqs[k] = arrival(1.0 + 0.25 * k, lag=0.08)
    assert "client-bound" in read_cell(open_cell(reqs)).flags  # ... a tenth late is a schedule lost


def test_served_rate_counts_the_bytes_of_downloads_that_straddle_the_window() -> None:
    # 2/s of 1000-byte downloads taking 0.7 s each: 2000 body bytes/s flow all along. Only 7
    # of them end inside [1, 5) (the 8th ends 1 ms after it), yet the server kept up.
    reqs = [arrival(0.8 + 0.5 * k, end=0.8 + 0.5 * k + 0.701) for k in range(10)]
    assert sum(1 for r in reqs if 1.0 <= r.end < 5.0) == 7
    f = read_cell(open_cell(reqs, bytes_per_bin=100))
    assert f["achieved_rate_per_s"] == pytest.approx(2.0)
    assert f.achieved_share == pytest.approx(0.5)  # of the 4/s open_cell offers


def test_closed_loop_cells_have_no_open_loop_figures() -> None:
    f = read_cell(cell([download(1.0, 0.01, 0.5)]))
    assert (f.load_kind, f.load_level) == ("concurrency", 4)
    assert (f["offered_rate_per_s"], f["arrivals"], f["not_started"], f["in_flight_at_end"]) == (
        None,
    ) * 4
    assert f.achieved_share is None


def test_slow_downloads_count_as_served_from_their_first_byte() -> None:
    # Slow clients at 2/s: each download outlasts the window, yet the server took each one on.
    reqs = [arrival(1.0 + 0.5 * k, end=20.0, outcome="stopped") for k in range(8)]
    f = read_cell(open_cell(reqs, scenario="slow-client"))
    assert f["achieved_rate_per_s"] == pytest.approx(8 / 4.0) and f.downloads == 0
    assert f["in_flight_at_end"] == 8


def test_an_open_loop_window_spans_enough_arrivals() -> None:
    config = BenchConfig(
        stacks=("uvicorn",),
        scenarios=("download",),
        users=0,
        duration_s=2.5,
        warmup_s=0.5,
        repeat=1,
        sweep_sizes=(),
        sweep_variants=(),
        sweep_repeat=1,
        workers=1,
        out_dir=Path("unused"),
        rows=0,
        settle_s=0.5,
    )

    def rate(level: float) -> Load:
        return Load("rate", level, 1, {})

    # Ten arrivals at least, within four times --duration; closed loops keep --duration.
    assert load_s(config, rate(2.0)) == pytest.approx(0.5 + 5.0)
    assert load_s(config, rate(1.0)) == pytest.approx(0.5 + 10.0)
    assert load_s(config, rate(0.1)) == pytest.approx(0.5 + 10.0)
    assert load_s(config, rate(8.0)) == pytest.approx(0.5 + 2.5)
    assert load_s(config, Load("concurrency", 1, 1, {})) == pytest.approx(0.5 + 2.5)


def test_arrivals_refused_at_the_bound_are_said_beside_the_verdicts() -> None:
    # Review [10]: refused arrivals (they would have waited longest) showed only as a flag in
    # the tables, never next to a verdict that compared the stack's TTFB.
    from compare.report.model import build
    from compare.report.runresults import RunResults
    from compare.report.verdict import verdicts

    def stack_cells(stack: str, refused: int, slow: float) -> list[Cell]:
        cells = []
        for r in range(4):
            reqs = [arrival(1.0 + 0.25 * k, first_byte=1.0 + 0.25 * k + slow) for k in range(16)]
            for k in range(refused):
                due = 1.0 + 0.25 * k
                reqs[k] = Req("download", due, due, outcome="not-started", intended=due)
            cells.append(open_cell(reqs, stack=stack, repetition=r))
        return cells

    document = {
        "status": "complete",
        "config": {"stacks": ["a", "b"], "scenarios": ["download"], "repeat": 4},
        "environment": {},
        "stacks": {},
        "cells": stack_cells("a", 3, 0.02) + stack_cells("b", 0, 0.06),
        "sweep": [],
        "events": [],
    }
    (verdict,) = verdicts(build(RunResults.from_document(document)))
    ttfb = next(f for f in verdict.findings if f.startswith("TTFB p50"))
    assert "[flagged: a in-flight-limit 4/4]" in ttfb
    assert any(
        c.startswith("a: in-flight-limit in 4 of 4 cells: 12 arrivals") for c in verdict.caveats
    )
