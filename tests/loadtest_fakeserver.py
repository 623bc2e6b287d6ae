"""A tiny raw-socket HTTP/1.1 server on loopback with scripted export answers (honest or lying).

Runs in threads of the test process (no gevent); every response closes its connection.
``/healthz`` and ``/ping`` answer like the real app; ``/export.csv`` requests take the next
behaviour of a rotation, so one locust run meets every lie.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Self
from urllib.parse import parse_qs, urlsplit

Behaviour = Callable[[socket.socket, int], None]  # (connection, requested rows)

HEADER_LINE = b"id,name\r\n"
ROW = b"1,x\r\n"


def csv_body(rows: int) -> bytes:
    """A CSV export of ``rows`` rows, as the real view shapes it (a header line, CRLF ends)."""
    return HEADER_LINE + ROW * rows


def _head(status: str, *fields: str) -> bytes:
    lines = [f"HTTP/1.1 {status}", *fields, "Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1")


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def honest(first_gap_s: float = 0.0) -> Behaviour:
    """A correct chunked export; headers at once, then ``first_gap_s`` before the chunk-size
    line and as long again before the first body byte."""

    def behave(conn: socket.socket, rows: int) -> None:
        body = csv_body(rows)
        conn.sendall(_head("200 OK", "Transfer-Encoding: chunked", f"X-Export-Rows: {rows}"))
        time.sleep(first_gap_s)
        piece = body[:4096]
        conn.sendall(b"%x\r\n" % len(piece))
        time.sleep(first_gap_s)
        conn.sendall(piece + b"\r\n")
        for start in range(len(piece), len(body), 65536):
            conn.sendall(_chunk(body[start : start + 65536]))
        conn.sendall(b"0\r\n\r\n")

    return behave


def short_chunked(conn: socket.socket, rows: int) -> None:
    """A complete chunked message with fewer lines than X-Export-Rows announces."""
    head = _head("200 OK", "Transfer-Encoding: chunked", f"X-Export-Rows: {rows}")
    conn.sendall(head + _chunk(csv_body(rows // 2)) + b"0\r\n\r\n")


def extra_rows(conn: socket.socket, rows: int) -> None:
    """A complete chunked message with more lines than announced."""
    head = _head("200 OK", "Transfer-Encoding: chunked", f"X-Export-Rows: {rows}")
    conn.sendall(head + _chunk(csv_body(rows + 3)) + b"0\r\n\r\n")


def cut_mid_chunk(conn: socket.socket, rows: int) -> None:
    """A chunked body whose connection closes in the middle of a chunk."""
    body = csv_body(rows)
    head = _head("200 OK", "Transfer-Encoding: chunked", f"X-Export-Rows: {rows}")
    conn.sendall(head + b"%x\r\n" % len(body) + body[: len(body) // 2])


def cut_before_last_chunk(conn: socket.socket, rows: int) -> None:
    """Every row sent in whole chunks, but the connection closes before the last (0) chunk."""
    head = _head("200 OK", "Transfer-Encoding: chunked", f"X-Export-Rows: {rows}")
    conn.sendall(head + _chunk(csv_body(rows)))


def short_content_length(conn: socket.socket, rows: int) -> None:
    """Content-Length announces the whole body; the connection closes halfway."""
    body = csv_body(rows)
    head = _head("200 OK", f"Content-Length: {len(body)}", f"X-Export-Rows: {rows}")
    conn.sendall(head + body[: len(body) // 2])


def short_until_close(conn: socket.socket, rows: int) -> None:
    """No length at all (the body ends when the connection does), with too few lines."""
    conn.sendall(_head("200 OK", f"X-Export-Rows: {rows}") + csv_body(rows)[:100])


def unterminated_last_line(conn: socket.socket, rows: int) -> None:
    """The right number of line ends, then a stray partial line."""
    body = csv_body(rows) + b"1,x"
    conn.sendall(_head("200 OK", f"Content-Length: {len(body)}", f"X-Export-Rows: {rows}") + body)


def server_error(conn: socket.socket, rows: int) -> None:
    """An HTTP 500 with a plain-text reason."""
    body = b"export failed\n"
    conn.sendall(_head("500 Internal Server Error", f"Content-Length: {len(body)}") + body)


def no_rows_header(conn: socket.socket, rows: int) -> None:
    """A correct body without the X-Export-Rows header."""
    body = csv_body(rows)
    conn.sendall(_head("200 OK", f"Content-Length: {len(body)}") + body)


LIES: tuple[Behaviour, ...] = (
    short_chunked,
    extra_rows,
    cut_mid_chunk,
    cut_before_last_chunk,
    short_content_length,
    short_until_close,
    unterminated_last_line,
    server_error,
    no_rows_header,
)


class FakeExportServer:
    """Serve scripted exports on 127.0.0.1 from threads; a context manager."""

    def __init__(self, behaviours: Sequence[Behaviour]) -> None:
        self._behaviours = itertools.cycle(behaviours)
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port: int = self._listener.getsockname()[1]
        self.paths: list[str] = []
        self.cookies: list[str | None] = []  # each request's Cookie header (None: none)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, name="fake-export", daemon=True)

    @property
    def url(self) -> str:
        """The base URL, without a trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        self._acceptor.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._acceptor.join(5)
        for thread in self._threads:
            thread.join(5)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            conn.settimeout(10)
            request = b""
            while b"\r\n\r\n" not in request:
                data = conn.recv(4096)
                if not data:
                    return
                request += data
            target = request.split(b" ", 2)[1].decode("latin-1")
            head = request.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")[1:]
            fields = dict(line.partition(":")[::2] for line in head)
            with self._lock:
                self.paths.append(target)
                self.cookies.append(
                    next((v.strip() for k, v in fields.items() if k.lower() == "cookie"), None)
                )
            parts = urlsplit(target)
            if parts.path == "/healthz":
                body = b'{"status": "ok", "interface": "wsgi"}'
                conn.sendall(_head("200 OK", f"Content-Length: {len(body)}") + body)
            elif parts.path == "/ping":
                conn.sendall(_head("200 OK", "Content-Length: 5") + b"pong\n")
            else:
                rows = int(parse_qs(parts.query).get("rows", ["10"])[0])
                with self._lock:
                    behaviour = next(self._behaviours)
                behaviour(conn, rows)
