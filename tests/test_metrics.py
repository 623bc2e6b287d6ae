"""Figures from raw records over an explicit window: hand-made cells, checked by hand."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any, cast

import pytest

from compare.errors import CompareError
from compare.report.figuredefs import row
from compare.report.figures import figures_document
from compare.report.metrics import read_cell, sweep_figures
from compare.report.rawrecords import in_flight_max, lower_bound, requests, tail, too_few
from compare.report.runresults import RunResults
from compare.results import Cell
from compare.run.records import archive, measurement_window, read_records
from tests.cells import Req, cell, download


def test_headline_figures_from_hand_computed_records() -> None:
    reqs = [
        download(0.5, 0.010, 0.5),  # started before the window: no latency sample
        download(1.0, 0.020, 0.8, user=1),
        download(1.2, 0.030, 1.0, user=2, worker=12),
        download(2.0, 0.040, 1.2, user=1),
        Req("download", 2.5, 2.501, outcome="http-503", user=3),  # fast failure
        Req("download", 4.5, 6.5, first_byte=4.55, bytes=900_000, outcome="stopped", user=4),
        Req("download", 4.9, 6.5, outcome="stopped", user=2),  # no first byte by the stop
    ]
    # 250 kB every 50 ms = 5 MB/s over the whole cell, window [1, 5): 20 MB received in it.
    f = read_cell(cell(reqs, bytes_per_bin=250_000))
    assert f.window_s == pytest.approx(4.0)
    assert f["mb_per_s"] == pytest.approx(5.0)
    assert f["served_mb"] == pytest.approx(20.0)
    # Bytes per row from the verified downloads (all four, window or not): 57 bytes a row.
    assert f["rows_per_s"] == pytest.approx(5e6 / 57)
    assert f["server_cpu_s_per_gb"] == pytest.approx(50.0)  # 1 CPU s per 0.02 GB
    # TTFB: the three verified downloads plus the stopped one that got its first byte (50 ms),
    # and the request still waiting at the stop, at its wait so far (1600 ms: censored, a lower
    # bound of its TTFB); the failure enters nothing.
    assert f["n_ttfb"] == 4 and f.n("ttfb_p50_ms") == 5
    assert f["ttfb_p50_ms"] == pytest.approx(40.0) and not f.lower_bound("ttfb_p50_ms")
    assert f["ttfb_p99_ms"] == pytest.approx(1600.0) and f.lower_bound("ttfb_p99_ms")
    # Last byte: three verified, and the two stopped ones at 2.0 and 1.6 s, both above the
    # median (raising them cannot move it) but not above the maximum that p99 is here.
    assert f["ttlb_p50_ms"] == pytest.approx(1200.0) and f.downloads == 3
    assert not f.lower_bound("ttlb_p50_ms") and f.lower_bound("ttlb_p99_ms")
    assert f.failures_by_kind == {"http-503": 1} and f.failures == 1
    assert f.requests == 6  # started in the window, every kind
    assert (f["waiting_at_end"], f["unfinished_at_end"]) == (1, 2)
    assert f["downloads_in_flight_max"] == 2
    assert f["peak_pss_increase_mb"] == pytest.approx(8.0)
    assert f["warmup_cost_mb"] == pytest.approx(10.0)
    assert f["peak_mb_per_download"] == pytest.approx(8.0 / 2)
    # User 3 only ever got a 503: a downloading user never served a first byte.
    assert f.flags == ("failures", "unserved", "waiting-at-end", "unfinished-at-end")
    assert f.starved == 1
    # Whole verified downloads' worth of the window's bytes: 20 MB of 5.7 MB downloads.
    assert f["downloads_per_s"] == pytest.approx(20e6 / 5.7e6 / 4.0)


def test_flags_client_machine_uneven_unserved() -> None:
    f = read_cell(
        cell(
            [download(1.0, 0.01, 0.5, user=u) for u in (1, 2)],
            users=2,
            client={"window_max_pct": 93.0},
            machine={"busy_pct": 97.0},
            workers=[{"pid": 11, "cpu_s": 3.0}, {"pid": 12, "cpu_s": 0.5}],
        )
    )
    assert f.flags == ("client-bound", "machine-bound", "uneven")
    # Fewer connections than workers: one idle worker is expected, not uneven.
    one = read_cell(
        cell([download(1.0, 0.01, 0.5)], users=1, workers=[{"pid": 11, "cpu_s": 3.0}] * 1)
    )
    assert "uneven" not in one.flags
    starved = read_cell(cell([download(1.0, 0.01, 0.5, user=1)], scenario="slow-client", users=8))
    assert starved.starved == 7 and "unserved" in starved.flags


def test_servers_cpus_shared_with_other_processes() -> None:
    def share(busy_s: float, tree_s: float) -> tuple[float | None, tuple[str, ...]]:
        machine = {"busy_pct": 50.0, "server_cpus": [0], "server_cpus_busy_s": busy_s}
        f = read_cell(
            cell(
                [download(1.0, 0.01, 0.5)],
                users=1,
                server_cpu_s=tree_s,
                machine={**machine, "span_s": 4.0},
            )
        )
        return f["server_cpus_other_pct"], f.flags

    # CPU 0 was busy 3.6 s of 4 while the server tree used 1.0 s: others took 65% of it.
    pct, flags = share(3.6, 1.0)
    assert pct == pytest.approx(65.0) and flags == ("server-cpu-shared",)
    # Busy only with the tree (and a little noise): not flagged.
    pct, flags = share(1.2, 1.0)
    assert pct == pytest.approx(5.0) and flags == ()
    # Servers not pinned: not known.
    assert read_cell(cell([download(1.0, 0.01, 0.5)], users=1))["server_cpus_other_pct"] is None


def test_percentiles_need_enough_samples() -> None:
    values = [float(v) for v in range(1, 51)]
    assert too_few(50, 99) and not too_few(100, 99) and too_few(9, 90) and not too_few(1, 50)
    assert tail(values, 99) == 50.0  # the maximum: 50 samples cannot have a p99
    assert tail(values, 50) == pytest.approx(25.5)
    assert tail([float(v) for v in range(1, 101)], 99) == pytest.approx(99.01)
    assert tail([], 50) is None


def test_in_flight_counts_overlaps_within_the_window() -> None:
    reqs = requests(
        cell([download(0.0, 0.1, 2.0), download(1.0, 0.1, 0.5), download(1.6, 0.1, 1.0)])
    )
    assert in_flight_max(reqs, "download", 0.0, 5.0) == 2
    assert in_flight_max(reqs, "download", 2.5, 5.0) == 1
    back_to_back = requests(cell([download(0.0, 0.1, 1.0), download(1.0, 0.1, 1.0)]))
    assert in_flight_max(back_to_back, "download", 0.0, 5.0) == 1


def test_window_from_the_load_generator_events(tmp_path: Path) -> None:
    records_dir = tmp_path / "records"
    records_dir.mkdir()
    lines = [
        {"event": "test_start", "t": 100.01},
        {"event": "spawning_complete", "t": 100.62},
        {"event": "window_open", "t": 103.02},
        {"bytes": {"2020": 10, "2021": 20}},
        {"request": download(101.0, 0.1, 0.5).__dict__},
        {"event": "test_stopping", "t": 106.03},
    ]
    (records_dir / "records-1.jsonl").write_text(
        "\n".join(json.dumps(line) for line in lines) + '\n{"request": {"kind": "dow'
    )
    (records_dir / "records-2.jsonl").write_text(json.dumps({"bytes": {"2021": 5}}) + "\n")
    records = read_records(records_dir)
    assert records.bad_lines == 1  # a process killed mid-line loses that line only
    assert records.bins == {2020: 10, 2021: 25}
    assert len(records.requests) == 1
    steady = measurement_window(records, t0=100.0, settle_s=1.0)
    # Opens on the first bin boundary after spawning + settle, closes on the last before the stop.
    assert steady.start == pytest.approx(1.65) and steady.end == pytest.approx(6.0)
    # A cycled window opens when the load generator says (its first downloads had ended).
    cycled = measurement_window(records, t0=100.0, settle_s=1.0, kind="cycled")
    assert cycled.start == pytest.approx(3.05) and cycled.end == pytest.approx(6.0)
    with pytest.raises(CompareError, match="settling"):
        measurement_window(records, t0=100.0, settle_s=6.0)
    archive(records_dir, tmp_path / "records.jsonl.gz")
    assert not records_dir.exists()
    with gzip.open(tmp_path / "records.jsonl.gz", "rt") as handle:
        assert sum(1 for _ in handle) == 8


def test_figures_document_names_and_sweep_points() -> None:
    document: dict[str, Any] = {
        "status": "complete",
        "config": {"stacks": ["uvicorn"], "scenarios": ["download"], "repeat": 1},
        "environment": {"placement": {"mode": "split", "server_cpus": [0], "client_cpus": [1]}},
        "stacks": {},
        "cells": [cell([download(1.0, 0.02, 0.8)], bytes_per_bin=1000)],
        "sweep": [
            {
                "stack": "uvicorn",
                "variant": "buffered",
                "rows": 1_000_000,
                "repetition": 0,
                "status": "ok",
                "error": None,
                "ttfb_s": 3.9,
                "total_s": 4.0,
                "body_bytes": 57_000_000,
                "chunked": False,
                "memory": {
                    "baseline_pss": 80_000_000,
                    "peak_pss": 180_000_000,
                    "hwm_increase": 125_000_000,
                    "warmup_pss_increase": 7_000_000,
                    "sample_interval_s": 0.02,
                },
            }
        ],
    }
    out = figures_document(RunResults.from_document(document))
    required = {
        "stack", "scenario", "repetition", "users", "status", "mb_per_s", "ttfb_p50_ms",
        "ttfb_p99_ms", "ttlb_p50_ms", "ttlb_p99_ms", "ping_p99_ms", "peak_pss_increase_mb",
        "server_cpu_s_per_gb", "n_ttfb", "n_downloads", "flags",
    }  # fmt: skip
    assert required <= set(out["cells"][0])
    assert out["cells"][0]["p99_is_max"] == ["ttfb", "ttlb"]
    point = out["sweep"][0]
    assert {"stack", "variant", "rows", "ttfb_ms", "total_s", "peak_pss_increase_mb"} <= set(point)
    assert point["ttfb_ms"] == pytest.approx(3900.0)
    # The sampled peak fell short of the kernel's exact high-water mark, which wins.
    assert point["peak_sampled_increase_mb"] == pytest.approx(100.0)
    assert point["peak_pss_increase_mb"] == pytest.approx(125.0)
    assert point["flags"] == []
    assert json.loads(json.dumps(out)) == out
    assert row(read_cell(document["cells"][0]))["status"] == "ok"
    assert sweep_figures(document["sweep"][0]).mb_per_s == pytest.approx(14.25)
    assert requests(cast(Cell, {"requests": {}})) == []


def test_bytes_of_failed_downloads_never_count() -> None:
    # Review [4]: 5 MB/s flowed in the window [1, 5), half of it into downloads that were then
    # cut short (truncated): only the verified half is throughput.
    reqs = [download(1.0 + 0.5 * k, 0.01, 0.5, user=1 + k % 2) for k in range(8)]
    reqs += [
        Req("download", 1.2 + 0.5 * k, 1.6 + 0.5 * k, 1.21 + 0.5 * k, 5_000_000, "truncated", 3)
        for k in range(8)
    ]
    failed = {"bin_s": 0.05, "start": 0.0, "counts": [125_000] * 120}
    f = read_cell(cell(reqs, bytes_per_bin=250_000, failed_body_bytes=failed))
    assert f["mb_per_s"] == pytest.approx(2.5)
    assert f["mb_per_s_all"] == pytest.approx(5.0) and f["failed_mb"] == pytest.approx(10.0)
    assert f["served_mb"] == pytest.approx(10.0)
    assert f["rows_per_s"] == pytest.approx(2.5e6 / 57)
    assert f["server_cpu_s_per_gb"] == pytest.approx(100.0)  # 1 CPU s per 0.01 GB verified
    assert f["downloads_per_s"] == pytest.approx(10e6 / 5.7e6 / 4.0)
    assert f.failures_by_kind == {"truncated": 8} and "failures" in f.flags


def test_a_body_built_before_its_first_byte_is_held_from_when_the_server_began() -> None:
    # Review [3] (repro r10): 3 sync workers build 12 MB bodies for about 1 s each, then send
    # them in 60 ms. Counted from the first body byte, one is in progress; the server held 3.
    reqs = []
    for user, begin in enumerate((1.0, 1.3, 1.6)):
        for k in range(3):
            start = begin + 1.06 * k
            reqs.append(
                download(start, 1.0, 1.06, 12_000_000, user=user, server_start=start + 0.001)
            )
    streamed = read_cell(cell(reqs))
    buffered = read_cell(cell(reqs, scenario="buffered"))
    assert streamed["downloads_streaming_max"] == buffered["downloads_streaming_max"] == 1
    assert streamed["downloads_held_max"] == 1  # a streamed body is held from its first byte
    assert buffered["downloads_held_max"] == 3
    # Queued at a busy worker: sent at once, begun by the server only when the worker freed.
    queued = [download(1.0, 1.0, 1.06, user=1, server_start=1.0)]
    queued.append(download(1.0, 2.06, 2.12, user=2, server_start=2.06))
    held = read_cell(cell(queued, scenario="buffered"))
    assert (held["downloads_in_flight_max"], held["downloads_held_max"]) == (2, 1)


def test_p90_is_flagged_as_a_maximum_below_ten_samples() -> None:
    nine = [download(1.0 + 0.3 * k, 0.01 * (k + 1), 0.1, user=k) for k in range(9)]
    row_nine = row(read_cell(cell(nine, users=9)))
    assert row_nine["p90_is_max"] == ["ttfb", "ttlb"] and row_nine["ttfb_p90_ms"] == pytest.approx(
        90
    )
    ten = [*nine, download(3.8, 0.1, 0.2, user=9)]
    assert row(read_cell(cell(ten, users=10)))["p90_is_max"] == []


def test_a_percentile_that_censored_requests_reach_is_a_lower_bound() -> None:
    done = [10.0, 20.0, 30.0, 40.0]
    assert not lower_bound(done, [], 50)
    assert not lower_bound(done, [500.0], 50)  # above the median's ranks: raising it moves nothing
    assert lower_bound(done, [25.0], 50)  # it is one of the ranks the median reads
    assert lower_bound(done, [500.0], 99)  # the maximum of five: it may exceed it
    assert lower_bound([1.0] * 200, [2.0], 99) is False and lower_bound([1.0] * 200, [0.5] * 3, 99)


def test_a_load_cells_peak_is_the_kernels_mark_over_the_window_where_sampling_missed_it() -> None:
    # Review [11]: 100 ms samples miss a buffered body joined and freed within milliseconds; the
    # kernel's marks, reset as the window opened and read as it closed, do not.
    memory = {**cell([])["memory"], "hwm_increase": 20_000_000, "hwm_since": 1001.0}
    reqs = [download(1.0, 0.5, 0.6)]
    after_the_load = read_cell(cell(reqs, memory={**memory, "hwm_until": None}))
    # Marks read after the drain cover more than the window: the sampled peak stands alone.
    assert after_the_load["peak_pss_increase_mb"] == pytest.approx(8.0)
    assert after_the_load["peak_hwm_increase_mb"] == pytest.approx(20.0)
    windowed = read_cell(cell(reqs, memory={**memory, "hwm_until": 1005.0}))
    assert windowed["peak_pss_increase_mb"] == pytest.approx(20.0)
    assert windowed["peak_sampled_increase_mb"] == pytest.approx(8.0)
    assert (
        row(windowed)["peak_source"] == "kernel" and row(after_the_load)["peak_source"] == "sampled"
    )
