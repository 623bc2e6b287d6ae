"""An independent measurement of one export, to hold the bench's figures against.

``python -m tests.independent_check STACK [--rows N] [--mode stream|buffered] [--source S]
[--repeat K]``

Shares nothing with the harness's measuring code: the server is started by ``python -m compare
serve`` under ``taskset`` (CPU 0; this client pins itself to CPU 1, the bench's default split),
the request goes over a raw socket with a hand-written chunked decoder (TTFB = the first *body*
byte), memory is read straight from /proc (Pss from smaps_rollup, summed over the tree, every
few ms on a thread; VmHWM from status after clear_refs), and the tree's CPU seconds from
/proc/PID/stat around the download. Prints one JSON line per download.
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
from pathlib import Path

SERVER_CPU, CLIENT_CPU = 0, 1


def tree(root: int) -> list[int]:
    """The root pid and every descendant, from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                parents[int(entry.name)] = int(fields[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        found += frontier
    return found


def kb(path: str, field: str) -> int:
    """A 'Field:   123 kB' value from a /proc file, in bytes (0 if unreadable)."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_cpu_s(pids: list[int]) -> float:
    """User plus system CPU seconds of these processes (every thread), from /proc/PID/stat."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks / os.sysconf("SC_CLK_TCK")


def tree_pss(pids: list[int]) -> int:
    return sum(kb(f"/proc/{pid}/smaps_rollup", "Pss") for pid in pids)


class PssSampler(threading.Thread):
    """Tree PSS as fast as /proc answers (a few ms a sample), until stopped."""

    def __init__(self, pids: list[int]) -> None:
        super().__init__(daemon=True)
        self.pids, self.peak, self.count = pids, 0, 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak = max(self.peak, tree_pss(self.pids))
            self.count += 1


def fetch(port: int, path: str) -> dict[str, float | int]:
    """GET over a raw socket: seconds to the first body byte and to the last, body bytes.

    The received bytes are appended to one buffer and consumed by index (no copying), so the
    client keeps up with any of these servers.
    """
    sock = socket.create_connection(("127.0.0.1", port))
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
    buffer = bytearray()
    at = 0  # bytes of the buffer already consumed
    first: float | None = None
    body = 0

    def more() -> None:
        nonlocal at
        if at > 1 << 23:  # drop what was consumed, now and then
            del buffer[:at]
            at = 0
        data = sock.recv(1 << 20)
        if not data:
            raise ConnectionError("the server closed the connection mid-message")
        buffer.extend(data)

    def line() -> bytes:
        nonlocal at
        while (end := buffer.find(b"\r\n", at)) < 0:
            more()
        text = bytes(buffer[at:end])
        at = end + 2
        return text

    t0 = time.perf_counter()
    sock.sendall(request)
    head = []
    while header := line():
        head.append(header.lower())
    if b"transfer-encoding: chunked" in head:
        while (left := int(line().split(b";")[0], 16)) > 0:
            while left:
                if at == len(buffer):
                    more()
                take = min(left, len(buffer) - at)
                if first is None:
                    first = time.perf_counter()
                body, left, at = body + take, left - take, at + take
            line()  # the CRLF after the chunk's data
    else:
        length = int(next(h for h in head if h.startswith(b"content-length:")).split(b":")[1])
        while body < length:
            if at == len(buffer):
                more()
            if first is None:
                first = time.perf_counter()
            body, at = body + len(buffer) - at, len(buffer)
    end = time.perf_counter()
    sock.close()
    return {"ttfb_ms": ((first or end) - t0) * 1000, "total_s": end - t0, "body_bytes": body}


def main() -> None:
    """Start the stack, warm it, measure ``--repeat`` downloads, print one JSON line each."""
    parser = argparse.ArgumentParser()
    parser.add_argument("stack")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--mode", default="stream")
    parser.add_argument("--source", default="synthetic")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--port", type=int, default=8123)
    args = parser.parse_args()
    os.sched_setaffinity(0, {CLIENT_CPU})
    for repetition in range(args.repeat):
        # A fresh server for every download, like the size sweep.
        server = subprocess.Popen(
            ["taskset", "-c", str(SERVER_CPU), sys.executable, "-m", "compare", "serve",
             args.stack, "--port", str(args.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    fetch(args.port, "/ping")
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            root = next(p for p in tree(server.pid) if p != server.pid)  # serve's child: the stack
            for _ in range(6):  # warm every worker (several connections, like the bench)
                # The static source's body of the measured size, so each worker has encoded it.
                warm = args.rows if args.source == "static" else 20000
                fetch(args.port, f"/export.csv?rows={warm}&source={args.source}")
                fetch(args.port, "/ping")
            time.sleep(1.0)
            pids = tree(root)
            idle = statistics.median(tree_pss(pids) for _ in range(20))
            rss = {}
            for pid in pids:
                Path(f"/proc/{pid}/clear_refs").write_text("5")
                rss[pid] = kb(f"/proc/{pid}/status", "VmRSS")
            sampler = PssSampler(pids)
            sampler.start()
            cpu0 = tree_cpu_s(pids)
            query = f"rows={args.rows}&mode={args.mode}&source={args.source}"
            result = fetch(args.port, f"/export.csv?{query}")
            cpu = tree_cpu_s(pids) - cpu0
            sampler.done.set()
            sampler.join()
            hwm = sum(max(kb(f"/proc/{p}/status", "VmHWM") - rss[p], 0) for p in pids)
            result.update(
                stack=args.stack,
                mode=args.mode,
                source=args.source,
                rows=args.rows,
                repetition=repetition,
                mb_per_s=result["body_bytes"] / result["total_s"] / 1e6,
                peak_pss_increase_mb=(sampler.peak - idle) / 1e6,
                pss_samples=sampler.count,
                hwm_increase_mb=hwm / 1e6,
                cpu_s=cpu,
                mb_per_cpu_s=result["body_bytes"] / 1e6 / cpu if cpu else 0.0,
            )
            print(json.dumps(result), flush=True)
        finally:
            os.killpg(server.pid, 15)
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
