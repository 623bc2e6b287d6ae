"""One client, one export per stack: TTFB, total time, rows/s and peak tree PSS increase.

A quick look before the full benchmark: ``python -m compare.measure_once [STACK ...] [--rows N]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from compare.download import download
from compare.errors import CompareError
from compare.sampler import ProcessTreeSampler
from compare.server import ServerProcess
from compare.stacks import STACKS, StackSpec, get_stack

MB = 1024 * 1024
IDLE_SAMPLES = 10  # one second at the default 100 ms interval


@dataclass(frozen=True, slots=True)
class Measurement:
    """One export on one freshly started stack."""

    stack: str
    rows: int
    ttfb: float
    total: float
    body_bytes: int
    baseline_pss: int
    peak_pss_increase: int
    cpu_seconds: float

    @property
    def rows_per_second(self) -> float:
        """Data rows delivered per second of total time."""
        return self.rows / self.total


def measure(spec: StackSpec, query: str) -> Measurement:
    """Start ``spec``, take an idle baseline, run one export, and stop the stack."""
    with ServerProcess(spec) as server, ProcessTreeSampler(server.pid) as sampler:
        sampler.wait_for(IDLE_SAMPLES, timeout=10)
        t0 = time.monotonic()
        result = download(f"{server.base_url}/export.csv?{query}")
        t1 = time.monotonic()
        sampler.sample_once()  # the end of the window is seen even if the download was short
    problem = result.problem()
    if problem is not None:
        raise CompareError(f"{spec.name}: bad export ({problem})")
    rows = int(result.headers["x-export-rows"])
    baseline = sampler.baseline(t1=t0)
    return Measurement(
        stack=spec.name,
        rows=rows,
        ttfb=result.ttfb,
        total=result.total,
        body_bytes=result.body_bytes,
        baseline_pss=baseline,
        peak_pss_increase=sampler.peaks(t0, t1 + 1).pss - baseline,
        cpu_seconds=sampler.cpu_seconds(t0, t1 + 1),
    )


def table(rows: Sequence[Measurement]) -> str:
    """A Markdown table of measurements."""
    lines = [
        "| stack | TTFB (ms) | total (s) | rows/s | MB/s | peak PSS increase (MB) "
        "| server CPU (s) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for m in rows:
        lines.append(
            f"| {m.stack} | {m.ttfb * 1000:.1f} | {m.total:.2f} | {m.rows_per_second:,.0f} | "
            f"{m.body_bytes / MB / m.total:.1f} | {m.peak_pss_increase / MB:.1f} | "
            f"{m.cpu_seconds:.2f} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Measure each named (or every available) stack once and print a Markdown table."""
    parser = argparse.ArgumentParser(prog="python -m compare.measure_once", description=__doc__)
    parser.add_argument("stacks", nargs="*", metavar="STACK", help="default: every available")
    parser.add_argument("--query", default="rows=2000000", help="export query string")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs per stack, each on a fresh server; the run with the median total time is shown",
    )
    args = parser.parse_args(argv)
    try:
        specs = [get_stack(name) for name in args.stacks] or [
            spec for spec in STACKS.values() if spec.available()
        ]
        results = []
        for spec in specs:
            print(f"measuring {spec.name} ...", file=sys.stderr, flush=True)
            runs = sorted(
                (measure(spec, args.query) for _ in range(max(1, args.repeat))),
                key=lambda m: m.total,
            )
            results.append(runs[len(runs) // 2])
    except CompareError as exc:
        print(f"measure_once: error: {exc}", file=sys.stderr)
        return 1
    print(f"query: /export.csv?{args.query}, median of {max(1, args.repeat)} run(s)\n")
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
