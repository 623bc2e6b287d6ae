"""An independent measuring client: a raw socket and /proc, sharing nothing with the harness's.

The bench's own figures come from locust (load cells), ``http.client`` (the size sweep) and the
tree sampler (psutil); this client re-measures the same requests with none of them, so the run
can check itself (compare.run.crosscheck). The request goes over a plain socket with a
hand-written HTTP/1.1 parser (TTFB is the first *body* byte, after the chunk framing), and the
server tree's memory is read straight from /proc: tree PSS from ``smaps_rollup`` on a thread,
and each process's ``VmHWM`` after resetting it through ``clear_refs``.
"""

from __future__ import annotations

import socket
import statistics
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

RECV_SIZE = 1 << 20
# Consumed bytes are dropped from the buffer once this many have piled up (not on every read:
# copying the rest each time would make the client, not the server, the bottleneck).
COMPACT_AT = 1 << 23

OnBytes = Callable[[float, int], None]


@dataclass(frozen=True, slots=True)
class RawDownload:
    """One GET as the raw client saw it (times in seconds from sending the request)."""

    status: int
    ttfb_s: float  # to the first body byte (the whole time when the body is empty)
    ttlb_s: float  # to the last body byte
    body_bytes: int
    chunked: bool
    headers: Mapping[str, str]  # names lower-cased


class _Reader:
    """A socket's bytes in one buffer consumed by index, with the time each read arrived."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()
        self.at = 0

    def more(self) -> None:
        if self.at > COMPACT_AT:
            del self.buffer[: self.at]
            self.at = 0
        data = self.sock.recv(RECV_SIZE)
        if not data:
            raise ConnectionError("the server closed the connection mid-message")
        self.buffer.extend(data)

    def line(self) -> bytes:
        while (end := self.buffer.find(b"\r\n", self.at)) < 0:
            self.more()
        text = bytes(self.buffer[self.at : end])
        self.at = end + 2
        return text

    def body(self, length: int, seen: Callable[[int], None]) -> None:
        """Consume ``length`` body bytes, telling ``seen`` each piece as it is taken."""
        while length:
            if self.at == len(self.buffer):
                self.more()
            take = min(length, len(self.buffer) - self.at)
            seen(take)
            length -= take
            self.at += take


def raw_get(
    port: int,
    path: str,
    *,
    host: str = "127.0.0.1",
    cookie: str | None = None,
    timeout: float = 120.0,
    on_bytes: OnBytes | None = None,
) -> RawDownload:
    """GET ``path`` over a fresh connection, timing the first and last body byte.

    ``on_bytes(t, n)`` hears each piece of body as it is read (``time.monotonic()``, bytes), so
    a caller can count the bytes inside a window.
    """
    extra = f"Cookie: sessionid={cookie}\r\n" if cookie else ""
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n".encode()
    first: float | None = None
    body = 0

    def seen(n: int) -> None:
        nonlocal first, body
        now = time.perf_counter()
        if first is None:
            first = now
        body += n
        if on_bytes is not None:
            on_bytes(time.monotonic(), n)

    with socket.create_connection((host, port), timeout=timeout) as sock:
        reader = _Reader(sock)
        t0 = time.perf_counter()
        sock.sendall(request)
        status = int(reader.line().split(b" ", 2)[1])
        headers: dict[str, str] = {}
        while header := reader.line():
            name, _, value = header.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        chunked = headers.get("transfer-encoding", "").lower() == "chunked"
        if chunked:
            while (size := int(reader.line().split(b";")[0], 16)) > 0:
                reader.body(size, seen)
                reader.line()  # the CRLF after the chunk's data
        else:
            reader.body(int(headers.get("content-length", "0")), seen)
        end = time.perf_counter()
    return RawDownload(
        status=status,
        ttfb_s=(first or end) - t0,
        ttlb_s=end - t0,
        body_bytes=body,
        chunked=chunked,
        headers=headers,
    )


def tree_pids(root: int) -> list[int]:
    """The root pid and every descendant, read from /proc (no psutil)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                parents[int(entry.name)] = int(fields[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = [root], {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier}
        found += sorted(frontier)
    return found


def proc_kb(path: str, field: str) -> int:
    """A 'Field:   123 kB' value of a /proc file, in bytes (0 if unreadable)."""
    try:
        with open(path) as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def tree_pss(pids: Iterable[int]) -> int:
    """The tree's PSS in bytes, from each process's smaps_rollup."""
    return sum(proc_kb(f"/proc/{pid}/smaps_rollup", "Pss") for pid in pids)


def idle_pss(pids: list[int], seconds: float, interval_s: float) -> int:
    """The median tree PSS over ``seconds`` of quiet: the baseline an increase counts from."""
    values: list[int] = []
    deadline = time.monotonic() + seconds
    while not values or time.monotonic() < deadline:
        values.append(tree_pss(pids))
        time.sleep(interval_s)  # a sampling period, not a wait for something to happen
    return int(statistics.median(values))


class TreeMemoryWatch:
    """The tree's peak PSS (sampled on a thread) and its processes' exact RSS peaks (VmHWM)."""

    def __init__(self, pids: list[int], interval_s: float) -> None:
        self.pids = pids
        self.interval_s = interval_s
        self.peak_pss = 0
        self.samples = 0
        self._rss_at_reset: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeMemoryWatch:
        for pid in self.pids:
            try:
                Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := VmRSS, from now
            except OSError:
                continue
            self._rss_at_reset[pid] = proc_kb(f"/proc/{pid}/status", "VmRSS")
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            self.peak_pss = max(self.peak_pss, tree_pss(self.pids))
            self.samples += 1
            if self._stop.wait(self.interval_s):
                return

    def hwm_increase(self) -> int | None:
        """The processes' RSS high-water marks over their RSS at the reset, summed (bytes)."""
        if not self._rss_at_reset:
            return None
        return sum(
            max(proc_kb(f"/proc/{pid}/status", "VmHWM") - rss, 0)
            for pid, rss in self._rss_at_reset.items()
        )
