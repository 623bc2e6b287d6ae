"""nginx in front of a stack as one process tree: ``python -m compare.servers.proxy ... -- ARGV``.

ServerProcess starts this like any server. It writes nginx's configuration, then replaces itself
(same pid) with the bash supervisor of compare.servers.supervisor, whose children are the stack
(ARGV, listening on 127.0.0.1:UPSTREAM_PORT) and nginx (master and worker), all in the caller's
process group: one root pid covers both, so the sampler measures nginx with the stack.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from compare.servers.nginx import CONF_NAME, nginx_argv, render_local
from compare.servers.supervisor import supervisor_argv as supervise
from compare.servers.supervisor import tick_pipe


def supervisor_argv(
    bash: str, tick: tuple[int, int], front: Sequence[str], server: Sequence[str]
) -> list[str]:
    """The bash command line that runs ``front`` (nginx) and ``server`` side by side."""
    children = [("the server", server), ("nginx", front)]
    return supervise(bash, tick, children, "compare.servers.proxy")


def build_parser() -> argparse.ArgumentParser:
    """The command line StackSpec.argv builds for a fronted stack."""
    parser = argparse.ArgumentParser(prog="python -m compare.servers.proxy", description=__doc__)
    parser.add_argument("--host", required=True, help="address nginx listens on")
    parser.add_argument("--port", type=int, required=True, help="port nginx listens on")
    parser.add_argument("--upstream-port", type=int, required=True, help="the server's port")
    parser.add_argument("--buffering", choices=("on", "off"), required=True)
    parser.add_argument("--prefix", type=Path, required=True, help="nginx's own directory")
    parser.add_argument("--nginx", default="nginx", help="the nginx binary")
    parser.add_argument("argv", nargs="+", help="the server's command line, after --")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Write the configuration and become the supervisor; return only on failure."""
    args = build_parser().parse_args(argv)
    bash = shutil.which("bash")
    if bash is None:
        print("compare.servers.proxy: bash is not installed", file=sys.stderr)
        return 1
    prefix: Path = args.prefix.resolve()
    prefix.mkdir(parents=True, exist_ok=True)
    conf = prefix / CONF_NAME
    conf.write_text(render_local(args.host, args.port, args.upstream_port, args.buffering == "on"))
    sys.stdout.flush()
    sys.stderr.flush()
    front = nginx_argv(args.nginx, prefix, conf)
    os.execv(bash, supervisor_argv(bash, tick_pipe(), front, args.argv))


if __name__ == "__main__":
    sys.exit(main())
