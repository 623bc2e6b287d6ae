"""``serve STACK``: run one stack in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from compare.commands.arguments import (
    add_data_arguments,
    add_project_arguments,
    port_number,
    project_target,
    refuse_profiles,
    stop_leftovers,
)
from compare.errors import CompareError
from compare.run.appdata import RunData
from compare.run.run import Run
from compare.servers.stacks import get_stack
from compare.system.interrupts import stop_signals_interrupt
from compare.system.ports import LOOPBACK

FOLLOW_INTERVAL = 0.2


def register(subparsers: Any) -> None:
    """Add the ``serve`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "serve", help="run one stack in the foreground until Ctrl-C"
    )
    parser.add_argument("stack", metavar="STACK", help="a name from 'python -m compare stacks'")
    parser.add_argument("--host", default=LOOPBACK, help="address to bind (default %(default)s)")
    parser.add_argument(
        "--port", type=port_number, default=8000, help="0 picks a free one (default 8000)"
    )
    parser.add_argument("--workers", type=int, help="worker processes (default: the stack's)")
    parser.add_argument("--threads", type=int, help="threads per worker, threaded stacks only")
    add_data_arguments(parser, seed_rows=True)
    add_project_arguments(parser, urls_help="a path of yours to print as a link (repeat)")
    parser.set_defaults(handler=run)


def _follow(log: Path, offset: int) -> int:
    """Copy what the server logged since ``offset`` to our stdout; return the new offset."""
    with log.open("rb") as fh:
        fh.seek(offset)
        data = fh.read()
    if data:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    return offset + len(data)


def run(args: argparse.Namespace) -> int:
    """Start the stack, echo its log, stop it on Ctrl-C or SIGTERM."""
    spec = get_stack(args.stack).with_options(workers=args.workers, threads=args.threads)
    own = project_target(args, urls_needed=False)
    refuse_profiles([args.stack], own)
    stop_leftovers()  # a killed serve's stack may hold this very port
    data = RunData(args.source, args.app, args.seed_rows, own_database=args.own_database)
    try:
        with (
            stop_signals_interrupt(),
            Run(own or data) as run,
            run.server(spec, host=args.host, port=args.port) as server,
        ):
            print(f"$ {shlex.join(server.argv)}", flush=True)
            if data.session:
                print(f"logged-in user's cookie: sessionid={data.session}", flush=True)
            offset = _follow(server.log_path, 0)
            for url in own.urls if own else ():
                print(f"  {server.base_url}{url}", flush=True)
            print(
                f"{spec.name} ({spec.interface}) serving at {server.base_url}/ "
                f"(pid {server.pid}); Ctrl-C to stop",
                flush=True,
            )
            while server.running():
                time.sleep(FOLLOW_INTERVAL)
                offset = _follow(server.log_path, offset)
            _follow(server.log_path, offset)
            raise CompareError(f"{spec.name} exited on its own (see its log above)")
    except KeyboardInterrupt:
        print(f"\nstopped {spec.name}", file=sys.stderr)
        return 0
