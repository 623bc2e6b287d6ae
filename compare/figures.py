"""The figures document: every figure the reports show, as JSON under stable names.

``python -m compare figures RUN_DIR`` prints it; CI and other tools read this, never the reports'
text. Names are a contract: later versions add keys, they never rename or remove one.
"""

from __future__ import annotations

from typing import Any

from compare.curves import DEFAULT_SLO_TTFB_MS, curves
from compare.metrics import (
    MB,
    PERCENTILE_METHOD,
    CellFigures,
    SweepFigures,
    figures,
    sweep_figures,
)
from compare.report.comparisons import comparisons
from compare.report.model import build
from compare.results import Document

FIGURES_SCHEMA = "django-stream-compare/figures"
FIGURES_VERSION = 1


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def cell_figures(f: CellFigures) -> dict[str, Any]:
    """One cell's figures under their stable names."""
    return {
        "stack": f.stack,
        "scenario": f.scenario,
        "repetition": f.repetition,
        "users": f.users,
        "status": "ok" if f.ok else "failed",
        "error": f.error,
        "window_s": _round(f.window_s),
        "mb_per_s": _round(f.mb_per_s),
        "rows_per_s": _round(f.rows_per_s, 1),
        "downloads_per_s": _round(f.requests_per_s),
        "ttfb_p50_ms": _round(f.ttfb_p50_ms),
        "ttfb_p90_ms": _round(f.ttfb_p90_ms),
        "ttfb_p99_ms": _round(f.ttfb_p99_ms),
        "ttfb_max_ms": _round(f.ttfb_max_ms),
        "ttlb_p50_ms": _round(f.ttlb_p50_ms),
        "ttlb_p90_ms": _round(f.ttlb_p90_ms),
        "ttlb_p99_ms": _round(f.ttlb_p99_ms),
        "ping_p50_ms": _round(f.ping_p50_ms),
        "ping_p90_ms": _round(f.ping_p90_ms),
        "ping_p99_ms": _round(f.ping_p99_ms),
        "ping_max_ms": _round(f.ping_max_ms),
        "n_ttfb": f.first_bytes,
        "n_downloads": f.downloads,
        "n_pings": f.pings,
        # Which p99 figures are really the maximum of fewer than 100 samples.
        "p99_is_max": [
            k for k in ("ttfb", "ttlb", "ping") if f.n(f"{k}_p99_ms") and f.is_max(f"{k}_p99_ms")
        ],
        "failures": f.failures,
        "failures_by_kind": f.failures_by_kind,
        "requests": f.requests,
        "users_served": f.users_served,
        "waiting_at_end": f.waiting_at_end,
        "unfinished_at_end": f.unfinished_at_end,
        "downloads_in_flight_max": f.downloads_in_flight_max,
        "served_mb": _round(f.served_mb),
        "baseline_mb": _round(f.baseline_mb),
        "warmup_cost_mb": _round(f.warmup_cost_mb),
        "peak_pss_increase_mb": _round(f.peak_pss_increase_mb),
        "peak_hwm_increase_mb": _round(f.peak_hwm_increase_mb),
        "peak_mb_per_download": _round(f.peak_mb_per_download),
        "memory_sample_interval_s": f.sample_interval_s,
        "server_cpu_s": _round(f.server_cpu_s),
        "server_cpu_s_per_gb": _round(f.server_cpu_s_per_gb),
        "worker_cpu_s": [round(c, 3) for c in f.worker_cpu_s],
        "machine_busy_pct": _round(f.machine_busy_pct, 1),
        "client_cpu_pct": _round(f.client_cpu_pct, 1),
        "database_increase_mb": _round(f.database_increase_mb),
        "database_cpu_s": _round(f.database_cpu_s),
        "flags": list(f.flags),
        # Capacity curves (kind concurrency: level = downloading users; rate: exports per s).
        "load": {"kind": f.load_kind, "level": f.load_level},
        "downloads_streaming_max": f.downloads_streaming_max,
        # Open loop only (null under a closed loop).
        "offered_rate_per_s": _round(f.offered_rate_per_s),
        "achieved_rate_per_s": _round(f.achieved_rate_per_s),
        "arrivals": f.arrivals,
        "not_started": f.not_started,
        "late_starts": f.late_starts,
        "start_lag_p99_ms": _round(f.start_lag_p99_ms),
        "in_flight_at_end": f.in_flight_at_end,
        "max_in_flight": f.max_in_flight,
    }


def sweep_point(f: SweepFigures) -> dict[str, Any]:
    """One size-sweep point's figures under their stable names."""
    return {
        "stack": f.stack,
        "variant": f.variant,
        "rows": f.rows,
        "repetition": f.repetition,
        "status": "ok" if f.ok else "failed",
        "error": f.error,
        "ttfb_ms": _round(f.ttfb_ms),
        "total_s": _round(f.total_s, 4),
        "mb_per_s": _round(f.mb_per_s),
        "peak_pss_increase_mb": _round(f.peak_pss_increase_mb),
        "peak_sampled_increase_mb": _round(f.peak_sampled_increase_mb),
        "peak_hwm_increase_mb": _round(f.peak_hwm_increase_mb),
        "warmup_cost_mb": _round(f.warmup_cost_mb),
        "server_cpu_s": _round(f.server_cpu_s),
        "memory_sample_interval_s": f.sample_interval_s,
        "chunked": f.chunked,
        "flags": list(f.flags),
    }


def figures_document(document: Document) -> dict[str, Any]:
    """The whole figures document of a run."""
    config = document.get("config") or {}
    environment = document.get("environment") or {}
    cells = [cell_figures(figures(cell)) for cell in document.get("cells") or []]
    slo = float(config.get("slo_ttfb_ms") or DEFAULT_SLO_TTFB_MS)
    stacks = document.get("stacks") or {}
    return {
        "schema": FIGURES_SCHEMA,
        "version": FIGURES_VERSION,
        "units": {"MB": MB, "time": "ms unless the name ends in _s"},
        "percentiles": PERCENTILE_METHOD,
        "run": {
            "status": document.get("status"),
            "started": document.get("started"),
            "finished": document.get("finished"),
            "stacks": config.get("stacks"),
            "scenarios": config.get("scenarios"),
            "repeat": config.get("repeat"),
            "placement": environment.get("placement"),
            "load_kind": config.get("load_kind", "concurrency"),
            "levels": config.get("levels") or [],
            "arrivals": config.get("arrivals"),
            "max_in_flight": config.get("max_in_flight"),
            "slo_ttfb_ms": slo,
            "locust_workers": config.get("locust_workers", 0),
            # Which rule gave each stack its worker count, and why (compare.workers).
            "workers": {name: (s or {}).get("workers_rule") for name, s in stacks.items()},
        },
        "cells": cells,
        "sweep": [sweep_point(sweep_figures(p)) for p in document.get("sweep") or []],
        # Exactly what the report's verdict sentences say: one object per scenario, figure and
        # pair of stacks (estimate a / b for ratios, a - b for differences, 95% interval).
        "comparisons": [c.as_dict() for c in comparisons(build(document))],
        # Per stack and scenario: each load level's figures (medians and every repetition's),
        # the knee (highest level meeting the service level) and MB per download in progress.
        "curves": curves(cells, slo),
    }
