"""Helpers for tests that run real server stacks: parameters, process checks, downloads."""

from __future__ import annotations

import contextlib
import http.client
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psutil
import pytest

from compare.stacks import STACKS

MB = 1_000_000  # 10^6 bytes, as everywhere in the project


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


def assert_gone(pids: Iterable[int], timeout: float = 5.0) -> None:
    """Fail unless every pid is gone within ``timeout`` seconds."""
    pids = list(pids)
    deadline = time.monotonic() + timeout
    while (left := alive(pids)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"processes left behind: {left}"


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


def stop_run(proc: subprocess.Popen[str], seen: Iterable[int], timeout: float = 60.0) -> None:
    """After a failed test: let a harness run stop its own servers, then kill whatever is left.

    SIGKILL alone would orphan the servers, which run in sessions of their own.
    """
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
    for pid in alive(seen):
        with contextlib.suppress(psutil.Error):
            psutil.Process(pid).kill()
