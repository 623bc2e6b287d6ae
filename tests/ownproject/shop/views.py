"""One view per case; each body is CSV rows built as they are sent (real work per row)."""

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    StreamingHttpResponse,
)

ROWS = 600_000  # about 21 MB: over the socket buffers, so buffering shows in memory
ROWS_PER_PIECE = 1000
# One file for every worker of every stack (the tests remove it).
FILE = Path(tempfile.gettempdir()) / "dsc-shop-export.csv"


def _rows(request: HttpRequest) -> int:
    return int(request.GET.get("rows", ROWS))


def _piece(start: int) -> bytes:
    rows = range(start, start + ROWS_PER_PIECE)
    return "".join(
        f"{i},item-{i:09d},{i * 7 % 1000}.{i % 100:02d},in stock\n" for i in rows
    ).encode()


def _pieces(rows: int) -> Iterator[bytes]:
    yield b"id,name,price,state\n"
    for start in range(0, rows, ROWS_PER_PIECE):
        yield _piece(start)


async def _apieces(rows: int) -> AsyncIterator[bytes]:
    for piece in _pieces(rows):
        yield piece
        await asyncio.sleep(0)  # let other requests run between pieces


def sync_generator(request: HttpRequest) -> StreamingHttpResponse:
    """Streams under WSGI; Django buffers it under ASGI."""
    return StreamingHttpResponse(_pieces(_rows(request)), content_type="text/csv")


def async_generator(request: HttpRequest) -> StreamingHttpResponse:
    """Streams under ASGI; Django buffers it under WSGI."""
    return StreamingHttpResponse(_apieces(_rows(request)), content_type="text/csv")


def whole(request: HttpRequest) -> HttpResponse:
    """The whole body built in memory first: buffered everywhere."""
    return HttpResponse(b"".join(_pieces(_rows(request))), content_type="text/csv")


def file(request: HttpRequest) -> FileResponse:
    """A file on disk: WSGI servers stream it, Django reads it whole under ASGI."""
    if not FILE.exists():
        fresh = FILE.with_suffix(f".{os.getpid()}")
        with fresh.open("wb") as handle:  # piece by piece: the file, not this process, grows
            handle.writelines(_pieces(ROWS))
        fresh.replace(FILE)  # whole or not at all, whichever worker writes it
    return FileResponse(FILE.open("rb"), content_type="text/csv")


def behind_middleware(request: HttpRequest) -> StreamingHttpResponse:
    """A sync generator the BufferingMiddleware reads whole."""
    return sync_generator(request)


def raises(request: HttpRequest) -> HttpResponse:
    """A view that fails."""
    raise RuntimeError("the export broke")
