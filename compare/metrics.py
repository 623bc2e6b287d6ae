"""Headline figures of one cell, computed from what the results document stores."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from loadtests.catalog import SCENARIOS

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


def request_types(scenario: str, cell: dict[str, Any] | None = None) -> tuple[str, ...]:
    """What a scenario reports: from the catalog, else from the rows the cell holds."""
    info = SCENARIOS.get(scenario)
    if info is not None:
        return info.request_types
    rows = (cell or {}).get("stats") or []
    return tuple(dict.fromkeys(r.get("Type") for r in rows if r.get("Name") != "Aggregated"))


def download_users(scenario: str, users: int) -> int:
    """Users that download (the head-of-line probe is one user that only pings)."""
    return max(users - 1, 0) if PING in request_types(scenario) else users


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
    # Added for the reports; defaults keep older callers working.
    users: int = 0
    downloaders: int = 0  # users that download (not the head-of-line probe)
    first_bytes: int = 0  # TTFB requests that got their first body byte
    downloads: int = 0  # verified complete downloads
    ttfb_max_ms: float | None = None
    ping_p90_ms: float | None = None
    ping_max_ms: float | None = None
    pings: int = 0
    served_mb: float = 0.0  # bytes of the complete downloads
    server_cpu_s: float | None = None
    peak_mb_per_download: float | None = None
    client_cpu_pct: float | None = None
    error: str | None = None
    warnings: tuple[str, ...] = ()
    expects_downloads: bool = True
    baseline_mb: float | None = None
    peak_mb: float | None = None
    peak_process_uss_mb: float | None = None

    @property
    def starved(self) -> int:
        """Downloading users that never got a first byte in the cell (their TTFB is unknown)."""
        if not self.ok or TTFB not in request_types(self.scenario):
            return 0
        return max(self.downloaders - self.first_bytes, 0)


def _count(row: dict[str, str]) -> int:
    return int((_number(row, "Request Count") or 0) - (_number(row, "Failure Count") or 0))


def figures(cell: dict[str, Any]) -> CellFigures:
    """Compute a cell's headline figures from its stored locust stats and sampler figures."""
    ttfb = stats_row(cell, TTFB) or {}
    body = stats_row(cell, DOWNLOAD) or {}
    ping = stats_row(cell, PING) or {}
    downloads = _number(body, "Request Count") or 0
    failures = sum(int(_number(r, "Failure Count") or 0) for r in (ttfb, body, ping))
    requests = int(sum(_number(r, "Request Count") or 0 for r in (ttfb, body, ping)))
    kinds = request_types(cell["scenario"], cell)
    # A scenario without downloads (first-byte) counts its first bytes as its requests.
    per_s = _number(body if DOWNLOAD in kinds else ttfb, "Requests/s")
    size = _number(body, "Average Content Size")
    rows = cell.get("export_rows")
    mb_per_s = per_s * size / 1e6 if per_s is not None and size is not None else None
    served_bytes = downloads * (size or 0)
    cpu = cell.get("server_cpu_s")
    increase = cell.get("peak_pss_increase")
    users = int(cell.get("users") or 0)
    downloaders = download_users(cell["scenario"], users)
    client = cell.get("client") or {}
    return CellFigures(
        stack=cell["stack"],
        scenario=cell["scenario"],
        repetition=cell["repetition"],
        ok=cell.get("status") == "ok",
        client_bound=bool(client.get("bound")),
        requests=requests,
        failures=failures,
        mb_per_s=mb_per_s if DOWNLOAD in kinds else None,
        rows_per_s=per_s * rows if per_s is not None and rows and DOWNLOAD in kinds else None,
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
        users=users,
        downloaders=downloaders,
        first_bytes=_count(ttfb),
        downloads=_count(body),
        ttfb_max_ms=_number(ttfb, "Max Response Time"),
        ping_p90_ms=_number(ping, "90%"),
        ping_max_ms=_number(ping, "Max Response Time"),
        pings=_count(ping),
        served_mb=served_bytes / 1e6,
        server_cpu_s=cpu,
        peak_mb_per_download=increase / 1e6 / downloaders
        if increase is not None and downloaders
        else None,
        client_cpu_pct=client.get("mean_cpu_pct"),
        error=cell.get("error"),
        warnings=tuple(cell.get("warnings") or ()),
        expects_downloads=DOWNLOAD in kinds,
        baseline_mb=_mb(cell.get("baseline_pss")),
        peak_mb=_mb(cell.get("peak_pss")),
        peak_process_uss_mb=_mb(cell.get("peak_process_uss")),
    )


def _mb(value: Any) -> float | None:
    return value / 1e6 if isinstance(value, int | float) else None


@dataclass(frozen=True)
class Headline:
    """One figure a reader compares: where it lives, its unit, and which direction is better."""

    key: str  # a CellFigures attribute
    label: str
    unit: str
    higher_is_better: bool
    fmt: str

    def pick(self, cell: CellFigures) -> float | None:
        """This figure of one cell."""
        value: float | None = getattr(cell, self.key)
        return value

    def format(self, value: float) -> str:
        """The value as text, without its unit."""
        return self.fmt.format(value)


HEADLINES: tuple[Headline, ...] = (
    Headline("mb_per_s", "throughput", "MB/s", True, "{:.1f}"),
    Headline("rows_per_s", "rows/s", "rows/s", True, "{:,.0f}"),
    Headline("requests_per_s", "downloads/s", "/s", True, "{:.2f}"),
    Headline("ttfb_p50_ms", "TTFB p50", "ms", False, "{:.0f}"),
    Headline("ttfb_p99_ms", "TTFB p99", "ms", False, "{:.0f}"),
    Headline("ttlb_p50_ms", "time to last byte p50", "ms", False, "{:.0f}"),
    Headline("ttlb_p99_ms", "time to last byte p99", "ms", False, "{:.0f}"),
    Headline("ping_p50_ms", "probe p50", "ms", False, "{:.0f}"),
    Headline("ping_p99_ms", "probe p99", "ms", False, "{:.0f}"),
    Headline("peak_pss_increase_mb", "peak memory increase", "MB", False, "{:.1f}"),
    Headline("peak_mb_per_download", "peak memory per download", "MB", False, "{:.2f}"),
    Headline("server_cpu_s_per_gb", "server CPU per GB", "s/GB", False, "{:.1f}"),
)
HEADLINE = {h.key: h for h in HEADLINES}
