"""One cell of a results document, read once: its raw records over its measurement window, the
facts its figures come from, and every declared figure (compare.report.figuredefs). Pure.

Definitions (the report's method section repeats them):

- Latency samples are the requests that *started* inside the window. TTFB runs from sending the
  request to the first body byte; time to last byte to the verified last byte. Under an
  arrival-rate (open-loop) load both run from the request's *intended* start instead, and a
  request belongs to the window its intended start falls in: time it waited for the client or
  queued in the server counts (no coordinated omission). Failed requests enter no percentile
  and no rate; each is counted once, by kind. Arrivals that were not started (the in-flight
  bound was reached) are neither failures nor latencies: they are counted as not started.
- A request of the window still without its first (or last) byte when the load generator
  stopped is censored, not dropped: it enters that percentile at its censoring time (the stop,
  from its start), a value it would have exceeded, so a percentile it reaches into is a lower
  bound, said so (``lower_bounds``) and never judged; the cell is flagged ``waiting-at-end``
  (``unfinished-at-end`` for a download cut after its drain).
- Throughput is the body bytes of requests that did not fail, received inside the window
  (partial downloads included), divided by the window's length; rows/s is that divided by the
  bytes per row of the verified downloads, downloads/s by a verified download's size, CPU per GB
  the server's CPU over it. A download that fails (cut short, wrong rows) counts for nothing:
  its bytes are stated apart (``failed_mb``, ``mb_per_s_all``).
- Percentiles interpolate linearly between closest ranks (numpy's default, "type 7"). A tail
  percentile needs enough samples to exist: p99 from fewer than 100 (p90 from fewer than 10)
  is reported as the maximum, and flagged as such.
- Server CPU and the memory peak are taken over the same window; memory is tree PSS minus the
  idle baseline measured after the warm-up. MB means 10^6 bytes.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, cast

from compare.report import figuredefs
from compare.report.openloop import CLIENT_LAG_MS, OpenLoop, open_loop
from compare.report.rawrecords import Request, lower_bound, requests, too_few
from compare.results import MB, Cell, StoredLoad, SweepPoint, Window
from loadtests.catalog import DOWNLOAD, PING, SCENARIOS, TTFB, Scenario
from loadtests.record import NOT_STARTED, OK, STOPPED

# A cell is flagged when these hold over its window.
CLIENT_BOUND_PCT = 90.0  # one load-generator process used this much of a core (gevent: one core)
MACHINE_BOUND_PCT = 95.0  # the whole machine was this busy
UNEVEN_SHARE = 1 / 3  # a worker did under this share of the busiest worker's CPU ...
UNEVEN_MIN_BUSY = 0.05  # ... while the busiest used at least this share of a core
# Other processes than the server tree (and its database) used this much of the servers' CPUs:
# the server did not have the CPUs the placement gave it.
SERVER_CPU_SHARED_PCT = 10.0
PERCENTILE_METHOD = "linear interpolation between closest ranks (type 7)"
UNKNOWN_SCENARIO = "(not in this version's scenario catalog)"
_BODY_KINDS = ("download", "first-byte")


def scenario_of(name: str) -> Scenario:
    """The catalog's scenario of that name; one unknown to it is read as plain downloads."""
    return SCENARIOS.get(name) or Scenario(name, UNKNOWN_SCENARIO)


def request_types(name: str, records: Sequence[Request]) -> tuple[str, ...]:
    """What a cell reports (TTFB, DOWNLOAD, PING): its scenario's, or (a scenario unknown to the
    catalog) what its records hold."""
    if name in SCENARIOS:
        return SCENARIOS[name].request_types
    kinds = {r.kind for r in records}
    types = [TTFB] if kinds & set(_BODY_KINDS) else []
    types += [DOWNLOAD] if "download" in kinds else []
    types += [PING] if "ping" in kinds else []
    return tuple(types)


def window_bytes(cell: Cell, key: Literal["body_bytes", "failed_body_bytes"] = "body_bytes") -> int:
    """Body bytes received inside the window (bins lie exactly on its ends); ``failed_body_bytes``:
    of those, the bytes of requests that then failed."""
    window, bins = cell.get("window"), cell.get(key)
    if not window or not bins or not bins.get("counts"):
        return 0
    step = bins["bin_s"]
    first = round((window["start"] - bins["start"]) / step)
    last = round((window["end"] - bins["start"]) / step)
    return int(sum(bins["counts"][max(first, 0) : max(last, 0)]))


@dataclass(frozen=True)
class CellFigures:
    """One cell read: what its figures are computed from, and every figure (``cell[name]``)."""

    stack: str
    scenario: str
    repetition: int
    users: int  # locust users: downloaders (+ the probe), or arrival schedulers (+ the probe)
    ok: bool
    error: str | None
    warnings: tuple[str, ...]
    info: Scenario
    request_types: tuple[str, ...]
    # The load: "concurrency" (level = downloading users) or "rate" (level = exports per second);
    # a cell stored without one (before load levels): its downloading users.
    load_kind: str
    load_level: float | None
    stored_load: StoredLoad | None  # as stored (None: not recorded)
    window: Window | None
    records: tuple[Request, ...]  # every raw record of the cell
    # The requests that started in the window: by intended start under an open loop, so a
    # request the client sent late still belongs to the moment it was due; else by their send.
    inside: tuple[Request, ...]
    ttfb_ms: tuple[float, ...]  # first body bytes of requests of the window (verified or cut)
    ttlb_ms: tuple[float, ...]  # verified downloads of the window
    ping_ms: tuple[float, ...]  # answered /ping requests of the window
    # Requests of the window without that byte when the load stopped: how long they had waited.
    ttfb_censored_ms: tuple[float, ...]
    ttlb_censored_ms: tuple[float, ...]
    ping_censored_ms: tuple[float, ...]
    failures_by_kind: Mapping[str, int]
    received: int  # body bytes received in the window, of requests that did not fail
    received_all: int  # body bytes received in the window, failed requests' too
    bytes_per_row: float | None  # of the cell's verified downloads
    downloaders: int  # users that download (not the probe, not arrival schedulers)
    users_served: int  # downloading users that got at least one first byte in the cell
    starved: int  # downloading users that never did (their TTFB is unknown)
    open_loop: OpenLoop | None
    flags: tuple[str, ...]
    worker_cpu_s: tuple[float, ...]
    server_cpu_s: float | None
    database_cpu_s: float | None
    client_cpu_pct: float | None  # the busiest load-generator process, % of one core
    machine_busy_pct: float | None
    # Of the servers' CPUs' time over the window, the share other processes used (None: the
    # servers were not pinned, or it was not recorded).
    server_cpus_other_pct: float | None
    memory: Mapping[str, float | None]  # the tree's memory over the window, bytes as stored
    timeline: tuple[Mapping[str, float], ...]  # the server tree over the whole cell
    locust_argv: tuple[str, ...]
    values: Mapping[str, float | None] = field(default_factory=dict)

    def __getitem__(self, name: str) -> float | None:
        """One of its figures by name (compare.report.figuredefs)."""
        return self.values[name]

    @property
    def window_s(self) -> float | None:
        """The window's length in seconds (None: the cell has no window)."""
        return None if self.window is None else self.window.length

    @property
    def body(self) -> tuple[Request, ...]:
        """The requests of the window that ask for an export body."""
        return tuple(r for r in self.inside if r.kind in _BODY_KINDS)

    @property
    def requests(self) -> int:
        """Requests that started in the window, every kind."""
        return len(self.inside)

    @property
    def failures(self) -> int:
        """Failed requests that started in the window, all kinds together."""
        return sum(self.failures_by_kind.values())

    @property
    def downloads(self) -> int:
        """Verified downloads that started in the window."""
        return len(self.ttlb_ms)

    @property
    def expects_downloads(self) -> bool:
        """Whether its scenario downloads whole exports (throughput, last byte)."""
        return DOWNLOAD in self.request_types

    @property
    def client_bound(self) -> bool:
        """The load generator saturated a core: the figures understate the server."""
        return "client-bound" in self.flags

    @property
    def achieved_share(self) -> float | None:
        """Achieved rate over offered rate (open loop only)."""
        loop = self.open_loop
        if loop is None or not loop.offered_rate_per_s:
            return None
        return loop.achieved_rate_per_s / loop.offered_rate_per_s

    def latencies(self, series: str) -> tuple[float, ...]:
        """One latency series in ms: 'ttfb', 'ttlb' or 'ping'."""
        return {"ttfb": self.ttfb_ms, "ttlb": self.ttlb_ms, "ping": self.ping_ms}[series]

    def censored(self, series: str) -> tuple[float, ...]:
        """A series' censored requests: how long each had waited when the load stopped (ms)."""
        return {
            "ttfb": self.ttfb_censored_ms,
            "ttlb": self.ttlb_censored_ms,
            "ping": self.ping_censored_ms,
        }[series]

    def n(self, name: str) -> int | None:
        """How many samples a percentile figure comes from, censored ones included (None for
        other figures)."""
        series = figuredefs.FIGURES[name].series
        if series is None:
            return None
        return len(self.latencies(series)) + len(self.censored(series))

    def lower_bound(self, name: str) -> bool:
        """Whether a percentile figure is only a lower bound: censored requests reach into it."""
        figure = figuredefs.FIGURES[name]
        if figure.series is None or figure.q is None:
            return False
        series = figure.series
        return lower_bound(self.latencies(series), self.censored(series), figure.q)

    def is_max(self, name: str) -> bool:
        """Whether a percentile figure is really the maximum of too few samples."""
        n, q = self.n(name), figuredefs.FIGURES[name].q
        return n is not None and q is not None and too_few(n, q)


def read_cell(cell: Cell) -> CellFigures:
    """Read a stored cell: its records over its window, its samples, then every figure."""
    name = cell["scenario"]
    everything = tuple(requests(cell))
    stored_window = cell.get("window")
    window = Window(stored_window["start"], stored_window["end"]) if stored_window else None
    start, end = (window.start, window.end) if window else (0.0, 0.0)
    inside = tuple(r for r in everything if start <= r.origin < end)
    body = [r for r in inside if r.kind in _BODY_KINDS]
    done = [r for r in inside if r.kind == "download" and r.outcome == OK]
    load = cell.get("load", {})
    rate = load.get("kind") == "rate"
    kinds = request_types(name, everything)
    info = scenario_of(name)
    received_all = window_bytes(cell)
    received = max(received_all - window_bytes(cell, "failed_body_bytes"), 0)
    loop = open_loop(info, cell, everything, window, received) if rate and window else None
    users = int(cell.get("users") or 0)
    # Under an open loop users are schedulers, not downloaders: nobody can be left unserved.
    downloaders = 0 if rate else (max(users - 1, 0) if PING in kinds else users)
    served = {r.user for r in everything if r.kind in _BODY_KINDS and r.first_byte is not None}
    ok = cell.get("status") == "ok"
    starved = max(downloaders - len(served), 0) if ok and TTFB in kinds else 0
    failures = Counter(r.outcome for r in inside if r.outcome not in (OK, STOPPED, NOT_STARTED))
    every_done = [r for r in everything if r.kind == "download" and r.outcome == OK]
    rows = cell.get("export_rows")
    client, machine = cell.get("client", {}), cell.get("machine", {})
    read = CellFigures(
        stack=cell["stack"],
        scenario=name,
        repetition=cell["repetition"],
        users=users,
        ok=ok,
        error=cell.get("error"),
        warnings=tuple(cell.get("warnings") or ()),
        info=info,
        request_types=kinds,
        load_kind=str(load.get("kind") or "concurrency"),
        load_level=load.get("level", downloaders),
        stored_load=cell.get("load"),
        window=window,
        records=everything,
        inside=inside,
        ttfb_ms=tuple(
            (r.first_byte - r.origin) * 1000
            for r in body
            if r.first_byte is not None and r.outcome in (OK, STOPPED)
        ),
        ttlb_ms=tuple((r.end - r.origin) * 1000 for r in done),
        ping_ms=tuple(
            (r.end - r.origin) * 1000 for r in inside if r.kind == "ping" and r.outcome == OK
        ),
        ttfb_censored_ms=_waited(r for r in body if r.first_byte is None),
        ttlb_censored_ms=_waited(r for r in inside if r.kind == "download"),
        ping_censored_ms=_waited(r for r in inside if r.kind == "ping"),
        failures_by_kind=dict(failures),
        received=received,
        received_all=received_all,
        bytes_per_row=sum(r.bytes for r in every_done) / (len(every_done) * rows)
        if every_done and rows
        else None,
        downloaders=downloaders,
        users_served=len(served),
        starved=starved,
        open_loop=loop,
        flags=(),
        worker_cpu_s=tuple(w["cpu_s"] for w in cell.get("workers") or []),
        server_cpu_s=cell.get("server_cpu_s"),
        database_cpu_s=cell.get("database_cpu_s"),
        client_cpu_pct=client.get("window_max_pct"),
        machine_busy_pct=machine.get("busy_pct"),
        server_cpus_other_pct=_others_share(cell),
        # compare.report.check let through numbers (or nulls) only.
        memory=cast(Mapping[str, float | None], cell.get("memory") or {}),
        timeline=tuple(cell.get("timeline") or ()),
        locust_argv=tuple(cell.get("locust_argv") or ()),
    )
    read = dataclasses.replace(read, flags=cell_flags(read))
    return dataclasses.replace(read, values=figuredefs.compute(read))


def _waited(found: Iterable[Request]) -> tuple[float, ...]:
    """How long each stopped request had waited when the load generator stopped it (ms)."""
    return tuple((r.end - r.origin) * 1000 for r in found if r.outcome == STOPPED)


def _others_share(cell: Cell) -> float | None:
    """Percent of the servers' CPUs' time that went to other processes than the server tree."""
    machine, tree = cell.get("machine"), cell.get("server_cpu_s")
    if machine is None or tree is None:
        return None
    cpus, busy, span = (
        machine.get("server_cpus"),
        machine.get("server_cpus_busy_s"),
        machine.get("span_s"),
    )
    if not cpus or busy is None or not span:
        return None
    # The tree's CPU seconds (its database's included) over the same span as the CPUs' busy time.
    return 100 * max(busy - tree, 0.0) / (len(cpus) * span)


def cell_flags(cell: CellFigures) -> tuple[str, ...]:
    """Why a cell's figures need a second look, as short stable names."""
    flags: list[str] = []
    loop = cell.open_loop
    lag = loop.start_lag_p90_ms if loop else None
    # Open loop: requests sent well after their schedule said are the load generator falling
    # behind, whatever its CPU reads.
    if (cell.client_cpu_pct or 0) >= CLIENT_BOUND_PCT or (lag or 0) >= CLIENT_LAG_MS:
        flags.append("client-bound")
    if (cell.machine_busy_pct or 0) >= MACHINE_BOUND_PCT:
        flags.append("machine-bound")
    if (cell.server_cpus_other_pct or 0) >= SERVER_CPU_SHARED_PCT:
        flags.append("server-cpu-shared")
    workers = cell.worker_cpu_s
    length = cell.window_s or 0
    connections = len({r.user for r in cell.inside if r.kind != "healthz"})
    if (
        len(workers) > 1
        and connections >= len(workers)
        and length > 0
        and max(workers) >= UNEVEN_MIN_BUSY * length
        and min(workers) < UNEVEN_SHARE * max(workers)
    ):
        flags.append("uneven")
    if cell.failures:
        flags.append("failures")
    if cell.starved:
        flags.append("unserved")
    if loop and loop.not_started:
        flags.append("in-flight-limit")
    if cell.ttfb_censored_ms or cell.ping_censored_ms:
        flags.append("waiting-at-end")
    # A window opened with the load (no drain) cuts its downloads by design: only a lower bound.
    if cell.info.steady and cell.ttlb_censored_ms:
        flags.append("unfinished-at-end")
    return tuple(flags)


def _mb(value: object) -> float | None:
    return value / MB if isinstance(value, int | float) else None


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
