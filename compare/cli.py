"""The ``python -m compare`` command line: parse, dispatch, turn errors into one line."""

from __future__ import annotations

import argparse
import logging
import os
import select
import sys
from collections.abc import Sequence

from compare.commands import (
    bench,
    check,
    diff,
    encode_bench,
    figures,
    history,
    measure_once,
    report,
    serve,
    stacks,
    ui,
)
from compare.errors import CompareError

# A new subcommand is a module with register(); add it here and nowhere else.
COMMANDS = (
    stacks,
    serve,
    check,
    bench,
    report,
    figures,
    diff,
    history,
    ui,
    measure_once,
    encode_bench,
)


# What a shell reports for a command killed by SIGPIPE (128 + 13), as `yes | head` gives.
SIGPIPE_EXIT = 141


def _stdout_closed() -> bool:
    """Whether stdout is a pipe whose reader has gone (poll reports an error on it)."""
    poller = select.poll()
    poller.register(sys.stdout.fileno(), select.POLLOUT)
    return any(events & select.POLLERR for _fd, events in poller.poll(0))


def build_parser() -> argparse.ArgumentParser:
    """Build the parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="python -m compare",
        description="Run Django's streaming export under several server stacks and measure them.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the harness does")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        code: int = args.handler(args)
        # Output that fits the buffer is written here, not at exit where a closed pipe is noise.
        sys.stdout.flush()
    except BrokenPipeError:
        if not _stdout_closed():
            raise  # a socket's, not the reader's: a bug to see
        # The reader (`| head`) has what it wanted: no traceback, and none at exit's flush.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return SIGPIPE_EXIT
    except CompareError as exc:
        # Only the harness's own errors are messages: anything else is a bug, and its
        # traceback (exit 1) is what finds it.
        print(f"compare: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    return code
