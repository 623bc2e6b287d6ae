"""One URL on one started stack, measured for ``compare check``: the evidence, not the verdict.

A full download timed piece by piece, the stack's memory over it from the kernel's high-water
marks (exact, not sampled), what the stack logged for the request (the wrapper's line saying how
Django handed the body over, Django's iterator warnings, tracebacks), then a second request that
hangs up once the headers are in, and whether the stack's CPU falls idle soon after.
"""

from __future__ import annotations

import dataclasses
import hashlib
import http.client
import time
import urllib.parse

import psutil

from compare.report.streaming import Evidence
from compare.servers.appwrap import LOG_MARK
from compare.servers.server import PROBE_HOST_HEADER, ServerProcess
from compare.system.download import download
from compare.system.proctree import POLL_INTERVAL
from compare.system.sampler import peak_rss, reset_peak_rss

REQUEST_TIMEOUT_S = 120.0
LOG_WAIT_S = 5.0  # the wrapper logs a response as it closes, just after the last byte left
# Idle: the stack's processes used under a fifth of one core over the last IDLE_WINDOW_S.
IDLE_CPU_SHARE = 0.2
IDLE_WINDOW_S = 0.1
# A response shorter than this ends before a hang-up can tell stopped work from finished work.
HANGUP_MIN_S = 0.3
# The stack gets at least this long to fall idle, whatever half the response's time is: a few
# of idleness's windows, so a short response is not called busy for want of a window.
HANGUP_MIN_BOUND_S = 2 * IDLE_WINDOW_S
TIMELINE_POINTS = 10
# Lines of the server's log that belong in a check's warnings (the wrapper's own response line
# is evidence, not a warning).
_WARNING_WORDS = ("Warning", "Traceback", "Error", "exception in", "CRITICAL")


def _tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def _reset_marks(pid: int) -> dict[int, int]:
    """Reset every process's high-water mark; return each one's RSS at that moment."""
    start: dict[int, int] = {}
    for proc in _tree(pid):
        rss = reset_peak_rss(proc.pid)
        if rss is not None:
            start[proc.pid] = rss
    return start


def _increase(start: dict[int, int]) -> int | None:
    """The sum over processes of the peak RSS since the reset above the RSS at it."""
    if not start:
        return None
    peaks = {pid: peak_rss(pid) for pid in start}
    return sum(max(0, peak - start[pid]) for pid, peak in peaks.items() if peak is not None)


def _log_size(server: ServerProcess) -> int:
    try:
        return server.log_path.stat().st_size
    except OSError:
        return 0


def _log_since(server: ServerProcess, offset: int, path: str) -> list[str]:
    """The log's lines from ``offset`` on, once the wrapper's line for ``path`` is among them."""
    deadline = time.monotonic() + LOG_WAIT_S
    marker = f" {path} body="
    while True:
        with server.log_path.open("rb") as handle:
            handle.seek(offset)
            lines = handle.read().decode(errors="replace").splitlines()
        if any(line.startswith(LOG_MARK) and marker in line for line in lines):
            return lines
        if time.monotonic() > deadline:
            return lines
        time.sleep(POLL_INTERVAL)


def _body_kind(lines: list[str], path: str) -> str | None:
    marker = f" {path} body="
    for line in lines:
        if line.startswith(LOG_MARK) and marker in line:
            return line.split(marker, 1)[1].split()[0]
    return None


def _warnings(lines: list[str]) -> tuple[str, ...]:
    """The log's warning and error lines (a traceback as its last line, where it ended)."""
    found: list[str] = []
    for line in lines:
        text = line.strip()
        if text.startswith(LOG_MARK) and " body=" in text:
            continue
        if text.startswith("Traceback"):
            continue  # its last line says what was raised
        if any(word in text for word in _WARNING_WORDS) and text not in found:
            found.append(text)
    return tuple(found)


def _timeline(arrivals: list[tuple[float, int]]) -> tuple[tuple[float, int], ...]:
    """At most TIMELINE_POINTS of the arrivals, evenly by read, the first and last included."""
    if len(arrivals) <= TIMELINE_POINTS:
        return tuple(arrivals)
    step = (len(arrivals) - 1) / (TIMELINE_POINTS - 1)
    return tuple(arrivals[round(i * step)] for i in range(TIMELINE_POINTS))


def measure(server: ServerProcess, url_path: str) -> Evidence:
    """Download ``url_path`` from ``server`` once, then hang up on it once: the evidence."""
    spec = server.spec
    base = Evidence(url_path, spec.name, spec.interface, spec.front, status=None, error=None)
    path = urllib.parse.urlsplit(url_path).path
    offset = _log_size(server)
    arrivals: list[tuple[float, int]] = []
    digest = hashlib.sha256()
    total = 0

    def piece(seconds: float, chunk: bytes) -> None:
        nonlocal total
        total += len(chunk)
        digest.update(chunk)
        arrivals.append((seconds, total))

    marks = _reset_marks(server.pid)
    try:
        got = download(server.base_url + url_path, timeout=REQUEST_TIMEOUT_S, on_piece=piece)
    except (OSError, http.client.HTTPException) as exc:
        lines = _log_since(server, offset, path)
        error = f"{exc.__class__.__name__}: {exc}"
        return dataclasses.replace(base, error=error, warnings=_warnings(lines))
    increase = _increase(marks)
    lines = _log_since(server, offset, path)
    stops, note = _hang_up(server, url_path, got.total)
    return dataclasses.replace(
        base,
        status=got.status,
        headers=got.headers,
        ttfb_s=got.ttfb if got.body_bytes else None,
        ttlb_s=got.total,
        body_bytes=got.body_bytes,
        body_sha256=digest.hexdigest(),
        reads=len(arrivals),
        timeline=_timeline(arrivals),
        peak_increase_bytes=increase,
        body_kind=_body_kind(lines, path),
        warnings=_warnings(lines),
        hangup_stops_work=stops,
        hangup_note=note,
    )


def _hang_up(server: ServerProcess, url_path: str, full_s: float) -> tuple[bool | None, str]:
    """Ask again, close once the headers are in; is the stack idle within half the full time?"""
    if full_s < HANGUP_MIN_S:
        return None, f"the whole response took {full_s * 1000:.0f} ms: too short to tell"
    bound = max(full_s / 2, HANGUP_MIN_BOUND_S)
    parts = urllib.parse.urlsplit(server.base_url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=REQUEST_TIMEOUT_S)
    try:
        conn.request("GET", url_path, headers={"Host": f"{PROBE_HOST_HEADER}:{parts.port}"})
        conn.getresponse()  # the status line and headers, no body
    except (OSError, http.client.HTTPException) as exc:
        return None, f"the second request failed: {exc.__class__.__name__}"
    finally:
        conn.close()  # unread body bytes: the kernel answers the server with a reset
    left = time.monotonic()
    idle_after = _idle_within(server.pid, left + bound)
    if idle_after is None:
        return False, f"still busy {bound * 1000:.0f} ms after the hang-up (full response: "
        f"{full_s * 1000:.0f} ms)"
    return True, f"idle {idle_after * 1000:.0f} ms after the hang-up"


def _idle_within(pid: int, deadline: float) -> float | None:
    """Seconds until the tree's CPU share falls under IDLE_CPU_SHARE; None if not by deadline."""
    start = time.monotonic()
    history: list[tuple[float, float]] = []
    while True:
        now = time.monotonic()
        try:
            cpu = sum(sum(p.cpu_times()[:2]) for p in _tree(pid))
        except psutil.Error:
            cpu = history[-1][1] if history else 0.0
        history.append((now, cpu))
        old = [h for h in history if now - h[0] >= IDLE_WINDOW_S]
        if old:
            t0, cpu0 = old[-1]
            if (cpu - cpu0) / (now - t0) < IDLE_CPU_SHARE:
                return now - start
        if now > deadline:
            return None
        time.sleep(POLL_INTERVAL)
