"""A child process in a process group of its own and every process under it, stopped leaving none.

The one way the harness stops what it started: the server stacks (compare.servers.server), its
PostgreSQL (compare.servers.postgres) and locust (compare.run.locust), the first and the last
started by ``spawn``. Every descendant seen is remembered, so that even one orphaned by a dying
parent, or one that left the process group, is found and killed. Owners spawn with the stop
signals held (compare.system.interrupts.held_stop_signals): a Ctrl-C between the fork and the
owner's record of the tree would leave it running with nobody to stop it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

import psutil

from compare.system import leftovers
from compare.system.placement import started_on

logger = logging.getLogger(__name__)

POLL_INTERVAL = 0.05
REAP_TIMEOUT = 5.0


class ProcessTree:
    """The tree under one Popen started in a process group of its own (``spawn``)."""

    def __init__(self, proc: subprocess.Popen[bytes], name: str) -> None:
        self.proc = proc
        self.name = name
        self._seen: dict[int, psutil.Process] = {}
        self._zombie_since: dict[int, float] = {}
        self._root: psutil.Process | None = None
        with contextlib.suppress(psutil.Error):
            self._root = psutil.Process(proc.pid)
        # Written down until kill(): a harness killed with SIGKILL runs no clean-up, the next
        # one stops this group (compare.system.leftovers).
        leftovers.registry().add_group(proc.pid, name)

    def descendants(self) -> list[psutil.Process]:
        """Every live process under the root; remembered so that kill() finds orphans too."""
        children: list[psutil.Process] = []
        if self._root is not None:
            with contextlib.suppress(psutil.Error):
                children = self._root.children(recursive=True)
        for child in children:
            self._seen.setdefault(child.pid, child)
        return children

    def exited(self) -> int:
        """How many processes seen under the root have exited since it started."""
        return sum(1 for proc in self._seen.values() if not _running(proc))

    def unnoticed_failures(self, grace: float) -> list[tuple[int, int]]:
        """(pid, exit code) of each process seen that exited with a non-zero code and that its
        parent has not reaped for ``grace`` seconds: a supervisor stuck, not one restarting it."""
        now, found = time.monotonic(), []
        for pid in self._seen:
            status = _zombie_status(pid)
            if status is None:
                self._zombie_since.pop(pid, None)
                continue
            since = self._zombie_since.setdefault(pid, now)
            code, killed_by = status >> 8, status & 0x7F
            if killed_by == 0 and code != 0 and now - since >= grace:
                found.append((pid, code))
        return found

    def everyone(self) -> list[psutil.Process]:
        """The root and its live descendants."""
        return [*([] if self._root is None else [self._root]), *self.descendants()]

    def cpu_seconds(self) -> float:
        """User plus system CPU seconds of the live tree."""
        total = 0.0
        for proc in self.everyone():
            with contextlib.suppress(psutil.Error):
                times = proc.cpu_times()
                total += times.user + times.system
        return total

    def alive(self) -> list[psutil.Process]:
        """Every remembered process that still runs (zombies hold nothing and do not count)."""
        everyone = [*self._seen.values(), *([] if self._root is None else [self._root])]
        return [proc for proc in everyone if _running(proc)]

    def signal_root(self, sig: signal.Signals) -> None:
        """Signal the root alone (while it is not reaped its pid cannot name anyone else)."""
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self.proc.pid, sig)

    def signal_group(self, sig: signal.Signals) -> None:
        """Signal the whole process group, then every remembered process outside it."""
        if self.proc.returncode is None:
            # Not reaped yet, so its pid still names our group and nobody else's.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, sig)
        # Each Process checks its pid was not reused before signalling.
        for proc in self.alive():
            with contextlib.suppress(psutil.Error):
                proc.send_signal(sig)

    def wait_gone(self, deadline: float) -> bool:
        """Poll until nothing remembered runs or the deadline passes; tell whether all are gone."""
        while self.alive() and time.monotonic() < deadline:
            self.descendants()
            time.sleep(POLL_INTERVAL)
        return not self.alive()

    def stop(
        self, steps: Sequence[tuple[signal.Signals, float]] = (), *, group: bool = True
    ) -> None:
        """Send each (signal, grace) in turn until the tree is gone, then SIGKILL what is left.

        ``group``: each signal goes to the whole group (every worker stops by itself); else to
        the root alone (a parent that stops its own children, as PostgreSQL's postmaster).
        """
        try:
            self.descendants()
            for sig, grace in steps:
                if self.proc.poll() is not None:
                    break
                if group:
                    self.signal_group(sig)
                else:
                    self.signal_root(sig)
                if self.wait_gone(time.monotonic() + grace):
                    break
        finally:
            # Runs even when Ctrl-C lands mid-stop: whatever is left dies now.
            self.kill()

    def kill(self) -> None:
        """SIGKILL to the group and every remembered process, then reap the root."""
        # Also reaches a process that left our group (setsid): psutil still knows its pid.
        self.signal_group(signal.SIGKILL)
        # Orphans are reaped by init (or stay zombies, which hold nothing): wait for "not running".
        self.wait_gone(time.monotonic() + REAP_TIMEOUT)
        try:
            self.proc.wait(timeout=REAP_TIMEOUT)
        except subprocess.TimeoutExpired:
            logger.warning("%s: root pid %d did not exit after SIGKILL", self.name, self.proc.pid)
        self._seen.clear()
        leftovers.registry().forget_group(self.proc.pid)


def spawn(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    log: IO[bytes] | None,
    name: str,
    cpus: tuple[int, ...] | None = None,
) -> ProcessTree:
    """Start ``argv`` in a process group of its own, its output to ``log`` (None: ours), no
    stdin, on ``cpus`` from before exec (None: ours).

    Its own group: one signal reaches everything it forks, and Ctrl-C in our terminal (sent to
    the foreground group, ours) does not hit it behind our back. Not a session of its own: with
    the kernel's autogroup scheduling each new session is a group of its own, and a new one
    pinned to a busy CPU was seen starved for over a minute (a locust that never ran).
    """
    output = subprocess.STDOUT if log is not None else None
    with started_on(cpus):
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=output,
            process_group=0,
        )
    return ProcessTree(proc, name)


def _zombie_status(pid: int) -> int | None:
    """A zombie's exit status as waitpid(2) gives it (/proc/PID/stat field 52); None if not one."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] != "Z" or len(fields) < 50:
        return None
    return int(fields[49])


def _running(proc: psutil.Process) -> bool:
    """Whether a process still runs (a zombie has exited)."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
