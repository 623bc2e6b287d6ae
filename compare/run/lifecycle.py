"""A stack started for measurement: server, CPU placement, sampler, warm-up, idle baselines.

The one measuring path: bench cells, the size sweep, ``measure-once`` and ``encode-bench`` all
go through ``MeasuredServer``, made by their run (compare.run.run.Run.measured), so a figure
means the same wherever it comes from.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import statistics
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import psutil

from compare.config import BenchConfig
from compare.errors import CompareError
from compare.results import Memory, ServerCpu, ServerFacts, WorkerCpu
from compare.run.workers import sized
from compare.servers.server import ServerProcess
from compare.servers.stacks import PROJECT_APP, AppTarget, StackSpec
from compare.system.download import download
from compare.system.sampler import (
    ProcessSample,
    ProcessTreeSampler,
    TreeSample,
    cpus_busy,
    machine_busy,
    peak_rss,
    peaks,
    process_cpu_seconds,
    reset_peak_rss,
    window,
)
from compare.system.startstop import StartStop

# Django's own words when it has to buffer a mismatched iterator (django/http/response.py).
_DJANGO_WARNING = re.compile(r"StreamingHttpResponse must consume \w+ iterators[^\n]*")
WARMUP_ROWS = 20_000
# Processes in a server's tree that serve no requests: nginx (measured with the stack, but not
# one of its workers) and multiprocessing's helpers (uvicorn --workers starts a resource
# tracker; its workers themselves run "from multiprocessing.spawn import spawn_main").
_HELPER = re.compile(r"^nginx|resource_tracker|forkserver")


def django_warnings(log_path: Path) -> list[str]:
    """Distinct Django iterator-mismatch warnings a server wrote to its log."""
    try:
        text = log_path.read_text(errors="replace")
    except OSError:
        return []
    return sorted({match.group(0).strip() for match in _DJANGO_WARNING.finditer(text)})


def worker_processes(root_pid: int) -> list[psutil.Process]:
    """The processes of a server tree that serve requests: its leaves, without helpers."""
    root = psutil.Process(root_pid)
    tree = [root, *root.children(recursive=True)]
    parents = set()
    for proc in tree:
        with contextlib.suppress(psutil.Error):
            parents.add(proc.ppid())
    workers = []
    for proc in tree:
        if proc.pid in parents:
            continue
        with contextlib.suppress(psutil.Error):
            if not _HELPER.search(" ".join(proc.cmdline()[:4])):
                workers.append(proc)
    return workers


@dataclass(frozen=True)
class WarmUp:
    """What the warm-up did: how long, how many requests, which workers answered."""

    seconds: float
    requests: int
    workers_answered: tuple[int, ...]


def warm_up(
    base_url: str,
    source: str,
    seconds: float,
    workers: int,
    rows: int = WARMUP_ROWS,
    paths: tuple[str, ...] = (),
) -> WarmUp:
    """Exports of ``rows`` and pings (``paths``: a user's URLs instead, any 2xx), ``workers + 1``
    at a time, until every worker answered and time is up.

    Lazy imports and first-request costs then fall before the idle baseline, on every worker.
    Gives up on reaching every worker after three times ``seconds`` (a stack whose kernel accept
    queue favours one worker); the result says which answered.
    """
    started = time.monotonic()
    soft, hard = started + seconds, started + 3 * seconds + 5
    seen: set[int] = set()
    count = 0
    urls = [f"{base_url}/export.csv?rows={rows}&source={source}", f"{base_url}/ping"]
    if paths:
        urls = [base_url + path for path in paths]
    with ThreadPoolExecutor(max_workers=workers + 1) as pool:
        while True:
            batch = list(pool.map(lambda u: download(u, timeout=60), urls * (workers + 1)))
            count += len(batch)
            for result in batch:
                if not 200 <= result.status < 300 or (result.status != 200 and not paths):
                    raise CompareError(f"warm-up request failed with HTTP {result.status}")
                if (pid := result.worker) is not None:
                    seen.add(pid)
            now = time.monotonic()
            if (now >= soft and len(seen) >= workers) or now >= hard:
                return WarmUp(now - started, count, tuple(sorted(seen)))


@dataclass(frozen=True)
class Idle:
    """An idle baseline: median tree PSS over a quiet window (monotonic times)."""

    pss: int
    start: float
    end: float


class MeasuredServer(StartStop):
    """Start a stack, pin it, sample it, warm it up and take its idle baselines."""

    def __init__(
        self,
        config: BenchConfig,
        spec: StackSpec,
        run_dir: Path,
        env: Mapping[str, str],
        *,
        environ: Mapping[str, str] | None = None,
        app: AppTarget = PROJECT_APP,
        cpus: tuple[int, ...] | None = None,
        database_pid: int | None = None,
        sample_interval_s: float | None = None,
        static_rows: int | None = None,
        warm_paths: tuple[str, ...] = (),
    ) -> None:
        self.config = config
        self.warm_paths = warm_paths  # a user's URLs: what the warm-up fetches instead
        # The static source's body of this many rows, encoded by every worker in the warm-up so
        # that the measured requests only send it (None: a source without one).
        self.static_rows = static_rows
        run_dir.mkdir(parents=True, exist_ok=True)
        self.spec = sized(spec, config)
        self.server = ServerProcess(
            self.spec, run_dir=run_dir, env=env, environ=environ, cpus=cpus, app=app
        )
        self.cpus = cpus  # the servers' CPUs
        # The run's database, sampled with the stack: its memory and CPU are part of what
        # serving an export costs.
        self.database_pid = database_pid
        self.interval = sample_interval_s or config.sample_interval_s
        self.sampler: ProcessTreeSampler | None = None
        self.cold: Idle | None = None  # before the warm-up
        self.idle: Idle | None = None  # after it: the baseline every increase is measured from
        self.warmup: WarmUp | None = None
        self.workers: dict[int, float] = {}  # pid -> create time
        self._rss_at_reset: dict[int, int] = {}
        self._hwm_at_close: dict[int, int | None] | None = None
        self._peaks_since = self._peaks_until = 0.0

    def start(self) -> Self:
        """Start the stack and the sampler; return after the warm-up and the idle baseline."""
        self.server.start()
        try:
            database = (self.database_pid,) if self.database_pid else ()
            self.sampler = ProcessTreeSampler(self.server.pid, self.interval, also=database).start()
            self.workers = {p.pid: p.create_time() for p in worker_processes(self.server.pid)}
            self.cold = self._idle(max(3 * self.interval, self.config.idle_s / 3))
            source, rows = (
                ("static", self.static_rows)
                if self.static_rows is not None
                else (self.config.source, WARMUP_ROWS)
            )
            self.warmup = warm_up(
                self.server.base_url,
                source,
                self.config.warmup_s,
                len(self.workers),
                rows,
                self.warm_paths,
            )
            self.idle = self._idle(self.config.idle_s)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop sampling and stop the server (idempotent)."""
        if self.sampler is not None:
            self.sampler.stop()
        self.server.stop()

    def _idle(self, seconds: float) -> Idle:
        assert self.sampler is not None
        t0 = time.monotonic()
        wanted = len(self.sampler.samples) + max(3, round(seconds / self.interval))
        self.sampler.wait_for(wanted, timeout=seconds * 5 + 5)
        t1 = time.monotonic()
        return Idle(self.sampler.baseline(t0, t1), t0, t1)

    def reset_peaks(self) -> None:
        """Restart the kernel's per-process RSS high-water marks from now."""
        assert self.sampler is not None
        self._rss_at_reset = {}
        self._hwm_at_close = None
        self._peaks_since = time.monotonic()
        last = self.sampler.samples[-1]
        for p in last.processes:
            rss = reset_peak_rss(p.pid)
            if rss is not None:
                self._rss_at_reset[p.pid] = rss

    def open_peaks(self) -> None:
        """Restart the marks from now, as a window opens; the increase stays measured from the
        RSS at reset_peaks() (before the load): memory the load took before the window and
        still holds is part of its peak, as it is of the sampled one."""
        self._hwm_at_close = None
        self._peaks_since = time.monotonic()
        for pid in self._rss_at_reset:
            reset_peak_rss(pid)

    def close_peaks(self) -> None:
        """Read the high-water marks now, as a window closes: memory() reports these."""
        self._hwm_at_close = {pid: peak_rss(pid) for pid in self._rss_at_reset}
        self._peaks_until = time.monotonic()

    def settle_after(self, t: float) -> None:
        """Wait for one sample taken after t, so a window ending at t is fully covered."""
        assert self.sampler is not None
        if self.sampler.window(t, None) or self.sampler.root_exited:
            return
        with contextlib.suppress(ProcessLookupError):  # the server died: nothing more to sample
            self.sampler.wait_for(len(self.sampler.samples) + 1, timeout=5)

    def memory(self, t0: float, t1: float) -> Memory:
        """Baselines and peaks of the tree over [t0, t1] (monotonic), in bytes."""
        assert self.sampler is not None and self.idle is not None and self.cold is not None
        inside = window(self.sampler.samples, t0, t1)
        if not inside:  # a window shorter than the interval: the sample just after it
            inside = window(self.sampler.samples, t0, None)[:1]
        if not inside:
            raise CompareError("the server tree was not sampled in the window (did it exit?)")
        top = peaks(inside)
        closed = self._hwm_at_close
        hwm = 0
        for pid, rss in self._rss_at_reset.items():
            high = peak_rss(pid) if closed is None else closed.get(pid)
            if high is not None:
                hwm += max(high - rss, 0)
        gaps = [b.t - a.t for a, b in itertools.pairwise(inside)]
        memory: Memory = {
            "cold_pss": self.cold.pss,
            "baseline_pss": self.idle.pss,
            "warmup_pss_increase": self.idle.pss - self.cold.pss,
            "peak_pss": top.pss,
            "peak_pss_increase": top.pss - self.idle.pss,
            "peak_uss": top.uss,
            "peak_process_uss": top.process_uss,
            # The kernel's exact per-process peaks since reset_peaks() (until close_peaks()),
            # summed: an upper bound for the tree's peak RSS increase, and equal to it when one
            # process grows.
            "hwm_increase": hwm if self._rss_at_reset else None,
            "hwm_since": self._peaks_since,
            "hwm_until": None if closed is None else self._peaks_until,
            "sample_interval_s": self.interval,
            "sample_gap_median_s": statistics.median(gaps) if gaps else None,
            "samples": len(inside),
        }
        if self.database_pid is not None:
            memory["database_baseline_pss"], memory["database_peak_pss"] = self._database_memory(
                inside
            )
        return memory

    def _is_database(self, p: ProcessSample) -> bool:
        pid = self.database_pid
        return pid is not None and pid in (p.pid, p.ppid)

    def _database_memory(self, inside: list[TreeSample]) -> tuple[int, int]:
        """The database's part of the tree (postmaster and backends): idle baseline, peak."""
        assert self.sampler is not None and self.idle is not None
        idle = window(self.sampler.samples, self.idle.start, self.idle.end)

        def part(sample: TreeSample) -> int:
            return sum(p.pss for p in sample.processes if self._is_database(p))

        baseline = int(statistics.median(part(s) for s in idle)) if idle else 0
        return baseline, max(map(part, inside))

    def cpu(self, t0: float, t1: float) -> ServerCpu:
        """Server CPU over [t0, t1]: the tree's, each worker's, and the machine's busy share."""
        assert self.sampler is not None
        samples = self.sampler.samples
        used = process_cpu_seconds(samples, t0, t1)
        workers: list[WorkerCpu] = [
            {"pid": pid, "cpu_s": used.get((pid, created), 0.0)}
            for pid, created in sorted(self.workers.items())
        ]
        busy = machine_busy(samples, t0, t1)
        servers = self.config.server_cpus
        # Against the tree's own CPU: how much of the servers' CPUs something else took.
        on_servers = cpus_busy(samples, t0, t1, servers) if servers else None
        cpu: ServerCpu = {
            "server_cpu_s": sum(used.values()),
            "workers": workers,
            "machine": {
                "busy_pct": 100 * sum(busy) / len(busy) if busy else None,
                "per_cpu_busy_pct": [round(100 * b, 1) for b in busy] if busy else None,
                "server_cpus": list(servers) if servers else None,
                "server_cpus_busy_s": round(on_servers[0], 4) if on_servers else None,
                "span_s": round(on_servers[1], 4) if on_servers else None,
            },
        }
        if self.database_pid:
            # The postmaster and its backends (which come and go with Django's connections).
            database = {p.key for s in samples for p in s.processes if self._is_database(p)}
            cpu["database_cpu_s"] = sum(c for k, c in used.items() if k in database)
        return cpu

    def describe(self) -> ServerFacts:
        """The start-up facts a results document keeps: command, workers, warm-up, baselines."""
        assert self.idle is not None and self.cold is not None and self.warmup is not None
        return {
            "server_argv": self.server.argv,
            "worker_pids": sorted(self.workers),
            "warmup": {
                "seconds": round(self.warmup.seconds, 3),
                "requests": self.warmup.requests,
                "workers_answered": list(self.warmup.workers_answered),
            },
        }

    def vanished(self, t0: float) -> list[int]:
        """Pids of processes that died after t0: no stack here restarts workers on its own."""
        assert self.sampler is not None
        samples = self.sampler.window(t0, None)
        if not samples:
            return []
        alive = {p.key for p in samples[-1].processes}
        gone = {
            p.key: p.pid
            for s in samples
            for p in s.processes
            # A database's backends live as long as one of Django's connections: not a death.
            if p.key not in alive and not self._is_database(p)
        }
        return sorted(gone.values())

    def samples(self) -> list[TreeSample]:
        """Every sample so far."""
        assert self.sampler is not None
        return self.sampler.samples
