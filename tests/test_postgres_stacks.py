"""Every server stack against the harness's PostgreSQL: same bytes, server-side cursors, hang-ups.

Django declares a named (server-side) cursor for ``iterator(chunk_size)`` and ``aiterator()`` on
PostgreSQL; with autocommit on it is ``WITH HOLD``. The tests see it from another session in
``pg_stat_activity`` (``pg_cursors`` lists only one's own session's cursors): the stack's backend
runs ``DECLARE "_django_curs_..."`` and then ``FETCH FORWARD 2000 FROM`` it. After a client hangs
up the export must stop (or, on a stack that notices a hang-up late, end) and the cursor go (the
backend closes it or disconnects).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import psycopg
import pytest

from compare.run.appdata import RunData
from compare.servers.postgres import missing
from compare.servers.server import ServerProcess
from compare.servers.stacks import STACKS
from compare.system.download import download
from tests.exports import DEBUG_LOG, export_ends, stop_deadline, stops_promptly, wait_for_ends
from tests.helpers import expected_body, stack_params
from tests.http_raw import dechunk, raw_request

pytestmark = [pytest.mark.server, pytest.mark.skipif(missing() is not None, reason=str(missing()))]

BASE = [name for name, spec in STACKS.items() if spec.front is None]
DB_ROWS = 300_000  # about 17 MB of CSV: far more than the socket buffers
CURSOR = "_django_curs_"


@pytest.fixture(scope="module")
def data() -> Iterator[RunData]:
    with RunData("postgres", "minimal", DB_ROWS, progress=lambda line: None) as running:
        yield running


@pytest.fixture(scope="module", params=stack_params(BASE))
def server(request: pytest.FixtureRequest, data: RunData) -> Iterator[ServerProcess]:
    """The stack with one worker, so that "the next request" reaches the same one."""
    spec = STACKS[request.param].with_options(workers=1)
    with ServerProcess(spec, env={**data.stack_variables(), **DEBUG_LOG}) as running:
        yield running


def _cursor_queries(data: RunData) -> list[str]:
    """The last statement of every other backend that touched a Django named cursor."""
    assert data.postgres is not None
    with psycopg.connect(data.postgres.conninfo()) as conn:
        rows = conn.execute(
            "SELECT query FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND query LIKE %s",
            [f"%{CURSOR}%"],
        ).fetchall()
    return [str(row[0]) for row in rows]


def _open_cursors(data: RunData) -> list[str]:
    """Those still in use: a DECLARE or FETCH not followed by CLOSE (or a disconnect)."""
    return [q for q in _cursor_queries(data) if not q.lstrip().upper().startswith("CLOSE")]


def test_postgres_export_is_the_synthetic_bytes(server: ServerProcess) -> None:
    # The sync iterator() under WSGI, the async aiterator() under ASGI: both from PostgreSQL.
    for query in ("rows=20000&chunk_kb=16", "rows=300&chunk_kb=0"):
        bodies = []
        for source in ("postgres", "synthetic"):
            reply = raw_request(server.host, server.port, f"/export.csv?{query}&source={source}")
            assert reply.status == 200 and reply.headers["transfer-encoding"] == "chunked"
            bodies.append(dechunk(reply.raw_body)[0])
        rows, chunk_kb = (int(part.split("=")[1]) for part in query.split("&"))
        assert bodies[0] == bodies[1] == expected_body(rows, chunk_kb=chunk_kb)


def test_hangup_closes_the_server_side_cursor(server: ServerProcess, data: RunData) -> None:
    query = "&source=postgres"
    # By then the export has stopped, or (a hang-up it missed) run to its end.
    deadline = stop_deadline(server, DB_ROWS, query=query)
    before = len(export_ends(server))
    with socket.create_connection((server.host, server.port), timeout=30) as sock:
        sock.sendall(
            f"GET /export.csv?rows={DB_ROWS}{query} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
        )
        assert sock.recv(65536)  # the headers and the first rows are here
        # Mid-export: the stack's backend is fetching from a named cursor. The first bytes can
        # arrive before its DECLARE runs (the CSV header is sent first), so wait for it, within
        # the export's own deadline (a loaded run looked a moment too early).
        waited_from = time.monotonic()
        while not (open_now := _open_cursors(data)):
            assert time.monotonic() - waited_from < deadline, _cursor_queries(data)
            time.sleep(0.02)
        assert open_now and all(CURSOR in q for q in open_now), _cursor_queries(data)
        assert any(q.lstrip().upper().startswith(("DECLARE", "FETCH")) for q in open_now)
    hung_up = time.monotonic()
    (end,) = wait_for_ends(server, before, 1, deadline)
    assert end.iterator == ("async" if server.spec.interface == "asgi" else "sync")
    assert end.rows_announced == DB_ROWS
    # daphne (no backpressure) and granian-asgi (a late hang-up) may finish the export first.
    assert end.stopped or not stops_promptly(server.spec), end
    while _open_cursors(data):
        assert time.monotonic() - hung_up < deadline, _cursor_queries(data)
        time.sleep(0.02)
    # The same single worker serves the next export from PostgreSQL.
    result = download(f"{server.base_url}/export.csv?rows=1000&source=postgres", timeout=30)
    assert result.status == 200 and result.lines == 1001 and result.complete_last_line
