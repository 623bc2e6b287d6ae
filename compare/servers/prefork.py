"""N copies of a server on one listening socket: ``python -m compare.servers.prefork ... -- ARGV``.

For a server with no worker processes of its own (daphne): this binds HOST:PORT, puts the listening
socket on file descriptor LISTEN_FD (3, as systemd's socket activation does), then replaces itself
(same pid) with compare.servers.supervisor's bash supervisor running ARGV ``--workers`` times. Each
copy adopts the inherited socket (daphne ``--fd 3``) and the kernel hands each new connection to
whichever copy accepts first, as with gunicorn's pre-forked workers. This is the deployment daphne's
documentation describes (a process manager owning the socket, ``--fd``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sys
from collections.abc import Sequence

from compare.servers.supervisor import supervisor_argv, tick_pipe

LISTEN_FD = 3
BACKLOG = 2048  # gunicorn's and uvicorn's default


def listen(host: str, port: int) -> socket.socket:
    """A listening IPv4 TCP socket on host:port (daphne adopts only AF_INET descriptors)."""
    if ":" in host:
        raise ValueError(
            f"compare.servers.prefork: IPv4 addresses only (daphne --fd), got {host!r}"
        )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(BACKLOG)
    return sock


def on_listen_fd(sock: socket.socket) -> None:
    """Make the socket inheritable file descriptor LISTEN_FD (which must be free)."""
    fd = sock.detach()  # the socket object must not close it when it is collected
    if fd != LISTEN_FD:
        try:
            os.fstat(LISTEN_FD)
        except OSError:
            pass
        else:
            raise RuntimeError(f"file descriptor {LISTEN_FD} is already open")
        os.dup2(fd, LISTEN_FD)
        os.close(fd)
    os.set_inheritable(LISTEN_FD, True)


def build_parser() -> argparse.ArgumentParser:
    """The command line StackSpec.argv builds for a pre-forked stack."""
    parser = argparse.ArgumentParser(prog="python -m compare.servers.prefork", description=__doc__)
    parser.add_argument("--host", required=True, help="address to listen on")
    parser.add_argument("--port", type=int, required=True, help="port to listen on")
    parser.add_argument("--workers", type=int, required=True, help="copies of the server")
    parser.add_argument("argv", nargs="+", help="one worker's command line, after --")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Bind, then become the supervisor of the workers; return only on failure."""
    args = build_parser().parse_args(argv)
    bash = shutil.which("bash")
    if bash is None:
        print("compare.servers.prefork: bash is not installed", file=sys.stderr)
        return 1
    if args.workers < 1:
        print(
            f"compare.servers.prefork: --workers must be at least 1, not {args.workers}",
            file=sys.stderr,
        )
        return 2
    try:
        on_listen_fd(listen(args.host, args.port))
    except (OSError, ValueError, RuntimeError) as exc:
        print(
            f"compare.servers.prefork: cannot listen on {args.host}:{args.port}: {exc}",
            file=sys.stderr,
        )
        return 1
    workers = [(f"worker {n}", args.argv) for n in range(1, args.workers + 1)]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(bash, supervisor_argv(bash, tick_pipe(), workers, "compare.servers.prefork"))


if __name__ == "__main__":
    sys.exit(main())
