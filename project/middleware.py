"""The one middleware: per-interface URLconf and security headers, native under WSGI and ASGI.

Django's SecurityMiddleware and XFrameOptionsMiddleware are sync middleware: under ASGI each of
their hooks runs through sync_to_async, a thread hop on every request of one stack only. This
middleware sets the same headers without one, so both stacks pay the same per-request cost.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponseBadRequest, HttpResponseBase
from django.http.request import split_domain_port
from django.utils.decorators import sync_and_async_middleware

logger = logging.getLogger(__name__)

ASYNC_URLCONF = "project.urls_async"
# Names the process that answered: the harness measures how evenly a stack's workers share work.
WORKER_HEADER = "X-Server-Pid"
# When the server began on the request (time.monotonic(): one clock for every process of the
# machine, the load generator's too): a body built before its first byte (mode=buffered, a
# mismatched iterator) is held from here, which the client cannot see.
START_HEADER = "X-Server-Start"
# The harness's servers accept loopback plus $DSC_ALLOWED_HOSTS (compare.servers.server);
# a server started otherwise reads DJANGO_ALLOWED_HOSTS.
HOSTS_VARIABLES = (
    "DSC_ALLOWED_HOSTS (servers that python -m compare starts) or DJANGO_ALLOWED_HOSTS"
)
_SHOWN_HOST_CHARS = 100


def security_headers() -> tuple[tuple[str, str], ...]:
    """The headers every response carries, from settings (HSTS only when configured)."""
    headers = [
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", settings.SECURE_REFERRER_POLICY or "same-origin"),
        ("X-Frame-Options", settings.X_FRAME_OPTIONS),
        ("Cross-Origin-Opener-Policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY or "same-origin"),
    ]
    if settings.SECURE_HSTS_SECONDS:
        hsts = f"max-age={settings.SECURE_HSTS_SECONDS}"
        if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
            hsts += "; includeSubDomains"
        headers.append(("Strict-Transport-Security", hsts))
    return tuple(headers)


def _refused_host(request: HttpRequest) -> HttpResponseBadRequest | None:
    """None for an allowed host; else a 400 naming the host and how to admit it, logged once.

    Django's own answer is a bare 400 and a traceback in a log that is off unless DEBUG is on.
    """
    try:
        request.get_host()  # ALLOWED_HOSTS is enforced only where get_host() is called
    except DisallowedHost:
        pass
    else:
        return None
    # What get_host() read (this project never trusts X-Forwarded-Host), cut to a sane length.
    host = str(request.META.get("HTTP_HOST") or request.META.get("SERVER_NAME", ""))
    domain, _ = split_domain_port(host)
    shown = repr(host[:_SHOWN_HOST_CHARS] + ("..." if len(host) > _SHOWN_HOST_CHARS else ""))
    if domain:
        reason = f"Host {shown} is not allowed here: add {domain!r} to {HOSTS_VARIABLES}"
    else:
        reason = f"Host {shown} is not a valid host name (RFC 1034/1035)"
    logger.warning("refused %r: %s", request.path[:_SHOWN_HOST_CHARS], reason)
    return HttpResponseBadRequest(f"{reason}\n", content_type="text/plain; charset=utf-8")


@sync_and_async_middleware
def interface_middleware(get_response: Callable[[HttpRequest], Any]) -> Any:
    """Check the host, route ASGI to async and WSGI to sync views, add security and pid headers."""
    headers = security_headers()

    def secure(response: HttpResponseBase, started: float) -> HttpResponseBase:
        for name, value in headers:
            response.setdefault(name, value)
        # Asked per response, not at start-up: with --preload the middleware is built before fork.
        response[WORKER_HEADER] = str(os.getpid())
        response[START_HEADER] = f"{started:.6f}"
        return response

    if not iscoroutinefunction(get_response):

        def middleware(request: HttpRequest) -> HttpResponseBase:
            started = time.monotonic()
            if refused := _refused_host(request):
                return secure(refused, started)
            # ROOT_URLCONF already holds the sync views.
            return secure(get_response(request), started)

        return middleware

    async_get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]] = get_response

    async def middleware_async(request: HttpRequest) -> HttpResponseBase:
        started = time.monotonic()
        if refused := _refused_host(request):
            return secure(refused, started)
        # Django resolves request.urlconf per request, so neither handler pays a thread hop.
        request.urlconf = ASYNC_URLCONF
        return secure(await async_get_response(request), started)

    return markcoroutinefunction(middleware_async)
