"""``history``: how chosen figures moved across many runs (Markdown for CI logs, an HTML page
with a chart per figure and stack, or JSON), each change judged as ``diff`` judges two runs.

Each RUN is a run's directory, its results.json, a directory of runs (results/) or a glob
('results/2026*'). Runs made with different options are a new segment: never on one line.
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
from pathlib import Path
from typing import Any

from compare.commands.arguments import add_min_change, min_change
from compare.errors import CompareError, UsageError
from compare.report.figuredefs import FIGURES
from compare.report.history import DEFAULT_FIGURES, history, render_history_markdown
from compare.report.historypage import render_history_html
from compare.report.runresults import RunResults
from compare.report.writer import write_atomic
from compare.results import RESULTS_FILE


def register(subparsers: Any) -> None:
    """Add the ``history`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "history",
        help="show how figures moved across many runs, regressions marked (Markdown, HTML, JSON)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("runs", nargs="+", metavar="RUN", help="runs, directories of runs, globs")
    parser.add_argument(
        "--figures",
        default=",".join(DEFAULT_FIGURES),
        help="comma-separated figure names of `compare figures` (default %(default)s)",
    )
    parser.add_argument("--html", metavar="FILE", help="also write the page with the charts here")
    parser.add_argument("--json", action="store_true", help="print the history as JSON")
    add_min_change(parser)
    parser.set_defaults(handler=run)


def run_paths(patterns: list[str]) -> list[Path]:
    """Every run the arguments name, each once: a run, its results.json, a directory of runs,
    or a glob of any of those."""
    found: dict[Path, Path] = {}
    for pattern in patterns:
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        if not matches:
            raise UsageError(f"no run matches {pattern}")
        for match in map(Path, matches):
            if match.is_dir() and not (match / RESULTS_FILE).exists():
                # A directory of runs (results/): its runs, not the 'latest' link to one of them.
                children = [c for c in sorted(match.iterdir()) if (c / RESULTS_FILE).is_file()]
                runs = [c for c in children if not c.is_symlink()]
                if not runs:
                    raise UsageError(f"{match} holds no run (no {RESULTS_FILE} in it or below)")
            else:
                runs = [match]
            for path in runs:
                found.setdefault(path.resolve(), path)
    return list(found.values())


def run(args: argparse.Namespace) -> int:
    """Print the history; write the page when asked."""
    names = [n.strip() for n in args.figures.split(",") if n.strip()]
    unknown = [n for n in names if n not in FIGURES]
    if unknown or not names:
        raise UsageError(f"unknown figure {', '.join(unknown) or '(none given)'}: see `figures`")
    try:
        runs = [RunResults.load(path) for path in run_paths(args.runs)]
    except CompareError as error:
        raise UsageError(str(error)) from None
    found = history(runs, names, min_change(args))
    if args.html:
        write_atomic(Path(args.html), render_history_html(found))
    if args.json:
        json.dump(found.as_dict(), sys.stdout, indent=1, allow_nan=False)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render_history_markdown(found))
        if args.html:
            print(f"\nwrote {args.html}")
    return 0
