"""Helpers shared by the tests (fixtures are in conftest.py): the command line, expected bodies,
stack parameters, process checks, downloads in the background.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest

from compare import REPO_ROOT
from compare.servers.stacks import STACKS
from project.export.csvchunks import CsvChunker
from project.export.rows import HEADER, synthetic_batches

MB = 1_000_000  # 10^6 bytes, as everywhere in the project
# A real quick run's results document, committed: the reports' and diff's fixed input.
REPORT_FIXTURE = Path(__file__).parent / "fixtures" / "report"
COMPARE = [sys.executable, "-m", "compare"]


def run_compare(
    *args: str, timeout: float = 60, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m compare ARGS`` from the repository to its end, output captured."""
    return subprocess.run(
        [*COMPARE, *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def start_compare(*args: str, merge_stderr: bool = False, **popen: Any) -> subprocess.Popen[str]:
    """Start ``python -m compare ARGS`` from the repository, its output piped as text."""
    return subprocess.Popen(
        [*COMPARE, *args],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
        text=True,
        **popen,
    )


def expected_body(rows: int, chunk_kb: int = 64) -> bytes:
    """The exact CSV the export sends for ``rows`` synthetic rows in pieces of ``chunk_kb``."""
    chunker = CsvChunker(chunk_kb * 1024)
    pieces = list(chunker.header(HEADER))
    for batch in synthetic_batches(rows):
        pieces.extend(chunker.feed(batch))
    pieces.extend(chunker.finish())
    return b"".join(pieces)


def stack_params(names: Iterable[str] | None = None) -> list[Any]:
    """One pytest param per stack; stacks whose server is not installed skip with the reason."""
    params = []
    for name in names or STACKS:
        spec = STACKS[name]
        missing = spec.missing()
        marks = [pytest.mark.skip(reason=missing)] if missing else []
        params.append(pytest.param(name, id=name, marks=marks))
    return params


def tree_pids(root_pid: int) -> set[int]:
    """The root pid and every descendant's pid."""
    root = psutil.Process(root_pid)
    return {root_pid, *(child.pid for child in root.children(recursive=True))}


def alive(pids: Iterable[int]) -> list[int]:
    """The pids that still name a running process (zombies hold nothing and do not count)."""
    running = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                running.append(pid)
        except psutil.NoSuchProcess:
            pass
    return running


def assert_gone(pids: Iterable[int], timeout: float = 5.0, context: str = "") -> None:
    """Fail unless every pid is gone within ``timeout`` seconds; ``context`` goes in the message."""
    pids = list(pids)
    deadline = time.monotonic() + timeout
    while (left := alive(pids)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"processes left behind: {[describe_process(pid) for pid in left]}\n{context}"


def describe_process(pid: int) -> str:
    """A pid with what it is: its status, parent and command line, for a failure message."""
    try:
        proc = psutil.Process(pid)
        with proc.oneshot():
            return f"{pid} ({proc.status()}, ppid {proc.ppid()}): {' '.join(proc.cmdline())}"
    except psutil.Error as exc:
        return f"{pid} ({exc.__class__.__name__})"


@contextmanager
def no_new_children() -> Iterator[None]:
    """Fail if the block leaves a live child process of this test process behind."""
    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}
    yield
    after = {p.pid for p in me.children(recursive=True)} - before
    assert_gone(after)


@dataclass
class BackgroundDownload:
    """A GET streamed on a thread, counting bytes, so a test can act mid-download."""

    host: str
    port: int
    path: str
    received: int = 0
    error: Exception | None = None
    finished: threading.Event = field(default_factory=threading.Event)

    def start(self) -> BackgroundDownload:
        """Start reading on a daemon thread."""
        threading.Thread(target=self._run, daemon=True).start()
        return self

    def _run(self) -> None:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.request("GET", self.path)
            resp = conn.getresponse()
            while chunk := resp.read1(256 * 1024):
                self.received += len(chunk)
        except Exception as exc:  # the server going away mid-body is the point
            self.error = exc
        finally:
            conn.close()
            self.finished.set()

    def wait_for_bytes(self, count: int, timeout: float) -> None:
        """Block until ``count`` bytes arrived; fail after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while self.received < count and not self.finished.is_set():
            assert time.monotonic() < deadline, f"only {self.received} bytes after {timeout} s"
            time.sleep(0.02)
        assert self.received >= count, f"download ended after {self.received} bytes: {self.error}"


def stop_run(proc: subprocess.Popen[str], seen: Iterable[int], timeout: float = 60.0) -> str:
    """After a failed test: let a harness run stop its own servers, then kill whatever is left;
    return what it wrote to stderr until then (empty when it had ended already).

    SIGKILL alone would orphan the servers, which run in process groups of their own.
    """
    said = ""
    if proc.poll() is None:
        proc.terminate()
        try:
            said = proc.communicate(timeout=timeout)[1] or ""
        except subprocess.TimeoutExpired:
            proc.kill()
            said = proc.communicate()[1] or ""
    for pid in alive(seen):
        with contextlib.suppress(psutil.Error):
            psutil.Process(pid).kill()
    return said
