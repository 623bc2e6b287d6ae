"""The export body as a sync or an async iterator of CSV pieces, built from the same parts."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from contextlib import aclosing, closing

from project.export.csvchunks import CsvChunker
from project.export.params import ExportParams
from project.export.rows import (
    HEADER,
    adb_batches,
    asynthetic_batches,
    db_batches,
    synthetic_batches,
)
from project.export.static import static_pieces

logger = logging.getLogger(__name__)


def _log_end(kind: str, announced: int, rows_encoded: int) -> None:
    # One line per export, never per row: at INFO only when the body was cut short, which is
    # how a client hang-up shows that the server stopped generating.
    complete = rows_encoded == announced
    logger.log(
        logging.DEBUG if complete else logging.INFO,
        "export %s iterator=%s rows_encoded=%d rows_announced=%d",
        "complete" if complete else "stopped",
        kind,
        rows_encoded,
        announced,
    )


def _static_sync(params: ExportParams, announced: int, stop: threading.Event) -> Iterator[bytes]:
    """The static source's pieces, with the same delay and stop as a generated body."""
    delay, rows = params.delay_ms / 1000, 0
    try:
        for piece, rows_through in static_pieces(announced, params.target_bytes):
            if stop.wait(delay) if delay else stop.is_set():
                return
            yield piece
            rows = rows_through
    finally:
        _log_end("sync", announced, rows)


def sync_pieces(
    params: ExportParams, announced: int, stop: threading.Event | None = None
) -> Iterator[bytes]:
    """Yield the CSV body for params from a sync row source; end early once stop is set."""
    # stop: under ASGI Django runs a sync body to its end in a thread (list()) that a hang-up
    # cannot cancel; the response sets it when Django gives up, and this loop ends at the next
    # piece (or at once, in a delay).
    stop = stop or threading.Event()
    if params.source == "static":
        yield from _static_sync(params, announced, stop)
        return
    chunker = CsvChunker(params.target_bytes)
    delay = params.delay_ms / 1000
    batches = db_batches(announced) if params.from_database else synthetic_batches(announced)
    # closing(): a hang-up must release the database cursor now, not when garbage is collected.
    with closing(batches):
        try:
            yield from chunker.header(HEADER)
            for batch in batches:
                for piece in chunker.feed(batch):
                    if stop.wait(delay) if delay else stop.is_set():
                        return
                    yield piece
            yield from chunker.finish()
        finally:
            _log_end("sync", announced, chunker.rows_encoded)


async def async_pieces(params: ExportParams, announced: int) -> AsyncIterator[bytes]:
    """Yield the CSV body for params from an async row source."""
    if params.source == "static":
        # aclosing(): a hang-up ends it now (its log line included), not at garbage collection.
        async with aclosing(_static_async(params, announced)) as pieces:
            async for piece in pieces:
                yield piece
        return
    chunker = CsvChunker(params.target_bytes)
    delay = params.delay_ms / 1000
    batches = adb_batches(announced) if params.from_database else asynthetic_batches(announced)
    async with aclosing(batches):
        try:
            for piece in chunker.header(HEADER):
                yield piece
            async for batch in batches:
                for piece in chunker.feed(batch):
                    # Uvicorn's send() only yields to the event loop when the socket is full, so
                    # an export to a fast reader would starve every other request on this worker.
                    await asyncio.sleep(delay)
                    yield piece
            for piece in chunker.finish():
                yield piece
        finally:
            _log_end("async", announced, chunker.rows_encoded)


async def _static_async(params: ExportParams, announced: int) -> AsyncGenerator[bytes, None]:
    """Async twin of _static_sync."""
    delay, rows = params.delay_ms / 1000, 0
    try:
        for piece, rows_through in static_pieces(announced, params.target_bytes):
            # As for a generated body: give the event loop a turn between pieces.
            await asyncio.sleep(delay)
            yield piece
            rows = rows_through
    finally:
        _log_end("async", announced, rows)
