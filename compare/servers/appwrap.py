"""The thin wrapper around a user's Django application, run inside each stack's server process.

It gives the harness what this project's own middleware gives it, without a line of the user's
code or settings changed: a harness-only readiness path answered before their app is reached,
the worker and start headers (X-Server-Pid, X-Server-Start), one log line per response saying
how Django handed the body over and whether the client hung up before its end, the traceback of
a view that raised (Django logs it nowhere unless their LOGGING says so), Django's iterator
warnings on every request instead of once per process, and loopback names added to their
ALLOWED_HOSTS. ``compare.servers.wrapwsgi`` and ``wrapasgi`` are the entry points servers load.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
import warnings
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping
from typing import Any

# Answered by the wrapper alone: the user's URLs may need a login, a database or a long export,
# and ALLOWED_HOSTS; this one proves the server imported their application and which interface
# it serves, which "any HTTP answer" would not (a server answers 500 for an app it cannot load).
READY_PATH = "/__dsc__/ready"
WORKER_HEADER = "X-Server-Pid"
START_HEADER = "X-Server-Start"
# Every line the wrapper writes starts with this, so the harness finds them in the server's log.
LOG_MARK = "dsc-app:"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
# Django warns once per process by default: a check measuring several URLs must see each one.
ITERATOR_WARNING = "StreamingHttpResponse must consume"

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]


def say(text: str) -> None:
    """One line (or a traceback) to the server's log, at once."""
    print(f"{LOG_MARK} {text}", file=sys.stderr, flush=True)


def load(variable: str) -> Any:
    """Import the user's ``module:attribute`` named by ``variable`` and prepare Django for us."""
    path = os.environ.get(variable, "")
    module, _, attribute = path.partition(":")
    if not module or not attribute:
        raise RuntimeError(f"${variable} must name the application as module:attribute")
    app = getattr(importlib.import_module(module), attribute)
    _prepare_django()
    return app


def _prepare_django() -> None:
    from django.conf import settings
    from django.core.signals import got_request_exception

    hosts = list(settings.ALLOWED_HOSTS)
    if "*" not in hosts:
        settings.ALLOWED_HOSTS = [*hosts, *(name for name in LOOPBACK_NAMES if name not in hosts)]
    warnings.filterwarnings("always", message=ITERATOR_WARNING, category=Warning)
    got_request_exception.connect(_log_exception, dispatch_uid="dsc-app-exception")


def _log_exception(sender: Any, request: Any = None, **_kwargs: Any) -> None:
    path = getattr(request, "path", "?")
    say(f"exception in {path}\n{traceback.format_exc().rstrip()}")


def _report(interface: str, path: str, body: str, pieces: int, size: int, ended: bool) -> None:
    end = "complete" if ended else "stopped before its end (client gone)"
    say(f"{interface} {path} body={body} pieces={pieces} bytes={size} {end}")


def ready_body(interface: str) -> bytes:
    """What the readiness path answers: the interface, as this project's /healthz does."""
    return json.dumps({"interface": interface, "wrapped": True}).encode()


def wrap_wsgi(app: Callable[[Environ, StartResponse], Iterable[bytes]]) -> Any:
    """The user's WSGI application with the harness's path, headers and response log."""

    def application(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == READY_PATH:
            body = ready_body("wsgi")
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        started = time.monotonic()

        def start(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
            headers = [*headers, (WORKER_HEADER, str(os.getpid()))]
            headers.append((START_HEADER, f"{started:.6f}"))
            return start_response(status, headers, *exc_info)

        result = app(environ, start)
        path = environ.get("PATH_INFO", "")
        file_wrapper = environ.get("wsgi.file_wrapper")
        if isinstance(file_wrapper, type) and isinstance(result, file_wrapper):
            # Wrapping it would hide it from the server's sendfile: the file goes as it is.
            _report("wsgi", path, "file", 0, 0, True)
            return result
        return _Counted(result, lambda *a: _report("wsgi", path, _wsgi_kind(result), *a))

    return application


def _wsgi_kind(result: object) -> str:
    """How Django hands a WSGI server the body: whole, an iterator, or an async one it buffers."""
    streaming = getattr(result, "streaming", None)
    if streaming is None:
        return "unknown"
    if not streaming:
        return "whole"
    return "async-iterator" if getattr(result, "is_async", False) else "iterator"


class _Counted:
    """A WSGI body counted as the server reads it; close() reports it and closes the original."""

    def __init__(self, result: Iterable[bytes], report: Callable[[int, int, bool], None]) -> None:
        self._result = result
        self._report = report
        self._pieces = 0
        self._bytes = 0
        self._ended = False

    def __iter__(self) -> Iterator[bytes]:
        for piece in self._result:
            self._pieces += 1
            self._bytes += len(piece)
            yield piece
        self._ended = True

    def close(self) -> None:
        """Close the user's body (Django's request_finished comes from there), then report."""
        try:
            close = getattr(self._result, "close", None)
            if close is not None:
                close()
        finally:
            self._report(self._pieces, self._bytes, self._ended)


def wrap_asgi(app: Callable[..., Awaitable[None]]) -> Any:
    """The user's ASGI application with the harness's path, headers and response log."""

    async def application(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        if scope.get("path") == READY_PATH:
            headers = [(b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": ready_body("asgi")})
            return
        started = time.monotonic()
        pieces, size, ended, last_had_data = 0, 0, False, False

        async def counted(message: Message) -> None:
            nonlocal pieces, size, ended, last_had_data
            if message["type"] == "http.response.start":
                extra = [(WORKER_HEADER.encode(), str(os.getpid()).encode())]
                extra.append((START_HEADER.encode(), f"{started:.6f}".encode()))
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
            elif message["type"] == "http.response.body":
                body = message.get("body", b"")
                pieces += 1 if body else 0
                size += len(body)
                ended = not message.get("more_body", False)
                last_had_data = bool(body)
            await send(message)

        try:
            await app(scope, receive, counted)
        finally:
            # Django ends a streamed body with an empty message, a whole one on its data; a body
            # cut short ended on neither.
            kind = ("whole" if last_had_data else "iterator") if ended else "unknown"
            _report("asgi", scope.get("path", ""), kind, pieces, size, ended)

    return application
