"""A middleware that reads a streamed body whole, as a careless one does (under /behind-mw/)."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBase


class BufferingMiddleware:
    """Joins the streamed body of /behind-mw/ into one HttpResponse; leaves every other alone."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if request.path.startswith("/behind-mw/") and response.streaming:
            body = b"".join(response.streaming_content)  # type: ignore[attr-defined]
            return HttpResponse(body, content_type=response["Content-Type"])
        return response
