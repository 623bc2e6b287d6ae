"""Checking an export's response without keeping it: counts while reading, verdicts at the end.

Pure (no gevent, no locust), so the rules are unit-tested directly. Every verdict is an
``ExportFailure`` whose message is stable enough for locust to group failures by it.
"""

from __future__ import annotations

from dataclasses import dataclass

ROWS_HEADER = "X-Export-Rows"


class ExportFailure(Exception):
    """A response that must count as a failure (the message says why)."""


class BadStatus(ExportFailure):
    """The server answered something other than 200."""

    def __init__(self, status: int, reason: bytes = b"") -> None:
        self.status = status
        text = reason.decode("utf-8", "replace").strip().splitlines()
        super().__init__(f"HTTP {status}" + (f": {text[0][:200]}" if text else ""))


class BadHeader(ExportFailure):
    """A header the check relies on is missing or malformed."""


class TruncatedBody(ExportFailure):
    """The body ended before the message did (or before its announced length)."""


class WrongRowCount(ExportFailure):
    """A complete body whose line count disagrees with X-Export-Rows."""


class WrongBody(ExportFailure):
    """A small response (probe, readiness) whose content is not what it must be."""


@dataclass(slots=True)
class BodyTally:
    """What has been read of a body so far: bytes, newline bytes and the last byte."""

    size: int = 0
    newlines: int = 0
    last: bytes = b""

    def add(self, piece: bytes) -> None:
        """Count one piece read from the body."""
        if piece:
            self.size += len(piece)
            self.newlines += piece.count(b"\n")
            self.last = piece[-1:]


def announced_rows(value: str | list[str] | None) -> int:
    """Parse X-Export-Rows; raise BadHeader when it is absent, repeated or not a count."""
    if value is None:
        raise BadHeader(f"no {ROWS_HEADER} header")
    if not isinstance(value, str) or not value.isascii() or not value.strip().isdigit():
        raise BadHeader(f"malformed {ROWS_HEADER} header: {value!r}")
    return int(value)


def check_export(
    tally: BodyTally, *, rows: int, content_length: int | None, complete: bool
) -> None:
    """Raise an ExportFailure unless the body is whole: a header line plus ``rows`` lines."""
    if not complete:
        # The HTTP parser did not see the end of the message (the last chunk or all the
        # Content-Length bytes): the connection ended early.
        raise TruncatedBody("body ended before the end of the HTTP message")
    if content_length is not None and tally.size != content_length:
        raise TruncatedBody(f"body has {tally.size} bytes, Content-Length says {content_length}")
    if tally.newlines != rows + 1:
        raise WrongRowCount(
            f"body has {tally.newlines} lines, expected {rows + 1} "
            f"({ROWS_HEADER}: {rows} plus the header line)"
        )
    if tally.last != b"\n":
        raise TruncatedBody("body does not end with a line end")


def check_ping(status: int, body: bytes) -> None:
    """Raise an ExportFailure unless the probe answered 200 ``pong``."""
    if status != 200:
        raise BadStatus(status, body)
    if body != b"pong\n":
        raise WrongBody(f"/ping answered {body[:40]!r}, expected b'pong\\n'")
