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

from compare.commands.arguments import add_min_change, min_change
from compare.commands.report import load_run
from compare.report.diff import NOTHING_JUDGED, diff, render_diff
from compare.report.diffmarkdown import render_diff_markdown


def _name(path: str) -> str:
    """A run as a comment names it: its directory's name ('20261205-194539'), or the path."""
    found = Path(path)
    if found.name == "results.json":
        found = found.parent
    return found.resolve().name if found.name in ("", "latest") else found.name


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
    add_min_change(parser)
    parser.add_argument(
        "--format",
        choices=("text", "markdown", "json"),
        default="text",
        help="text (a table, the default), markdown (a compact pull-request comment: changes "
        "that matter first, then a count of the rest) or json",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print the comparison; exit 1 on a clear regression, 3 when nothing was judged."""
    old = load_run(Path(args.old))
    new = load_run(Path(args.new))
    result = diff(old, new, min_change(args))
    if args.json or args.format == "json":
        json.dump(result.as_dict(), sys.stdout, indent=1, allow_nan=False)
        sys.stdout.write("\n")
    elif args.format == "markdown":
        sys.stdout.write(render_diff_markdown(result, _name(args.old), _name(args.new)))
    else:
        print(render_diff(result))
    if result.regressions:
        return 1
    return NOTHING_JUDGED if not result.judged else 0
