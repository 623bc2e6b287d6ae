"""One load-test cell: a fresh, warmed stack, locust headless recording raw requests, samplers.

Timeline of a cell (monotonic clock, shared by every process on the machine):

    t0 locust launched .. users spawned .. +settle_s: WINDOW OPENS .. WINDOW CLOSES: locust
    stops starting requests .. drain (requests of the window finish, at most drain_s) .. exit

Every figure of the cell is computed over the window (compare.report.metrics) from what is stored
here: the load generator's raw records, its body bytes per time bin, and the server samples.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from compare.config import BenchConfig, LoadKind
from compare.errors import CompareError
from compare.results import Cell, ClientLoad, Status, StoredLoad
from compare.run.lifecycle import django_warnings
from compare.run.locust import headless_argv
from compare.run.peakwatch import WindowPeaks
from compare.run.records import (
    ARCHIVE,
    archive,
    byte_bins,
    columns,
    events,
    failure_details,
    measurement_window,
    read_records,
)
from compare.run.run import Run
from compare.servers.stacks import StackSpec
from compare.system.ports import free_port
from compare.system.sampler import ProcessTreeSampler, TreeSample, process_cpu_seconds
from loadtests.catalog import SCENARIOS, WindowKind, export_rows

logger = logging.getLogger(__name__)

CLIENT_INTERVAL_S = 0.25
# The load stops settle_s + duration_s after spawning (--stop-after-spawn); --run-time is only a
# backstop, this much later, for a locust that never finishes spawning.
RUN_TIME_BACKSTOP_S = 60.0
LOCUST_GRACE_S = 30.0
# Distributed: the master waits for its forked workers to connect before the clock starts.
WORKERS_ALLOWANCE_S = 60.0


def load_s(config: BenchConfig, load: Load, window: WindowKind = "steady") -> float:
    """How long the load runs after spawning (a cycled window: after it opened): the settling
    time (a cycled window needs none), then the window itself."""
    settle = config.settle_s if window == "steady" else 0.0
    if load.kind == "rate" and load.level > 0:
        # An open loop's window spans MIN_ARRIVALS of its arrivals (within MAX_WINDOW_FACTOR):
        # at 1/s a 2.5 s window holds two or three, and its served rate is a coin toss.
        wanted = min(MIN_ARRIVALS / load.level, MAX_WINDOW_FACTOR * config.duration_s)
        return settle + max(config.duration_s, wanted)
    return settle + config.duration_s


# A window should hold at least this many request starts per user, so every latency figure has
# samples even where one download outlasts --duration (many users on one worker); it grows up
# to MAX_WINDOW_FACTOR times --duration for that, and no further.
MIN_STARTS_PER_USER = 2
MAX_WINDOW_FACTOR = 4.0
MIN_ARRIVALS = 10


# A cycled window waits at most this long for the first downloads to end, then opens anyway.
CYCLE_LIMIT_S = 45.0


def window_params(config: BenchConfig, window: WindowKind, load: Load) -> dict[str, int | float]:
    """The adaptive window: a cycled one opens once the first downloads ended (one per user, or
    under an open loop the first: it has run for one download's time) and closes once every user
    started one more; a steady closed loop keeps the load on until every user started a few
    requests (an open loop starts on schedule)."""
    if window == "cycled":
        users = load.users if load.kind == "concurrency" else 0
        limit = CYCLE_LIMIT_S + MAX_WINDOW_FACTOR * config.duration_s
        # It stays open until every user started a download in it (one wait for a first byte
        # each: a 2.5 s window of 9 s downloads held none on most cells). Its readers set the
        # pace of a download once it began: the drain waits for first bytes only.
        return {
            "open_after_ends": users or 1,
            "min_window_requests": users,
            "max_load_seconds": limit,
            "drain_first_bytes": 1,
        }
    if load.kind != "concurrency":
        return {}
    return {
        "window_settle": config.settle_s,
        "min_window_requests": MIN_STARTS_PER_USER * load.users,
        "max_load_seconds": config.settle_s + MAX_WINDOW_FACTOR * config.duration_s,
    }


def run_time_s(config: BenchConfig) -> int:
    """Locust's --run-time (whole seconds), a backstop well after the planned stop."""
    longest = max(config.settle_s, CYCLE_LIMIT_S) + MAX_WINDOW_FACTOR * config.duration_s
    return math.ceil(longest + RUN_TIME_BACKSTOP_S)


def _run_locust(
    run: Run, argv: list[str], cell_dir: Path, deadline_s: float
) -> tuple[int | None, list[TreeSample]]:
    """Run locust to its end (killed at the deadline) with its CPU sampled; (exit code, samples)."""
    locust = run.locust(argv, log=cell_dir / "locust.log").start()
    try:
        with ProcessTreeSampler(locust.pid, CLIENT_INTERVAL_S, memory=False) as client:
            code = locust.wait(deadline_s, CLIENT_INTERVAL_S)
        return code, client.samples
    finally:
        locust.stop(grace_s=0)  # a locust past its deadline, or one we were interrupted in


def client_load(samples: list[TreeSample], t0: float, t1: float) -> ClientLoad:
    """The load generator's CPU over [t0, t1]: each process's share of one core, in percent."""
    length = t1 - t0
    used = process_cpu_seconds(samples, t0, t1) if length > 0 else {}
    per_process = sorted((100 * s / length for s in used.values()), reverse=True)
    return {
        "window_max_pct": per_process[0] if per_process else None,
        "window_pct": [round(p, 1) for p in per_process],
        "processes": len(per_process),
    }


@dataclass(frozen=True)
class Load:
    """What a cell's load generator runs: the load's kind and level, and locust's users."""

    kind: LoadKind
    level: float
    users: int  # locust users: downloaders (+ the probe), or arrival schedulers (+ the probe)
    params: dict[str, int | float | str]

    def describe(self) -> StoredLoad:
        """The cell's ``load`` entry."""
        level = int(self.level) if self.kind == "concurrency" else self.level
        return {"kind": self.kind, "level": level}


def cell_load(config: BenchConfig, scenario: str, level: float | None) -> Load:
    """The load of one cell: ``level`` of the run's kind, or the scenario's own users.

    A concurrency level counts the downloading users; head-of-line's probe comes on top, so
    the level means the same in every scenario. A rate level is exports started per second,
    by one scheduler user per locust process.
    """
    info = SCENARIOS[scenario]
    probe = 1 if info.probe_class else 0
    if level is None:
        users = max(config.users or info.users, info.min_users)
        return Load("concurrency", users - probe, users, {})
    if config.load_kind == "concurrency":
        return Load("concurrency", level, int(level) + probe, {})
    streams = max(1, config.locust_workers)
    params: dict[str, int | float | str] = {
        "arrival_rate": level,
        "arrivals": config.arrivals,
        "max_in_flight": config.max_in_flight,
        "arrival_streams": streams,
    }
    return Load("rate", level, streams + probe, params)


def run_load_cell(
    run: Run,
    spec: StackSpec,
    scenario: str,
    repetition: int,
    cell_dir: Path,
    level: float | None = None,
) -> Cell:
    """Run one scenario against a fresh stack; the cell records failure instead of raising."""
    config = run.config
    info = SCENARIOS[scenario]
    load = cell_load(config, scenario, level)
    cell: Cell = {
        "stack": spec.name,
        "scenario": scenario,
        "repetition": repetition,
        "users": load.users,
        "load": load.describe(),
        "duration_s": config.duration_s,
        "status": "failed",
        "error": None,
        "dir": str(cell_dir),
    }
    if load.kind == "rate":
        cell["arrival"] = {
            "rate": load.level,
            "arrivals": config.arrivals,
            "max_in_flight": config.max_in_flight,
            "streams": int(load.params["arrival_streams"]),
        }
    if config.locust_workers:
        cell["locust_workers"] = config.locust_workers
    params = run.target.locust_options()
    if config.rows:
        params["rows"] = config.rows
    rows = export_rows(info, params)
    static = info.step.fixed.get("source", config.source) == "static"
    try:
        with run.measured(spec, cell_dir, static_rows=rows if static else None) as measured:
            cell = {**cell, **measured.describe()}
            if run.target.counts_rows:  # a user's URL: no rows, so no rows/s in the report
                cell["export_rows"] = rows
            record_dir = cell_dir / "records"
            argv = headless_argv(
                [scenario],
                host=measured.server.base_url,
                users=load.users,
                run_time_s=run_time_s(config),
                stop_timeout_s=config.drain_s,
                csv_prefix=cell_dir / "locust",
                params={
                    **params,
                    **load.params,
                    "record_dir": str(record_dir),
                    "stop_after_spawn": load_s(config, load, info.window),
                    **window_params(config, info.window, load),
                },
                kind=load.kind,
                processes=config.locust_workers,
                master_port=free_port() if config.locust_workers else None,
            )
            cell["locust_argv"] = argv
            measured.reset_peaks()
            t0 = time.monotonic()
            # Every relative time in the cell counts from here; kept to line up other logs.
            cell["t0"] = t0
            deadline = run_time_s(config) + config.drain_s + LOCUST_GRACE_S
            if config.locust_workers:
                deadline += WORKERS_ALLOWANCE_S
            # The kernel's peaks restart as the window opens and are read as it closes.
            with WindowPeaks(
                record_dir, config.settle_s, measured.open_peaks, measured.close_peaks
            ):
                code, client_samples = _run_locust(run, argv, cell_dir, deadline)
            t_end = time.monotonic()
            measured.settle_after(t_end)
            cell["locust_exit_code"] = code
            cell["warnings"] = django_warnings(measured.server.log_path)
            cell["server_survived"] = measured.server.running()
            cell["processes_died"] = measured.vanished(t0)
            records = read_records(record_dir)
            archive(record_dir, cell_dir / ARCHIVE)
            cell["requests"] = columns(records, t0)
            cell["failure_details"] = failure_details(records)
            cell["body_bytes"] = byte_bins(records, t0)
            cell["failed_body_bytes"] = byte_bins(records, t0, failed=True)
            cell["events"] = events(records, t0)
            cell["timeline"] = _timeline(measured.samples(), t0)
            window = measurement_window(records, t0, config.settle_s, info.window)
            w0, w1 = t0 + window.start, t0 + window.end
            cell["window"] = window.stored()
            cell["client"] = client_load(client_samples, w0, w1)
            if cell["server_survived"]:  # a tree that is gone has no peak or CPU to speak of
                cell["memory"] = measured.memory(w0, w1)
                cell = {**cell, **measured.cpu(w0, w1)}
            cell["status"], cell["error"] = _verdict(cell)
    except (CompareError, OSError, psutil.Error) as error:
        cell["error"] = str(error)
    return cell


def _timeline(samples: list[TreeSample], t0: float) -> list[dict[str, float | int]]:
    """The server tree over the whole cell, for charts: memory, CPU, machine busy."""
    points: list[dict[str, float | int]] = []
    previous: TreeSample | None = None
    for s in samples:
        point: dict[str, float | int] = {
            "t": round(s.t - t0, 4),
            "pss": s.pss,
            "uss": s.uss,
            "cpu": round(s.cpu, 4),
            "processes": len(s.processes),
        }
        if previous is not None and previous.machine and s.machine:
            total = sum(c.total for c in s.machine) - sum(c.total for c in previous.machine)
            busy = sum(c.busy for c in s.machine) - sum(c.busy for c in previous.machine)
            point["machine_busy_pct"] = round(100 * busy / total, 1) if total > 0 else 0.0
        points.append(point)
        previous = s
    return points


def _verdict(cell: Cell) -> tuple[Status, str | None]:
    if not cell["server_survived"]:
        return "failed", "the server exited during the cell"
    if cell["processes_died"]:
        pids = ", ".join(map(str, cell["processes_died"]))
        return "failed", f"server processes died during the cell (pid {pids}); figures unreliable"
    if cell["locust_exit_code"] not in (0, None):
        return "failed", f"locust exited with code {cell['locust_exit_code']}"
    window, table = cell["window"], cell["requests"]
    running = [
        start
        for start, end in zip(table["start"], table["end"], strict=True)
        if start < window["end"] and end > window["start"]
    ]
    if not running:
        return "failed", "no request was in progress in the measurement window"
    return "ok", None
