"""``check --project DIR --settings MODULE --url PATH``: does each URL stream on each stack?"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from compare.commands.arguments import add_project_arguments, project_target, refuse_profiles
from compare.errors import CompareError, UsageError
from compare.report.streaming import Evidence, Verdict, as_json, judge, table
from compare.run.run import Run
from compare.run.streamcheck import measure, wake_workers
from compare.servers.server import ServerStartError
from compare.servers.stacks import StackSpec, get_stack, stack_names
from compare.settings import DEFAULT_STACKS
from compare.system.interrupts import stop_signals_interrupt

ALL_STREAM = 0
SOME_BUFFERED = 1  # or failed; unusable arguments exit 2 (UsageError)


def register(subparsers: Any) -> None:
    """Add the ``check`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "check",
        help="one request per URL per stack: does your view stream, and if not, why",
        description="Exit status: 0 when every URL streams on every stack, 1 when any is "
        "buffered or failed, 2 on unusable arguments.",
    )
    parser.add_argument(
        "--stacks",
        default=",".join(DEFAULT_STACKS),
        help="comma-separated stack names or aliases (nginx: the default pair behind nginx, "
        "buffered and not) (default %(default)s)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per (url, stack)")
    add_project_arguments(parser, urls_help="a path to check, e.g. /export/?rows=1000 (repeat)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Start each stack on the project, measure each URL, print the verdicts."""
    target = project_target(args, urls_needed=True)
    if target is None:
        raise UsageError("check needs --project DIR --settings MODULE --url PATH")
    try:
        names = stack_names(args.stacks)
        specs = [get_stack(name) for name in names]
    except CompareError as exc:
        raise UsageError(str(exc)) from None  # an argument, not a finding: exit 2
    refuse_profiles(names, target)
    rows: list[tuple[Evidence, Verdict]] = []
    with stop_signals_interrupt(), Run(target) as owner:
        for spec in specs:
            print(f"checking {spec.name}", file=sys.stderr, flush=True)
            rows += _check_stack(owner, spec, target.urls)
    if args.json:
        print(json.dumps([as_json(e, v) for e, v in rows], indent=2))
    else:
        print(table(rows))
    return ALL_STREAM if all(v.streams for _, v in rows) else SOME_BUFFERED


def _check_stack(
    owner: Run, spec: StackSpec, urls: tuple[str, ...]
) -> list[tuple[Evidence, Verdict]]:
    """Every URL on one stack; a stack that does not start fails each URL with its reason."""
    try:
        with owner.server(spec) as server:
            wake_workers(server)  # the evidence is a warm worker's, as a bench cell's
            found = [measure(server, url) for url in urls]
    except ServerStartError as exc:
        found = [
            Evidence(url, spec.name, spec.interface, spec.front, status=None, error=str(exc))
            for url in urls
        ]
    return [(e, judge(e)) for e in found]
