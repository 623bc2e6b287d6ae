"""The one middleware: routes each request to the URLconf of its own interface."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase
from django.utils.decorators import sync_and_async_middleware

ASYNC_URLCONF = "project.urls_async"


@sync_and_async_middleware
def interface_middleware(get_response: Callable[[HttpRequest], Any]) -> Any:
    """Send ASGI requests to async views and WSGI requests to sync views, each run natively."""
    if not iscoroutinefunction(get_response):
        return get_response  # WSGI: ROOT_URLCONF already holds the sync views.
    async_get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]] = get_response

    async def middleware(request: HttpRequest) -> HttpResponseBase:
        # Django resolves request.urlconf per request, so neither handler pays a thread hop.
        request.urlconf = ASYNC_URLCONF
        return await async_get_response(request)

    return markcoroutinefunction(middleware)
