"""The raw record of one timed request, as the load generator writes it (pure: no gevent).

Every figure of a cell is computed by the harness from these records, never from locust's own
statistics. Times are ``time.monotonic()`` seconds: on Linux that is CLOCK_MONOTONIC, one clock
for every process on the machine, so records from locust (and its workers) line up with the
harness's server samples without any conversion.

A records file is JSON lines, one object per line, of four kinds:

    {"request": {...RequestRecord fields...}}
    {"bytes": {"<bin index>": n, ...}}       body bytes received, per BIN_S bin of monotonic time
    {"failed_bytes": {"<bin index>": n, ...}}  of those, the bytes of requests that then failed
    {"event": "test_start" | "spawning_complete" | "test_stopping" | "test_stop", "t": seconds}
"""

from __future__ import annotations

import errno
import socket
from dataclasses import asdict, dataclass
from typing import Any, Literal

from loadtests.body import (
    BadHeader,
    BadStatus,
    TruncatedBody,
    WrongBody,
    WrongRowCount,
)

# Body bytes are counted per bin of this many seconds (bin i covers [i * BIN_S, (i + 1) * BIN_S)).
BIN_S = 0.05

Kind = Literal["download", "first-byte", "ping", "healthz"]
# "ok", "stopped" (still running when the load generator stopped: censored, not a failure),
# "not-started" (an open-loop arrival refused because --max-in-flight requests were already in
# flight: never sent, so neither a failure nor a latency), or a failure kind (see failure_kind).
OK = "ok"
STOPPED = "stopped"
NOT_STARTED = "not-started"
EVENTS = ("test_start", "spawning_complete", "test_stopping", "test_stop")


@dataclass(slots=True)
class RequestRecord:
    """One request as the client saw it; ``first_byte`` is the first *body* byte."""

    kind: Kind
    scenario: str
    user: int  # which simulated user (one connection at a time each)
    start: float  # monotonic: just before the request was sent
    end: float  # monotonic: last body byte, the failure, or the stop
    first_byte: float | None = None  # monotonic: first body byte (None: none arrived)
    bytes: int = 0  # body bytes received (partial downloads included)
    outcome: str = OK
    detail: str | None = None  # the failure's message
    new_connection: bool = False  # the request opened a connection instead of reusing one
    worker: int | None = None  # X-Server-Pid: the server process that answered
    intended: float | None = None  # monotonic: when the request was due (open-loop schedules)
    server_start: float | None = None  # monotonic: X-Server-Start, when the server began on it

    def as_json(self) -> dict[str, Any]:
        """The record as one JSON object."""
        return asdict(self)


def failure_kind(error: BaseException) -> str:
    """A short, stable name for why a request failed (the report counts failures by it)."""
    if isinstance(error, BadStatus):
        return f"http-{error.status}"
    if isinstance(error, TruncatedBody):
        return "truncated"
    if isinstance(error, WrongRowCount):
        return "wrong-rows"
    if isinstance(error, BadHeader):
        return "bad-header"
    if isinstance(error, WrongBody):
        return "wrong-body"
    if isinstance(error, TimeoutError | socket.timeout):
        return "timeout"
    if isinstance(error, ConnectionRefusedError):
        return "refused"
    if isinstance(error, ConnectionResetError | BrokenPipeError):
        return "reset"
    if isinstance(error, OSError):
        return "timeout" if error.errno == errno.ETIMEDOUT else "connection"
    name = type(error).__name__
    # geventhttpclient's parser says so when a body is cut short by the connection closing.
    if name in ("HTTPParseError", "HTTPConnectionClosed"):
        return "truncated" if "ncomplete" in str(error) else "connection"
    if name == "Timeout":  # gevent.Timeout is not an Exception subclass of TimeoutError
        return "timeout"
    return "error"


def worker_pid(value: str | list[str] | None) -> int | None:
    """Parse X-Server-Pid (None when absent or malformed: the record still counts)."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def server_start(value: str | list[str] | None) -> float | None:
    """Parse X-Server-Start (None when absent or malformed: the record still counts)."""
    try:
        return float(value) if isinstance(value, str) else None
    except ValueError:
        return None
