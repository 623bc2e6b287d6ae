"""``diff``: how each headline figure moved between two runs, against the run-to-run spread."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from compare.errors import CompareError
from compare.report.diff import DEFAULT_MIN_CHANGE, diff, render_diff
from compare.results import load_results


def register(subparsers: Any) -> None:
    """Add the ``diff`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "diff", help="compare two runs figure by figure (for regression checks)"
    )
    parser.add_argument("old", metavar="OLD_DIR", help="the reference run (directory or JSON)")
    parser.add_argument("new", metavar="NEW_DIR", help="the run to check")
    parser.add_argument(
        "--fail-on-regression",
        action="store_true",
        help="exit 1 when a figure got worse beyond the run-to-run spread",
    )
    parser.add_argument(
        "--min-change",
        type=float,
        default=DEFAULT_MIN_CHANGE * 100,
        metavar="PERCENT",
        help="smallest change (in %%) called a regression or improvement (default %(default)g)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print the comparison; with --fail-on-regression, exit 1 on a clear regression."""
    if args.min_change < 0:
        raise CompareError(f"--min-change must not be negative, got {args.min_change:g}")
    old = load_results(Path(args.old))
    new = load_results(Path(args.new))
    result = diff(old, new, args.min_change / 100)
    print(render_diff(result))
    return 1 if args.fail_on_regression and result.regressions else 0
