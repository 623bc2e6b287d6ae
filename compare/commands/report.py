"""``report``: render report.html and report.md from a results directory; print the verdict."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from compare.errors import CompareError, UsageError
from compare.report import write_reports
from compare.report.runresults import RunResults
from compare.report.summary import terminal_verdict
from compare.settings import DSC_OUT


def default_results() -> str:
    """results/latest under the bench's output directory (DSC_OUT, default 'results')."""
    return str(Path(DSC_OUT.value()) / "latest")


def add_results_argument(parser: argparse.ArgumentParser) -> None:
    """The optional RESULTS_DIR positional every reading subcommand takes."""
    parser.add_argument(
        "results",
        nargs="?",
        default=default_results(),
        metavar="RESULTS_DIR",
        help="a run's directory or its results.json (default %(default)s)",
    )


def load_run(path: Path) -> RunResults:
    """A run's results for a reading command: an unusable document is bad input (exit 2), never
    a finding (1)."""
    try:
        return RunResults.load(path)
    except CompareError as error:
        raise UsageError(str(error)) from None


def register(subparsers: Any) -> None:
    """Add the ``report`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "report", help="write report.html and report.md beside a run's results.json"
    )
    add_results_argument(parser)
    parser.add_argument("--quiet", action="store_true", help="print only the report paths")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Write both reports, print where they are and the verdict."""
    path = Path(args.results)
    results = load_run(path)
    paths = write_reports(results, path if path.is_dir() else path.parent)
    if not args.quiet:
        print(terminal_verdict(results))
        print()
    for written in paths:
        print(f"wrote {written}")
    return 0
