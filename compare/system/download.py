"""One HTTP download, timed the way the report defines it: TTFB is the first *body* byte."""

from __future__ import annotations

import http.client
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

READ_SIZE = 256 * 1024


@dataclass(frozen=True, slots=True)
class Download:
    """What one GET returned, without keeping the body."""

    status: int
    headers: dict[str, str]  # names lower-cased
    ttfb: float  # seconds from sending the request to the first body byte
    total: float  # seconds from sending the request to the last body byte
    body_bytes: int
    lines: int  # newline count: a CSV with a header and N rows has N + 1
    complete_last_line: bool  # False when the body stops mid-line (a truncated stream)
    headers_s: float = 0.0  # seconds from sending the request to the end of the headers

    def problem(self, expected_rows: int | None = None) -> str | None:
        """Why this is not a complete export body (None when it is): status, row count, cut."""
        if self.status != 200:
            return f"HTTP {self.status}"
        announced = self.headers.get("x-export-rows")
        if announced is None or not announced.isdigit():
            return "no X-Export-Rows header"
        wanted = int(announced) if expected_rows is None else expected_rows
        if int(announced) != wanted or self.lines != wanted + 1:
            return f"body has {self.lines - 1} rows, {announced} announced"
        if not self.complete_last_line:
            return "body ends mid-row (truncated)"
        return None

    @property
    def worker(self) -> int | None:
        """The server process that answered (its X-Server-Pid header), if it said."""
        value = self.headers.get("x-server-pid", "")
        return int(value) if value.isdigit() else None

    @property
    def chunked(self) -> bool:
        """Whether the body came with chunked transfer encoding."""
        return self.headers.get("transfer-encoding", "").lower() == "chunked"


def download(
    url: str, timeout: float = 120.0, on_piece: Callable[[float, bytes], None] | None = None
) -> Download:
    """GET ``url`` over HTTP/1.1, reading the body as it streams and counting its lines.

    ``on_piece`` sees each read's seconds since the request and its bytes, as they arrive.
    """
    parts = urllib.parse.urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port or 80, timeout=timeout)
    try:
        t0 = time.perf_counter()
        conn.request("GET", path or "/")
        resp = conn.getresponse()
        headers_s = time.perf_counter() - t0
        headers = {name.lower(): value for name, value in resp.getheaders()}
        ttfb = 0.0
        size = lines = 0
        last = b""
        while chunk := resp.read1(READ_SIZE):
            if not size:
                ttfb = time.perf_counter() - t0
            if on_piece is not None:
                on_piece(time.perf_counter() - t0, chunk)
            size += len(chunk)
            lines += chunk.count(b"\n")
            last = chunk[-1:]
        total = time.perf_counter() - t0
    finally:
        conn.close()
    return Download(
        status=resp.status,
        headers=headers,
        ttfb=ttfb or total,
        total=total,
        body_bytes=size,
        lines=lines,
        complete_last_line=last in (b"", b"\n"),
        headers_s=headers_s,
    )
