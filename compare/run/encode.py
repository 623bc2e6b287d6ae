"""The encode benchmark: rows/s of the row source + CSV chunker, in-process and served.

The stacks are started and pinned as every measurement starts them (MeasuredServer, made by the
run); the in-process runs take a process of their own on the servers' CPUs (Ceiling), the
client here on the load generator's. Each way of producing the export runs in turn, interleaved
(A B A B), and the median is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Self

from compare import REPO_ROOT
from compare.errors import CompareError
from compare.run.appdata import RunData
from compare.run.countdown import Countdown
from compare.run.run import Run
from compare.run.sweep import single_downloads
from compare.servers.server import ServerProcess
from compare.servers.stacks import get_stack
from compare.system.download import download
from compare.system.interrupts import held_stop_signals
from compare.system.placement import Placement, started_on
from compare.system.proctree import ProcessTree
from compare.system.startstop import StartStop


@dataclass(frozen=True)
class Measurement:
    """The median rate of one way of producing the export."""

    label: str
    chunk_kb: int
    rows_per_s: float
    mb_per_s: float


def _in_process(rows: int, chunk_kb: int, kind: str) -> tuple[float, int]:
    """Produce the whole body in this process; return seconds and bytes."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", "encode-bench-only")
    from project.export.params import ExportParams
    from project.export.streams import async_pieces, sync_pieces

    params = ExportParams(rows=rows, chunk_kb=chunk_kb)
    started = time.perf_counter()
    if kind == "sync":
        size = sum(len(piece) for piece in sync_pieces(params, rows))
    else:

        async def consume() -> int:
            return sum([len(piece) async for piece in async_pieces(params, rows)])

        size = asyncio.run(consume())
    return time.perf_counter() - started, size


STOP_GRACE_S = 5.0
# The in-process runs' own process: one job per line in, its (seconds, bytes) per line out.
_CEILING = """
import json, sys
from compare.run.encode import _in_process
for line in sys.stdin:
    print(json.dumps(_in_process(*json.loads(line))), flush=True)
"""


class Ceiling(StartStop):
    """A process of its own for the in-process runs, on the servers' CPUs (idle meanwhile).

    In ours, the stacks' sampler threads would share its interpreter and slow it down, and the
    served exports would read above 100% of the ceiling.
    """

    def __init__(self, cpus: tuple[int, ...] | None, env: Mapping[str, str]) -> None:
        self.cpus = cpus
        self.env = dict(env)
        self._tree: ProcessTree | None = None

    def start(self) -> Self:
        """Start the process on its CPUs; it waits for jobs."""
        try:
            # Started and owned as one step: a stop signal in between would orphan it.
            with held_stop_signals(), started_on(self.cpus):
                proc = subprocess.Popen(
                    [sys.executable, "-c", _CEILING],
                    cwd=REPO_ROOT,
                    env=self.env,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    process_group=0,
                )
                self._tree = ProcessTree(proc, "encode-bench ceiling")
        except BaseException:
            self.stop()
            raise
        return self

    def run(self, rows: int, chunk_kb: int, kind: str) -> tuple[float, int]:
        """One in-process run there: seconds and bytes."""
        assert self._tree is not None and self._tree.proc.stdin and self._tree.proc.stdout
        self._tree.proc.stdin.write(json.dumps([rows, chunk_kb, kind]).encode() + b"\n")
        self._tree.proc.stdin.flush()
        answer = self._tree.proc.stdout.readline()
        if not answer:
            raise CompareError("the in-process runs' process exited (see above)")
        seconds, size = json.loads(answer)
        return float(seconds), int(size)

    def stop(self) -> None:
        """End it (its input closed ends its loop), or kill it; idempotent."""
        if self._tree is None:
            return
        proc = self._tree.proc
        try:
            if proc.stdin:
                with contextlib.suppress(OSError):
                    proc.stdin.close()
            self._tree.stop(((signal.SIGTERM, STOP_GRACE_S),))
        finally:
            if proc.stdout:
                proc.stdout.close()
            self._tree = None


def _median(label: str, chunk_kb: int, rows: int, runs: list[tuple[float, int]]) -> Measurement:
    seconds = statistics.median(run[0] for run in runs)
    return Measurement(label, chunk_kb, rows / seconds, runs[0][1] / seconds / 1e6)


def measure(
    rows: int,
    repeat: int,
    stacks: Sequence[str],
    chunk_sizes: Sequence[int],
    placement: Placement,
) -> list[Measurement]:
    """Measure in-process and through each stack, interleaved, for each chunk size."""
    with tempfile.TemporaryDirectory(prefix="dsc-encode-") as tmp:
        config = single_downloads(rows, placement, Path(tmp))
        with (
            Run(RunData("synthetic", "minimal", 0), config) as run,
            contextlib.ExitStack() as started,
            Ceiling(placement.server_cpus, run.environ) as ceiling,
        ):
            servers = []
            for name in stacks:
                run.progress(f"starting {name}, warmed up, placement {placement.describe()}")
                measured = run.measured(get_stack(name), Path(tmp) / name)
                servers.append(started.enter_context(measured).server)
            return _interleaved(rows, repeat, servers, chunk_sizes, ceiling, run.progress)


def _interleaved(
    rows: int,
    repeat: int,
    servers: Sequence[ServerProcess],
    chunk_sizes: Sequence[int],
    ceiling: Ceiling,
    progress: Callable[[str], None],
) -> list[Measurement]:
    """Every way of producing the export in turn, ``repeat`` times, for each chunk size."""
    results: list[Measurement] = []
    rounds = Countdown(len(chunk_sizes) * repeat)
    ways = len(servers) + 2
    progress(
        f"encode-bench: {rounds.total} rounds ({repeat} per chunk size), each exporting "
        f"{rows:,} rows {ways} ways: in-process sync and async, then through each stack"
    )
    for chunk_kb in chunk_sizes:
        runs: dict[str, list[tuple[float, int]]] = {}
        jobs: list[tuple[str, Callable[[], tuple[float, int]]]] = [
            ("in-process sync", partial(ceiling.run, rows, chunk_kb, "sync")),
            ("in-process async", partial(ceiling.run, rows, chunk_kb, "async")),
        ]
        for server in servers:
            url = f"{server.base_url}/export.csv?rows={rows}&chunk_kb={chunk_kb}"
            jobs.append((server.spec.name, partial(_served, url, rows)))
        for _ in range(repeat):
            for label, job in jobs:
                runs.setdefault(label, []).append(job())
            progress(f"chunk_kb={chunk_kb}: round {rounds.step()}")
        results += [_median(label, chunk_kb, rows, r) for label, r in runs.items()]
    return results


def _served(url: str, rows: int) -> tuple[float, int]:
    result = download(url)
    problem = result.problem(expected_rows=rows)
    if problem is not None:
        raise CompareError(f"{url}: {problem}")
    return result.total, result.body_bytes
