"""Checking an export's response without keeping it: counts while reading, verdicts at the end.

Pure (no gevent, no locust), so the rules are unit-tested directly. Every verdict is an
``ExportFailure`` whose message is stable enough for locust to group failures by it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

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
    # The body's SHA-256 so far, when it is checked against a reference (a user's URL).
    digest: Any = field(default=None)

    def add(self, piece: bytes) -> None:
        """Count one piece read from the body."""
        if piece:
            self.size += len(piece)
            self.newlines += piece.count(b"\n")
            self.last = piece[-1:]
            if self.digest is not None:
                self.digest.update(piece)


class DifferentBody(WrongBody):
    """A user's URL answered a body unlike the reference download's (length or SHA-256)."""


Verify = Literal["body", "status"]


@dataclass(frozen=True)
class OwnUrl:
    """A user's URL to fetch instead of this project's export, and how its answer is checked.

    ``body``: the same length and SHA-256 as the reference download the harness took before the
    cells (``size``, ``sha256``); ``status``: any 2xx with a whole HTTP message.
    """

    path: str
    verify: Verify = "body"
    size: int = -1
    sha256: str = ""

    def digest(self) -> Any:
        """A new SHA-256 for a body that is checked, else None (nothing to hash)."""
        return hashlib.sha256() if self.verify == "body" else None

    def check_status(self, status: int, reason: bytes) -> None:
        """Raise BadStatus unless the status is a 2xx."""
        if not 200 <= status < 300:
            raise BadStatus(status, reason)


def check_own(tally: BodyTally, own: OwnUrl, *, content_length: int | None, complete: bool) -> None:
    """Raise an ExportFailure unless the body is whole and, when asked, the reference's."""
    if not complete:
        raise TruncatedBody("body ended before the end of the HTTP message")
    if content_length is not None and tally.size != content_length:
        raise TruncatedBody(f"body has {tally.size} bytes, Content-Length says {content_length}")
    if own.verify == "status":
        return
    if tally.size != own.size:
        raise DifferentBody(f"body has {tally.size} bytes, the reference {own.size}")
    if tally.digest is None or tally.digest.hexdigest() != own.sha256:
        raise DifferentBody(f"body's SHA-256 differs from the reference's ({own.sha256[:12]}...)")


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
