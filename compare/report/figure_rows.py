"""Cell and size-sweep figures under their stable JSON names (the figures document's rows).

A lower layer than compare.report.figures, which assembles the whole document with the report's
comparisons and curves: the report itself reads these rows too (its capacity section).
"""

from __future__ import annotations

from typing import Any

from compare.report.metrics import CellFigures, SweepFigures


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
        "pings_per_s": _round(f.pings_per_s, 1),
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
