"""Call the project's real WSGI and ASGI applications in-process, as a server would."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit
from wsgiref.util import setup_testing_defaults

from asgiref.testing import ApplicationCommunicator
from django.core.signals import request_finished, request_started
from django.db import close_old_connections


@dataclass(frozen=True)
class Reply:
    """One response as the server would send it: status, headers and the whole body."""

    status: int
    headers: dict[str, str]
    body: bytes
    pieces: int


@contextmanager
def _connections_kept() -> Iterator[None]:
    """Keep the test's database connection open across the request, as Django's test client does.

    A real server closes old connections per request; under pytest-django that would touch the
    database outside a test that was granted it, or close the test's transaction.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def project_log() -> Iterator[list[logging.LogRecord]]:
    """Collect what the project's loggers log in the block (they do not propagate to caplog)."""
    # Loading an application runs django.setup(), whose logging config would drop the handler.
    import project.asgi
    import project.wsgi  # noqa: F401

    handler = _Records()
    logger = logging.getLogger("project")
    logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)


def wsgi_call(url: str, method: str = "GET", host: str = "127.0.0.1") -> Reply:
    """Call project.wsgi.application like a WSGI server: iterate the body, then close it."""
    from project.wsgi import application

    parts = urlsplit(url)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": parts.path,
        "QUERY_STRING": parts.query,
    }
    environ["HTTP_HOST"] = host
    setup_testing_defaults(environ)
    started: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started.append((status, headers))
        return lambda data: None

    with _connections_kept():
        result = application(environ, start_response)
        try:
            pieces = [bytes(piece) for piece in result]
        finally:
            result.close()
    status, headers = started[0]
    return Reply(
        int(status.split()[0]), {k.lower(): v for k, v in headers}, b"".join(pieces), len(pieces)
    )


def asgi_scope(url: str, method: str = "GET", host: str = "127.0.0.1") -> dict[str, Any]:
    """The HTTP scope an ASGI server would pass the application for one request."""
    parts = urlsplit(url)
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": parts.path,
        "raw_path": parts.path.encode(),
        "query_string": parts.query.encode(),
        "root_path": "",
        "headers": [(b"host", host.encode("latin-1"))],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 80),
    }


async def asgi_call(
    url: str, method: str = "GET", timeout: float = 60, host: str = "127.0.0.1"
) -> Reply:
    """Call project.asgi.application like an ASGI server and collect the whole response."""
    from project.asgi import application

    with _connections_kept():
        communicator = ApplicationCommunicator(application, asgi_scope(url, method, host))
        await communicator.send_input({"type": "http.request", "body": b"", "more_body": False})
        start = await communicator.receive_output(timeout)
        assert start["type"] == "http.response.start"
        pieces: list[bytes] = []
        while True:
            message = await communicator.receive_output(timeout)
            if message.get("body"):
                pieces.append(message["body"])
            if not message.get("more_body", False):
                break
        await communicator.wait(timeout)
    headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return Reply(start["status"], headers, b"".join(pieces), len(pieces))
