"""Every figure of a cell, declared once: how it is computed, its stable name, label and unit,
how it is compared. Pure.

``ROW`` is the figures document's cell row, in order: each ``Figure`` a number computed from a
read cell (compare.report.metrics.CellFigures), each ``Detail`` a fact stated beside them. The
report's tables, the verdict's and ``diff``'s comparisons, the curves and ``compare figures`` all
read these declarations; adding a figure is adding one ``Figure`` to ``ROW`` (at its end: the
document's names and their order are a contract).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from compare.report.rawrecords import Since, in_flight_max, tail, whole_downloads
from compare.report.stats import Kind
from compare.results import MB
from loadtests.catalog import PING
from loadtests.record import OK, STOPPED

if TYPE_CHECKING:
    from compare.report.metrics import CellFigures

Compute = Callable[["CellFigures"], float | None]


@dataclass(frozen=True)
class Figure:
    """One figure: a number per cell (None: not measured there), and how a reader compares it."""

    name: str  # its stable name in the figures document, and its key everywhere else
    compute: Compute
    label: str
    unit: str
    fmt: str = "{:.1f}"  # as the report shows it, without the unit
    digits: int | None = 3  # rounded to this many in the figures document (None: as computed)
    higher_is_better: bool = False
    # Times and rates compare as ratios; memory as differences in MB (small values make
    # absurd ratios: 0.4 against 6 MB is "15x", a 5.6 MB difference).
    kind: Kind = "ratio"
    floor: float = 0.0  # the smallest difference that matters, in the figure's unit
    # Grows with the number of downloads a stack has in progress at once.
    load_dependent: bool = False
    verdict: int | None = None  # its place among the verdict's comparisons; None: not compared
    diff: bool = False  # compared between two runs (compare diff)
    # A percentile: the figure counting its samples, its rank, and its latency series.
    samples: str | None = None
    q: int | None = None
    series: str | None = None

    def format(self, value: float) -> str:
        """The value as text, without its unit."""
        return self.fmt.format(value)

    def published(self, value: float | None) -> float | None:
        """The value as the figures document states it."""
        return value if value is None or self.digits is None else round(value, self.digits)


@dataclass(frozen=True)
class Detail:
    """A fact of a cell the figures document states beside its figures (not a number)."""

    name: str
    value: Callable[[CellFigures], Any]


def _count(name: str, compute: Compute, label: str) -> Figure:
    """A figure that counts (requests, users ...): a whole number, never rounded."""
    return Figure(name, compute, label, "", "{:.0f}", digits=None)


def _mb(key: str) -> Compute:
    """A memory figure of the cell (bytes as stored) in MB."""
    return lambda c: None if (value := c.memory.get(key)) is None else value / MB


def _throughput(c: CellFigures) -> float | None:
    return c.received / c.window_s / MB if c.window_s and c.expects_downloads else None


def _throughput_all(c: CellFigures) -> float | None:
    return c.received_all / c.window_s / MB if c.window_s and c.expects_downloads else None


def _rows_per_s(c: CellFigures) -> float | None:
    if not c.window_s or not c.bytes_per_row or not c.expects_downloads:
        return None
    return c.received / c.window_s / c.bytes_per_row


def _downloads_per_s(c: CellFigures) -> float | None:
    """Whole verified downloads' worth of the window's bytes, per second (like the open loop's
    served rate: completions in a window a few downloads long are off by one)."""
    if not c.window_s or not c.expects_downloads:
        return None
    sizes = [r.bytes for r in c.records if r.kind == "download" and r.outcome == OK]
    return whole_downloads(c.received, sizes) / c.window_s


def _pings_per_s(c: CellFigures) -> float | None:
    # Only where /ping is the load itself (the ping scenario); a probe's rate is its own.
    if not c.window_s or c.window is None or not c.ping_ms or c.request_types != (PING,):
        return None
    ended = [r for r in c.records if r.kind == "ping" and r.outcome == OK]
    return sum(1 for r in ended if c.window.holds(r.end)) / c.window_s


def _percentile(series: str, q: int, samples: str, **declared: Any) -> Figure:
    """The q-th percentile of a latency series of the cell ('ttfb', 'ttlb' or 'ping'), its
    censored requests in it at their censoring time (then it may be a lower bound)."""
    return Figure(
        f"{series}_p{q}_ms",
        lambda c: tail([*c.latencies(series), *c.censored(series)], q),
        unit="ms",
        fmt=declared.pop("fmt", "{:.0f}"),
        samples=samples,
        q=q,
        series=series,
        **declared,
    )


def _longest(series: str, label: str) -> Figure:
    """The longest latency of a series, a censored request's wait so far included (then it is
    a lower bound)."""
    return Figure(
        f"{series}_max_ms",
        lambda c: max([*c.latencies(series), *c.censored(series)], default=None),
        label,
        "ms",
        "{:.0f}",
        q=100,
        series=series,
    )


def _in_flight(since: Since | None) -> Compute:
    """The most downloads in progress at once in the window, each counted ``since`` (None: the
    first body byte, or where the body is built before it, when the server began on it)."""

    def compute(c: CellFigures) -> int:
        start, end = (c.window.start, c.window.end) if c.window else (0.0, 0.0)
        begin = since or ("server" if c.info.step.built_first else "first-byte")
        return in_flight_max(c.records, "download", start, end, begin)

    return compute


def _served_at_once(c: CellFigures) -> float | None:
    """Downloads being sent at once (first body byte to end), on average over the window."""
    if c.window is None or not c.window_s or not c.expects_downloads:
        return None
    start, end = c.window.start, c.window.end
    sending = [
        min(r.end, end) - max(r.first_byte, start)
        for r in c.records
        if r.kind == "download" and r.first_byte is not None
    ]
    return sum(s for s in sending if s > 0) / c.window_s


def _sampled_increase(c: CellFigures) -> float | None:
    # Below zero means the tree gave back memory it held when idle (the warm-up's garbage,
    # collected during the load): no increase, so zero; the peak and baseline stay as measured.
    peak, baseline = c.memory.get("peak_pss"), c.memory.get("baseline_pss")
    return None if peak is None or baseline is None else max(peak - baseline, 0) / MB


def _window_hwm(c: CellFigures) -> float | None:
    """The kernel's high-water marks' increase, where they were reset and read with the window."""
    if c.memory.get("hwm_until") is None:
        return None
    return _mb("hwm_increase")(c)


def _peak_increase(c: CellFigures) -> float | None:
    # As the size sweep's: the larger of the sampled tree PSS and the kernel's marks over the
    # window, which see a body joined and freed between two samples. With one process growing
    # the marks' sum is the tree's peak (new pages count alike in RSS and PSS); with several it
    # is at most the sum of their peaks.
    known = [v for v in (_sampled_increase(c), _window_hwm(c)) if v is not None]
    return max(known) if known else None


def _peak_source(c: CellFigures) -> str | None:
    """Which measurement gave the peak increase: 'sampled' (tree PSS) or 'kernel' (VmHWM)."""
    sampled, kernel = _sampled_increase(c), _window_hwm(c)
    if sampled is None and kernel is None:
        return None
    return "kernel" if kernel is not None and (sampled is None or kernel > sampled) else "sampled"


def _per_download(c: CellFigures) -> float | None:
    # Being sent, not requested: a request queued for a busy sync worker holds no memory.
    increase, sending = _peak_increase(c), _in_flight("first-byte")(c)
    return None if increase is None or not sending else increase / sending


def _cpu_per_gb(c: CellFigures) -> float | None:
    if c.server_cpu_s is None or not c.received or not c.expects_downloads:
        return None
    return c.server_cpu_s / (c.received / 1e9)


def _database_increase(c: CellFigures) -> float | None:
    peak, baseline = c.memory.get("database_peak_pss"), c.memory.get("database_baseline_pss")
    return None if peak is None or baseline is None else (peak - baseline) / MB


def _open_loop(name: str) -> Compute:
    """One of an open loop's own figures (None under a closed loop)."""
    return lambda c: None if c.open_loop is None else getattr(c.open_loop, name)


def _is_max(q: int) -> Callable[[CellFigures], list[str]]:
    """Which series' q-th percentile is really the maximum of too few samples (p99: fewer than
    100, p90: fewer than 10)."""
    return lambda c: [
        f.name.partition("_")[0]
        for f in FIGURES.values()
        if f.q == q and c.n(f.name) and c.is_max(f.name)
    ]


def _lower_bounds(c: CellFigures) -> list[str]:
    """The percentile figures that censored requests make lower bounds."""
    return [f.name for f in FIGURES.values() if f.series and c.lower_bound(f.name)]


ROW: tuple[Figure | Detail, ...] = (
    Detail("stack", lambda c: c.stack),
    Detail("scenario", lambda c: c.scenario),
    Detail("repetition", lambda c: c.repetition),
    _count("users", lambda c: c.users, "locust users"),
    Detail("status", lambda c: "ok" if c.ok else "failed"),
    Detail("error", lambda c: c.error),
    Figure("window_s", lambda c: c.window_s, "measurement window", "s"),
    Figure(
        "mb_per_s",
        _throughput,
        "throughput",
        "MB/s",
        higher_is_better=True,
        floor=0.1,
        load_dependent=True,
        verdict=1,
        diff=True,
    ),
    Figure(
        "rows_per_s",
        _rows_per_s,
        "rows/s",
        "rows/s",
        "{:,.0f}",
        digits=1,
        higher_is_better=True,
        load_dependent=True,
    ),
    Figure(
        "downloads_per_s",
        _downloads_per_s,
        "downloads/s",
        "/s",
        "{:.2f}",
        higher_is_better=True,
        load_dependent=True,
    ),
    Figure(
        "pings_per_s",
        _pings_per_s,
        "/ping requests per second",
        "/s",
        "{:,.0f}",
        digits=1,
        higher_is_better=True,
        verdict=6,
    ),
    _percentile("ttfb", 50, "n_ttfb", label="TTFB p50", floor=2.0, verdict=2, diff=True),
    _percentile("ttfb", 90, "n_ttfb", label="TTFB p90"),
    _percentile("ttfb", 99, "n_ttfb", label="TTFB p99", floor=2.0, diff=True),
    _longest("ttfb", "longest TTFB"),
    _percentile(
        "ttlb", 50, "n_downloads", label="time to last byte p50", floor=2.0, verdict=3, diff=True
    ),
    _percentile("ttlb", 90, "n_downloads", label="time to last byte p90"),
    _percentile("ttlb", 99, "n_downloads", label="time to last byte p99", floor=2.0, diff=True),
    _percentile(
        "ping", 50, "n_pings", label="probe p50", fmt="{:.1f}", floor=0.2, verdict=4, diff=True
    ),
    _percentile("ping", 90, "n_pings", label="probe p90"),
    _percentile("ping", 99, "n_pings", label="probe p99", floor=2.0, verdict=5, diff=True),
    _longest("ping", "longest probe"),
    _count("n_ttfb", lambda c: len(c.ttfb_ms), "first bytes"),
    _count("n_downloads", lambda c: len(c.ttlb_ms), "downloads"),
    _count("n_pings", lambda c: len(c.ping_ms), "probes"),
    Detail("p99_is_max", _is_max(99)),
    _count("failures", lambda c: c.failures, "failed requests"),
    Detail("failures_by_kind", lambda c: dict(c.failures_by_kind)),
    _count("requests", lambda c: c.requests, "requests"),
    _count("users_served", lambda c: c.users_served, "users served"),
    _count(
        "waiting_at_end",
        lambda c: sum(1 for r in c.body if r.first_byte is None and r.outcome == STOPPED),
        "still waiting for a first byte at the stop",
    ),
    _count(
        "unfinished_at_end",
        lambda c: sum(1 for r in c.body if r.kind == "download" and r.outcome == STOPPED),
        "downloads cut by the stop",
    ),
    _count("downloads_in_flight_max", _in_flight("send"), "downloads in progress (most)"),
    Figure("served_mb", lambda c: c.received / MB, "served", "MB", "{:.0f}"),
    Figure("baseline_mb", _mb("baseline_pss"), "idle PSS", "MB"),
    Figure("warmup_cost_mb", _mb("warmup_pss_increase"), "warm-up cost", "MB"),
    Figure(
        "peak_pss_increase_mb",
        _peak_increase,
        "peak memory increase",
        "MB",
        kind="difference",
        floor=2.0,
        load_dependent=True,
        verdict=7,
        diff=True,
    ),
    Figure("peak_hwm_increase_mb", _mb("hwm_increase"), "kernel peak increase", "MB"),
    # Version 1's quotient (the peak over the downloads being sent: a line through zero, whose
    # denominator differs between stacks), kept under its name; no report shows or judges it:
    # memory per download is the slope over load levels (MB_PER_DOWNLOAD, compare.report.curves).
    Figure(
        "peak_mb_per_download",
        _per_download,
        "peak memory over downloads being sent",
        "MB",
        "{:.2f}",
        kind="difference",
    ),
    Figure(
        "memory_sample_interval_s",
        lambda c: c.memory.get("sample_interval_s"),
        "memory sampling interval",
        "s",
        digits=None,
    ),
    Figure("server_cpu_s", lambda c: c.server_cpu_s, "server CPU", "s", "{:.2f}"),
    Figure(
        "server_cpu_s_per_gb",
        _cpu_per_gb,
        "server CPU per GB",
        "s/GB",
        floor=1.0,
        verdict=9,
        diff=True,
    ),
    Detail("worker_cpu_s", lambda c: [round(s, 3) for s in c.worker_cpu_s]),
    Figure(
        "machine_busy_pct", lambda c: c.machine_busy_pct, "machine busy", "%", "{:.0f}", digits=1
    ),
    Figure(
        "client_cpu_pct",
        lambda c: c.client_cpu_pct,
        "busiest load-generator process",
        "% of a core",
        "{:.0f}",
        digits=1,
    ),
    Figure("database_increase_mb", _database_increase, "of which the database", "MB"),
    Figure("database_cpu_s", lambda c: c.database_cpu_s, "database CPU", "s", "{:.2f}"),
    Detail("flags", lambda c: list(c.flags)),
    # Capacity curves (kind concurrency: level = downloading users; rate: exports per s).
    Detail("load", lambda c: {"kind": c.load_kind, "level": c.load_level}),
    _count("downloads_streaming_max", _in_flight("first-byte"), "downloads being sent (most)"),
    # Open loop only (None under a closed loop).
    Figure("offered_rate_per_s", _open_loop("offered_rate_per_s"), "offered rate", "/s"),
    Figure("achieved_rate_per_s", _open_loop("achieved_rate_per_s"), "served rate", "/s"),
    _count("arrivals", _open_loop("arrivals"), "arrivals"),
    _count("not_started", _open_loop("not_started"), "not started"),
    _count("late_starts", _open_loop("late_starts"), "started late"),
    Figure("start_lag_p99_ms", _open_loop("start_lag_p99_ms"), "start lag p99", "ms", "{:.0f}"),
    _count("in_flight_at_end", _open_loop("in_flight_at_end"), "running when the window closed"),
    _count("max_in_flight", _open_loop("max_in_flight"), "in-flight bound"),
    # Added after version 1 of the figures document.
    Figure("peak_mb", _mb("peak_pss"), "peak PSS", "MB"),
    Figure("peak_process_uss_mb", _mb("peak_process_uss"), "largest process USS", "MB"),
    # Added in version 3 (measurement v3).
    Detail("p90_is_max", _is_max(90)),
    Detail("lower_bounds", _lower_bounds),
    Figure(
        "mb_per_s_all",
        _throughput_all,
        "throughput, failed downloads' bytes too",
        "MB/s",
        load_dependent=True,
    ),
    Figure("failed_mb", lambda c: (c.received_all - c.received) / MB, "failed bytes", "MB"),
    # The memory fit's x: bodies the server held at once (buffered, mismatch: from when it began
    # building them; streaming: from the first body byte).
    _count("downloads_held_max", _in_flight(None), "downloads held by the server (most)"),
    Figure("peak_sampled_increase_mb", _sampled_increase, "sampled peak increase", "MB"),
    Detail("peak_source", _peak_source),
    Figure(
        "server_cpus_other_pct",
        lambda c: c.server_cpus_other_pct,
        "servers' CPUs used by other processes",
        "%",
        "{:.0f}",
        digits=1,
    ),
    # Readers a stack serves at once in the window (with slow readers: how many it can hold).
    Figure(
        "served_at_once",
        _served_at_once,
        "downloads being sent at once (mean)",
        "",
        "{:.1f}",
        higher_is_better=True,
        load_dependent=True,
    ),
)

# A curve's figure, not a cell's: the slope of the peak memory increase against the downloads the
# server held at once, over a repetition's load levels (compare.report.curves.memory_fit); one
# value per repetition, compared between stacks like the cells' figures. Its floor: half a MB per
# download is what a few hundred downloads at once turn into a worker's worth of memory.
MB_PER_DOWNLOAD = Figure(
    "mb_per_download",
    lambda c: None,
    "memory per download in progress (slope over load levels)",
    "MB",
    "{:.2f}",
    digits=4,
    kind="difference",
    floor=0.5,
    load_dependent=True,
)
FIGURES: Mapping[str, Figure] = {f.name: f for f in ROW if isinstance(f, Figure)}
# The figures the verdict compares between stacks, in the order a reader cares about them.
VERDICT_FIGURES: tuple[Figure, ...] = tuple(
    sorted((f for f in FIGURES.values() if f.verdict is not None), key=lambda f: f.verdict or 0)
)
# The figures ``diff`` compares between two runs.
DIFF_FIGURES: tuple[Figure, ...] = tuple(f for f in FIGURES.values() if f.diff)


def compute(cell: CellFigures) -> dict[str, float | None]:
    """Every figure of a read cell, by name."""
    return {name: figure.compute(cell) for name, figure in FIGURES.items()}


def row(cell: CellFigures) -> dict[str, Any]:
    """The cell's row of the figures document: every figure (rounded) and detail, in order."""
    return {
        entry.name: entry.published(cell[entry.name])
        if isinstance(entry, Figure)
        else entry.value(cell)
        for entry in ROW
    }
