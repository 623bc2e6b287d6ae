"""Hang-up measurements: the export end lines in a server's log, the bytes a connection's socket
buffers hold, and how long a stack takes for a whole export on this machine, now.

Every bound the hang-up tests draw from these is measured in the same test: rows that the socket
buffers held at the hang-up, read from the kernel, and deadlines from the stack's own rate.
"""

from __future__ import annotations

import fcntl
import re
import socket
import struct
import termios
import time
from dataclasses import dataclass
from functools import cache

from compare.servers.server import ServerProcess
from compare.servers.stacks import StackSpec
from compare.system.download import download
from tests.helpers import expected_body

# A server started with this logs "export complete" (DEBUG) as well as "export stopped" (INFO):
# a test then tells an export that ran to its end from one that is still running.
DEBUG_LOG = {"EXPORT_LOG_LEVEL": "DEBUG"}
_END = re.compile(
    r"export (stopped|complete) iterator=(\w+) rows_encoded=(\d+) rows_announced=(\d+)"
)

# What a stack with backpressure generates after a hang-up beyond what the socket buffers held:
# the pieces in its own write path (uvicorn's 64 KiB high-water mark, granian's channel of 4,
# hyper's buffer) and the one it was encoding. 20,000 rows are about 17 pieces of 64 KiB: a count
# of pieces, which the tests set, not a speed.
MAX_ROWS_AFTER_HANGUP = 20_000
# granian-asgi notices a hang-up late: a send() on a closed connection returns at once without
# an error (src/asgi/io.rs, send_body), so the export runs on at full speed until http.disconnect
# reaches Django's listener from granian's Rust side. Measured here, 60 hang-ups right after the
# first piece: median 11,000 rows (0.01 s), but 6 took 2-9 s and generated 0.85-3.7 million rows.
LATE_HANGUP = frozenset({"granian-asgi"})
# A timed download is a lower bound on a stack's rate only while nothing else takes the cores:
# a deadline allows the export to run this many times slower than when it was timed.
SLOWER = 3.0


@dataclass(frozen=True)
class ExportEnd:
    """One export's end, from its log line."""

    stopped: bool  # cut short (a hang-up); False: it ran to its end
    iterator: str
    rows_encoded: int
    rows_announced: int


def stops_promptly(spec: StackSpec) -> bool:
    """Whether the stack pauses an export on full buffers and stops it at its next write."""
    return spec.backpressure and spec.name not in LATE_HANGUP


def export_ends(server: ServerProcess) -> list[ExportEnd]:
    """Every export end the server has logged (completions only when it logs at DEBUG)."""
    text = server.log_path.read_text(errors="replace")
    return [ExportEnd(m[1] == "stopped", m[2], int(m[3]), int(m[4])) for m in _END.finditer(text)]


def wait_for_ends(
    server: ServerProcess, before: int, count: int, timeout: float
) -> list[ExportEnd]:
    """The ``count`` export ends logged after the first ``before``; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while len(ends := export_ends(server)) < before + count:
        assert time.monotonic() < deadline, (
            f"{len(ends) - before} of {count} exports ended within {timeout:.0f} s"
            f" (log: {server.log_path})"
        )
        time.sleep(0.02)
    return ends[before:]


def whole_export_s(
    server: ServerProcess, rows: int, query: str = "", sample: int = 100_000
) -> float:
    """Seconds ``rows`` take to stream to a fast reader, from a timed download of ``sample``."""
    sample = min(rows, sample)
    result = download(f"{server.base_url}/export.csv?rows={sample}{query}", timeout=120)
    assert result.status == 200 and result.lines == sample + 1
    return result.total * rows / sample


def stop_deadline(server: ServerProcess, rows: int, exports: int = 1, query: str = "") -> float:
    """A wait for ``exports`` exports of ``rows`` to end: by then each has stopped or finished.

    Derived from the stack's rate timed now, so that it holds on a slow or busy machine, and long
    enough to see that an export a hang-up failed to stop ran to its end.
    """
    return SLOWER * exports * whole_export_s(server, rows, query) + 5.0


@cache
def start_bytes_per_row() -> float:
    """CSV bytes per row over the first 100,000 rows: what sits in the buffers of a hang-up."""
    return len(expected_body(100_000)) / 100_000


def unread_bytes(sock: socket.socket) -> int:
    """Bytes in the client's receive buffer."""
    value: int = struct.unpack("i", fcntl.ioctl(sock, termios.FIONREAD, b"\0\0\0\0"))[0]
    return value


def server_send_queue(server_port: int, client_port: int) -> int:
    """Bytes queued in the kernel on the server's side of the connection (/proc/net/tcp)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as handle:
            for line in handle.readlines()[1:]:
                fields = line.split()
                local, remote = (int(f.rsplit(":", 1)[1], 16) for f in fields[1:3])
                if (local, remote) == (server_port, client_port):
                    return int(fields[4].split(":")[0], 16)
    raise AssertionError(f"no server socket {server_port} -> {client_port} in /proc/net/tcp")


def socket_backlog(sock: socket.socket, server_port: int) -> int:
    """Bytes sent by the server that the client has not read: both ends' socket buffers."""
    return unread_bytes(sock) + server_send_queue(server_port, sock.getsockname()[1])


def http_payload(raw: bytes) -> bytes:
    """The CSV bytes in a response cut short anywhere: headers dropped, chunk framing undone."""
    head, _, body = raw.partition(b"\r\n\r\n")
    if b"transfer-encoding: chunked" not in head.lower():
        return body
    payload = bytearray()
    position = 0
    while (line_end := body.find(b"\r\n", position)) != -1:
        size = int(body[position:line_end].split(b";")[0], 16)
        start = line_end + 2
        payload += body[start : start + size]
        if start + size + 2 > len(body):
            break
        position = start + size + 2
    return bytes(payload)
