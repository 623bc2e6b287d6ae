"""``diff``: how each headline figure moved between two runs, judged by the report's statistics.

Exit status for CI: 0 no regression (an inconclusive figure never fails), 1 a regression, 2 bad
arguments or unusable results, 3 nothing could be judged (too few repetitions, or only figures
the report refuses to judge): the runs say nothing either way.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from compare.commands.report import load_run
from compare.errors import UsageError
from compare.report.diff import DEFAULT_MIN_CHANGE, NOTHING_JUDGED, diff, render_diff


def register(subparsers: Any) -> None:
    """Add the ``diff`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "diff",
        help="compare two runs figure by figure; exit 1 on a regression, 3 when nothing could "
        "be judged (for CI)",
        description=__doc__,
    )
    parser.add_argument("old", metavar="OLD_DIR", help="the reference run (directory or JSON)")
    parser.add_argument("new", metavar="NEW_DIR", help="the run to check")
    parser.add_argument(
        "--min-change",
        type=float,
        default=DEFAULT_MIN_CHANGE * 100,
        metavar="PERCENT",
        help="smallest change (in %%) that counts as a regression or improvement "
        "(default %(default)g)",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print the comparison; exit 1 on a clear regression, 3 when nothing was judged."""
    if args.min_change < 0:
        raise UsageError(f"--min-change must not be negative, got {args.min_change:g}")
    old = load_run(Path(args.old))
    new = load_run(Path(args.new))
    result = diff(old, new, args.min_change / 100)
    if args.json:
        json.dump(result.as_dict(), sys.stdout, indent=1, allow_nan=False)
        sys.stdout.write("\n")
    else:
        print(render_diff(result))
    if result.regressions:
        return 1
    return NOTHING_JUDGED if not result.judged else 0
