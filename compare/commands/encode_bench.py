"""``encode-bench``: rows/s of the row source + CSV chunker, in-process and served.

In-process numbers are the ceiling; the served numbers show what each server keeps of it with
one client. Runs are interleaved (A B A B) and the median is reported. The stacks are started
as every measurement starts them (compare.run.lifecycle: pinned to the servers' CPUs, warmed
up), and this process, the in-process runs included, runs on the load generator's CPUs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from compare.errors import CompareError
from compare.run.appdata import RunData
from compare.run.run import Run
from compare.run.sweep import single_downloads
from compare.servers.server import ServerProcess
from compare.servers.stacks import get_stack, stack_names
from compare.settings import DSC_PLACEMENT, DSC_STACKS, EXPORT_ROWS
from compare.system.download import download
from compare.system.placement import MODES, Placement, choose


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
        data = RunData("synthetic", "minimal", 0)
        with Run(data, config) as run, contextlib.ExitStack() as started:
            servers = [
                started.enter_context(run.measured(get_stack(name), Path(tmp) / name)).server
                for name in stacks
            ]
            return _interleaved(rows, repeat, servers, chunk_sizes)


def _interleaved(
    rows: int, repeat: int, servers: Sequence[ServerProcess], chunk_sizes: Sequence[int]
) -> list[Measurement]:
    """Every way of producing the export in turn, ``repeat`` times, for each chunk size."""
    results: list[Measurement] = []
    for chunk_kb in chunk_sizes:
        runs: dict[str, list[tuple[float, int]]] = {}
        jobs: list[tuple[str, Callable[[], tuple[float, int]]]] = [
            ("in-process sync", partial(_in_process, rows, chunk_kb, "sync")),
            ("in-process async", partial(_in_process, rows, chunk_kb, "async")),
        ]
        for server in servers:
            url = f"{server.base_url}/export.csv?rows={rows}&chunk_kb={chunk_kb}"
            jobs.append((server.spec.name, partial(_served, url, rows)))
        for _ in range(repeat):
            for label, job in jobs:
                runs.setdefault(label, []).append(job())
        results += [_median(label, chunk_kb, rows, r) for label, r in runs.items()]
    return results


def _served(url: str, rows: int) -> tuple[float, int]:
    result = download(url)
    problem = result.problem(expected_rows=rows)
    if problem is not None:
        raise CompareError(f"{url}: {problem}")
    return result.total, result.body_bytes


def render(results: Sequence[Measurement]) -> str:
    """Format measurements as a table with each row's share of the in-process sync rate."""
    ceiling = {m.chunk_kb: m.rows_per_s for m in results if m.label == "in-process sync"}
    lines = [f"{'path':<18} {'chunk_kb':>8} {'rows/s':>12} {'MB/s':>8} {'of in-process':>14}"]
    for m in results:
        share = m.rows_per_s / ceiling[m.chunk_kb]
        rate = f"{m.rows_per_s:>12,.0f} {m.mb_per_s:>8.1f}"
        lines.append(f"{m.label:<18} {m.chunk_kb:>8} {rate} {share:>13.0%}")
    return "\n".join(lines)


def register(subparsers: Any) -> None:
    """Add the ``encode-bench`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "encode-bench",
        help="rows/s of the row source and chunker, in-process and through each stack",
        description=__doc__,
    )
    parser.add_argument(
        "--rows", type=int, default=EXPORT_ROWS, help="rows per export (default %(default)s)"
    )
    parser.add_argument("--repeat", type=int, default=7, help="runs per cell; the median is shown")
    parser.add_argument(
        "--stacks",
        default=DSC_STACKS.value(),
        help="comma-separated stacks to serve through, as bench takes them ('' for in-process "
        "only; default %(default)s)",
    )
    parser.add_argument(
        "--placement",
        choices=MODES,
        default=DSC_PLACEMENT.value(),
        help="split (default): servers on the first CPUs, this process on the rest; shared: "
        "nothing pinned",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run the encode benchmark and print the table."""
    stacks = stack_names(args.stacks) if args.stacks.strip() else ()
    if args.rows < 1 or args.repeat < 1:
        raise CompareError("--rows and --repeat must be at least 1")
    placement = choose(args.placement)
    print(render(measure(args.rows, args.repeat, stacks, (0, 64), placement)))
    return 0
