"""One URL on one started stack, measured for ``compare check``: the evidence, not the verdict.

A full download timed piece by piece, the stack's memory over it from the kernel's high-water
marks (exact, not sampled), what the stack logged for the request (the wrapper's line saying how
Django handed the body over, Django's iterator warnings, tracebacks), then a second request that
gives up early, and how much of the first one's CPU the stack spends after it anyway.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import http.client
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from compare.report.streaming import Evidence
from compare.servers.appwrap import LOG_MARK
from compare.servers.server import PROBE_HOST_HEADER, ServerProcess
from compare.system.download import download
from compare.system.proctree import POLL_INTERVAL
from compare.system.sampler import peak_rss, reset_peak_rss

REQUEST_TIMEOUT_S = 120.0
LOG_WAIT_S = 5.0  # the wrapper logs a response as it closes, just after the last byte left
# The hang-up is judged by CPU seconds, not by how soon the stack looks idle: contention slows
# a thread that runs on (and a starved thread looks idle for a moment), but the CPU it spends
# after the hang-up stays a share of what the whole response cost in the same check.
# Work that runs on spends most of what the response cost; work that stops, what the socket
# buffers held (a few MB of a body the check needs to be tens of MB to judge).
RUNS_ON_SHARE = 0.25
# Under this much of the server's CPU for the whole response, the hang-up's share is noise.
HANGUP_MIN_CPU_S = 0.1
# A response shorter than this ends before a hang-up can tell stopped work from finished work.
HANGUP_MIN_S = 0.3
# The client of a streamed response hangs up once the headers are in when they came well before
# the body (at most this share of the wait for its first byte). A buffered response's client
# gives up after this share of that wait, as a person would, whenever its headers came: under
# ASGI Django sends them before it lists a sync generator, and a client gone at once races the
# listing's start (measured: with one core busy, 12 tries in 30 found the work never begun).
GIVE_UP_SHARE = 0.25
# Quiet: what the stack's threads wanted of the CPUs (ran, or waited in a run queue: the
# kernel's schedstat, so a thread starved by other work is not taken for an idle one) under a
# tenth of its CPU rate during the response, over a quarter of the response's time (at least
# QUIET_MIN_S).
QUIET_SHARE = 0.1
QUIET_MIN_S = 0.3
# How long work that runs on may take: the whole response's time again, 3x slower.
SETTLE_FACTOR = 3.0
# A hang-up after the stack did this share of the response's work cannot tell (the client was
# slowed, by a busy machine, until the work was done): asked again, at most HANGUP_TRIES times.
LATE_SHARE = 1 - RUNS_ON_SHARE
# A client that gave up after GIVE_UP_SHARE of the wait for a buffered response (its work all
# before its first byte) finds a stack that worked all along with about that share of the work
# done; under half of it, the work had not begun (a worker a busy machine kept waiting), and
# Django under ASGI never starts the work for a client already gone: asked again, as a late one.
# A streamed response's work waits on its client (backpressure): a small share done says nothing.
EARLY_SHARE = GIVE_UP_SHARE / 2
HANGUP_TRIES = 3
TIMELINE_POINTS = 10
# No URL of theirs: Django resolves it (importing their URLconf and the views it names) and
# answers 404, so that no measured request pays a worker's first-request imports.
WAKE_PATH = "/__dsc__/wake"
WAKE_WITHIN_S = 10.0  # then the check goes on: a worker the kernel never handed a connection
# Lines of the server's log that belong in a check's warnings (the wrapper's own response line
# is evidence, not a warning).
_WARNING_WORDS = ("Warning", "Traceback", "Error", "exception in", "CRITICAL")


def _reset_marks(server: ServerProcess) -> dict[int, int]:
    """Reset every process's high-water mark; return each one's RSS at that moment."""
    start: dict[int, int] = {}
    for proc in server.processes():
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


def _wanted(server: ServerProcess) -> dict[int, int]:
    """Each thread's nanoseconds on a CPU plus waiting for one (/proc/PID/task/TID/schedstat)."""
    found: dict[int, int] = {}
    for proc in server.processes():
        for task in Path(f"/proc/{proc.pid}/task").glob("*"):
            try:
                ran, waited = task.joinpath("schedstat").read_text().split()[:2]
            except (OSError, ValueError):
                continue  # a thread that just ended, or a kernel without schedstat
            found[int(task.name)] = int(ran) + int(waited)
    return found


def _wanted_since(old: dict[int, int], new: dict[int, int]) -> float:
    """Seconds wanted between two readings (threads born since count whole, ended ones not)."""
    return sum(ns - old.get(tid, 0) for tid, ns in new.items()) / 1e9


def wake_workers(server: ServerProcess) -> tuple[int, ...]:
    """Ask WAKE_PATH, workers + 1 at a time, until every worker answered or WAKE_WITHIN_S passed;
    the workers that answered."""
    workers = max(1, server.spec.child_processes())
    url = server.base_url + WAKE_PATH
    seen: set[int] = set()

    def ask(_: int) -> int | None:
        try:
            return download(url, timeout=WAKE_WITHIN_S).worker
        except (OSError, http.client.HTTPException):
            return None

    deadline = time.monotonic() + WAKE_WITHIN_S
    with ThreadPoolExecutor(max_workers=workers + 1) as pool:
        while len(seen) < workers and time.monotonic() < deadline:
            seen.update(pid for pid in pool.map(ask, range(workers + 1)) if pid is not None)
    return tuple(sorted(seen))


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

    marks = _reset_marks(server)
    cpu_before = server.cpu_seconds()
    try:
        got = download(server.base_url + url_path, timeout=REQUEST_TIMEOUT_S, on_piece=piece)
    except (OSError, http.client.HTTPException) as exc:
        lines = _log_since(server, offset, path)
        error = f"{exc.__class__.__name__}: {exc}"
        return dataclasses.replace(base, error=error, warnings=_warnings(lines))
    first = got.ttfb if got.body_bytes else got.total
    cost = Cost(got.total, first, got.headers_s, server.cpu_seconds() - cpu_before)
    increase = _increase(marks)
    lines = _log_since(server, offset, path)
    stops, note = _hang_up(server, url_path, cost)
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


@dataclasses.dataclass(frozen=True)
class Cost:
    """What the full response took: its time, its waits for the first body byte and for the
    headers, the server's CPU."""

    wall_s: float
    first_byte_s: float
    headers_s: float
    cpu_s: float

    @property
    def give_up_s(self) -> float | None:
        """When the client leaves after asking (None: once the headers are in, they come early)."""
        if not self.buffered and self.headers_s <= GIVE_UP_SHARE * self.first_byte_s:
            return None
        return max(GIVE_UP_SHARE * self.first_byte_s, POLL_INTERVAL)

    @property
    def buffered(self) -> bool:
        """Whether its work came before its first body byte (most of the response's time did)."""
        return self.first_byte_s >= LATE_SHARE * self.wall_s

    @property
    def rate(self) -> float:
        """The server's CPU seconds per second over the response."""
        return self.cpu_s / self.wall_s


def _hang_up(server: ServerProcess, url_path: str, full: Cost) -> tuple[bool | None, str]:
    """Ask again and give up early; does the stack spend what the whole response cost anyway?"""
    if full.wall_s < HANGUP_MIN_S:
        return None, f"the whole response took {full.wall_s * 1000:.0f} ms: too short to tell"
    if full.cpu_s < HANGUP_MIN_CPU_S:
        return None, (
            f"the whole response cost the server {full.cpu_s * 1000:.0f} ms of CPU: too little "
            "to tell"
        )
    done, early = 0.0, False
    for _ in range(HANGUP_TRIES):
        before = _ask_and_leave(server, url_path, full)
        if isinstance(before, str):
            return None, before
        done = before / full.cpu_s
        early = full.buffered and done < EARLY_SHARE
        if not early and done < LATE_SHARE:
            break
        _spent_after(server, full, runs_on=None)  # the next try starts on a quiet stack
    else:
        if early:
            return None, (
                f"the client gave up before the stack had begun the work ({done:.0%} of it done), "
                f"{HANGUP_TRIES} times (a busy machine slowed it): too early to tell"
            )
        return None, (
            f"the client could hang up only after the stack had done {done:.0%} "
            f"of the response's work, {HANGUP_TRIES} times (a busy machine slowed it): too late "
            "to tell"
        )
    after = _spent_after(server, full)
    share = f"{after.cpu_s * 1000:.0f} ms of CPU after the hang-up, {after.cpu_s / full.cpu_s:.0%} "
    share += f"of the whole response's {full.cpu_s * 1000:.0f} ms ({done:.0%} before it)"
    if after.cpu_s >= RUNS_ON_SHARE * full.cpu_s:
        _spent_after(server, full, runs_on=None)  # the next check starts on a quiet stack
        return False, f"runs on: {share}, within {after.waited_s * 1000:.0f} ms and still going"
    if after.wall_s is None:
        return False, f"still busy {after.waited_s * 1000:.0f} ms after the hang-up: {share}"
    return True, f"quiet {after.wall_s * 1000:.0f} ms after the hang-up: {share}"


def _ask_and_leave(server: ServerProcess, url_path: str, full: Cost) -> float | str:
    """Ask again and hang up early: the CPU seconds the stack spent before the hang-up, or why
    the request failed."""
    parts = urllib.parse.urlsplit(server.base_url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=REQUEST_TIMEOUT_S)
    cpu_asked = server.cpu_seconds()
    leave = None if full.give_up_s is None else time.monotonic() + full.give_up_s
    try:
        conn.request("GET", url_path, headers={"Host": f"{PROBE_HOST_HEADER}:{parts.port}"})
        # A streamed response's client waits for its early headers rather than a timer: its
        # work waits on the client, and a client gone before the response starts is one Django
        # under ASGI never starts the work for.
        if conn.sock is not None and leave is not None:
            conn.sock.settimeout(max(0.0, leave - time.monotonic()))
        conn.getresponse()  # the status line and headers, no body
        if leave is not None:
            # Headers before a buffered body: the work comes after them, so the client waits
            # (reading nothing) until it gives up, and leaves a response whose work has begun.
            time.sleep(max(0.0, leave - time.monotonic()))
    except TimeoutError:
        pass  # gave up waiting, as a person at a browser does
    except (OSError, http.client.HTTPException) as exc:
        return f"the second request failed: {exc.__class__.__name__}"
    finally:
        conn.close()  # unread body bytes: the kernel answers the server with a reset
    return server.cpu_seconds() - cpu_asked


@dataclasses.dataclass(frozen=True)
class After:
    """The CPU a stack spent after a hang-up, and when it was quiet (None: not by the end)."""

    cpu_s: float
    wall_s: float | None
    waited_s: float


def _spent_after(server: ServerProcess, full: Cost, runs_on: float | None = RUNS_ON_SHARE) -> After:
    """Watch the tree until it is quiet, it has spent ``runs_on`` of ``full``, or time is up."""
    window = max(QUIET_MIN_S, full.wall_s / 4)
    quiet_rate = QUIET_SHARE * full.rate
    start = time.monotonic()
    deadline = start + SETTLE_FACTOR * full.wall_s + window
    cpu0 = server.cpu_seconds()
    # Readings back to the newest one at least a window old: the first is the one compared.
    history = collections.deque([(start, _wanted(server), cpu0)])
    while True:
        time.sleep(POLL_INTERVAL)
        now, wanted, cpu = time.monotonic(), _wanted(server), server.cpu_seconds()
        history.append((now, wanted, cpu))
        spent = cpu - cpu0
        if runs_on is not None and spent >= runs_on * full.cpu_s:
            return After(spent, None, now - start)
        while len(history) > 1 and now - history[1][0] >= window:
            history.popleft()
        then, wanted_then, cpu_then = history[0]
        if now - then >= window:
            # Without schedstat (an empty reading) CPU seconds stand in for what was wanted.
            asked = _wanted_since(wanted_then, wanted) if wanted else cpu - cpu_then
            if asked / (now - then) < quiet_rate:
                return After(spent, then - start, now - start)
        if now > deadline:
            return After(spent, None, now - start)
