"""An independent measurement of slow readers, to hold slow-client's figures against.

``python -m compare.dev.independent_slow STACK [--users N] [--rows R] [--read-kbps K]
[--seconds S]``

Shares nothing with the harness's measuring code: the server is started by ``python -m compare
serve`` under ``taskset`` (CPU 0; this client pins itself to CPU 1), each user is a thread that
downloads the export over a raw socket again and again, reading at most K KiB/s. The window
opens once as many downloads ended as there are users and lasts S seconds; prints one JSON line:
downloads being sent at once (first body byte to last, mean over the window) and the waits for
a first byte of the requests that started in it.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

SERVER_CPU, CLIENT_CPU = 0, 1


def slow_get(port: int, path: str, rate: float) -> tuple[float, float, float]:
    """GET at ``rate`` bytes/s at most: (start, first byte after the headers, end), monotonic."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    start = time.monotonic()
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
    received, first, head = 0, 0.0, b""
    while True:
        data = sock.recv(16 * 1024)
        if not data:
            break
        if not first:
            head += data
            if b"\r\n\r\n" not in head:
                continue
            if not head.startswith(b"HTTP/1.1 200"):
                raise ConnectionError(head.split(b"\r\n", 1)[0].decode())
            first = time.monotonic()  # headers and the first piece come together here
        received += len(data)
        ahead = start + received / rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
    sock.close()
    return start, first or time.monotonic(), time.monotonic()


def main() -> None:
    """Start the stack, run the users until the window closed, print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("stack")
    parser.add_argument("--users", type=int, default=6)
    parser.add_argument("--rows", type=int, default=120_000)
    parser.add_argument("--read-kbps", type=float, default=768)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--port", type=int, default=8124)
    parser.add_argument("--workers", default="2", help="as the bench's cell had them")
    args = parser.parse_args()
    os.sched_setaffinity(0, {CLIENT_CPU})
    server = subprocess.Popen(
        ["taskset", "-c", str(SERVER_CPU), sys.executable, "-m", "compare", "serve",
         args.stack, "--port", str(args.port), "--workers", args.workers],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    done: list[tuple[float, float, float]] = []
    stop = threading.Event()
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", args.port)).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        time.sleep(2.0)  # the workers' imports
        path = f"/export.csv?rows={args.rows}"

        def user() -> None:
            while not stop.is_set():
                done.append(slow_get(args.port, path, args.read_kbps * 1024))

        threads = [threading.Thread(target=user, daemon=True) for _ in range(args.users)]
        for t in threads:
            t.start()
        while len(done) < args.users:
            time.sleep(0.05)
        opened = time.monotonic()
        time.sleep(args.seconds)
        closed = time.monotonic()
        stop.set()
        for t in threads:
            t.join(timeout=120)
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
    sending = sum(max(0.0, min(e, closed) - max(f, opened)) for _, f, e in done)
    waits = [(f - s) * 1000 for s, f, _ in done if opened <= s < closed]
    print(
        json.dumps(
            {
                "stack": args.stack,
                "rows": args.rows,
                "users": args.users,
                "window_s": round(closed - opened, 2),
                "served_at_once": round(sending / (closed - opened), 2),
                "ttfb_p50_ms": round(statistics.median(waits), 1) if waits else None,
                "ttfb_max_ms": round(max(waits), 1) if waits else None,
                "started_in_window": len(waits),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
