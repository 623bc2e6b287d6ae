"""compare.servers.prefork: N copies of a command on one listening socket, as one process tree."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import psutil
import pytest

from compare import REPO_ROOT
from compare.servers.prefork import LISTEN_FD, listen
from compare.system.ports import free_port
from tests.helpers import assert_gone, no_new_children

# A stand-in worker: accepts on the inherited descriptor and answers each connection its pid.
WORKER = f"""
import os, socket
sock = socket.socket(fileno={LISTEN_FD})
while True:
    conn, _ = sock.accept()
    conn.sendall(str(os.getpid()).encode())
    conn.close()
"""


def _answer(port: int) -> int:
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                return int(sock.recv(32))
        except (ConnectionRefusedError, ValueError):
            assert time.monotonic() < deadline, "nobody answers on the shared socket"
            time.sleep(0.05)


@pytest.mark.server
def test_workers_share_the_socket_and_stop_with_the_root() -> None:
    port = free_port("127.0.0.1")
    argv = [
        sys.executable,
        "-m",
        "compare.servers.prefork",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    argv += ["--workers", "3", "--", sys.executable, "-c", WORKER]
    with no_new_children():
        proc = subprocess.Popen(argv, cwd=REPO_ROOT, stderr=subprocess.PIPE, start_new_session=True)
        try:
            answered = {_answer(port) for _ in range(30)}
            workers = {child.pid for child in psutil.Process(proc.pid).children()}
            assert len(workers) == 3
            assert answered <= workers  # only the copies answer; the root is the supervisor
            assert psutil.Process(proc.pid).name() == "bash"
            os.kill(proc.pid, signal.SIGTERM)  # the root alone: it passes the signal on
            assert proc.wait(timeout=10) == 0
            assert_gone(workers)
        finally:
            proc.kill()
            proc.wait()
            assert proc.stderr is not None
            proc.stderr.close()


def test_a_port_in_use_fails_at_once_with_the_reason() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        argv = [sys.executable, "-m", "compare.servers.prefork", "--host", "127.0.0.1"]
        argv += ["--port", str(port), "--workers", "2", "--", "true"]
        done = subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert "cannot listen on 127.0.0.1:" in done.stderr and "in use" in done.stderr


def test_ipv6_is_refused_in_one_line() -> None:
    # daphne --fd adopts AF_INET descriptors only.
    with pytest.raises(ValueError, match="IPv4 addresses only"):
        listen("::1", 0)
