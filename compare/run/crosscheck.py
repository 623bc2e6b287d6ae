"""The run checks itself: after its cells, a sample of its work re-measured by another client.

Per stack, one load cell (the first steady download scenario at its lowest load) and one size-
sweep point (the stream variant at the largest size up to CROSSCHECK_MAX_ROWS, downloaded
CROSSCHECK_SWEEP_DOWNLOADS times: one download can meet a hiccup the bench's did not) are
measured again on a fresh stack, placed like the bench's (the server on its CPUs, this client on
the load generator's, where the harness runs), with the same query, by compare.system.rawclient:
a raw socket and /proc, nothing of locust, http.client or the tree sampler. What it saw is
stored raw in the results document's ``crosscheck``; compare.report.crosscheck holds it against
the bench's figures.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import psutil

from compare.config import BenchConfig
from compare.errors import CompareError
from compare.results import Crosscheck, CrossDownload
from compare.run.lifecycle import warm_up, worker_processes
from compare.run.loadcell import MAX_WINDOW_FACTOR, MIN_STARTS_PER_USER, cell_load
from compare.run.run import Run
from compare.run.sweep import sweep_query
from compare.run.workers import sized
from compare.servers.stacks import StackSpec
from compare.settings import (
    CROSSCHECK_MAX_ROWS,
    CROSSCHECK_SAMPLE_S,
    CROSSCHECK_SWEEP_DOWNLOADS,
    LOCUST_SESSION,
)
from compare.system.rawclient import RawDownload, TreeMemoryWatch, idle_pss, raw_get, tree_pids
from loadtests.catalog import SCENARIOS, export_rows
from loadtests.options import LoadOptions

logger = logging.getLogger(__name__)

Kind = Literal["cell", "sweep"]
POLL_S = 0.02


@dataclass(frozen=True)
class Sample:
    """One piece of the run to re-measure: a cell's load or a sweep point, on one stack."""

    kind: Kind
    spec: StackSpec
    path: str  # the export's path and query, as the bench asked for it
    users: int
    scenario: str | None = None
    level: float | None = None  # the cell's load level as stored (None: the scenario's users)
    variant: str | None = None
    rows: int | None = None

    @property
    def label(self) -> str:
        """How progress lines name it."""
        if self.kind == "cell":
            return f"crosscheck {self.spec.name} {self.scenario} {self.users} users"
        return f"crosscheck {self.spec.name} {self.variant} {self.rows:,} rows"


def cell_sample(config: BenchConfig, spec: StackSpec, source: str) -> Sample | None:
    """The cell to re-measure: the first whole-download scenario without a probe, at its
    lowest closed-loop load; None when the run has none."""
    if config.load_kind != "concurrency":
        return None
    for scenario in config.scenarios:
        info = SCENARIOS[scenario]
        if info.step.read != "whole" or info.probe_class or not info.steady:
            continue
        level = min(config.levels) if config.levels else None
        load = cell_load(config, scenario, level)
        rows = export_rows(info, {"rows": config.rows} if config.rows else {})
        query = info.step.query(LoadOptions(rows=rows, source=source))  # type: ignore[arg-type]
        path = "/export.csv?" + "&".join(f"{k}={v}" for k, v in query.items())
        return Sample("cell", spec, path, load.users, scenario=scenario, level=level)
    return None


def sweep_sample(config: BenchConfig, spec: StackSpec) -> Sample | None:
    """The sweep point to re-measure: stream (else the first variant) at the largest size up
    to CROSSCHECK_MAX_ROWS (else the smallest); None without a sweep."""
    if not config.sweep_sizes or not config.sweep_variants:
        return None
    variant = "stream" if "stream" in config.sweep_variants else config.sweep_variants[0]
    bounded = [r for r in config.sweep_sizes if r <= CROSSCHECK_MAX_ROWS]
    rows = max(bounded) if bounded else min(config.sweep_sizes)
    path = "/export.csv?" + sweep_query(variant, rows, spec, config.source)
    return Sample("sweep", spec, path, 1, variant=variant, rows=rows)


def plan(config: BenchConfig, specs: list[StackSpec]) -> list[Sample]:
    """Every sample in run order: the cells, then the sweep points, stacks alternating in
    direction (A B, B A) as the bench's are."""
    kinds: list[Callable[[StackSpec], Sample | None]] = [
        lambda spec: cell_sample(config, spec, config.source),
        lambda spec: sweep_sample(config, spec),
    ]
    order: list[Sample] = []
    for index, pick in enumerate(kinds):
        turn = specs if index % 2 == 0 else list(reversed(specs))
        order += [s for spec in turn if (s := pick(spec)) is not None]
    return order


def run_crosscheck(
    run: Run, specs: list[StackSpec], out_dir: Path, record: Callable[[Crosscheck], None]
) -> None:
    """Re-measure the run's sample, recording each measurement as it finishes."""
    for sample in plan(run.config, [s for s in specs if s.missing() is None]):
        run.progress(sample.label)
        measured = measure(run, sample, out_dir / f"{sample.kind}-{sample.spec.name}")
        if measured["status"] != "ok":
            logger.warning("%s failed: %s", sample.label, measured["error"])
        record(measured)


def measure(run: Run, sample: Sample, run_dir: Path) -> Crosscheck:
    """Start the stack fresh, warm it, take the idle PSS, and re-measure the sample."""
    config = run.config
    started = time.monotonic()
    entry: Crosscheck = {
        "kind": sample.kind,
        "stack": sample.spec.name,
        "path": sample.path,
        "users": sample.users,
        "status": "failed",
        "error": None,
    }
    if sample.kind == "cell":
        entry["scenario"] = sample.scenario or ""
        entry["level"] = sample.level
    else:
        entry["variant"], entry["rows"] = sample.variant or "", sample.rows or 0
    spec = sized(sample.spec, config)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        # On the servers' CPUs from exec on, like every measured stack (every thread inherits them).
        server = run.server(spec, run_dir=run_dir, cpus=run.placement.server_cpus)
        with server:
            workers = len(worker_processes(server.pid))
            warm_up(server.base_url, config.source, config.warmup_s, workers)
            database = tree_pids(run.target.database_pid) if run.target.database_pid else []
            pids = tree_pids(server.pid) + database
            entry["baseline_pss"] = idle_pss(pids, config.idle_s, CROSSCHECK_SAMPLE_S)
            cookie = run.target.locust_variables().get(LOCUST_SESSION.name)
            with TreeMemoryWatch(pids, CROSSCHECK_SAMPLE_S) as watch:
                if sample.kind == "cell":
                    _load(entry, config, server.port, sample, cookie)
                else:
                    entry["downloads"] = [
                        _stored(raw_get(server.port, sample.path, cookie=cookie), 0.0)
                        for _ in range(CROSSCHECK_SWEEP_DOWNLOADS)
                    ]
            entry["peak_pss"], entry["pss_samples"] = watch.peak_pss, watch.samples
            entry["hwm_increase"] = watch.hwm_increase()
        problems = [d["problem"] for d in entry.get("downloads", []) if d["problem"]]
        entry["error"] = problems[0] if problems else None
        entry["status"] = "failed" if problems else "ok"
    except (CompareError, OSError, ValueError, psutil.Error) as error:
        # ValueError: an answer the raw parser could not read.
        entry["error"] = str(error)
    entry["seconds"] = round(time.monotonic() - started, 3)
    return entry


def _stored(result: RawDownload, start: float) -> CrossDownload:
    problem = None if result.status == 200 else f"HTTP {result.status}"
    announced = result.headers.get("x-export-rows")
    if problem is None and announced is None:
        problem = "no X-Export-Rows header"
    return {
        "start": round(start, 6),
        "ttfb_s": result.ttfb_s,
        "ttlb_s": result.ttlb_s,
        "body_bytes": result.body_bytes,
        "problem": problem,
    }


def _load(
    entry: Crosscheck, config: BenchConfig, port: int, sample: Sample, cookie: str | None
) -> None:
    """``users`` back-to-back downloaders; the window opens settle_s after they start and
    closes after duration_s once it holds MIN_STARTS_PER_USER starts per user (at most
    MAX_WINDOW_FACTOR times as long), as a load cell's adaptive window does."""
    t0 = time.monotonic()
    stop = threading.Event()
    downloads: list[CrossDownload] = []
    pieces: list[tuple[float, int]] = []
    lock = threading.Lock()

    def heard(t: float, n: int) -> None:
        pieces.append((t, n))  # list.append is atomic under the GIL

    def user() -> None:
        while not stop.is_set():
            begun = time.monotonic()
            try:
                result = raw_get(port, sample.path, cookie=cookie, on_bytes=heard)
            except (OSError, ValueError) as error:
                with lock:
                    downloads.append(_failed(begun - t0, str(error)))
                return
            with lock:
                downloads.append(_stored(result, begun - t0))

    threads = [threading.Thread(target=user, daemon=True) for _ in range(sample.users)]
    for thread in threads:
        thread.start()
    w0 = config.settle_s
    soonest, latest = w0 + config.duration_s, w0 + MAX_WINDOW_FACTOR * config.duration_s
    wanted = MIN_STARTS_PER_USER * sample.users
    while True:
        now = time.monotonic() - t0
        with lock:
            started = sum(1 for d in downloads if d["start"] >= w0) + len(threads)
        if (now >= soonest and started >= wanted) or now >= latest:
            break
        stop.wait(POLL_S)
    w1 = time.monotonic() - t0
    stop.set()
    deadline = time.monotonic() + config.drain_s
    for thread in threads:
        thread.join(max(deadline - time.monotonic(), 0.0))
    entry["window"] = {"start": w0, "end": w1}
    entry["window_bytes"] = sum(n for t, n in list(pieces) if w0 <= t - t0 < w1)
    with lock:
        entry["downloads"] = list(downloads)


def _failed(start: float, error: str) -> CrossDownload:
    return {"start": round(start, 6), "ttfb_s": None, "ttlb_s": None, "body_bytes": 0,
            "problem": error}  # fmt: skip
