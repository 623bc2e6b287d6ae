"""The Server tab's data: each running stack's sampled memory and CPU, as JSON on loopback.

Runs in ``python -m compare ui`` (a plain process, no gevent), next to the stacks and their
``ProcessTreeSampler``s; the locustfile's ``/server-data`` route (loadtests.servertab) proxies it
into the web UI. Samples are shaped here, so the browser only draws.

    GET /server-data?since=T   every stack, with its samples taken after T (seconds on the feed's
                               clock); without since: the last MAX_POINTS
    GET /server-data.csv       every sample of every stack still held (the last KEPT_SAMPLES),
                               one row per stack and sample
"""

from __future__ import annotations

import csv
import io
import json
import logging
import statistics
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol, Self
from urllib.parse import parse_qs, urlsplit

from compare.settings import DSC_SERVER_FEED_URL
from compare.system.sampler import TreeSample, cpu_seconds
from compare.system.startstop import StartStop

logger = logging.getLogger(__name__)

FEED_ENV = DSC_SERVER_FEED_URL.name  # where the locustfile finds this feed
DATA_PATH = "/server-data"
CSV_PATH = "/server-data.csv"
MAX_POINTS = 2400  # per stack and answer: 10 minutes at the default 0.25 s
# Samples each stack's sampler holds: an hour at the default 0.25 s, about 12 MB for a tree
# of a few processes (0.8 KB a sample); the UI runs for days, and its memory must not grow.
KEPT_SAMPLES = 14_400
BASELINE_SAMPLES = 4  # the first samples, taken while the stack is idle: its baseline
MB = 1_000_000  # 10^6 bytes, as in every report


class SampleSource(Protocol):
    """What the feed reads from a sampler (compare.system.sampler.ProcessTreeSampler)."""

    @property
    def samples(self) -> list[TreeSample]: ...

    @property
    def first(self) -> list[TreeSample]: ...

    @property
    def peak_pss(self) -> int: ...

    @property
    def root_exited(self) -> bool: ...


@dataclass(frozen=True)
class FeedStack:
    """One running stack as the Server tab shows it."""

    name: str
    url: str
    interface: str
    pid: int
    sampler: SampleSource


def cpu_percent(before: TreeSample, after: TreeSample) -> float:
    """The tree's CPU use between two samples, in percent of one core."""
    elapsed = after.t - before.t
    if elapsed <= 0:
        return 0.0
    return 100.0 * cpu_seconds([before, after], before.t, after.t) / elapsed


def baseline_pss(samples: Sequence[TreeSample]) -> int | None:
    """Median tree PSS of the first samples (taken before any load), or None without any."""
    first = samples[:BASELINE_SAMPLES]
    return int(statistics.median(s.pss for s in first)) if first else None


def series(
    samples: Sequence[TreeSample], t0: float, since: float | None, limit: int = MAX_POINTS
) -> list[list[float]]:
    """Points ``[t, pss_mb, cpu_percent]`` after ``since`` (t relative to t0), at most ``limit``."""
    lowest = float("-inf") if since is None else since
    start = len(samples)
    # Compared as sent (rounded), so that since=<the last t seen> never repeats that point.
    while start > 0 and _clock(samples[start - 1], t0) > lowest and len(samples) - start < limit:
        start -= 1
    points = []
    for index in range(start, len(samples)):
        sample = samples[index]
        cpu = cpu_percent(samples[index - 1], sample) if index else 0.0
        points.append([_clock(sample, t0), round(sample.pss / MB, 2), round(cpu, 1)])
    return points


def _clock(sample: TreeSample, t0: float) -> float:
    return round(sample.t - t0, 3)


def describe(stack: FeedStack, t0: float, since: float | None) -> dict[str, Any]:
    """One stack's entry in the JSON answer: identity, current figures and new points."""
    samples = stack.sampler.samples
    entry: dict[str, Any] = {
        "name": stack.name,
        "url": stack.url,
        "interface": stack.interface,
        "pid": stack.pid,
        "running": not stack.sampler.root_exited,
        "samples": series(samples, t0, since),
    }
    if samples:
        last = samples[-1]
        # From what the sampler keeps whatever it drops: the first samples and the peak.
        base = baseline_pss(stack.sampler.first)
        entry.update(
            pss_mb=round(last.pss / MB, 2),
            uss_mb=round(last.uss / MB, 2),
            rss_mb=round(last.rss / MB, 2),
            processes=len(last.processes),
            largest_uss_mb=round(max((p.uss for p in last.processes), default=0) / MB, 2),
            peak_pss_mb=round(stack.sampler.peak_pss / MB, 2),
            baseline_pss_mb=None if base is None else round(base / MB, 2),
            cpu_percent=round(cpu_percent(samples[-2], last), 1) if len(samples) > 1 else 0.0,
        )
    return entry


def samples_csv(stacks: Sequence[FeedStack], t0: float) -> str:
    """Every sample of every stack as CSV (bytes and CPU seconds, as the sampler took them)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["stack", "t_s", "wall", "pss_bytes", "uss_bytes", "rss_bytes", "cpu_s", "processes"]
    )
    for stack in stacks:
        for s in stack.sampler.samples:
            times = (f"{s.t - t0:.3f}", f"{s.wall:.3f}")
            memory = (s.pss, s.uss, s.rss)
            writer.writerow([stack.name, *times, *memory, f"{s.cpu:.3f}", len(s.processes)])
    return out.getvalue()


class ServerFeed(StartStop):
    """A loopback HTTP server answering the Server tab's data; a context manager."""

    def __init__(
        self,
        stacks: Sequence[FeedStack],
        *,
        interval: float,
        t0: float | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.stacks = tuple(stacks)
        self.interval = interval
        self.t0 = time.monotonic() if t0 is None else t0  # the feed's clock starts here
        self._httpd = ThreadingHTTPServer((host, port), _handler(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The data endpoint's URL (what FEED_ENV carries)."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}{DATA_PATH}"

    def snapshot(self, since: float | None = None) -> dict[str, Any]:
        """The JSON answer: the feed's clock, the sampling interval and every stack."""
        now = time.monotonic() - self.t0
        return {
            "now": round(now, 3),
            "wall_t0": round(time.time() - now, 3),  # the feed's clock at 0, as Unix time
            "interval": self.interval,
            "stacks": [describe(stack, self.t0, since) for stack in self.stacks],
        }

    def csv(self) -> str:
        """Every sample so far as CSV."""
        return samples_csv(self.stacks, self.t0)

    def start(self) -> Self:
        """Serve on a daemon thread."""
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.1,), name="server-feed", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket; idempotent."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()


def _handler(feed: ServerFeed) -> type[BaseHTTPRequestHandler]:
    class FeedHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path == DATA_PATH:
                raw = parse_qs(parts.query).get("since")
                try:
                    since = None if raw is None else float(raw[0])
                except ValueError:
                    self._send(400, "text/plain", b"since must be a number\n")
                    return
                body = json.dumps(feed.snapshot(since), separators=(",", ":")).encode()
                self._send(200, "application/json", body)
            elif parts.path == CSV_PATH:
                self._send(200, "text/csv; charset=utf-8", feed.csv().encode())
            else:
                self._send(404, "text/plain", b"not found\n")

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            logger.debug("server feed: " + format, *args)

    return FeedHandler
