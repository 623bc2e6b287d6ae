"""The export view (sync for WSGI, async for ASGI), the readiness check and the ping probe."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Iterator

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DatabaseError, connection
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    JsonResponse,
    QueryDict,
    StreamingHttpResponse,
)
from django.views.decorators.http import require_safe

from project.export.params import (
    BadParameter,
    ExportParams,
    Interface,
    check_buffered_rows,
    check_database,
    check_rows_held,
    parse_export_params,
)
from project.export.rows import adb_row_count, db_row_count, export_table_exists
from project.export.streams import async_pieces, sync_pieces

logger = logging.getLogger(__name__)

# Who asked (startproject profile): the user's name or "anonymous"; absent without auth.
USER_HEADER = "X-Request-User"


def _user(request: HttpRequest) -> str | None:
    """Resolve the user as a login-protected view would: session lookup, then the user row."""
    if not hasattr(request, "user"):  # the minimal profile has no AuthenticationMiddleware
        return None
    return request.user.get_username() if request.user.is_authenticated else "anonymous"


async def _auser(request: HttpRequest) -> str | None:
    """Async twin of _user: request.auser() (request.user would query inside the event loop)."""
    if not hasattr(request, "auser"):
        return None
    user = await request.auser()
    return user.get_username() if user.is_authenticated else "anonymous"


def _tag(response: HttpResponseBase, user: str | None) -> HttpResponseBase:
    if user is not None:
        response[USER_HEADER] = user
    return response


class NotMigrated(Exception):
    """The export table does not exist; str() says what to run."""


def _plain(status: int, reason: Exception) -> HttpResponse:
    return HttpResponse(f"{reason}\n", status=status, content_type="text/plain; charset=utf-8")


def _validated(query: QueryDict, interface: Interface) -> ExportParams:
    params = parse_export_params(query, settings.EXPORT_MAX_ROWS)
    check_buffered_rows(params, interface, settings.EXPORT_MAX_BUFFERED_ROWS)
    check_database(params, connection.vendor)  # an attribute: no query, fine in async code
    return params


def _not_migrated(error: DatabaseError) -> NotMigrated:
    """The 503's reason for an error that a missing table caused, logged with its traceback."""
    reason = NotMigrated(
        "the database is not migrated: run python -m project migrate, then seed_rows N "
        "(python -m compare serve --source db does both)"
    )
    logger.error("export refused: %s", reason, exc_info=error)
    return reason


def _held_rows(params: ExportParams) -> int:
    """The rows a database export will contain, checked against what was asked for."""
    try:
        held = db_row_count(params.rows)
    except DatabaseError as error:
        if export_table_exists():
            raise
        raise _not_migrated(error) from error
    check_rows_held(params, held)
    return held


async def _aheld_rows(params: ExportParams) -> int:
    """Async twin of _held_rows."""
    try:
        held = await adb_row_count(params.rows)
    except DatabaseError as error:
        if await sync_to_async(export_table_exists)():
            raise
        raise _not_migrated(error) from error
    check_rows_held(params, held)
    return held


def _headers(params: ExportParams, announced: int, interface: str) -> dict[str, str]:
    headers = {
        "Content-Disposition": f'attachment; filename="export-{announced}.csv"',
        "X-Export-Rows": str(announced),
        "X-Export-Interface": interface,
        "Cache-Control": "no-store",
    }
    if params.mode == "stream":
        # nginx buffers proxied responses unless the upstream says not to.
        headers["X-Accel-Buffering"] = "no"
    return headers


class ExportResponse(StreamingHttpResponse):
    """A StreamingHttpResponse that closes an async body as soon as Django stops reading it.

    Django's ASGI handler closes only the generator it iterates (this ``__aiter__``), never the
    body under it. After a client hang-up on gunicorn's asgi worker that body was left suspended
    in a reference cycle, so its cleanup (closing the row source and its database cursor, the
    "export stopped" log line) waited for a cyclic garbage collection, which an idle worker may
    never run. A sync body is closed by Django's ``close()``, but under ASGI (the mismatch)
    Django first reads it to the end in a thread that a hang-up cannot cancel, and closing a
    generator another thread runs fails: ``stop`` is set instead, which that body checks.
    """

    def __init__(
        self,
        body: Iterator[bytes] | AsyncIterator[bytes],
        content_type: str,
        stop: threading.Event | None = None,
    ) -> None:
        super().__init__(body, content_type=content_type)
        self._body = body
        self._stop = stop

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for part in super().__aiter__():
                yield part
        finally:
            if self._stop is not None:
                # A sync body: Django's thread may still be reading it to the end (a mismatch).
                self._stop.set()
            if isinstance(self._body, AsyncGenerator):
                await self._body.aclose()


def _empty_sync() -> Iterator[bytes]:
    yield from ()


async def _empty_async() -> AsyncIterator[bytes]:
    return
    yield b""  # unreachable: makes this an async generator


def _response(
    params: ExportParams,
    announced: int,
    interface: str,
    body: Iterator[bytes] | AsyncIterator[bytes],
    stop: threading.Event | None = None,
) -> HttpResponseBase:
    response = ExportResponse(body, content_type="text/csv; charset=utf-8", stop=stop)
    for name, value in _headers(params, announced, interface).items():
        response[name] = value
    return response


@require_safe
def export_csv(request: HttpRequest) -> HttpResponseBase:
    """Stream a CSV export under WSGI (a sync iterator unless iterator=async forces a mismatch)."""
    user = _user(request)  # first, as a login-protected view would
    return _tag(_export(request), user)


def _export(request: HttpRequest) -> HttpResponseBase:
    try:
        params = _validated(request.GET, "wsgi")
        announced = _held_rows(params) if params.from_database else params.rows
    except BadParameter as error:
        return _plain(400, error)
    except NotMigrated as error:
        return _plain(503, error)
    if request.method == "HEAD":  # the headers of a GET, without generating the body
        return _response(params, announced, "wsgi", _empty_sync())
    if params.mode == "buffered":
        body = b"".join(sync_pieces(params, announced))
        return _buffered(params, announced, "wsgi", body)
    if params.iterator == "async":
        return _response(params, announced, "wsgi", async_pieces(params, announced))
    return _response(params, announced, "wsgi", sync_pieces(params, announced))


@require_safe
async def export_csv_async(request: HttpRequest) -> HttpResponseBase:
    """Stream a CSV export under ASGI (an async iterator unless iterator=sync forces a mismatch)."""
    user = await _auser(request)
    return _tag(await _aexport(request), user)


async def _aexport(request: HttpRequest) -> HttpResponseBase:
    try:
        params = _validated(request.GET, "asgi")
        announced = await _aheld_rows(params) if params.from_database else params.rows
    except BadParameter as error:
        return _plain(400, error)
    except NotMigrated as error:
        return _plain(503, error)
    if request.method == "HEAD":  # the headers of a GET, without generating the body
        return _response(params, announced, "asgi", _empty_async())
    if params.mode == "buffered":
        body = b"".join([piece async for piece in async_pieces(params, announced)])
        return _buffered(params, announced, "asgi", body)
    if params.iterator == "sync":
        stop = threading.Event()
        return _response(params, announced, "asgi", sync_pieces(params, announced, stop), stop)
    return _response(params, announced, "asgi", async_pieces(params, announced))


def _buffered(params: ExportParams, announced: int, interface: str, body: bytes) -> HttpResponse:
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    for name, value in _headers(params, announced, interface).items():
        response[name] = value
    response["Content-Length"] = str(len(body))
    return response


@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """Readiness: the app is loaded and says which interface serves it."""
    return JsonResponse({"status": "ok", "interface": "wsgi"})


@require_safe
async def healthz_async(request: HttpRequest) -> JsonResponse:
    """Readiness under ASGI."""
    return JsonResponse({"status": "ok", "interface": "asgi"})


@require_safe
def ping(request: HttpRequest) -> HttpResponseBase:
    """A tiny response: the head-of-line probe (the per-request cost of the middleware)."""
    return _tag(HttpResponse(b"pong\n", content_type="text/plain"), _user(request))


@require_safe
async def ping_async(request: HttpRequest) -> HttpResponseBase:
    """The head-of-line probe under ASGI."""
    user = await _auser(request)
    return _tag(HttpResponse(b"pong\n", content_type="text/plain"), user)
