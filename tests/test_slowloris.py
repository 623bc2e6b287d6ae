"""Slow-loris clients against each server stack: what each one does, asserted with generous bounds.

Three kinds of slow client: one that dribbles its request headers a byte at a time and never ends
them, one that connects and sends nothing, and one that asks for a large export and never reads
it. None of these servers has a timeout for a stalled write, and few have one for headers:

- gunicorn-sync gives each such client a whole worker until --timeout (600 s here, because the
  sync worker kills long streams at that timeout): as many slow clients as workers stop it.
- gunicorn-gthread gives each a thread, for good (the worker heartbeats, so --timeout never
  fires); an idle connection holds its thread only 5 s (gunicorn's wait for the first byte).
- granian-wsgi reads headers in Rust, so only a client that stops reading holds one of its
  --blocking-threads; headers must be complete within 30 s (--http1-header-read-timeout).
- gunicorn-gevent reads each request under its --keep-alive timeout (5 s): dribbling and idle
  clients are closed then; a non-reader holds only a greenlet.
- The asyncio stacks keep every such connection open for as long as the client likes, past the
  keep-alive timeout (which starts only after a response), and go on serving everybody else;
  granian-asgi closes a connection whose headers are not complete after 30 s.
- daphne has no backpressure: the export to a client that stops reading goes on into the
  server's memory (Twisted's write buffer) instead of pausing.

What stops slow clients is nginx in front (its client_header_timeout and send_timeout, and its
buffering); the servers' own defaults only bound the damage
(compare.servers.stacks.WORKER_CONNECTIONS).
"""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import psutil
import pytest

from compare.servers.server import ServerProcess
from compare.servers.stacks import (
    KEEPALIVE_SECONDS,
    STACKS,
    SYNC_TIMEOUT,
    WORKER_CONNECTIONS,
    StackSpec,
)
from tests.exports import (
    DEBUG_LOG,
    MAX_ROWS_AFTER_HANGUP,
    export_ends,
    socket_backlog,
    start_bytes_per_row,
    stop_deadline,
    stops_promptly,
    wait_for_ends,
)
from tests.helpers import MB

pytestmark = pytest.mark.server

Kind = Literal["dribble", "idle", "no-read"]
KINDS: tuple[Kind, ...] = ("dribble", "idle", "no-read")
DRIBBLE_INTERVAL_S = 0.1
DRIBBLE_HEAD = b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
BIG_ROWS = 2_000_000  # about 110 MB: far more than any socket buffer
BIG_EXPORT = f"/export.csv?rows={BIG_ROWS}"
ANSWER_WITHIN_S = 2.0  # a server that is not held up answers /ping in milliseconds
BLOCKED_FOR_S = 1.0  # and one that is held up does not answer in this long
RECOVER_WITHIN_S = 5.0
# Past the keep-alive timeout: that timer starts only once a response is complete.
HOLD_S = KEEPALIVE_SECONDS + 1.0
# gunicorn's gthread worker waits this long for a new connection's first byte, in a thread
# (gunicorn/workers/gthread.py, DEFAULT_WORKER_DATA_TIMEOUT), then hands it back to its poller.
GTHREAD_FIRST_BYTE_WAIT_S = 5.0


# The status of a request with 1 MB of headers when the server hangs up without answering.
CLOSED = -1
# granian's --http1-header-read-timeout default (granian --help).
GRANIAN_HEADER_TIMEOUT_S = 30.0
# A client that stops reading: a server with backpressure pauses the export, and its memory stays
# within this of where it was (a size, whatever the machine's speed: a paused export holds a few
# pieces). One without (daphne) goes on generating into its write buffer: about 90 MB in HOLD_S
# here for three such clients, a third of that on a machine 3x slower.
FLAT_MB = 40


@dataclass(frozen=True)
class Expected:
    """What a stack, started as ``spec``, does with slow clients."""

    spec: StackSpec
    # How many slow clients of a blocking kind stop it answering anybody else (None: never).
    blocked_by: int | None
    oversized: int  # status for 1 MB of request headers (200: it takes them all; or CLOSED)
    blocking_kinds: tuple[Kind, ...] = KINDS  # the kinds of slow client that hold a worker
    # Closes a connection whose request headers are not complete after this long (None: never).
    header_timeout_s: float | None = None


EXPECTED = {
    e.spec.name: e
    for e in (
        Expected(STACKS["gunicorn-sync"].with_options(workers=2), 2, 431),
        # workers x threads slow clients stop it: 1 x 2 here, 2 x 4 with the defaults.
        Expected(STACKS["gunicorn-gthread"].with_options(workers=1, threads=2), 2, 431),
        Expected(
            STACKS["granian-wsgi"].with_options(workers=1, threads=2),
            2,
            431,
            blocking_kinds=("no-read",),
            header_timeout_s=GRANIAN_HEADER_TIMEOUT_S,
        ),
        Expected(STACKS["gunicorn-gevent"], None, 431, header_timeout_s=KEEPALIVE_SECONDS),
        Expected(STACKS["uvicorn"], None, 200),  # httptools has no header size limit
        Expected(STACKS["gunicorn-uvicorn"], None, 200),
        Expected(STACKS["gunicorn-asgi"], None, 431),
        Expected(STACKS["granian-asgi"], None, 431, header_timeout_s=GRANIAN_HEADER_TIMEOUT_S),
        # Twisted drops a request whose headers pass 16 KiB without answering it.
        Expected(STACKS["daphne"], None, CLOSED),
    )
}
BLOCKING = [name for name, e in EXPECTED.items() if e.blocked_by]
ASYNC = [name for name, e in EXPECTED.items() if not e.blocked_by]


def test_every_stack_has_a_row() -> None:
    assert set(EXPECTED) == {name for name, spec in STACKS.items() if spec.front is None}


def _start(name: str) -> Iterator[ServerProcess]:
    with ServerProcess(EXPECTED[name].spec, env=DEBUG_LOG) as running:
        yield running


@pytest.fixture(scope="module", params=BLOCKING)
def blocking_server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    yield from _start(request.param)


@pytest.fixture(scope="module", params=ASYNC)
def async_server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    yield from _start(request.param)


def ping(server: ServerProcess, timeout: float) -> int | None:
    """The status /ping answers on a new connection, or None if it does not within ``timeout``."""
    deadline = time.monotonic() + timeout
    try:
        with socket.create_connection((server.host, server.port), timeout=timeout) as sock:
            sock.sendall(b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            data = b""
            while b"\r\n" not in data:
                sock.settimeout(max(deadline - time.monotonic(), 0.001))
                chunk = sock.recv(4096)
                if not chunk:
                    return None
                data += chunk
    except TimeoutError:
        return None
    return int(data.split()[1])


class SlowClients:
    """``count`` connections of one kind; a thread dribbles header bytes into the dribbling ones."""

    def __init__(self, server: ServerProcess, kind: Kind, count: int) -> None:
        self.kind = kind
        self.socks: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            if kind == "no-read":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect((server.host, server.port))
            if kind == "no-read":
                sock.sendall(f"GET {BIG_EXPORT} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            self.socks.append(sock)
        if kind == "dribble":
            self._thread = threading.Thread(target=self._dribble, daemon=True)
            self._thread.start()

    def _dribble(self) -> None:
        sent = 0
        while not self._stop.wait(DRIBBLE_INTERVAL_S):
            byte = DRIBBLE_HEAD[sent : sent + 1] or b"a"  # a header value that never ends
            for sock in self.socks:
                with contextlib.suppress(OSError):  # the server closed it: held() tells
                    sock.send(byte)
            sent += 1

    def held(self) -> int:
        """How many connections the server still holds open without having answered them."""
        count = 0
        for sock in self.socks:
            try:
                data = sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
            except BlockingIOError:
                count += 1  # open, nothing sent back
                continue
            except OSError:
                continue  # reset by the server
            # The export streaming to a non-reader counts as held; an answer to the others not.
            count += bool(data) and self.kind == "no-read"
        return count

    def close(self) -> None:
        """Stop dribbling and hang up every connection."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for sock in self.socks:
            sock.close()


@pytest.mark.parametrize("kind", KINDS)
def test_as_many_slow_clients_as_workers_or_threads_stop_a_blocking_stack(
    blocking_server: ServerProcess, kind: Kind
) -> None:
    server = blocking_server
    expected = EXPECTED[server.spec.name]
    assert expected.blocked_by is not None
    if kind == "no-read":
        deadline = stop_deadline(server, BIG_ROWS, exports=expected.blocked_by)
    ends_before = len(export_ends(server))
    clients = SlowClients(server, kind, expected.blocked_by)
    try:
        # The workers (or threads) take the connections: microseconds of work, so 0.3 s holds on
        # a machine many times slower or busier than this one.
        time.sleep(0.3)
        if kind not in expected.blocking_kinds:
            # Headers read outside the worker threads (granian's Rust I/O): nothing is taken.
            assert ping(server, ANSWER_WITHIN_S) == 200
            assert clients.held() == expected.blocked_by
            return
        assert ping(server, BLOCKED_FOR_S) is None
        if kind == "idle" and server.spec.worker_class == "gthread":
            # An idle connection goes back to the poller after the first-byte wait: the thread
            # is free again while the connection stays open.
            assert ping(server, GTHREAD_FIRST_BYTE_WAIT_S + 3) == 200
            assert clients.held() == expected.blocked_by
        else:
            assert clients.held() == expected.blocked_by
    finally:
        clients.close()
    assert ping(server, RECOVER_WITHIN_S) == 200
    if kind == "no-read":
        # Once the client goes, so does the export.
        ends = wait_for_ends(server, ends_before, expected.blocked_by, deadline)
        assert all(end.stopped for end in ends), ends


def _tree_mb(server: ServerProcess) -> float:
    root = psutil.Process(server.pid)
    return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)]) / 1e6


def test_asyncio_stacks_hold_slow_clients_and_serve_everybody_else(
    async_server: ServerProcess,
) -> None:
    server = async_server
    expected = EXPECTED[server.spec.name]
    # By then every export has stopped, or (a hang-up it missed) run to its end.
    deadline = stop_deadline(server, BIG_ROWS, exports=3)
    ends_before = len(export_ends(server))
    memory_before = _tree_mb(server)
    started = time.monotonic()
    clients = [SlowClients(server, kind, 3) for kind in KINDS]
    no_read = clients[KINDS.index("no-read")]
    try:
        time.sleep(0.3)
        assert ping(server, ANSWER_WITHIN_S) == 200
        time.sleep(max(started + HOLD_S - time.monotonic(), 0))
        # Past the keep-alive timeout, every slow client is still connected (unless the server
        # has a header timeout shorter than that), the exports of the non-readers not abandoned,
        # and the server still answers at once.
        timeout = expected.header_timeout_s
        closed = timeout is not None and timeout < HOLD_S
        wanted = [3 if c.kind == "no-read" or not closed else 0 for c in clients]
        assert [c.held() for c in clients] == wanted
        assert not any(end.stopped for end in export_ends(server)[ends_before:])
        assert ping(server, ANSWER_WITHIN_S) == 200
        backlog = sum(socket_backlog(sock, server.port) for sock in no_read.socks)
        grown = _tree_mb(server) - memory_before
    finally:
        for group in clients:
            group.close()
    ends = wait_for_ends(server, ends_before, 3, deadline)
    # Rows generated that were neither read nor in the socket buffers at the hang-up: held in
    # the server's own write path (the buffers hold the body's first rows, measured per row).
    ahead = sum(end.rows_encoded for end in ends) - backlog / start_bytes_per_row()
    if server.spec.backpressure:
        # Paused: memory flat while the clients were stalled.
        assert grown < FLAT_MB, f"grew {grown:.0f} MB"
    else:
        # No backpressure: the exports ran on into the server's memory, far past the few pieces a
        # stack with backpressure holds, whatever the machine's speed; some may have finished.
        assert ahead > 3 * MAX_ROWS_AFTER_HANGUP, (ends, backlog)
        assert grown * MB > ahead * start_bytes_per_row() / 2, f"grew {grown:.0f} MB"
    if stops_promptly(server.spec):
        # A hang-up stops an export paused on full buffers at its next write.
        assert all(end.stopped for end in ends), ends
        assert ahead < 3 * MAX_ROWS_AFTER_HANGUP, (ends, backlog)


def _oversized_header_status(server: ServerProcess) -> int:
    """The status 1 MB of request headers get, or CLOSED when the server hangs up without one."""
    big = b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nX-Big: "
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        try:
            sock.sendall(big + b"a" * 1_000_000 + b"\r\n\r\n")
            reply = sock.recv(100)
        except (ConnectionResetError, BrokenPipeError):
            return CLOSED
    return int(reply.split()[1]) if reply else CLOSED


def test_oversized_headers_on_blocking_stacks(blocking_server: ServerProcess) -> None:
    assert (
        _oversized_header_status(blocking_server) == EXPECTED[blocking_server.spec.name].oversized
    )


def test_oversized_headers_on_asyncio_stacks(async_server: ServerProcess) -> None:
    assert _oversized_header_status(async_server) == EXPECTED[async_server.spec.name].oversized


def test_the_sync_worker_timeout_is_what_frees_a_worker_held_by_a_slow_client() -> None:
    # gunicorn-sync as it runs, with its 600 s timeout made 2 s so that the test can wait for it.
    assert STACKS["gunicorn-sync"].timeout == SYNC_TIMEOUT
    timeout = 2
    spec = dataclasses.replace(STACKS["gunicorn-sync"].with_options(workers=1), timeout=timeout)
    with ServerProcess(spec) as server:
        clients = SlowClients(server, "dribble", 1)
        try:
            time.sleep(0.3)
            assert ping(server, BLOCKED_FOR_S) is None
            # The arbiter kills the silent worker at --timeout and boots another.
            assert ping(server, timeout + 10) == 200
            assert clients.held() == 0
        finally:
            clients.close()


def test_uvicorn_connection_cap_answers_503_past_it() -> None:
    assert STACKS["uvicorn"].limit_concurrency == WORKER_CONNECTIONS
    assert "--limit-concurrency" in STACKS["uvicorn"].argv("127.0.0.1", 8000, Path("RUN_DIR"))
    cap = 4
    spec = dataclasses.replace(STACKS["uvicorn"].with_options(workers=1), limit_concurrency=cap)
    with ServerProcess(spec) as server:
        idle = SlowClients(server, "idle", cap - 1)
        try:
            time.sleep(0.3)
            # Idle connections count: with the probe's own, the cap is reached.
            assert ping(server, ANSWER_WITHIN_S) == 503
        finally:
            idle.close()
        # Below the cap again once uvicorn has seen them close (polled: no guess at how soon).
        deadline = time.monotonic() + RECOVER_WITHIN_S
        while (status := ping(server, ANSWER_WITHIN_S)) != 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert status == 200
