"""Client hang-ups at random points, on every server stack and both row sources.

After the hang-up the server must stop generating within a bounded time (its log says
``export stopped ... rows_encoded=N``), release the database cursor (an SQLite writer is no longer
blocked by the export's shared lock) and serve the next request on the same, single worker.

Rows the client never read fall in two parts: what sat in the socket buffers when it hung up (a few
MB on loopback, measured from both ends) and what the server generated after it. The second part
is the figure that matters; both are printed (``pytest -s``) for the closing note.
"""

from __future__ import annotations

import fcntl
import random
import re
import socket
import sqlite3
import struct
import termios
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from pathlib import Path
from typing import cast

import pytest

from compare.run.appdata import RunData
from compare.servers.server import ServerProcess
from compare.servers.stacks import STACKS
from compare.system.download import download
from project.export.views import ExportResponse
from tests.helpers import MB, stack_params, tree_pids

pytestmark = pytest.mark.server

BASE = [name for name, spec in STACKS.items() if spec.front is None]
SEED = 8  # the number: any fixed seed makes every run hang up at the same points
# 300,000 rows are about 17 MB of CSV: more than the socket buffers plus the latest hang-up point,
# so the export is always cut short; seeding them takes a few seconds.
DB_ROWS = 300_000
SYNTHETIC_ROWS = 20_000_000
LATEST_HANGUP = 2 * MB
STOP_WITHIN_S = 10.0
WRITER_WAIT_S = 5.0
# Everything generated that the client never read, socket buffers included (about 80,000 rows
# here): generous, yet far below either export's size.
MAX_UNREAD_ROWS = 250_000
# What the server generated after the hang-up, net of the socket buffers: about one 64 KiB piece
# (1,150 rows) is expected; the bound leaves room for a few pieces and for the estimate's slack.
MAX_ROWS_AFTER_HANGUP = 20_000

_STOPPED = re.compile(r"export stopped iterator=\w+ rows_encoded=(\d+) rows_announced=(\d+)")
_DB_TABLE = "export_exportrow"


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


async def test_closing_the_response_closes_its_async_body_at_once() -> None:
    # What Django's ASGI handler does on a hang-up: aclose() the response's own iterator. The body
    # under it must be closed then, not when garbage collection gets to it.
    closed: list[str] = []

    async def body() -> AsyncIterator[bytes]:
        try:
            yield b"id\r\n"
            yield b"1\r\n"
        finally:
            closed.append("body")

    response = ExportResponse(body(), content_type="text/csv")
    parts = cast(AsyncGenerator[bytes, None], aiter(response))
    assert await anext(parts) == b"id\r\n"
    await parts.aclose()
    assert closed == ["body"]


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh SQLite file with DB_ROWS rows, seeded as the bench seeds its database."""
    path = tmp_path_factory.mktemp("hangups") / "export.sqlite3"
    RunData("db", "minimal", DB_ROWS, lambda line: None, database_url=_sqlite_url(path)).start()
    return path


@pytest.fixture(scope="module", params=stack_params(BASE))
def server(request: pytest.FixtureRequest, database: Path) -> Iterator[ServerProcess]:
    """The stack with one worker, so that "the next request" reaches the same worker."""
    spec = STACKS[request.param].with_options(workers=1)
    with ServerProcess(spec, env={"DATABASE_URL": _sqlite_url(database)}) as running:
        yield running


def _stopped_lines(server: ServerProcess) -> list[tuple[int, int]]:
    text = server.log_path.read_text(errors="replace")
    return [(int(m[1]), int(m[2])) for m in _STOPPED.finditer(text)]


def _read_at_least(sock: socket.socket, count: int) -> bytes:
    data = bytearray()
    while len(data) < count:
        chunk = sock.recv(min(256 * 1024, count - len(data)))
        assert chunk, f"the server closed the connection after {len(data)} bytes"
        data += chunk
    return bytes(data)


def _payload(raw: bytes) -> bytes:
    """The CSV bytes in a response cut short anywhere: headers dropped, chunk framing undone."""
    head, _, body = raw.partition(b"\r\n\r\n")
    if b"transfer-encoding: chunked" not in head.lower():
        return body
    payload = bytearray()
    position = 0
    while (line_end := body.find(b"\r\n", position)) != -1:
        size = int(body[position:line_end].split(b";")[0], 16)
        start = line_end + 2
        payload += body[start : start + size]
        if start + size + 2 > len(body):
            break
        position = start + size + 2
    return bytes(payload)


def _unread_bytes(sock: socket.socket) -> int:
    """Bytes in the client's receive buffer."""
    value: int = struct.unpack("i", fcntl.ioctl(sock, termios.FIONREAD, b"\0\0\0\0"))[0]
    return value


def _server_send_queue(server_port: int, client_port: int) -> int:
    """Bytes queued in the kernel on the server's side of the connection (/proc/net/tcp)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as handle:
            for line in handle.readlines()[1:]:
                fields = line.split()
                local, remote = (int(f.rsplit(":", 1)[1], 16) for f in fields[1:3])
                if (local, remote) == (server_port, client_port):
                    return int(fields[4].split(":")[0], 16)
    raise AssertionError(f"no server socket {server_port} -> {client_port} in /proc/net/tcp")


def _write_once(database: Path, timeout: float) -> float:
    """Commit one (no-op) write to the export table; return how long it waited for the lock."""
    started = time.monotonic()
    conn = sqlite3.connect(database, timeout=timeout, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(f"UPDATE {_DB_TABLE} SET quantity = quantity WHERE id = 1")
            conn.execute("COMMIT")
        except sqlite3.OperationalError:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.close()
    return time.monotonic() - started


@pytest.mark.parametrize("source", ["synthetic", "db"])
def test_hangup_stops_generation_and_frees_the_worker(
    server: ServerProcess, source: str, database: Path
) -> None:
    rng = random.Random(f"{SEED}-{server.spec.name}-{source}")
    hangup_at = rng.randint(1, LATEST_HANGUP)
    pause = rng.uniform(0.2, 0.6)  # the server fills the socket buffers and waits on them
    announced = DB_ROWS if source == "db" else SYNTHETIC_ROWS
    pids = tree_pids(server.pid)
    before = len(_stopped_lines(server))

    with socket.create_connection((server.host, server.port), timeout=30) as sock:
        target = f"/export.csv?rows={announced}&source={source}"
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        received = _read_at_least(sock, hangup_at)
        time.sleep(pause)
        if source == "db":
            # The check below means something only if an open export does block a writer.
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                _write_once(database, timeout=0.3)
        buffered = _unread_bytes(sock) + _server_send_queue(server.port, sock.getsockname()[1])
        hung_up = time.monotonic()
    # Leaving the block closed the socket with unread data in it: the kernel sends a reset.

    while len(lines := _stopped_lines(server)) == before:
        assert time.monotonic() - hung_up < STOP_WITHIN_S, (
            f"{server.spec.name} still generating {STOP_WITHIN_S:g} s after the hang-up"
            f" at byte {hangup_at} (log: {server.log_path})"
        )
        time.sleep(0.02)
    stopped_after = time.monotonic() - hung_up
    rows_encoded, rows_announced = lines[-1]
    assert rows_announced == announced

    payload = _payload(received)
    rows_received = max(payload.count(b"\n") - 1, 0)
    bytes_per_row = len(payload) / max(payload.count(b"\n"), 1)
    rows_unread = rows_encoded - rows_received
    rows_buffered = round(buffered / bytes_per_row)
    rows_after = rows_unread - rows_buffered
    assert rows_encoded < announced
    if server.spec.backpressure:
        assert rows_unread < MAX_UNREAD_ROWS
        assert rows_after < MAX_ROWS_AFTER_HANGUP
    # Without backpressure (daphne) the export ran ahead of the client while it paused, into the
    # server's write buffer: what it generated is bounded by the pause, not by the socket. It
    # still stops at the hang-up (within STOP_WITHIN_S, above).

    # The cursor is closed: a writer gets the database within a deadline.
    writer_waited = _write_once(database, timeout=WRITER_WAIT_S) if source == "db" else 0.0
    # The same single worker serves the next requests, the database one included.
    result = download(f"{server.base_url}/export.csv?rows=1000&source=db", timeout=30)
    assert result.status == 200 and result.lines == 1001 and result.complete_last_line
    assert download(f"{server.base_url}/ping", timeout=10).status == 200
    assert tree_pids(server.pid) == pids

    print(
        f"\nHANGUP stack={server.spec.name} source={source} at_byte={hangup_at}"
        f" pause={pause:.2f}s rows_received={rows_received} rows_encoded={rows_encoded}"
        f" rows_unread={rows_unread} rows_in_socket_buffers={rows_buffered}"
        f" rows_after_hangup={rows_after} stopped_after={stopped_after:.3f}s"
        f" writer_waited={writer_waited:.3f}s"
    )
