"""The one middleware: per-interface URLconf and security headers, native under WSGI and ASGI.

Django's SecurityMiddleware and XFrameOptionsMiddleware are sync middleware: under ASGI each of
their hooks runs through sync_to_async, a thread hop on every request of one stack only. This
middleware sets the same headers without one, so both stacks pay the same per-request cost.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.utils.decorators import sync_and_async_middleware

ASYNC_URLCONF = "project.urls_async"
# Names the process that answered: the harness measures how evenly a stack's workers share work.
WORKER_HEADER = "X-Server-Pid"


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


@sync_and_async_middleware
def interface_middleware(get_response: Callable[[HttpRequest], Any]) -> Any:
    """Check the host, route ASGI to async and WSGI to sync views, add security and pid headers."""
    headers = security_headers()

    def secure(response: HttpResponseBase) -> HttpResponseBase:
        for name, value in headers:
            response.setdefault(name, value)
        # Asked per response, not at start-up: with --preload the middleware is built before fork.
        response[WORKER_HEADER] = str(os.getpid())
        return response

    if not iscoroutinefunction(get_response):

        def middleware(request: HttpRequest) -> HttpResponseBase:
            # ALLOWED_HOSTS is enforced only where get_host() is called; no view calls it.
            request.get_host()
            # ROOT_URLCONF already holds the sync views.
            return secure(get_response(request))

        return middleware

    async_get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]] = get_response

    async def middleware_async(request: HttpRequest) -> HttpResponseBase:
        request.get_host()  # raises DisallowedHost (a 400) for a host not in ALLOWED_HOSTS
        # Django resolves request.urlconf per request, so neither handler pays a thread hop.
        request.urlconf = ASYNC_URLCONF
        return secure(await async_get_response(request))

    return markcoroutinefunction(middleware_async)
