"""``stacks``: list the registered stacks with their exact command lines."""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
from pathlib import Path
from typing import Any

from compare.servers.stacks import STACKS, StackSpec

# What argv shows for the per-instance directory, which only exists once a server starts.
RUN_DIR = Path("<run-dir>")
EXAMPLE_HOST, EXAMPLE_PORT = "127.0.0.1", 8000


def register(subparsers: Any) -> None:
    """Add the ``stacks`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "stacks", help="list the server stacks and their command lines"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.set_defaults(handler=run)


def describe(spec: StackSpec) -> dict[str, object]:
    """A stack as a plain dict: its settings, availability and example command line."""
    return {
        **dataclasses.asdict(spec),
        "server_version": spec.server_version(),
        "missing": spec.missing(),
        "argv": spec.argv(EXAMPLE_HOST, EXAMPLE_PORT, RUN_DIR),
    }


def _text(spec: StackSpec) -> str:
    threads = "" if spec.threads is None else f" threads={spec.threads}"
    if not spec.keepalive:
        keepalive = "off"
    elif spec.keepalive_timeout is None:
        keepalive = "on (no idle setting)"
    else:
        keepalive = f"{spec.keepalive_timeout}s"
    timeout = "none" if spec.timeout is None else f"{spec.timeout}s"
    version = spec.server_version() or "not installed"
    lines = [
        f"{spec.name}  [{spec.interface}] {spec.server} {version}, worker {spec.worker_class}, "
        f"workers={spec.workers}{threads}, keep-alive={keepalive}, worker timeout={timeout}, "
        f"loop={spec.loop or '-'}, http={spec.http_parser}",
        f"  $ {shlex.join(spec.argv(EXAMPLE_HOST, EXAMPLE_PORT, RUN_DIR))}",
        *(f"  - {note}" for note in spec.notes),
    ]
    missing = spec.missing()
    if missing:
        lines.append(f"  ! unavailable: {missing}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Print every registered stack."""
    if args.json:
        print(json.dumps([describe(spec) for spec in STACKS.values()], indent=2))
    else:
        print("\n\n".join(_text(spec) for spec in STACKS.values()))
    return 0
