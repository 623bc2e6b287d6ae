"""``figures``: print every figure of a run as one JSON document (the stable data contract)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from compare.commands.report import add_results_argument, load_run
from compare.report.figures import figures_document


def register(subparsers: Any) -> None:
    """Add the ``figures`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "figures", help="print a run's figures as JSON (what the reports show, for tools and CI)"
    )
    add_results_argument(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print the figures document."""
    document = figures_document(load_run(Path(args.results)))
    json.dump(document, sys.stdout, indent=1, allow_nan=False)
    sys.stdout.write("\n")
    return 0
