"""A size-sweep point's figures under their stable JSON names (the figures document's rows; a
cell's row is compare.report.figuredefs.row)."""

from __future__ import annotations

from typing import Any

from compare.report.metrics import SweepFigures


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


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
