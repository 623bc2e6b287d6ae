"""The typed results model: the figures' declarations as the document's contract, read once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from compare.report import curves, figuredefs, metrics, render_html, render_markdown
from compare.report.figures import figures_document
from compare.report.runresults import RunResults
from compare.report.summary import terminal_verdict
from compare.results import Cell, new_document
from tests.cells import cell, download
from tests.timed_stack import short_config

# The cell row of version 1 of the figures document, in its order: a contract (names are
# added at the end, never renamed, removed or moved).
VERSION_1_ROW = [
    "stack",
    "scenario",
    "repetition",
    "users",
    "status",
    "error",
    "window_s",
    "mb_per_s",
    "rows_per_s",
    "downloads_per_s",
    "pings_per_s",
    "ttfb_p50_ms",
    "ttfb_p90_ms",
    "ttfb_p99_ms",
    "ttfb_max_ms",
    "ttlb_p50_ms",
    "ttlb_p90_ms",
    "ttlb_p99_ms",
    "ping_p50_ms",
    "ping_p90_ms",
    "ping_p99_ms",
    "ping_max_ms",
    "n_ttfb",
    "n_downloads",
    "n_pings",
    "p99_is_max",
    "failures",
    "failures_by_kind",
    "requests",
    "users_served",
    "waiting_at_end",
    "unfinished_at_end",
    "downloads_in_flight_max",
    "served_mb",
    "baseline_mb",
    "warmup_cost_mb",
    "peak_pss_increase_mb",
    "peak_hwm_increase_mb",
    "peak_mb_per_download",
    "memory_sample_interval_s",
    "server_cpu_s",
    "server_cpu_s_per_gb",
    "worker_cpu_s",
    "machine_busy_pct",
    "client_cpu_pct",
    "database_increase_mb",
    "database_cpu_s",
    "flags",
    "load",
    "downloads_streaming_max",
    "offered_rate_per_s",
    "achieved_rate_per_s",
    "arrivals",
    "not_started",
    "late_starts",
    "start_lag_p99_ms",
    "in_flight_at_end",
    "max_in_flight",
]


def test_the_declarations_are_the_documents_row_and_keep_version_1_first() -> None:
    results = RunResults.from_document(_document([cell([download(1.0, 0.02, 0.8)])]))
    (row,) = figures_document(results)["cells"]
    assert list(row) == [entry.name for entry in figuredefs.ROW]
    assert list(row)[: len(VERSION_1_ROW)] == VERSION_1_ROW
    # Every figure the verdict or diff compares says how: a unit and a floor that matters.
    compared = {*figuredefs.VERDICT_FIGURES, *figuredefs.DIFF_FIGURES}
    assert all(f.unit and f.floor > 0 for f in compared if f.name != "pings_per_s")
    assert [f.name for f in figuredefs.VERDICT_FIGURES][:3] == [
        "mb_per_s",
        "ttfb_p50_ms",
        "ttlb_p50_ms",
    ]


def test_every_cell_is_read_once_however_many_reports_are_made(
    document: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    computed: list[str] = []
    drawn: list[int] = []
    compute, make_curves = figuredefs.compute, curves.curves

    def counted(cell: metrics.CellFigures) -> dict[str, float | None]:
        computed.append(cell.stack)
        return compute(cell)

    def counted_curves(*args: Any) -> list[curves.Curve]:
        drawn.append(1)
        return make_curves(*args)

    monkeypatch.setattr(figuredefs, "compute", counted)
    monkeypatch.setattr("compare.report.runresults.curves", counted_curves)
    results = RunResults.from_document(document)
    for render in (render_html, render_markdown, terminal_verdict, figures_document):
        render(results)
    assert len(computed) == len(document["cells"])
    assert len(drawn) == 1


def test_the_document_bench_holds_in_memory_reads_too(tmp_path: Path) -> None:
    # bench's verdict reads the document it writes before it is a file: tuples for lists.
    document = new_document({}, short_config(tmp_path).as_dict(), ["bench"])
    document["cells"].append(cell([download(1.0, 0.02, 0.8)], stack="timed"))
    results = RunResults.from_document(document)
    assert results.planned_stacks == ("timed",) and len(results.cells) == 1


def _document(cells: list[Cell]) -> dict[str, Any]:
    return {"cells": cells, "sweep": [], "stacks": {}, "environment": {}}
