"""Capacity curves through the real harness, against servers whose limits are known exactly.

- A server that serves at most K exports at once (the rest wait for a slot): the concurrency
  sweep's knee is K, under an SLO that one queued download breaks.
- A server that stalls every first byte for 1 s, under an open-loop load: every request the
  stall delayed shows it, measured from its intended start; the arrivals refused at the
  in-flight bound are counted and flagged.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from compare.report.figures import figures_document
from compare.report.metrics import read_cell
from compare.report.rawrecords import requests
from compare.report.runresults import RunResults
from compare.results import Cell, ResultsWriter, new_document
from compare.run.loadcell import run_load_cell
from compare.run.runner import run_bench
from tests.timed_stack import short_config, short_run, timed_stack

# A 120 ms SLO and on-schedule arrivals: measured alone (make test runs serial tests last).
pytestmark = [pytest.mark.server, pytest.mark.serial]

K = 2
# One export: 50 ms to the first byte, then 200 kB at 1 MB/s: 0.25 s in a slot. A third
# concurrent user waits 0.125-0.25 s for a slot, so its TTFB passes the 120 ms SLO.
SERVE = ("--delay-ms", "50", "--rate", "1e6", "--size", "200000")
SLO_MS = 120.0


def test_the_concurrency_sweep_finds_the_knee_at_the_servers_capacity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = timed_stack(*SERVE, "--capacity", str(K))
    monkeypatch.setattr("compare.run.runner.get_stack", lambda name: stack)
    config = short_config(
        tmp_path,
        levels=(1.0, 2.0, 3.0),
        duration_s=1.5,
        settle_s=0.3,
        drain_s=2.0,
        slo_ttfb_ms=SLO_MS,
        sweep_variants=(),
    )
    writer = ResultsWriter(tmp_path, new_document({}, config.as_dict(), ["test"]))
    with short_run(config, writer) as run:
        run_bench(run)
    cells = writer.document["cells"]
    assert [(c["load"], c["users"], c["status"]) for c in cells] == [
        ({"kind": "concurrency", "level": n}, n, "ok") for n in (1, 2, 3)
    ]
    (curve,) = figures_document(RunResults.from_document(writer.document))["curves"]
    assert (curve["stack"], curve["scenario"], curve["kind"]) == (
        "timed",
        "download",
        "concurrency",
    )
    verdicts = [(lv["level"], lv["meets_slo"]) for lv in curve["levels"]]
    assert verdicts == [(1, True), (2, True), (3, False)], curve["levels"]
    assert curve["knee"] == K
    assert "TTFB p99" in curve["knee_reason"]
    # The server never sent more than K responses at once, whatever the client had in flight.
    top = curve["levels"][-1]
    assert top["downloads_streaming_max"] <= K < top["downloads_in_flight_max"]


def truth(cell: Cell) -> list[dict[str, Any]]:
    lines = (Path(cell["dir"]) / "truth.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_open_loop_latency_counts_from_the_intended_start_through_a_stall(tmp_path: Path) -> None:
    rate, limit = 10.0, 6
    serve = ("--delay-ms", "20", "--rate", "4e6", "--size", "20000")
    stack = timed_stack(*serve, "--stall-after", "1", "--stall-s", "1")
    config = short_config(
        tmp_path,
        load_kind="rate",
        levels=(rate,),
        max_in_flight=limit,
        duration_s=3.0,
        settle_s=0.3,
        drain_s=3.0,
    )
    with short_run(config) as run:
        cell = run_load_cell(run, stack, "download", 0, tmp_path / "cell", rate)
    assert cell["status"] == "ok", cell["error"]
    (stall,) = [line for line in truth(cell) if line.get("event") == "stall"]
    t0 = cell["t0"]
    s, e = stall["start"] - t0, stall["end"] - t0
    window = cell["window"]
    assert window["start"] < s and e < window["end"]  # the stall fell inside the window
    reqs = requests(cell)
    started = [r for r in reqs if r.kind == "download" and r.outcome == "ok"]
    # Open loop: every request was sent on schedule (the client never waited for the server) ...
    assert all(r.intended is not None and r.start - r.intended < 0.05 for r in started)
    # ... and each one due during the stall got its first byte only at the stall's end: its
    # TTFB from the intended start holds the whole wait.
    delayed = [r for r in started if s <= r.intended < e - 0.02]
    assert len(delayed) >= limit - 1
    for r in delayed:
        assert r.first_byte is not None and r.intended is not None
        assert r.first_byte >= e - 0.002
        assert (r.first_byte - r.intended) >= (e - r.intended) - 0.002
    f = read_cell(cell)
    assert f["ttfb_max_ms"] is not None and f["ttfb_max_ms"] >= 950
    assert f["ttfb_p50_ms"] is not None and f["ttfb_p50_ms"] < 100  # the rest were fast
    # In flight grew past the bound during the stall: the arrivals refused are counted, flagged,
    # and neither failures nor latencies.
    assert f["not_started"] is not None and f["not_started"] >= 2
    assert "in-flight-limit" in f.flags and f.failures == 0
    assert f["offered_rate_per_s"] == rate
    assert f["arrivals"] is not None and abs(f["arrivals"] - rate * f.window_s) <= 2  # type: ignore[operator]
    refused = [r for r in reqs if r.outcome == "not-started"]
    assert all(s <= r.start < e + 0.1 for r in refused)
