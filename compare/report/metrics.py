"""Headline figures of one cell, computed from its raw records over its measurement window.

Definitions (the report's method section repeats them):

- Latency samples are the requests that *started* inside the window. TTFB runs from sending the
  request to the first body byte; time to last byte to the verified last byte. Under an
  arrival-rate (open-loop) load both run from the request's *intended* start instead, and a
  request belongs to the window its intended start falls in: time it waited for the client or
  queued in the server counts (no coordinated omission). Failed requests enter no percentile
  and no rate; each is counted once, by kind. Arrivals that were not started (the in-flight
  bound was reached) are neither failures nor latencies: they are counted as not started.
- Throughput is body bytes received inside the window (partial downloads included) divided by
  the window's length; rows/s is that divided by the bytes per row of the verified downloads.
- Percentiles interpolate linearly between closest ranks (numpy's default, "type 7"). A tail
  percentile needs enough samples to exist: p99 from fewer than 100 (p90 from fewer than 10)
  is reported as the maximum, and flagged as such.
- Server CPU and the memory peak are taken over the same window; memory is tree PSS minus the
  idle baseline measured after the warm-up. MB means 10^6 bytes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from compare.report.openloop import CLIENT_LAG_MS, OpenLoop, open_loop
from compare.report.rawrecords import Request, in_flight_max, requests, tail, too_few
from compare.report.stats import Kind
from compare.results import Cell, SweepPoint
from loadtests.catalog import SCENARIOS
from loadtests.record import NOT_STARTED, OK, STOPPED

TTFB = "TTFB"
DOWNLOAD = "DOWNLOAD"
PING = "PING"
MB = 1e6

# A cell is flagged when these hold over its window.
CLIENT_BOUND_PCT = 90.0  # one load-generator process used this much of a core (gevent: one core)
MACHINE_BOUND_PCT = 95.0  # the whole machine was this busy
UNEVEN_SHARE = 1 / 3  # a worker did under this share of the busiest worker's CPU ...
UNEVEN_MIN_BUSY = 0.05  # ... while the busiest used at least this share of a core
PERCENTILE_METHOD = "linear interpolation between closest ranks (type 7)"
_BODY_KINDS = ("download", "first-byte")


def request_types(scenario: str, cell: Cell | None = None) -> tuple[str, ...]:
    """What a scenario reports (TTFB, DOWNLOAD, PING), from the catalog or the cell's records."""
    info = SCENARIOS.get(scenario)
    if info is not None:
        return info.request_types
    table = cell.get("requests", {}) if cell is not None else {}
    kinds = set(table.get("kind") or [])
    types = [TTFB] if kinds & set(_BODY_KINDS) else []
    types += [DOWNLOAD] if "download" in kinds else []
    types += [PING] if "ping" in kinds else []
    return tuple(types)


def download_users(scenario: str, users: int) -> int:
    """Users that download (the head-of-line probe is one user that only pings)."""
    return max(users - 1, 0) if PING in request_types(scenario) else users


def window_bytes(cell: Cell) -> int:
    """Body bytes received inside the window (bins lie exactly on its ends)."""
    window, bins = cell.get("window"), cell.get("body_bytes")
    if not window or not bins or not bins.get("counts"):
        return 0
    step = bins["bin_s"]
    first = round((window["start"] - bins["start"]) / step)
    last = round((window["end"] - bins["start"]) / step)
    return int(sum(bins["counts"][max(first, 0) : max(last, 0)]))


@dataclass(frozen=True)
class CellFigures:
    """What a reader compares between stacks, for one cell (None: not measured there)."""

    stack: str
    scenario: str
    repetition: int
    ok: bool
    users: int
    window_s: float | None
    flags: tuple[str, ...]
    mb_per_s: float | None
    rows_per_s: float | None
    requests_per_s: float | None  # verified downloads that ended in the window, per second
    pings_per_s: float | None  # answered /ping requests that ended in the window, per second
    ttfb_p50_ms: float | None
    ttfb_p90_ms: float | None
    ttfb_p99_ms: float | None
    ttlb_p50_ms: float | None
    ttlb_p90_ms: float | None
    ttlb_p99_ms: float | None
    ping_p50_ms: float | None
    ping_p90_ms: float | None
    ping_p99_ms: float | None
    ttfb_max_ms: float | None
    ping_max_ms: float | None
    failures_by_kind: dict[str, int]
    requests: int  # requests that started in the window
    downloads: int  # verified downloads that started in the window
    first_bytes: int  # first body bytes of requests that started in the window
    pings: int
    users_served: int  # downloading users that got at least one first byte in the cell
    waiting_at_end: int  # requests of the window still waiting for a first byte at the stop
    unfinished_at_end: int  # downloads of the window cut by the stop after the drain
    downloads_in_flight_max: int
    served_mb: float  # body bytes received in the window
    server_cpu_s: float | None
    server_cpu_s_per_gb: float | None
    worker_cpu_s: tuple[float, ...]
    machine_busy_pct: float | None
    client_cpu_pct: float | None  # the busiest load-generator process, % of one core
    baseline_mb: float | None
    warmup_cost_mb: float | None
    peak_mb: float | None
    peak_pss_increase_mb: float | None
    peak_hwm_increase_mb: float | None
    peak_process_uss_mb: float | None
    sample_interval_s: float | None
    # The run's database (PostgreSQL), included in the tree figures above and shown apart.
    database_increase_mb: float | None = None
    database_cpu_s: float | None = None
    error: str | None = None
    warnings: tuple[str, ...] = ()
    expects_downloads: bool = True
    downloaders: int = 0
    notes: tuple[str, ...] = field(default=())
    # The load: "concurrency" (level = downloading users) or "rate" (level = exports per second).
    load_kind: str = "concurrency"
    load_level: float | None = None
    downloads_streaming_max: int = 0  # responses being sent at once (first body byte .. end)
    # Open loop only (None under a closed loop):
    offered_rate_per_s: float | None = None
    arrivals: int | None = None  # arrivals intended in the window, started or not
    # Requests served in the window per second: verified downloads that ended in it, or (first
    # byte, slow clients) responses whose first body byte arrived in it.
    achieved_rate_per_s: float | None = None
    not_started: int | None = None  # arrivals refused at the in-flight bound
    late_starts: int | None = None  # started more than LATE_START_MS after their intended start
    start_lag_p99_ms: float | None = None
    in_flight_at_end: int | None = None  # requests of the window still running when it closed
    max_in_flight: int | None = None

    @property
    def achieved_share(self) -> float | None:
        """Achieved rate over offered rate (open loop only)."""
        if self.achieved_rate_per_s is None or not self.offered_rate_per_s:
            return None
        return self.achieved_rate_per_s / self.offered_rate_per_s

    @property
    def client_bound(self) -> bool:
        """The load generator saturated a core: the figures understate the server."""
        return "client-bound" in self.flags

    @property
    def failures(self) -> int:
        """Failed requests that started in the window, all kinds together."""
        return sum(self.failures_by_kind.values())

    @property
    def starved(self) -> int:
        """Downloading users that never got a first byte in the cell (their TTFB is unknown)."""
        if not self.ok or TTFB not in request_types(self.scenario):
            return 0
        return max(self.downloaders - self.users_served, 0)

    @property
    def peak_mb_per_download(self) -> float | None:
        """Peak memory increase per response being sent at the busiest moment."""
        # Being sent, not requested: a request queued for a busy sync worker holds no memory.
        if self.peak_pss_increase_mb is None or not self.downloads_streaming_max:
            return None
        return self.peak_pss_increase_mb / self.downloads_streaming_max

    def n(self, key: str) -> int | None:
        """How many samples a percentile figure comes from (None for other figures)."""
        kind = key.partition("_p")[0]
        return {"ttfb": self.first_bytes, "ttlb": self.downloads, "ping": self.pings}.get(kind)

    def is_max(self, key: str) -> bool:
        """Whether a percentile figure is really the maximum of too few samples."""
        n = self.n(key)
        q = key.partition("_p")[2].removesuffix("_ms")
        return n is not None and q.isdigit() and too_few(n, int(q))


def _mb(value: Any) -> float | None:
    return value / MB if isinstance(value, int | float) else None


def cell_flags(
    cell: Cell,
    reqs: list[Request],
    failures: int,
    starved: int,
    open_loop: OpenLoop | None = None,
) -> list[str]:
    """Why a cell's figures need a second look, as short stable names."""
    flags: list[str] = []
    client = cell.get("client", {})
    lag = open_loop.start_lag_p90_ms if open_loop else None
    # Open loop: requests sent well after their schedule said are the load generator falling
    # behind, whatever its CPU reads.
    if (client.get("window_max_pct") or 0) >= CLIENT_BOUND_PCT or (lag or 0) >= CLIENT_LAG_MS:
        flags.append("client-bound")
    machine = cell.get("machine", {})
    if (machine.get("busy_pct") or 0) >= MACHINE_BOUND_PCT:
        flags.append("machine-bound")
    workers = [w["cpu_s"] for w in cell.get("workers") or []]
    window = cell.get("window", {})
    length = (window.get("end", 0) - window.get("start", 0)) or 0
    connections = len({r.user for r in reqs if r.kind != "healthz"})
    if (
        len(workers) > 1
        and connections >= len(workers)
        and length > 0
        and max(workers) >= UNEVEN_MIN_BUSY * length
        and min(workers) < UNEVEN_SHARE * max(workers)
    ):
        flags.append("uneven")
    if failures:
        flags.append("failures")
    if starved:
        flags.append("unserved")
    if open_loop and open_loop.not_started:
        flags.append("in-flight-limit")
    return flags


def figures(cell: Cell) -> CellFigures:
    """Compute a cell's headline figures from its raw records and server samples."""
    scenario = cell["scenario"]
    kinds = request_types(scenario, cell)
    window = cell.get("window")
    everything = requests(cell)
    start, end = (window["start"], window["end"]) if window else (0.0, 0.0)
    length = end - start if window else None
    load = cell.get("load", {})
    rate = load.get("kind") == "rate"
    # Open loop: by intended start (origin), so a request the client sent late still belongs
    # to the moment it was due; closed loop: origin is the send.
    inside = [r for r in everything if start <= r.origin < end]
    body = [r for r in inside if r.kind in _BODY_KINDS]
    ttfb = [
        (r.first_byte - r.origin) * 1000
        for r in body
        if r.first_byte is not None and r.outcome in (OK, STOPPED)
    ]
    done = [r for r in inside if r.kind == "download" and r.outcome == OK]
    ttlb = [(r.end - r.origin) * 1000 for r in done]
    pings = [(r.end - r.origin) * 1000 for r in inside if r.kind == "ping" and r.outcome == OK]
    failures = Counter(r.outcome for r in inside if r.outcome not in (OK, STOPPED, NOT_STARTED))
    received = window_bytes(cell)
    loop = open_loop(cell, everything, start, end, received) if rate and window else None
    every_done = [r for r in everything if r.kind == "download" and r.outcome == OK]
    rows = cell.get("export_rows")
    per_row = (
        sum(r.bytes for r in every_done) / (len(every_done) * rows) if every_done and rows else None
    )
    users = int(cell.get("users") or 0)
    # Under an open loop users are schedulers, not downloaders: nobody can be left unserved.
    downloaders = 0 if rate else download_users(scenario, users)
    served_users = len(
        {r.user for r in everything if r.kind in _BODY_KINDS and r.first_byte is not None}
    )
    ok = cell.get("status") == "ok"
    starved = max(downloaders - served_users, 0) if ok and TTFB in kinds else 0
    cpu = cell.get("server_cpu_s")
    memory = cell.get("memory", {})
    baseline = memory.get("baseline_pss")
    peak = memory.get("peak_pss")
    client = cell.get("client", {})
    machine = cell.get("machine", {})
    has_downloads = DOWNLOAD in kinds
    return CellFigures(
        stack=cell["stack"],
        scenario=scenario,
        repetition=cell["repetition"],
        ok=ok,
        users=users,
        window_s=length,
        flags=tuple(cell_flags(cell, inside, sum(failures.values()), starved, loop)),
        mb_per_s=received / length / MB if length and has_downloads else None,
        rows_per_s=received / length / per_row if length and per_row and has_downloads else None,
        pings_per_s=sum(
            1 for r in everything if r.kind == "ping" and r.outcome == OK and start <= r.end < end
        )
        / length
        # Only where /ping is the load itself (the ping scenario); a probe's rate is its own.
        if length and pings and kinds == (PING,)
        else None,
        requests_per_s=sum(1 for r in every_done if start <= r.end < end) / length
        if length and has_downloads
        else None,
        ttfb_p50_ms=tail(ttfb, 50),
        ttfb_p90_ms=tail(ttfb, 90),
        ttfb_p99_ms=tail(ttfb, 99),
        ttlb_p50_ms=tail(ttlb, 50),
        ttlb_p90_ms=tail(ttlb, 90),
        ttlb_p99_ms=tail(ttlb, 99),
        ping_p50_ms=tail(pings, 50),
        ping_p90_ms=tail(pings, 90),
        ping_p99_ms=tail(pings, 99),
        ttfb_max_ms=max(ttfb, default=None),
        ping_max_ms=max(pings, default=None),
        failures_by_kind=dict(failures),
        requests=len(inside),
        downloads=len(done),
        first_bytes=len(ttfb),
        pings=len(pings),
        users_served=served_users,
        waiting_at_end=sum(1 for r in body if r.first_byte is None and r.outcome == STOPPED),
        unfinished_at_end=sum(1 for r in body if r.kind == "download" and r.outcome == STOPPED),
        downloads_in_flight_max=in_flight_max(everything, "download", start, end),
        downloads_streaming_max=in_flight_max(everything, "download", start, end, streaming=True),
        served_mb=received / MB,
        server_cpu_s=cpu,
        server_cpu_s_per_gb=cpu / (received / 1e9)
        if cpu is not None and received and has_downloads
        else None,
        worker_cpu_s=tuple(w["cpu_s"] for w in cell.get("workers") or []),
        machine_busy_pct=machine.get("busy_pct"),
        client_cpu_pct=client.get("window_max_pct"),
        baseline_mb=_mb(baseline),
        warmup_cost_mb=_mb(memory.get("warmup_pss_increase")),
        peak_mb=_mb(peak),
        # Below zero means the tree gave back memory it held when idle (the warm-up's garbage,
        # collected during the load): no increase, so zero; the peak and baseline stay as measured.
        peak_pss_increase_mb=_mb(max(peak - baseline, 0))
        if peak is not None and baseline is not None
        else None,
        peak_hwm_increase_mb=_mb(memory.get("hwm_increase")),
        peak_process_uss_mb=_mb(memory.get("peak_process_uss")),
        sample_interval_s=memory.get("sample_interval_s"),
        database_increase_mb=_mb(memory["database_peak_pss"] - memory["database_baseline_pss"])
        if "database_peak_pss" in memory
        else None,
        database_cpu_s=cell.get("database_cpu_s"),
        error=cell.get("error"),
        warnings=tuple(cell.get("warnings") or ()),
        expects_downloads=has_downloads,
        downloaders=downloaders,
        load_kind=str(load.get("kind") or "concurrency"),
        load_level=load.get("level", downloaders),
        offered_rate_per_s=loop.offered_rate_per_s if loop else None,
        arrivals=loop.arrivals if loop else None,
        achieved_rate_per_s=loop.achieved_rate_per_s if loop else None,
        not_started=loop.not_started if loop else None,
        late_starts=loop.late_starts if loop else None,
        start_lag_p99_ms=loop.start_lag_p99_ms if loop else None,
        in_flight_at_end=loop.in_flight_at_end if loop else None,
        max_in_flight=loop.max_in_flight if loop else None,
    )


@dataclass(frozen=True)
class Headline:
    """One figure a reader compares: its unit, which way is better, and how it is compared."""

    key: str  # a CellFigures attribute
    label: str
    unit: str
    higher_is_better: bool
    fmt: str
    # Times and rates compare as ratios; memory as differences in MB (small values make
    # absurd ratios: 0.4 against 6 MB is "15x", a 5.6 MB difference).
    kind: Kind = "ratio"
    floor: float = 0.0  # the smallest difference that matters, in the figure's unit
    # Grows with the number of downloads a stack has in progress at once.
    load_dependent: bool = False

    def pick(self, cell: CellFigures) -> float | None:
        """This figure of one cell."""
        value: float | None = getattr(cell, self.key)
        return value

    def format(self, value: float) -> str:
        """The value as text, without its unit."""
        return self.fmt.format(value)


HEADLINES: tuple[Headline, ...] = (
    Headline("mb_per_s", "throughput", "MB/s", True, "{:.1f}", floor=0.1, load_dependent=True),
    Headline("rows_per_s", "rows/s", "rows/s", True, "{:,.0f}", load_dependent=True),
    Headline("requests_per_s", "downloads/s", "/s", True, "{:.2f}", load_dependent=True),
    Headline("ttfb_p50_ms", "TTFB p50", "ms", False, "{:.0f}", floor=2.0),
    Headline("ttfb_p99_ms", "TTFB p99", "ms", False, "{:.0f}", floor=2.0),
    Headline("ttlb_p50_ms", "time to last byte p50", "ms", False, "{:.0f}", floor=2.0),
    Headline("ttlb_p99_ms", "time to last byte p99", "ms", False, "{:.0f}", floor=2.0),
    Headline("ping_p50_ms", "probe p50", "ms", False, "{:.1f}", floor=0.2),
    Headline("pings_per_s", "/ping requests per second", "/s", True, "{:,.0f}"),
    Headline("ping_p99_ms", "probe p99", "ms", False, "{:.0f}", floor=2.0),
    Headline(
        "peak_pss_increase_mb",
        "peak memory increase",
        "MB",
        False,
        "{:.1f}",
        kind="difference",
        floor=2.0,
        load_dependent=True,
    ),
    Headline(
        "peak_mb_per_download",
        "peak memory per download in progress",
        "MB",
        False,
        "{:.2f}",
        kind="difference",
        floor=1.0,
    ),
    Headline("server_cpu_s_per_gb", "server CPU per GB", "s/GB", False, "{:.1f}", floor=1.0),
)
HEADLINE = {h.key: h for h in HEADLINES}


@dataclass(frozen=True)
class SweepFigures:
    """One size-sweep download: its TTFB, total time and memory, from the stored point."""

    stack: str
    variant: str
    rows: int
    repetition: int
    ok: bool
    ttfb_ms: float | None
    total_s: float | None
    mb_per_s: float | None
    peak_pss_increase_mb: float | None  # the larger of the two below
    peak_sampled_increase_mb: float | None
    peak_hwm_increase_mb: float | None
    warmup_cost_mb: float | None
    server_cpu_s: float | None
    sample_interval_s: float | None
    chunked: bool | None
    flags: tuple[str, ...]
    error: str | None
    warnings: tuple[str, ...]


def sweep_figures(point: SweepPoint) -> SweepFigures:
    """The figures of one size-sweep point.

    Its peak is the larger of the sampled tree PSS and the kernel's high-water marks: a body
    built and freed within milliseconds (bytes.join of the pieces) is seen by the kernel only,
    and with one request in flight only one process grows, so the marks' sum is the tree's peak
    (its new pages are private: they count the same in RSS and PSS).
    """
    ok = point.get("status") == "ok"
    memory = point.get("memory", {})
    peak, baseline = memory.get("peak_pss"), memory.get("baseline_pss")
    sampled = (
        _mb(max(peak - baseline, 0)) if ok and peak is not None and baseline is not None else None
    )
    hwm = _mb(memory.get("hwm_increase")) if ok else None
    known = [v for v in (sampled, hwm) if v is not None]
    flags = []
    machine = point.get("machine", {})
    if (machine.get("busy_pct") or 0) >= MACHINE_BOUND_PCT:
        flags.append("machine-bound")
    total = point.get("total_s") if ok else None
    size = point.get("body_bytes")
    return SweepFigures(
        stack=str(point["stack"]),
        variant=str(point["variant"]),
        rows=int(point["rows"]),
        repetition=int(point.get("repetition", 0)),
        ok=ok,
        ttfb_ms=point["ttfb_s"] * 1000 if ok else None,
        total_s=total,
        mb_per_s=size / total / MB if total and isinstance(size, int) else None,
        peak_pss_increase_mb=max(known) if known else None,
        peak_sampled_increase_mb=sampled,
        peak_hwm_increase_mb=hwm,
        warmup_cost_mb=_mb(memory.get("warmup_pss_increase")),
        server_cpu_s=point.get("server_cpu_s") if ok else None,
        sample_interval_s=memory.get("sample_interval_s"),
        chunked=point.get("chunked"),
        flags=tuple(flags),
        error=point.get("error"),
        warnings=tuple(point.get("warnings") or ()),
    )
