"""Timed exchanges on a geventhttpclient connection: raw records, plus locust's request event.

Locust's own ``stream=True`` times the headers only, and its default reads the whole body into
memory, so the body is read here: ``response.read(n)`` waits until ``n`` body bytes are parsed
(or the message ends), so a first ``read(1)`` returns at the first *body* byte, whatever the
server sent before it (headers, a chunk-size line). Later reads take large pieces, are counted
(per time bin, for throughput) and dropped; a request that then fails has its bytes counted
again, apart (``failed_bytes``), so throughput can count verified downloads' bytes only.
geventhttpclient raises ``HTTPParseError("Incomplete response.")`` when a chunked or
Content-Length body is cut short; ``check_export`` catches every other kind of wrong body.

Every request becomes one ``RequestRecord`` (loadtests.record): the harness computes every
figure from those. The locust request events are fired too, for the web UI and people who like
locust's tables: the TTFB row succeeds as soon as the first body byte arrives; a failure before
that fails both TTFB and DOWNLOAD; a failure after it fails DOWNLOAD only.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import gevent
from gevent import GreenletExit
from geventhttpclient.client import HTTPClient
from geventhttpclient.response import HTTPSocketPoolResponse

from loadtests.body import (
    BadStatus,
    BodyTally,
    OwnUrl,
    TruncatedBody,
    WrongBody,
    announced_rows,
    check_export,
    check_own,
    check_ping,
)
from loadtests.catalog import DOWNLOAD, HEALTHZ, PING, TTFB
from loadtests.record import STOPPED, Kind, RequestRecord, failure_kind, server_start, worker_pid
from loadtests.recorder import Recorder

logger = logging.getLogger(__name__)

READ_SIZE = 256 * 1024
THROTTLED_READ_SIZE = 64 * 1024
REASON_BYTES = 512  # of an error response's body, for the failure message
WORKER_HEADER = "x-server-pid"
START_HEADER = "x-server-start"

Fire = Callable[..., Any]


@dataclass(slots=True)
class Received(BodyTally):
    """One request's body so far: the export's check, and its bytes per time bin."""

    bins: Counter[int] = field(default_factory=Counter)


def _unread(response: HTTPSocketPoolResponse) -> bytes:
    """Body bytes the parser took in before a read failed (the connection closed mid-body):
    received, though ``read()`` raised instead of returning them."""
    return bytes(getattr(response, "_body_buffer", b""))


class Meter:
    """Times, checks and records requests for one user and scenario."""

    def __init__(
        self,
        http: HTTPClient,
        fire: Fire,
        name: str,
        base_path: str = "",
        recorder: Recorder | None = None,
    ) -> None:
        self.http = http
        self.fire = fire
        self.name = name
        self.base_path = base_path.rstrip("/")
        self.recorder = recorder or Recorder(None)
        self.user = self.recorder.new_user()
        self.connects = 0
        # Whether its requests count towards the ones a window waits for (the adaptive window).
        self.counted = True
        # geventhttpclient calls its pool's after_connect once per new TCP connection (a
        # keep-alive socket found dead and replaced counts too): the one reliable place to see
        # whether a request reused its connection.
        pool = http._connection_pool
        after_connect = pool.after_connect

        def counted(sock: Any) -> None:
            self.connects += 1
            after_connect(sock)

        pool.after_connect = counted  # type: ignore[method-assign]

    def _path(self, path: str, query: Mapping[str, int | str] | None = None) -> str:
        return self.base_path + path + (f"?{urlencode(query)}" if query else "")

    def _report(
        self,
        request_type: str,
        record: RequestRecord,
        until: float,
        length: int,
        exception: Exception | None,
        context: dict[str, Any],
    ) -> None:
        """Fire locust's request event (for its UI and CSV; no figure of ours comes from it)."""
        self.fire(
            request_type=request_type,
            name=self.name,
            response_time=(until - record.start) * 1000.0,
            response_length=length,
            exception=exception,
            context=context,
            start_time=time.time() - (time.monotonic() - record.start),
            url=None,
        )

    @contextmanager
    def _recording(self, kind: Kind, intended: float | None) -> Iterator[RequestRecord]:
        """Yield a record started now; keep it when the request ends, however it ends."""
        connects = self.connects
        now = time.monotonic()
        record = RequestRecord(kind, self.name, self.user, start=now, end=now, intended=intended)
        if self.counted:
            self.recorder.started(record)
        try:
            yield record
        except GreenletExit:
            # locust stopped this user mid-request: censored, not failed.
            record.outcome = STOPPED
            raise
        finally:
            record.end = time.monotonic()
            record.new_connection = self.connects > connects
            self.recorder.request(record)

    def _fail(self, record: RequestRecord, error: Exception, body: Received | None = None) -> None:
        record.outcome = failure_kind(error)
        record.detail = str(error)[:300] or type(error).__name__
        if body is not None:
            self.recorder.failed_bytes(body.bins)

    def _open(self, path: str, record: RequestRecord) -> HTTPSocketPoolResponse:
        """Send a GET and return once the headers are in (the body is not read)."""
        response = self.http.request("GET", path)
        record.worker = worker_pid(response.get(WORKER_HEADER))
        record.server_start = server_start(response.get(START_HEADER))
        return response

    def _export_path(self, query: Mapping[str, int | str], own: OwnUrl | None) -> str:
        """This project's export with ``query``, or the user's URL as it is."""
        return self._path(own.path) if own else self._path("/export.csv", query)

    def _open_export(
        self, path: str, record: RequestRecord, own: OwnUrl | None = None
    ) -> tuple[HTTPSocketPoolResponse, int]:
        """Send the GET; (response, rows announced: -1 for a user's URL, which has none)."""
        response = self._open(path, record)
        try:
            if own is not None:
                if not 200 <= response.status_code < 300:
                    raise BadStatus(response.status_code, response.read(REASON_BYTES))
                return response, -1
            if response.status_code != 200:
                raise BadStatus(response.status_code, response.read(REASON_BYTES))
            return response, announced_rows(response.get("x-export-rows"))
        except BaseException:
            response.release()
            raise

    def _first_body_byte(
        self, response: HTTPSocketPoolResponse, tally: Received, record: RequestRecord
    ) -> None:
        piece = response.read(1)
        if not piece:
            raise TruncatedBody("empty body")
        record.first_byte = time.monotonic()
        self._received(tally, piece)

    def download(
        self,
        query: Mapping[str, int | str],
        read_kbps: float | None = None,
        intended: float | None = None,
        own: OwnUrl | None = None,
    ) -> None:
        """Download one export (``own``: the user's URL) in full, at ``read_kbps`` KiB/s at
        most, verify it, record it."""
        path = self._export_path(query, own)
        tally = Received(digest=own.digest() if own else None)
        context: dict[str, Any] = {"path": path}
        response: HTTPSocketPoolResponse | None = None
        with self._recording("download", intended) as record:
            try:
                response, rows = self._open_export(path, record, own)
                context.update(rows=rows, interface=response.get("x-export-interface"))
                self._first_body_byte(response, tally, record)
                self._report(TTFB, record, record.first_byte or 0.0, 0, None, dict(context))
                if read_kbps:
                    self._read_throttled(response, tally, read_kbps * 1024.0)
                else:
                    while piece := response.read(READ_SIZE):
                        self._received(tally, piece)
                if own is not None:
                    check_own(
                        tally,
                        own,
                        content_length=response.content_length,
                        complete=response.message_complete,
                    )
                else:
                    check_export(
                        tally,
                        rows=rows,
                        content_length=response.content_length,
                        complete=response.message_complete,
                    )
            except Exception as exc:
                now = time.monotonic()
                if response is not None:
                    self._received(tally, _unread(response))
                self._fail(record, exc, tally)
                logger.debug("%s: %s failed after %d bytes: %r", self.name, path, tally.size, exc)
                if record.first_byte is None:
                    self._report(TTFB, record, now, 0, exc, context)
                self._report(DOWNLOAD, record, now, tally.size, exc, context)
                return
            finally:
                record.bytes = tally.size
                if response is not None:
                    response.release()  # closes the connection unless the message was complete
            context["bytes"] = tally.size
            self._report(DOWNLOAD, record, time.monotonic(), tally.size, None, context)

    def first_byte(
        self,
        query: Mapping[str, int | str],
        intended: float | None = None,
        own: OwnUrl | None = None,
    ) -> None:
        """Request an export (``own``: the user's URL), wait for its first body byte, record
        TTFB and hang up."""
        path = self._export_path(query, own)
        context: dict[str, Any] = {"path": path}
        tally = Received()
        response: HTTPSocketPoolResponse | None = None
        with self._recording("first-byte", intended) as record:
            try:
                response, rows = self._open_export(path, record, own)
                context.update(rows=rows, interface=response.get("x-export-interface"))
                self._first_body_byte(response, tally, record)
            except Exception as exc:
                self._fail(record, exc, tally)
                self._report(TTFB, record, time.monotonic(), 0, exc, context)
                return
            finally:
                record.bytes = tally.size
                if response is not None:
                    # The message is not complete, so this closes the socket: the hang-up.
                    response.release()
            self._report(TTFB, record, record.first_byte or 0.0, 0, None, context)

    def ping(self, intended: float | None = None) -> None:
        """GET /ping, check the answer and record it as PING."""
        body = b""
        with self._recording("ping", intended) as record:
            try:
                response = self._open(self._path("/ping"), record)
                try:
                    body = response.read()
                    record.first_byte = time.monotonic()
                    check_ping(response.status_code, body)
                    if not response.message_complete:
                        raise TruncatedBody("body ended before the end of the HTTP message")
                finally:
                    record.bytes = len(body)
                    response.release()
            except Exception as exc:
                self._fail(record, exc)
                self._report(PING, record, time.monotonic(), len(body), exc, {})
                return
            self._report(PING, record, time.monotonic(), len(body), None, {})

    def interface(self) -> str | None:
        """Ask /healthz which interface serves the app; None (recorded as a failure) if unknown."""
        with self._recording("healthz", None) as record:
            try:
                response = self._open(self._path("/healthz"), record)
                try:
                    body = response.read()
                    if response.status_code != 200:
                        raise BadStatus(response.status_code, body)
                finally:
                    response.release()
                interface = json.loads(body).get("interface")
                if interface not in ("wsgi", "asgi"):
                    raise WrongBody(f"/healthz reports interface {interface!r}")
            except Exception as exc:
                self._fail(record, exc)
                self._report(HEALTHZ, record, time.monotonic(), 0, exc, {})
                return None
            return str(interface)

    def _received(self, tally: Received, piece: bytes) -> None:
        """Take a piece of body: into the export's check, and into the run's byte bins."""
        if not piece:
            return
        tally.add(piece)
        tally.bins[self.recorder.body_bytes(len(piece))] += len(piece)

    def _read_throttled(
        self, response: HTTPSocketPoolResponse, tally: Received, rate: float
    ) -> None:
        """Read the rest of the body at ``rate`` bytes/s at most, counted from the first byte."""
        t_first = time.monotonic() - tally.size / rate
        while piece := response.read(THROTTLED_READ_SIZE):
            self._received(tally, piece)
            ahead = t_first + tally.size / rate - time.monotonic()
            if ahead > 0:
                gevent.sleep(ahead)
