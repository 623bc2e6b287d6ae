"""The nginx-buffered+STACK and nginx-unbuffered+STACK stacks running: nginx on loopback in front.

What proxy buffering does to a large streamed export, measured rather than assumed: with a
client reading at full speed neither front delays the first body byte (nginx passes each buffer
on as it fills); the difference is what happens to the server when the client stalls. Behind
``proxy_buffering off`` the server is held by the slow client; behind ``on`` nginx spools the
body to a temp file and the server is free long before the client is done.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import psutil
import pytest

from compare.servers.nginx import INSTALL_HINT, find_nginx
from compare.servers.server import ServerProcess, ServerStartError
from compare.servers.stacks import STACKS
from compare.system.download import download
from compare.system.sampler import ProcessTreeSampler
from tests.helpers import (
    MB,
    BackgroundDownload,
    assert_gone,
    expected_body,
    no_new_children,
    stack_params,
    start_compare,
    tree_pids,
)
from tests.http_raw import dechunk, raw_request

pytestmark = [
    pytest.mark.server,
    pytest.mark.skipif(find_nginx() is None, reason=f"nginx is not installed: {INSTALL_HINT}"),
]

FRONTED = [
    "nginx-unbuffered+gunicorn-sync",
    "nginx-buffered+gunicorn-sync",
    "nginx-unbuffered+uvicorn",
    "nginx-buffered+uvicorn",
]
LARGE = 1_000_000  # about 55 MB of CSV: far more than the socket buffers between the hops
TTFB_SLACK = 0.25  # seconds a front may add to the first body byte: generous, not a race
ROUNDS = 3


@pytest.fixture(scope="module", params=FRONTED)
def front(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    with ServerProcess(STACKS[request.param]) as running:
        pids = tree_pids(running.pid)
        run_dir = running.run_dir
        yield running
    assert_gone(pids)
    assert not run_dir.exists()


@pytest.mark.parametrize(
    "name", stack_params(name for name in STACKS if "+" in name and name not in FRONTED)
)
def test_every_other_stack_streams_behind_either_front(name: str) -> None:
    # The fronted variants are generated per stack: each must come up and stream through nginx.
    with no_new_children(), ServerProcess(STACKS[name]) as server:
        reply = raw_request(server.host, server.port, "/export.csv?rows=20000&chunk_kb=16")
        assert reply.status == 200
        assert reply.headers["transfer-encoding"] == "chunked"
        assert reply.headers["server"].startswith("nginx")
        assert dechunk(reply.raw_body)[0] == expected_body(20_000, chunk_kb=16)
        head = raw_request(server.host, server.port, "/export.csv?rows=1000", method="HEAD")
        assert head.status == 200 and head.raw_body == b""
        pids = tree_pids(server.pid)
    assert_gone(pids)


def first_body_byte(url: str) -> float:
    """Seconds from sending a GET to its first body byte; then hang up."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port or 80, timeout=30)
    try:
        t0 = time.perf_counter()
        conn.request("GET", f"{parts.path}?{parts.query}")
        resp = conn.getresponse()
        assert resp.status == 200
        assert resp.read1(1)
        return time.perf_counter() - t0
    finally:
        conn.close()


def test_tree_holds_nginx_and_the_server(front: ServerProcess) -> None:
    root = psutil.Process(front.pid)
    names = [child.name() for child in root.children(recursive=True)]
    assert root.name() == "bash"  # the supervisor: well under 1 MB, unlike a Python one
    assert names.count("nginx") == 2  # master and its one worker
    assert sum(name.startswith("python") for name in names) >= front.spec.workers + 1
    sample = ProcessTreeSampler(front.pid).sample_once()
    assert sample is not None
    assert {p.pid for p in sample.processes} == tree_pids(front.pid)
    assert os.path.isfile(front.run_dir / "nginx" / "nginx.conf")


def test_streamed_export_arrives_chunked_and_intact(front: ServerProcess) -> None:
    reply = raw_request(front.host, front.port, "/export.csv?rows=20000&chunk_kb=16")
    assert reply.status == 200
    assert reply.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in reply.headers
    assert reply.headers["x-export-rows"] == "20000"
    assert "x-accel-buffering" not in reply.headers  # nginx keeps it to itself
    payload, _ = dechunk(reply.raw_body)
    assert payload == expected_body(20_000, chunk_kb=16)


@pytest.mark.serial  # compares times to the first byte: measured alone
def test_first_body_byte_is_not_delayed_by_either_front(front: ServerProcess) -> None:
    assert front.upstream_url is not None
    path = f"/export.csv?rows={LARGE}"
    direct, through = [], []
    for _ in range(ROUNDS):  # interleaved, and the best of each: a busy worker is not the front
        direct.append(first_body_byte(front.upstream_url + path))
        through.append(first_body_byte(front.base_url + path))
    assert min(through) < min(direct) + TTFB_SLACK, (direct, through)


def _stalled_client(port: int, path: str) -> socket.socket:
    """A client that sends a GET, reads the first bytes of the answer, then stops reading."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    assert sock.recv(1024).startswith(b"HTTP/1.1 200")
    return sock


def _ping(url: str, timeout: float) -> bool:
    """Whether url answers /ping within ``timeout`` seconds."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port or 80, timeout=timeout)
    try:
        conn.request("GET", "/ping")
        return conn.getresponse().read() == b"pong\n"
    except TimeoutError:
        return False
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("front_name", "frees_the_worker"), [("buffered", True), ("unbuffered", False)]
)
def test_a_stalled_client_holds_the_sync_worker_only_without_buffering(
    front_name: str, frees_the_worker: bool
) -> None:
    # One sync worker: while it writes an export, nothing else gets an answer from it.
    spec = STACKS[f"nginx-{front_name}+gunicorn-sync"].with_options(workers=1)
    with no_new_children(), ServerProcess(spec) as server:
        assert server.upstream_url is not None
        client = _stalled_client(server.port, f"/export.csv?rows={LARGE}")
        try:
            # Buffered: nginx takes the whole body into its temp file at full speed, the worker
            # is done within seconds. Unbuffered: the worker waits on the stalled client.
            answered = _ping(server.upstream_url, timeout=30 if frees_the_worker else 3)
            assert answered is frees_the_worker
        finally:
            client.close()
        assert _ping(server.upstream_url, timeout=30)  # and the worker is fine afterwards
        spooled = "buffered to a temporary file" in server.log_tail(400)
        assert spooled is frees_the_worker


@pytest.mark.parametrize("name", ["nginx-buffered+gunicorn-sync", "nginx-unbuffered+uvicorn"])
def test_stop_during_a_download_leaves_nothing(name: str) -> None:
    with no_new_children():
        server = ServerProcess(STACKS[name], stop_grace=2.0).start()
        try:
            pids = tree_pids(server.pid)
            fetch = BackgroundDownload(server.host, server.port, f"/export.csv?rows={LARGE}")
            fetch.start().wait_for_bytes(2 * MB, timeout=30)
        finally:
            server.stop()
        assert_gone(pids)
        assert fetch.finished.wait(10)


def test_the_server_dying_stops_nginx_and_the_stack() -> None:
    with no_new_children(), ServerProcess(STACKS["nginx-unbuffered+uvicorn"]) as server:
        pids = tree_pids(server.pid)
        masters = [p for p in psutil.Process(server.pid).children() if p.name() == "nginx"]
        masters[0].kill()  # nginx master gone: the supervisor stops the server and exits
        deadline = time.monotonic() + 15
        while server.running() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not server.running()
        assert "nginx (pid" in server.log_tail(50)
    assert_gone(pids)


def test_a_server_that_fails_to_import_fails_fast_with_the_cause() -> None:
    # Settings that do not exist: the server behind nginx cannot import the application.
    broken = {"DJANGO_SETTINGS_MODULE": "dsc_no_such_module"}
    # No waiting for the deadline: the supervisor exits, uvicorn's own supervisor restarts
    # workers that cannot import until the start calls it a crash loop, or it sits on a dead
    # worker it has not noticed (a health-check ping that worker never answered). The message
    # says which ended the start; no time bound: each failed import takes a few seconds here and
    # over 15 s with a core busy (one loaded run: 19 s), so the deadline is far beyond any
    # machine's.
    with no_new_children(), pytest.raises(ServerStartError) as info:
        ServerProcess(STACKS["nginx-buffered+uvicorn"], env=broken, start_timeout=300).start()
    message = str(info.value)
    assert "not ready after" not in message
    assert re.match(
        r"nginx-buffered\+uvicorn: (exited with code |\d+ worker processes exited"
        r"|worker process \d+ exited with code \d+ )",
        message,
    )
    assert "dsc_no_such_module" in message
    assert info.value.log_path is not None
    shutil.rmtree(info.value.log_path.parent)


def test_nginx_that_cannot_start_fails_the_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DSC_NGINX", "/bin/false")
    with no_new_children(), pytest.raises(ServerStartError, match="exited with code 1") as info:
        ServerProcess(STACKS["nginx-unbuffered+gunicorn-sync"], start_timeout=20).start()
    assert "nginx (pid" in info.value.log_tail
    assert info.value.log_path is not None
    shutil.rmtree(info.value.log_path.parent)


def test_a_signal_to_the_root_alone_stops_everything() -> None:
    # As 'kill PID' from a terminal would: the supervisor passes it on.
    with no_new_children():
        server = ServerProcess(STACKS["nginx-buffered+gunicorn-sync"]).start()
        try:
            pids = tree_pids(server.pid)
            os.kill(server.pid, signal.SIGTERM)
            deadline = time.monotonic() + 15
            while server.running() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not server.running()
            assert_gone(pids)
        finally:
            server.stop()


def test_serve_runs_a_fronted_stack_until_sigterm() -> None:
    with no_new_children():
        proc = start_compare("serve", "nginx-unbuffered+uvicorn", "--port", "0", merge_stderr=True)
        try:
            assert proc.stdout is not None
            url = ""
            for line in proc.stdout:  # serve prints this once the stack answers
                if " serving at " in line:
                    url = line.split(" serving at ")[1].split("/ ")[0]
                    break
            assert url, "serve never said where it serves"
            reply = download(f"{url}/export.csv?rows=1000")
            assert reply.status == 200 and reply.lines == 1001
            assert reply.headers["server"].startswith("nginx")
            pids = {child.pid for child in psutil.Process(proc.pid).children(recursive=True)}
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=20) == 0
        finally:
            proc.kill()
            proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        assert_gone(pids)
