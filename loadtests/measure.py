"""Timed exchanges on a geventhttpclient connection, reported through locust's request event.

Locust's own ``stream=True`` times the headers only, and its default reads the whole body into
memory, so the body is read here: ``response.read(n)`` waits until ``n`` body bytes are parsed
(or the message ends), so a first ``read(1)`` returns at the first *body* byte, whatever the
server sent before it (headers, a chunk-size line). Later reads take large pieces, are counted
and dropped. geventhttpclient raises ``HTTPParseError("Incomplete response.")`` when a chunked
or Content-Length body is cut short; ``check_export`` catches every other kind of wrong body.

Reporting: the TTFB row succeeds as soon as the first body byte arrives; a failure before that
fails both TTFB and DOWNLOAD; a failure after it fails DOWNLOAD only.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

import gevent
from geventhttpclient.client import HTTPClient
from geventhttpclient.response import HTTPSocketPoolResponse

from loadtests.body import (
    BadStatus,
    BodyTally,
    TruncatedBody,
    WrongBody,
    announced_rows,
    check_export,
    check_ping,
)
from loadtests.catalog import DOWNLOAD, HEALTHZ, PING, TTFB

logger = logging.getLogger(__name__)

READ_SIZE = 256 * 1024
THROTTLED_READ_SIZE = 64 * 1024
REASON_BYTES = 512  # of an error response's body, for the failure message

Fire = Callable[..., Any]


class Meter:
    """Times and checks requests for one user and scenario, firing locust request events."""

    def __init__(self, http: HTTPClient, fire: Fire, name: str, base_path: str = "") -> None:
        self.http = http
        self.fire = fire
        self.name = name
        self.base_path = base_path.rstrip("/")

    def _path(self, path: str, query: Mapping[str, int | str] | None = None) -> str:
        return self.base_path + path + (f"?{urlencode(query)}" if query else "")

    def _report(
        self,
        request_type: str,
        started: float,
        seconds: float,
        length: int,
        exception: Exception | None,
        context: dict[str, Any],
    ) -> None:
        self.fire(
            request_type=request_type,
            name=self.name,
            response_time=seconds * 1000.0,
            response_length=length,
            exception=exception,
            context=context,
            start_time=started,
            url=None,
        )

    def _open(self, path: str) -> HTTPSocketPoolResponse:
        """Send a GET and return once the headers are in (the body is not read)."""
        return self.http.request("GET", path)

    def _open_export(self, path: str) -> tuple[HTTPSocketPoolResponse, int]:
        response = self._open(path)
        try:
            if response.status_code != 200:
                raise BadStatus(response.status_code, response.read(REASON_BYTES))
            return response, announced_rows(response.get("x-export-rows"))
        except BaseException:
            response.release()
            raise

    def download(self, query: Mapping[str, int | str], read_kbps: float | None = None) -> None:
        """Download one export in full (at ``read_kbps`` KiB/s at most), verify it, report it."""
        path = self._path("/export.csv", query)
        tally = BodyTally()
        context: dict[str, Any] = {"path": path}
        first_byte = False
        started = time.time()
        t0 = time.perf_counter()
        response: HTTPSocketPoolResponse | None = None
        try:
            response, rows = self._open_export(path)
            context.update(rows=rows, interface=response.get("x-export-interface"))
            tally.add(response.read(1))
            if not tally.size:
                raise TruncatedBody("empty body")
            self._report(TTFB, started, time.perf_counter() - t0, 0, None, dict(context))
            first_byte = True
            if read_kbps:
                _read_throttled(response, tally, read_kbps * 1024.0)
            else:
                while piece := response.read(READ_SIZE):
                    tally.add(piece)
            elapsed = time.perf_counter() - t0
            check_export(
                tally,
                rows=rows,
                content_length=response.content_length,
                complete=response.message_complete,
            )
        except Exception as exc:
            elapsed = time.perf_counter() - t0
            logger.debug("%s: %s failed after %d bytes: %r", self.name, path, tally.size, exc)
            if not first_byte:
                self._report(TTFB, started, elapsed, 0, exc, context)
            self._report(DOWNLOAD, started, elapsed, tally.size, exc, context)
            return
        finally:
            if response is not None:
                response.release()  # closes the connection unless the message was complete
        context["bytes"] = tally.size
        self._report(DOWNLOAD, started, elapsed, tally.size, None, context)

    def first_byte(self, query: Mapping[str, int | str]) -> None:
        """Request an export, wait for its first body byte, report TTFB and hang up."""
        path = self._path("/export.csv", query)
        context: dict[str, Any] = {"path": path}
        started = time.time()
        t0 = time.perf_counter()
        response: HTTPSocketPoolResponse | None = None
        try:
            response, rows = self._open_export(path)
            context.update(rows=rows, interface=response.get("x-export-interface"))
            if not response.read(1):
                raise TruncatedBody("empty body")
        except Exception as exc:
            self._report(TTFB, started, time.perf_counter() - t0, 0, exc, context)
            return
        finally:
            if response is not None:
                # The message is not complete, so this closes the socket: the hang-up.
                response.release()
        self._report(TTFB, started, time.perf_counter() - t0, 0, None, context)

    def ping(self) -> None:
        """GET /ping, check the answer and report it as PING."""
        started = time.time()
        t0 = time.perf_counter()
        body = b""
        try:
            response = self._open(self._path("/ping"))
            try:
                body = response.read()
                check_ping(response.status_code, body)
                if not response.message_complete:
                    raise TruncatedBody("body ended before the end of the HTTP message")
            finally:
                response.release()
        except Exception as exc:
            self._report(PING, started, time.perf_counter() - t0, len(body), exc, {})
            return
        self._report(PING, started, time.perf_counter() - t0, len(body), None, {})

    def interface(self) -> str | None:
        """Ask /healthz which interface serves the app; None (reported as a failure) if unknown."""
        started = time.time()
        t0 = time.perf_counter()
        try:
            response = self._open(self._path("/healthz"))
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
            self._report(HEALTHZ, started, time.perf_counter() - t0, 0, exc, {})
            return None
        return str(interface)


def _read_throttled(response: HTTPSocketPoolResponse, tally: BodyTally, rate: float) -> None:
    """Read the rest of the body at ``rate`` bytes/s at most, counted from the first byte."""
    t_first = time.perf_counter() - tally.size / rate
    while piece := response.read(THROTTLED_READ_SIZE):
        tally.add(piece)
        ahead = t_first + tally.size / rate - time.perf_counter()
        if ahead > 0:
            gevent.sleep(ahead)
