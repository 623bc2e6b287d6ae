"""``measure-once``: one client, one export per stack: TTFB, total time, MB/s, peak tree PSS.

A quick look before the full benchmark: ``python -m compare measure-once [STACK ...] [--rows N]``.
It measures exactly like the bench's size sweep (compare.run.sweep.measure_point: a fresh stack,
warm-up, idle baseline after it, fast sampling, the kernel's peak as a check) with the bench's
default CPU placement. MB means 10^6 bytes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from compare.config import SWEEP_VARIANTS, BenchConfig, SweepVariant
from compare.errors import CompareError
from compare.report.metrics import SweepFigures, sweep_figures
from compare.run.sweep import measure_point
from compare.servers.stacks import DEFAULT_WORKERS, STACKS, get_stack, stack_names
from compare.settings import DSC_PLACEMENT
from compare.system.placement import MODES, choose, pin_self


def config_for(rows: int, placement: str, out_dir: Path) -> BenchConfig:
    """The bench's settings for single downloads."""
    chosen = choose(cast(Any, placement))
    return BenchConfig(
        stacks=(),
        scenarios=(),
        users=1,
        duration_s=0.0,
        warmup_s=1.0,
        repeat=1,
        sweep_sizes=(rows,),
        sweep_variants=(),
        sweep_repeat=1,
        workers=DEFAULT_WORKERS,
        out_dir=out_dir,
        rows=rows,
        placement=chosen.mode,
        server_cpus=chosen.server_cpus,
        client_cpus=chosen.client_cpus,
    )


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
    parser.add_argument("--placement", choices=MODES, default=DSC_PLACEMENT.value())
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs per stack, each on a fresh server; the run with the median total time is shown",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Measure each named (or every available) stack and print a Markdown table."""
    if args.rows < 0 or args.repeat < 1:
        raise CompareError("--rows must not be negative and --repeat must be at least 1")
    if args.stacks:
        specs = [get_stack(name) for name in stack_names(",".join(args.stacks))]
    else:
        specs = [spec for spec in STACKS.values() if spec.available() and spec.front is None]
    results = []
    with tempfile.TemporaryDirectory(prefix="dsc-measure-") as tmp:
        config = config_for(args.rows, args.placement, Path(tmp))
        pin_self(config.client_cpus)
        for spec in specs:
            print(f"measuring {spec.name} ...", file=sys.stderr, flush=True)
            runs = []
            for repetition in range(args.repeat):
                point = measure_point(
                    config,
                    spec,
                    cast(SweepVariant, args.variant),
                    args.rows,
                    repetition,
                    Path(tmp) / f"{spec.name}-{repetition}",
                )
                if point["status"] != "ok":
                    raise CompareError(f"{spec.name}: {point['error']}")
                runs.append(sweep_figures(point))
            totals = [r.total_s or 0.0 for r in runs]
            runs.sort(key=lambda r: r.total_s or 0.0)
            results.append(runs[len(runs) // 2])
            if len(runs) > 1:
                print(
                    f"  total s: median {statistics.median(totals):.2f}, "
                    f"range {min(totals):.2f}-{max(totals):.2f}",
                    file=sys.stderr,
                )
    print(
        f"placement: {config.placement}, servers on CPUs {config.server_cpus or 'any'}, "
        f"client on CPUs {config.client_cpus or 'any'}"
    )
    print(f"/export.csv?rows={args.rows} ({args.variant}), median of {args.repeat} run(s)\n")
    print(table(results))
    return 0
