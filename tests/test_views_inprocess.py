"""The export view in-process: WSGI (test Client) and ASGI (AsyncClient) give the same bytes."""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import re
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from types import FrameType

import pytest
from asgiref.testing import ApplicationCommunicator
from django.core.management import call_command
from django.db import connection
from django.http import StreamingHttpResponse
from django.test import AsyncClient, Client

from project.export.models import ExportRow
from project.export.streams import sync_pieces
from tests.helpers import expected_body
from tests.inprocess import asgi_call, asgi_scope, project_log, wsgi_call

SYNC_UNDER_ASGI = "StreamingHttpResponse must consume synchronous iterators"
ASYNC_UNDER_WSGI = "StreamingHttpResponse must consume asynchronous iterators"


def wsgi_get(url: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    reply = wsgi_call(url, method)
    return reply.status, reply.headers, reply.body


async def asgi_get(url: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    reply = await asgi_call(url, method)
    return reply.status, reply.headers, reply.body


QUERIES = [
    "rows=0",
    "rows=1",
    "rows=5000&chunk_kb=0",
    "rows=30000",
    "rows=30000&chunk_kb=1",
    "rows=30000&chunk_kb=1024",
    "rows=3000&mode=buffered",
    "rows=200&delay_ms=1&chunk_kb=1",
]


@pytest.mark.parametrize("query", QUERIES)
async def test_wsgi_and_asgi_bodies_are_identical(query: str) -> None:
    status, headers, body = wsgi_get(f"/export.csv?{query}")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the matched async path must not fall back to buffering
        a_status, a_headers, a_body = await asgi_get(f"/export.csv?{query}")
    assert status == a_status == 200
    assert body == a_body
    rows = int(headers["x-export-rows"])
    assert body.count(b"\n") == rows + 1
    assert headers["x-export-interface"] == "wsgi" and a_headers["x-export-interface"] == "asgi"


@pytest.mark.parametrize("query", ["rows=30000", "rows=3000&chunk_kb=0", "rows=0", "rows=1"])
async def test_the_static_source_sends_the_synthetic_bytes_piece_for_piece(query: str) -> None:
    synthetic = Client().get(f"/export.csv?{query}")
    assert isinstance(synthetic, StreamingHttpResponse)
    pieces = [bytes(piece) for piece in synthetic]
    want = hashlib.sha256(b"".join(pieces)).hexdigest()
    for response in (
        Client().get(f"/export.csv?{query}&source=static"),
        await AsyncClient().get(f"/export.csv?{query}&source=static"),
    ):
        assert isinstance(response, StreamingHttpResponse)
        assert response["X-Export-Rows"] == synthetic["X-Export-Rows"]
        if response.is_async:
            static = [bytes(piece) async for piece in response]
        else:
            static = [bytes(piece) for piece in response]
        assert [len(piece) for piece in static] == [len(piece) for piece in pieces]
        assert hashlib.sha256(b"".join(static)).hexdigest() == want


def test_default_export_headers_and_body() -> None:
    response = Client().get("/export.csv")
    assert isinstance(response, StreamingHttpResponse) and response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="export-100000.csv"'
    assert response["X-Accel-Buffering"] == "no"
    assert response["X-Export-Rows"] == "100000"
    assert b"".join(response.streaming_content) == expected_body(100_000)


async def test_buffered_mode_is_a_plain_response_with_length() -> None:
    for response in (
        Client().get("/export.csv?rows=100&mode=buffered"),
        await AsyncClient().get("/export.csv?rows=100&mode=buffered"),
    ):
        assert not response.streaming
        assert response["Content-Length"] == str(len(expected_body(100)))
        assert "X-Accel-Buffering" not in response


def test_async_iterator_under_wsgi_buffers_with_djangos_warning() -> None:
    with pytest.warns(Warning, match=ASYNC_UNDER_WSGI):
        status, _, body = wsgi_get("/export.csv?rows=2000&iterator=async")
    assert status == 200 and body == expected_body(2000)


async def test_sync_iterator_under_asgi_buffers_with_djangos_warning() -> None:
    with pytest.warns(Warning, match=SYNC_UNDER_ASGI):
        status, _, body = await asgi_get("/export.csv?rows=2000&iterator=sync")
    assert status == 200 and body == expected_body(2000)


async def test_explicit_matching_iterators_do_not_warn() -> None:
    assert wsgi_get("/export.csv?rows=10&iterator=sync")[2] == expected_body(10)
    assert (await asgi_get("/export.csv?rows=10&iterator=async"))[2] == expected_body(10)


BAD = [
    ("rows=ten", b"rows must be a whole number"),
    ("rows=50000001", b"rows must be from 0 to 50000000"),
    ("chunk_kb=2048", b"chunk_kb must be from 0 to 1024"),
    ("mode=zip", b"mode must be one of"),
    ("iterator=thread", b"iterator must be one of"),
    ("source=csv", b"source must be one of"),
    # The tests' database is SQLite: a PostgreSQL export must not quietly read it instead.
    ("source=postgres", b"source=postgres needs a PostgreSQL database"),
    ("delay_ms=-3", b"delay_ms must be a whole number"),
    ("format=json", b"unknown parameter 'format'"),
    # A buffered body sits in memory whole: a limit of its own, a tenth of the streamed one.
    (
        "rows=5000001&mode=buffered",
        b"mode=buffered holds the whole body in memory: rows must be at most 5000000 "
        b"(EXPORT_MAX_BUFFERED_ROWS), got 5000001\n",
    ),
    (
        "rows=2500001&mode=buffered&chunk_kb=0",
        b"mode=buffered holds the whole body in memory: rows must be at most 2500000 "
        b"(EXPORT_MAX_BUFFERED_ROWS, halved for chunk_kb=0), got 2500001\n",
    ),
    (
        "rows=60001&chunk_kb=0&delay_ms=1",
        b"delay_ms is slept once per piece, at most 60 s per response: delay_ms=1 with up to "
        b"60001 pieces (rows=60001, chunk_kb=0) would sleep 60 s\n",
    ),
]


@pytest.mark.parametrize(("query", "reason"), BAD)
async def test_bad_parameters_are_400_with_a_reason(query: str, reason: bytes) -> None:
    with warnings.catch_warnings():
        # Django logs 4xx responses through its request logger; that is not a Python warning.
        warnings.simplefilter("error")
        results = [wsgi_get(f"/export.csv?{query}"), await asgi_get(f"/export.csv?{query}")]
    for status, headers, body in results:
        assert status == 400
        assert headers["content-type"].startswith("text/plain")
        assert body.startswith(reason) and body.count(b"\n") == 1


def test_max_rows_comes_from_settings(settings: object) -> None:
    settings.EXPORT_MAX_ROWS = 10  # type: ignore[attr-defined]
    assert wsgi_get("/export.csv?rows=11")[0] == 400
    assert wsgi_get("/export.csv?rows=10")[0] == 200


async def test_a_default_above_the_limit_is_a_400_not_fewer_rows(settings: object) -> None:
    settings.EXPORT_MAX_ROWS = 10  # type: ignore[attr-defined]
    reason = b"rows defaults to 100000, above this server's EXPORT_MAX_ROWS of 10: give rows"
    for status, _, body in (wsgi_get("/export.csv"), await asgi_get("/export.csv")):
        assert status == 400 and body.startswith(reason)


async def test_a_mismatch_has_the_buffered_limit_on_its_own_interface(settings: object) -> None:
    settings.EXPORT_MAX_BUFFERED_ROWS = 100  # type: ignore[attr-defined]
    reason = "iterator={} under {} holds the whole body in memory: rows must be at most 100"
    status, _, body = wsgi_get("/export.csv?rows=101&iterator=async")
    assert status == 400 and body.startswith(reason.format("async", "WSGI").encode())
    status, _, body = await asgi_get("/export.csv?rows=101&iterator=sync")
    assert status == 400 and body.startswith(reason.format("sync", "ASGI").encode())
    # The matching iterator streams: only EXPORT_MAX_ROWS applies.
    assert wsgi_get("/export.csv?rows=101&iterator=sync")[0] == 200
    assert (await asgi_get("/export.csv?rows=101&iterator=async"))[0] == 200


async def test_head_sends_headers_without_generating_a_body() -> None:
    response = Client().head("/export.csv?rows=5000000")
    assert isinstance(response, StreamingHttpResponse)
    assert response.status_code == 200 and response["X-Export-Rows"] == "5000000"
    assert b"".join(response.streaming_content) == b""
    status, headers, body = await asgi_get("/export.csv?rows=5000000", method="head")
    assert status == 200 and headers["x-export-rows"] == "5000000" and body == b""


async def test_other_methods_are_refused() -> None:
    assert Client().post("/export.csv").status_code == 405
    assert (await AsyncClient().delete("/ping")).status_code == 405


async def test_healthz_and_ping_on_both_interfaces() -> None:
    assert Client().get("/healthz").json() == {"status": "ok", "interface": "wsgi"}
    assert (await AsyncClient().get("/healthz")).json() == {"status": "ok", "interface": "asgi"}
    assert Client().get("/ping").content == b"pong\n"
    assert (await AsyncClient().get("/ping")).content == b"pong\n"


@pytest.fixture
def seeded_7000(transactional_db: None) -> None:
    call_command("seed_rows", 7000, stdout=io.StringIO())


def test_db_source_matches_synthetic_under_wsgi(seeded_7000: None) -> None:
    assert wsgi_get("/export.csv?rows=7000&source=db")[2] == expected_body(7000)


async def test_db_source_matches_synthetic_under_asgi(seeded_7000: None) -> None:
    assert (await asgi_get("/export.csv?rows=7000&source=db"))[2] == expected_body(7000)
    assert (await asgi_get("/export.csv?rows=7000&source=db&chunk_kb=0"))[2] == expected_body(7000)


HELD_7000 = (
    b"rows=9000 but the database holds 7000 export rows: ask for at most 7000, "
    b"or seed more (python -m project seed_rows N)\n"
)


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_more_rows_than_the_database_holds_is_a_400_under_wsgi(
    seeded_7000: None, method: str
) -> None:
    status, _, body = wsgi_get("/export.csv?rows=9000&source=db", method)
    assert status == 400 and (method == "HEAD" or body == HELD_7000)


@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_more_rows_than_the_database_holds_is_a_400_under_asgi(
    seeded_7000: None, method: str
) -> None:
    status, _, body = await asgi_get("/export.csv?rows=9000&source=db&chunk_kb=0", method)
    assert status == 400 and (method == "HEAD" or body == HELD_7000)


@pytest.fixture
def unmigrated(transactional_db: None) -> Iterator[None]:
    """The export table dropped for the test, as on a database nobody migrated."""
    with connection.schema_editor() as editor:
        editor.delete_model(ExportRow)
    yield
    with connection.schema_editor() as editor:
        editor.create_model(ExportRow)


NOT_MIGRATED = (
    b"the database is not migrated: run python -m project migrate, then seed_rows N "
    b"(python -m compare serve --source db does both)\n"
)


def _assert_not_migrated(
    reply: tuple[int, dict[str, str], bytes], records: list[logging.LogRecord]
) -> None:
    status, headers, body = reply
    assert status == 503 and headers["content-type"].startswith("text/plain")
    assert body == NOT_MIGRATED
    # The database's own error, with its traceback, for whoever reads the server's log.
    (logged,) = [r for r in records if r.name == "project.export.views"]
    assert logged.exc_info and "no such table: export_exportrow" in str(logged.exc_info[1])


def test_an_unmigrated_database_is_a_503_that_says_what_to_run_under_wsgi(
    unmigrated: None,
) -> None:
    with project_log() as records:
        reply = wsgi_get("/export.csv?rows=10&source=db")
    _assert_not_migrated(reply, records)


async def test_an_unmigrated_database_is_a_503_that_says_what_to_run_under_asgi(
    unmigrated: None,
) -> None:
    with project_log() as records:
        reply = await asgi_get("/export.csv?rows=10&source=db")
    _assert_not_migrated(reply, records)


def _running(function: Callable[..., object]) -> bool:
    """Whether some thread is executing function's code now (a generator's too)."""
    for top in sys._current_frames().values():
        frame: FrameType | None = top
        while frame is not None:
            if frame.f_code is function.__code__:
                return True
            frame = frame.f_back
    return False


async def test_a_mismatch_under_asgi_stops_when_the_client_hangs_up() -> None:
    # Django reads a sync body under ASGI in a thread (list()) that the hang-up cannot cancel;
    # this one would sleep 50 s there (50 rows, one per piece, 1 s each) unless it is told.
    from project.asgi import application

    scope = asgi_scope("/export.csv?rows=50&chunk_kb=0&delay_ms=1000&iterator=sync")
    communicator = ApplicationCommunicator(application, scope)
    with pytest.warns(Warning, match=SYNC_UNDER_ASGI), project_log() as records:
        await communicator.send_input({"type": "http.request", "body": b"", "more_body": False})
        start = await communicator.receive_output(10)
        assert start["type"] == "http.response.start" and start["status"] == 200
        # Hang up once the thread reads the body (before, asgiref cancels the job unstarted).
        deadline = time.monotonic() + 10
        while not _running(sync_pieces):
            assert time.monotonic() < deadline, "Django's thread never started on the body"
            await asyncio.sleep(0.005)
        hung_up = time.monotonic()
        await communicator.send_input({"type": "http.disconnect"})
        # The application returns only once Django's thread is done (asgiref joins it).
        await communicator.wait(10)  # a fifth of the body's sleep: any machine, not only fast
    assert time.monotonic() - hung_up < 10 and not _running(sync_pieces)
    pattern = re.compile(r"export stopped iterator=sync rows_encoded=(\d+) rows_announced=50")
    stopped = [m[1] for r in records if (m := pattern.fullmatch(r.getMessage()))]
    assert len(stopped) == 1 and int(stopped[0]) < 50
