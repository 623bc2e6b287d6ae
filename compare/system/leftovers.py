"""What a harness process started, written down, so that the next one stops it after a kill -9.

Clean-up lives in ``finally`` blocks and ``atexit``, which a SIGKILL runs none of: the stacks,
nginx, locust and PostgreSQL run in groups of their own and would outlive the harness, holding
their ports, temporary directories and shared memory. So each harness process keeps a registry
file in the runtime directory (DSC_RUNTIME_DIR): its own pid and start time, and every process
group it started (the root's pid and start time), directory and SysV segment, each taken out
again once stopped. The next bench, serve or ui sweeps the files of harnesses that are gone.

It can stop nothing that is not the harness's: a process is signalled only when its pid still
has the recorded start time (a reused pid is someone else's, left alone); a group whose leader
has exited is signalled by its id, which the kernel does not give to a new process while any
member lives; a segment is removed only while its id, key and creator still match.

Two benches at once would share the CPUs they pin and corrupt each other's figures: the bench
takes ``bench_lock()``, an flock that the kernel releases when its holder dies.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import logging
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from compare.errors import CompareError
from compare.settings import DSC_RUNTIME_DIR
from compare.system import sysvshm

logger = logging.getLogger(__name__)

PREFIX = "run-"
LOCK_FILE = "bench.lock"
GONE_TIMEOUT_S = 5.0


def runtime_dir() -> Path:
    """The directory of the registry files and the bench lock (made, 0700, on first use)."""
    path = Path(DSC_RUNTIME_DIR.value())
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def start_time(pid: int) -> float | None:
    """A process's start time (what tells it from a later one with its pid), None if gone."""
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


@dataclass
class Entries:
    """What one harness process started and has not stopped yet."""

    pid: int
    started: float
    groups: dict[int, tuple[float, str]] = field(default_factory=dict)  # pid: (start, name)
    dirs: list[str] = field(default_factory=list)
    segments: list[dict[str, int]] = field(default_factory=list)

    def as_json(self) -> str:
        """The registry file's content."""
        data = dataclasses.asdict(self)
        data["groups"] = {str(pid): list(entry) for pid, entry in self.groups.items()}
        return json.dumps(data)

    @classmethod
    def read(cls, text: str) -> Entries:
        """Parse a registry file (ValueError, KeyError or TypeError when it is not one)."""
        data: dict[str, Any] = json.loads(text)
        groups = {int(pid): (float(s), str(n)) for pid, (s, n) in data["groups"].items()}
        return cls(
            int(data["pid"]),
            float(data["started"]),
            groups,
            [str(d) for d in data["dirs"]],
            [{k: int(v) for k, v in s.items()} for s in data["segments"]],
        )


class Registry:
    """This harness process's registry file, rewritten (atomically) at every change."""

    def __init__(self) -> None:
        pid = os.getpid()
        self.entries = Entries(pid, start_time(pid) or 0.0)
        self._lock = threading.Lock()
        self._path: Path | None = None

    def add_group(self, pid: int, name: str) -> None:
        """A process group started (its leader's pid), until forget_group."""
        started = start_time(pid)
        if started is not None:
            with self._lock:
                self.entries.groups[pid] = (started, name)
                self._save()

    def forget_group(self, pid: int) -> None:
        """The group is stopped."""
        with self._lock:
            if self.entries.groups.pop(pid, None) is not None:
                self._save()

    def add_dir(self, path: Path) -> None:
        """A temporary directory made, until forget_dir."""
        with self._lock:
            self.entries.dirs.append(str(path))
            self._save()

    def forget_dir(self, path: Path) -> None:
        """The directory is removed (or kept on purpose)."""
        with self._lock:
            if str(path) in self.entries.dirs:
                self.entries.dirs.remove(str(path))
                self._save()

    def add_segments(self, segments: tuple[sysvshm.Segment, ...]) -> None:
        """Shared memory segments a child created, until forget_segments."""
        with self._lock:
            for segment in segments:
                as_dict = dataclasses.asdict(segment)
                if as_dict not in self.entries.segments:
                    self.entries.segments.append(as_dict)
            self._save()

    def forget_segments(self, segments: tuple[sysvshm.Segment, ...]) -> None:
        """These segments are removed."""
        with self._lock:
            gone = [dataclasses.asdict(segment) for segment in segments]
            self.entries.segments = [s for s in self.entries.segments if s not in gone]
            self._save()

    def _save(self) -> None:
        empty = not (self.entries.groups or self.entries.dirs or self.entries.segments)
        try:
            if empty:
                if self._path is not None:
                    self._path.unlink(missing_ok=True)
                return
            directory = runtime_dir()
            self._path = directory / f"{PREFIX}{self.entries.pid}.json"
            fd, tmp = tempfile.mkstemp(prefix=".run-", dir=directory)
            with os.fdopen(fd, "w") as handle:
                handle.write(self.entries.as_json())
            os.replace(tmp, self._path)
        except OSError as error:
            # A registry that cannot be written must not stop a run: only the sweep loses it.
            logger.warning("cannot write the leftovers registry: %s", error)


_REGISTRY: list[Registry] = []
_REGISTRY_LOCK = threading.Lock()


def registry() -> Registry:
    """This process's registry (a forked child, e.g. a test's, gets a registry of its own)."""
    with _REGISTRY_LOCK:
        if not _REGISTRY or _REGISTRY[0].entries.pid != os.getpid():
            _REGISTRY[:] = [Registry()]
        return _REGISTRY[0]


def sweep() -> list[str]:
    """Stop what harnesses that are gone left behind; return one line per run swept."""
    try:
        files = sorted(Path(DSC_RUNTIME_DIR.value()).glob(f"{PREFIX}*.json"))
    except OSError:
        return []
    said = []
    for path in files:
        try:
            entries = Entries.read(path.read_text())
        except (OSError, ValueError, KeyError, TypeError):
            logger.warning("leftovers: %s is not a registry file; left alone", path)
            continue
        if entries.pid == os.getpid() or start_time(entries.pid) == entries.started:
            continue  # a harness that still runs (a serve beside a bench) owns its own
        parts = _clear(entries)
        path.unlink(missing_ok=True)
        if parts:
            said.append(f"leftovers of harness pid {entries.pid}: " + "; ".join(parts))
    return said


def _clear(entries: Entries) -> list[str]:
    """Stop the groups, remove the directories and segments of a gone harness; say which."""
    groups = entries.groups.items()
    stopped = [f"{name} (pid {pid})" for pid, (started, name) in groups if _stop(pid, started)]
    removed = [d for d in entries.dirs if _remove_dir(Path(d))]
    segments = [s for s in entries.segments if _remove_segment(s)]
    parts = []
    if stopped:
        parts.append("stopped " + ", ".join(stopped))
    if removed:
        parts.append("removed " + ", ".join(removed))
    if segments:
        parts.append(f"removed {len(segments)} shared memory segment(s)")
    return parts


def _stop(pid: int, started: float) -> bool:
    """SIGKILL a recorded group if it is still ours; tell whether anything was signalled."""
    now = start_time(pid)
    if now is not None and now != started:
        return False  # the pid names another process now: not ours
    members = _group(pid)
    if now is not None:
        with contextlib.suppress(psutil.Error):
            # Descendants that left the group (setsid) are still under the leader.
            members += psutil.Process(pid).children(recursive=True)
    if not members:
        return False
    # While any member lives the kernel gives its id to no new process: the group is ours.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    for member in members:
        with contextlib.suppress(psutil.Error):
            member.kill()
    psutil.wait_procs(members, timeout=GONE_TIMEOUT_S)
    return True


def _group(pgid: int) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error, OSError):
            if os.getpgid(proc.pid) == pgid:
                found.append(proc)
    return found


def _remove_dir(path: Path) -> bool:
    if path.is_symlink() or not path.is_dir():
        return False
    shutil.rmtree(path, ignore_errors=True)
    return True


def _remove_segment(fields: dict[str, int]) -> bool:
    try:
        segment = sysvshm.Segment(**fields)
    except TypeError:
        return False
    return sysvshm.remove_if_unchanged(segment)


@contextlib.contextmanager
def bench_lock() -> Iterator[None]:
    """Hold the machine's one bench (CompareError naming the holder's pid if another has it)."""
    try:
        path = runtime_dir() / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as error:
        where = DSC_RUNTIME_DIR.value()
        raise CompareError(f"cannot take the bench lock in {where}: {error.strerror}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise CompareError(
                f"another bench is running (pid {holder}): two at once pin the same CPUs and "
                "spoil both runs' figures; wait for it, or stop it"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock; the kernel does the same for a killed holder
