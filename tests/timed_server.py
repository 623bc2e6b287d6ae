"""An HTTP/1.1 export server with exactly known timing, to check the harness's figures against.

``python -m tests.timed_server --port P --delay-ms D --rate R --size S [--fail-every N]``

``/export.csv`` sends its headers at once, the first body byte D ms after the request arrived,
then the rest of a ~S-byte CSV body at R bytes/s on an absolute schedule (chunked, keep-alive).
With ``--fail-every N``, every Nth export asking for more than WARMUP_ROWS rows is answered
``503`` at once instead (the harness's warm-up asks for fewer, and must succeed). With
``--cut-every N``, every Nth such export is cut short instead: ``--cut-at F`` of its body is
sent (on the same schedule), then the connection is closed without ending the message. ``/healthz``
and ``/ping`` answer like the real app. With ``--log FILE`` every piece of body sent and every
answer is logged as a JSON line with its ``time.monotonic()`` instant: the ground truth.

A known capacity: ``--capacity K`` serves at most K exports at once; the others wait (queued,
their headers not sent) for a slot, and their D ms start when they get one. A known stall:
``--stall-after A --stall-s L`` holds every first body byte due in [s, s + L), where s is A
seconds after the first export asking for more than WARMUP_ROWS rows (the load, not the
warm-up), until s + L; the stall is logged. With ``--stall-pings`` the stall holds every /ping
answer due in it instead (exports go on), and each /ping is logged.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import socket
import threading
import time
from typing import IO
from urllib.parse import parse_qs, urlsplit

HEADER = b"id,payload\n"
ROW_BYTES = 64
PIECE = 8192
WARMUP_ROWS = 20_000


def body(size: int) -> tuple[bytes, int]:
    """A CSV body of about ``size`` bytes (a header line and 64-byte rows) and its row count."""
    rows = max(1, (size - len(HEADER)) // ROW_BYTES)
    lines = [f"{i:08d},{'x' * (ROW_BYTES - 10)}\n".encode() for i in range(rows)]
    return HEADER + b"".join(lines), rows


class TimedServer:
    """Serves connections on threads; one lock keeps the log lines whole."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.delay = args.delay_ms / 1000
        self.rate = args.rate
        self.body, self.rows = body(args.size)
        self.fail_every = args.fail_every
        self.exports = itertools.count(1)
        self.cut_every, self.cut_at = args.cut_every, args.cut_at
        self.cut_count = itertools.count(1)
        self.lock = threading.Lock()
        self.slots = threading.BoundedSemaphore(args.capacity) if args.capacity else None
        self.stall_after, self.stall_s = args.stall_after, args.stall_s
        self.stall: tuple[float, float] | None = None  # (start, end), once the load began
        self.stall_pings = args.stall_pings
        self.log: IO[str] | None = open(args.log, "a") if args.log else None  # noqa: SIM115

    def note(self, **fields: object) -> None:
        """Append one ground-truth line."""
        if self.log is not None:
            with self.lock:
                self.log.write(json.dumps(fields) + "\n")
                self.log.flush()

    def serve(self, conn: socket.socket) -> None:
        """Answer requests on one connection until the client closes it."""
        buffered = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in buffered:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buffered += data
                received = time.monotonic()
                head, _, buffered = buffered.partition(b"\r\n\r\n")
                target = head.split(b"\r\n", 1)[0].split(b" ")[1].decode()
                try:
                    self.answer(conn, target, received)
                except OSError:
                    return  # the client hung up

    def answer(self, conn: socket.socket, target: str, received: float) -> None:
        """One response."""
        url = urlsplit(target)
        pid = f"X-Server-Pid: {os.getpid()}\r\n"
        if url.path == "/healthz":
            self._small(conn, 200, b'{"status": "ok", "interface": "wsgi"}', pid)
        elif url.path == "/ping":
            stall = self.stall if self.stall_pings else None
            if stall is not None and stall[0] <= received < stall[1]:
                time.sleep(stall[1] - received)
            self._small(conn, 200, b"pong\n", pid)
            if self.stall_pings:
                self.note(event="ping", received=received, answered=time.monotonic())
        elif url.path == "/export.csv":
            rows = int(parse_qs(url.query).get("rows", ["0"])[0] or 0)
            load = rows > WARMUP_ROWS
            if self.fail_every and load and next(self.exports) % self.fail_every == 0:
                self._small(conn, 503, b"busy\n", pid)
                self.note(event="answer", status=503, received=received)
                return
            if load and self.stall_s and self.stall is None:
                self._begin_stall(received)
            cut = bool(self.cut_every and load and next(self.cut_count) % self.cut_every == 0)
            if self.slots is None:
                self._export(conn, received, pid, cut=cut)
                return
            with self.slots:  # the queue: wait for one of the K slots
                self._export(conn, time.monotonic(), pid, received, cut)
        else:
            self._small(conn, 404, b"not found\n", pid)

    def _begin_stall(self, received: float) -> None:
        with self.lock:
            if self.stall is not None:  # another connection's thread was first
                return
            start = received + self.stall_after
            self.stall = (start, start + self.stall_s)
        self.note(event="stall", start=start, end=start + self.stall_s)

    def _small(self, conn: socket.socket, status: int, payload: bytes, pid: str) -> None:
        conn.sendall(
            f"HTTP/1.1 {status} X\r\nContent-Length: {len(payload)}\r\n{pid}\r\n".encode() + payload
        )

    def _export(
        self,
        conn: socket.socket,
        started: float,
        pid: str,
        received: float | None = None,
        cut: bool = False,
    ) -> None:
        """Serve one export from ``started`` (a slot's start; the arrival without a capacity);
        ``cut``: only --cut-at of the body, then the connection is closed."""
        received = started if received is None else received
        conn.sendall(
            "HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nTransfer-Encoding: chunked\r\n"
            f"X-Export-Rows: {self.rows}\r\nX-Export-Interface: wsgi\r\n{pid}\r\n".encode()
        )
        first = started + self.delay
        if (
            not self.stall_pings
            and self.stall is not None
            and self.stall[0] <= first < self.stall[1]
        ):
            first = self.stall[1]
        sent = 0
        size = int(len(self.body) * self.cut_at) if cut else len(self.body)
        pieces: list[tuple[float, int]] = []
        while sent < size:
            due = first + sent / self.rate
            while (wait := due - time.monotonic()) > 0:
                time.sleep(wait)
            piece = self.body[sent : min(sent + PIECE, size)]
            conn.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            pieces.append((time.monotonic(), len(piece)))
            sent += len(piece)
        if not cut:
            conn.sendall(b"0\r\n\r\n")
        self.note(
            event="answer",
            status=200,
            received=received,
            started=started,
            first=pieces[0][0],
            pieces=pieces,
            cut=cut,
        )
        if cut:
            raise ConnectionAbortedError("cut short on purpose")  # serve() closes the socket


def main() -> None:
    """Listen and serve until killed."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay-ms", type=float, default=50.0)
    parser.add_argument("--rate", type=float, default=4e6, help="body bytes per second")
    parser.add_argument("--size", type=int, default=1_000_000, help="body bytes, about")
    parser.add_argument("--fail-every", type=int, default=0)
    parser.add_argument("--cut-every", type=int, default=0)
    parser.add_argument("--cut-at", type=float, default=0.5, help="share of a cut body sent")
    parser.add_argument("--capacity", type=int, default=0, help="exports served at once (0: all)")
    parser.add_argument("--stall-after", type=float, default=0.0)
    parser.add_argument("--stall-s", type=float, default=0.0)
    parser.add_argument("--stall-pings", action="store_true", help="stall /ping, not exports")
    parser.add_argument("--log", default=None)
    args = parser.parse_args()
    server = TimedServer(args)
    listener = socket.create_server((args.host, args.port), backlog=128)
    while True:
        conn, _ = listener.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=server.serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
