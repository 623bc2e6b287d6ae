"""``encode-bench``: rows/s of the row source + CSV chunker, in-process and served.

In-process numbers are the ceiling; the served numbers show what each server keeps of it with
one client. Runs are interleaved (A B A B) and the median is reported. The stacks run warmed up
on the servers' CPUs, as in every measurement, and so do the in-process runs, in a process of
their own.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import Any

from compare.commands.arguments import blamed, env_default
from compare.errors import CompareError
from compare.report.text import plural
from compare.run.encode import Measurement, measure
from compare.servers.stacks import stack_names
from compare.settings import DSC_PLACEMENT, DSC_STACKS, EXPORT_ROWS
from compare.system.placement import MODES, choose


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
        default=env_default(DSC_STACKS),
        help="comma-separated stacks to serve through, as bench takes them ('' for in-process "
        "only; default %(default)s)",
    )
    parser.add_argument(
        "--placement",
        choices=MODES,
        default=env_default(DSC_PLACEMENT),
        help="split: the servers and the in-process runs on the first CPUs, the client on the "
        "rest; shared: nothing pinned (default %(default)s)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run the encode benchmark and print the table."""
    with blamed(args.stacks):
        stacks = stack_names(args.stacks) if args.stacks.strip() else ()
    for flag, value in (("--rows", args.rows), ("--repeat", args.repeat)):
        if value < 1:
            raise CompareError(f"{flag} must be at least 1, got {value}")
    with blamed(args.placement):
        placement = choose(args.placement)
    started = time.monotonic()
    results = measure(args.rows, args.repeat, stacks, (0, 64), placement)
    print(
        f"placement {placement.describe()} (the in-process runs with the servers); median of "
        f"{plural(args.repeat, 'run')} each; took {time.monotonic() - started:.0f} s\n"
    )
    print(render(results))
    return 0
