"""``measure-once``: one client, one export per stack: TTFB, total time, MB/s, peak tree PSS.

A quick look before the full benchmark: ``python -m compare measure-once [STACK ...] [--rows N]``.
It measures exactly like the bench's size sweep (compare.run.sweep.measure_point: a fresh stack,
warm-up, idle baseline after it, fast sampling, the kernel's peak as a check) with the bench's
default CPU placement. MB means 10^6 bytes.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from compare.commands.arguments import blamed, env_default
from compare.config import SWEEP_VARIANTS, SweepVariant
from compare.errors import CompareError
from compare.report.metrics import SweepFigures, sweep_figures
from compare.report.text import plural
from compare.run.appdata import RunData
from compare.run.countdown import Countdown
from compare.run.run import Run
from compare.run.sweep import measure_point, single_downloads
from compare.servers.stacks import STACKS, StackSpec, get_stack, stack_names
from compare.settings import DSC_PLACEMENT
from compare.system.placement import MODES, choose


def table(rows: Sequence[SweepFigures]) -> str:
    """A Markdown table of measurements."""
    lines = [
        "| stack | variant | rows | TTFB (ms) | total (s) | MB/s | peak PSS increase (MB) "
        "| kernel peak (MB) | server CPU (s) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]

    def num(value: float | None, fmt: str) -> str:
        return "-" if value is None else fmt.format(value)

    for m in rows:
        lines.append(
            f"| {m.stack} | {m.variant} | {m.rows:,} | {num(m.ttfb_ms, '{:.1f}')} | "
            f"{num(m.total_s, '{:.2f}')} | {num(m.mb_per_s, '{:.1f}')} | "
            f"{num(m.peak_pss_increase_mb, '{:.1f}')} | {num(m.peak_hwm_increase_mb, '{:.1f}')} | "
            f"{num(m.server_cpu_s, '{:.2f}')} |"
        )
    return "\n".join(lines)


def register(subparsers: Any) -> None:
    """Add the ``measure-once`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "measure-once",
        help="one download per stack, measured as the size sweep measures it",
        description=__doc__,
    )
    parser.add_argument(
        "stacks", nargs="*", metavar="STACK", help="default: every server installed here"
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the export")
    parser.add_argument("--variant", choices=SWEEP_VARIANTS, default="stream")
    parser.add_argument("--placement", choices=MODES, default=env_default(DSC_PLACEMENT))
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs per stack, each on a fresh server; the run with the median total time is shown",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Measure each named (or every available) stack and print a Markdown table."""
    if args.rows < 0:
        raise CompareError(f"--rows must not be negative, got {args.rows}")
    if args.repeat < 1:
        raise CompareError(f"--repeat must be at least 1, got {args.repeat}")
    with blamed(args.placement):
        placement = choose(args.placement)
    if args.stacks:
        specs = [get_stack(name) for name in stack_names(",".join(args.stacks))]
    else:
        specs = [spec for spec in STACKS.values() if spec.available() and spec.front is None]
    with tempfile.TemporaryDirectory(prefix="dsc-measure-") as tmp:
        config = single_downloads(args.rows, placement, Path(tmp))
        with Run(RunData("synthetic", "minimal", 0), config) as run:
            results = _measure(run, specs, cast(SweepVariant, args.variant), args.repeat, tmp)
    print(f"placement {placement.describe()}")
    print(
        f"/export.csv?rows={args.rows} ({args.variant}), median of {plural(args.repeat, 'run')}\n"
    )
    print(table(results))
    return 0


def _measure(
    run: Run, specs: list[StackSpec], variant: SweepVariant, repeat: int, tmp: str
) -> list[SweepFigures]:
    """Each stack's run with the median total time, of ``repeat`` runs on a fresh server each."""
    results = []
    downloads = Countdown(len(specs) * repeat)
    run.progress(
        f"measure-once: {plural(downloads.total, 'download')} of {run.config.rows:,} rows, each "
        "on a server started and warmed up for it"
    )
    for spec in specs:
        runs = []
        for repetition in range(repeat):
            run.progress(f"{spec.name} run {repetition + 1} of {repeat} ...")
            rows = run.config.rows
            run_dir = Path(tmp) / f"{spec.name}-{repetition}"
            point = measure_point(run, spec, variant, rows, repetition, run_dir)
            if point["status"] != "ok":
                raise CompareError(f"{spec.name}: {point['error']}")
            runs.append(sweep_figures(point))
            run.progress(f"  {downloads.step()}")
        totals = [r.total_s or 0.0 for r in runs]
        runs.sort(key=lambda r: r.total_s or 0.0)
        results.append(runs[len(runs) // 2])
        if len(runs) > 1:
            run.progress(
                f"  total s: median {statistics.median(totals):.2f}, "
                f"range {min(totals):.2f}-{max(totals):.2f}"
            )
    return results
