"""Headline figures of one cell, computed from what the results document stores."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TTFB = "TTFB"
DOWNLOAD = "DOWNLOAD"
PING = "PING"


def _number(row: dict[str, str], column: str) -> float | None:
    raw = row.get(column, "")
    if raw in ("", "N/A", None):
        return None
    try:
        return float(raw)
    except ValueError:
        return None


def stats_row(cell: dict[str, Any], request_type: str) -> dict[str, str] | None:
    """The locust stats row of one request type in a cell, if it ran."""
    for row in cell.get("stats") or []:
        if row.get("Type") == request_type and row.get("Name") != "Aggregated":
            return row  # type: ignore[no-any-return]
    return None


@dataclass(frozen=True)
class CellFigures:
    """What a reader compares between stacks, for one cell (None: not measured there)."""

    stack: str
    scenario: str
    repetition: int
    ok: bool
    client_bound: bool
    requests: int
    failures: int
    mb_per_s: float | None
    rows_per_s: float | None
    requests_per_s: float | None
    ttfb_p50_ms: float | None
    ttfb_p90_ms: float | None
    ttfb_p99_ms: float | None
    ttlb_p50_ms: float | None
    ttlb_p90_ms: float | None
    ttlb_p99_ms: float | None
    ping_p50_ms: float | None
    ping_p99_ms: float | None
    peak_pss_increase_mb: float | None
    server_cpu_s_per_gb: float | None


def figures(cell: dict[str, Any]) -> CellFigures:
    """Compute a cell's headline figures from its stored locust stats and sampler figures."""
    ttfb = stats_row(cell, TTFB) or {}
    body = stats_row(cell, DOWNLOAD) or {}
    ping = stats_row(cell, PING) or {}
    downloads = _number(body, "Request Count") or 0
    failures = sum(int(_number(r, "Failure Count") or 0) for r in (ttfb, body, ping))
    requests = int(sum(_number(r, "Request Count") or 0 for r in (ttfb, body, ping)))
    per_s = _number(body, "Requests/s")
    size = _number(body, "Average Content Size")
    rows = cell.get("export_rows")
    mb_per_s = per_s * size / 1e6 if per_s is not None and size is not None else None
    served_bytes = downloads * (size or 0)
    cpu = cell.get("server_cpu_s")
    increase = cell.get("peak_pss_increase")
    return CellFigures(
        stack=cell["stack"],
        scenario=cell["scenario"],
        repetition=cell["repetition"],
        ok=cell.get("status") == "ok",
        client_bound=bool((cell.get("client") or {}).get("bound")),
        requests=requests,
        failures=failures,
        mb_per_s=mb_per_s,
        rows_per_s=per_s * rows if per_s is not None and rows else None,
        requests_per_s=per_s,
        ttfb_p50_ms=_number(ttfb, "50%"),
        ttfb_p90_ms=_number(ttfb, "90%"),
        ttfb_p99_ms=_number(ttfb, "99%"),
        ttlb_p50_ms=_number(body, "50%"),
        ttlb_p90_ms=_number(body, "90%"),
        ttlb_p99_ms=_number(body, "99%"),
        ping_p50_ms=_number(ping, "50%"),
        ping_p99_ms=_number(ping, "99%"),
        peak_pss_increase_mb=increase / 1e6 if increase is not None else None,
        server_cpu_s_per_gb=cpu / (served_bytes / 1e9)
        if cpu is not None and served_bytes
        else None,
    )
