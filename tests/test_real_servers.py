"""The export through every server stack's real processes on loopback, checked on the wire."""

from __future__ import annotations

import socket
import time

import pytest

from compare.servers.server import ServerProcess
from compare.servers.stacks import STACKS
from compare.system.download import download
from tests.exports import (
    MAX_ROWS_AFTER_HANGUP,
    export_ends,
    http_payload,
    socket_backlog,
    start_bytes_per_row,
    stop_deadline,
    stops_promptly,
    wait_for_ends,
)
from tests.helpers import expected_body
from tests.http_raw import dechunk, raw_request

pytestmark = pytest.mark.server

# Every server on its own; the nginx-fronted stacks are test_nginx_stacks.py's.
SERVER_STACKS = [name for name, spec in STACKS.items() if spec.front is None]


def test_stream_is_chunked_without_length_and_frames_parse(server: ServerProcess) -> None:
    reply = raw_request(server.host, server.port, "/export.csv?rows=20000&chunk_kb=16")
    assert reply.status == 200
    assert reply.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in reply.headers
    payload, chunks = dechunk(reply.raw_body)
    assert payload == expected_body(20_000, chunk_kb=16)
    assert chunks >= len(payload) // (17 * 1024)  # one HTTP chunk (or more) per piece


def test_one_row_per_piece_is_one_chunk_per_row(server: ServerProcess) -> None:
    reply = raw_request(server.host, server.port, "/export.csv?rows=300&chunk_kb=0")
    payload, chunks = dechunk(reply.raw_body)
    assert payload == expected_body(300, chunk_kb=0)
    assert chunks == 301


def test_head_has_headers_and_no_body(server: ServerProcess) -> None:
    reply = raw_request(server.host, server.port, "/export.csv?rows=1000000", method="HEAD")
    assert reply.status == 200
    assert reply.headers["x-export-rows"] == "1000000"
    assert reply.raw_body == b""


# What each server does for an HTTP/1.0 client (the seed post's conditions). Gunicorn ends the
# body by closing; uvicorn's httptools protocol answers "HTTP/1.1" with a chunked body even to
# HTTP/1.0 clients (a known uvicorn behaviour: its PR #1360 to change it was closed unmerged).
HTTP10_CHUNKED = {
    "gunicorn-sync": False,
    "gunicorn-gthread": False,
    "gunicorn-gevent": False,
    "uvicorn": True,
    "gunicorn-uvicorn": True,
    "gunicorn-asgi": False,
    "granian-wsgi": False,
    "granian-asgi": False,
    "daphne": False,
}


def test_every_stack_has_an_http_10_row() -> None:
    assert set(HTTP10_CHUNKED) == set(SERVER_STACKS)


def test_http_10_client_gets_a_complete_body(server: ServerProcess) -> None:
    reply = raw_request(server.host, server.port, "/export.csv?rows=5000", version="HTTP/1.0")
    assert reply.status == 200
    assert "content-length" not in reply.headers
    if HTTP10_CHUNKED[server.spec.name]:
        assert reply.headers["transfer-encoding"] == "chunked"
        assert dechunk(reply.raw_body)[0] == expected_body(5000)
    else:
        assert "transfer-encoding" not in reply.headers
        assert reply.headers.get("connection", "close").lower() == "close"
        assert reply.raw_body == expected_body(5000)


def test_bad_parameter_is_400_over_the_wire(server: ServerProcess) -> None:
    reply = raw_request(server.host, server.port, "/export.csv?rows=many")
    assert reply.status == 400
    body = (
        dechunk(reply.raw_body)[0]
        if "chunked" in reply.headers.get("transfer-encoding", "")
        else reply.raw_body
    )
    assert body == b"rows must be a whole number from 0 to 50000000, got 'many'\n"


def test_a_large_export_really_streams(server: ServerProcess) -> None:
    result = download(f"{server.base_url}/export.csv?rows=1000000")
    assert result.status == 200 and result.lines == 1_000_001 and result.complete_last_line
    # Buffering would put the first byte right before the last; a stream sends it at once.
    assert result.ttfb < result.total / 10


def test_server_stops_generating_when_the_client_hangs_up(server: ServerProcess) -> None:
    announced = 20_000_000
    # By then the export has stopped, or (a hang-up it missed) run to its end.
    deadline = stop_deadline(server, announced)
    before = len(export_ends(server))
    with socket.create_connection((server.host, server.port), timeout=30) as sock:
        sock.sendall(
            f"GET /export.csv?rows={announced} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
        )
        received = sock.recv(65536)  # headers and the first piece have arrived
        # The server keeps filling both socket buffers after the first piece: wait until they
        # are full (the backlog stops growing: the server is blocked on send), so that what it
        # generates after this reading is what the hang-up alone lets through. Read at once, a
        # loaded run counted the buffers' filling as rows after the hang-up (28,000 > 20,000).
        buffered, steady, waited_from = socket_backlog(sock, server.port), 0, time.monotonic()
        while steady < 3:
            assert time.monotonic() - waited_from < deadline, "the socket buffers never filled"
            time.sleep(0.02)
            now = socket_backlog(sock, server.port)
            steady, buffered = (steady + 1 if now == buffered else 0), now
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    (end,) = wait_for_ends(server, before, 1, deadline)
    assert end.rows_announced == announced
    # The whole export takes about a minute here at full speed; it stops long before its end.
    assert end.stopped, end
    if stops_promptly(server.spec):
        # A hang-up ends it within a few pieces of what the socket buffers held: the export was
        # generating at full speed, so nothing but the hang-up stopped it there.
        unread = len(http_payload(received)) + buffered
        rows_after = end.rows_encoded - unread / start_bytes_per_row()
        assert rows_after < MAX_ROWS_AFTER_HANGUP, (end, buffered)
    # The worker is free again and serves the next request.
    assert download(f"{server.base_url}/ping").status == 200
