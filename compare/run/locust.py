"""The one locust launcher: its command lines (headless, the web UI, a worker) and its process.

Every locust the harness starts is a LocustProcess that the run (compare.run.run) made: in a
process group of its own (one signal reaches any workers it forked), with the run's environment
given as a value, on the load generator's CPUs, and stopped leaving nothing behind.
"""

from __future__ import annotations

import contextlib
import logging
import math
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Self

import psutil

from compare import REPO_ROOT
from compare.errors import CompareError
from compare.system.interrupts import held_stop_signals
from compare.system.ports import LOOPBACK
from compare.system.proctree import ProcessTree, spawn
from compare.system.startstop import StartStop
from loadtests.catalog import LOCUSTFILE, SCENARIOS, SHAPES_FILE, LoadKind, user_classes
from loadtests.options import OPTIONS

logger = logging.getLogger(__name__)

STOP_GRACE_S = 10.0  # SIGTERM is locust's clean shutdown: its last stats, then exit
Options = Mapping[str, int | float | str]


def option_args(params: Options) -> list[str]:
    """Turn custom option values (by dest name, e.g. ``read_kbps``) into command-line arguments."""
    args: list[str] = []
    for dest, value in params.items():
        if dest not in OPTIONS:
            raise KeyError(f"unknown loadtest option {dest!r}; known: {', '.join(OPTIONS)}")
        args += [OPTIONS[dest].flag, str(value)]
    return args


def headless_argv(
    scenarios: Sequence[str],
    *,
    host: str,
    users: int,
    run_time_s: float,
    csv_prefix: str | Path | None = None,
    spawn_rate: float | None = None,
    stop_timeout_s: float = 0,
    params: Options | None = None,
    python: str = sys.executable,
    kind: LoadKind = "concurrency",
    processes: int = 0,
    master_port: int | None = None,
) -> list[str]:
    """The headless locust command line for ``scenarios`` (catalog params, then ours).

    ``processes``: locust's distributed mode on this machine, a master and that many forked
    workers talking on loopback ``master_port``. ``run_time_s`` is locust's --run-time; the
    harness passes a backstop there and stops the load itself (--stop-after-spawn), which
    also waits for a distributed run's workers to drain.
    """
    merged: dict[str, int | float | str] = {}
    for scenario in scenarios:
        merged.update(SCENARIOS[scenario].params)
    merged.update(params or {})
    argv = [python, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", host]
    argv += ["--users", str(users), "--spawn-rate", f"{spawn_rate or users:g}"]
    if processes:
        if master_port is None:
            raise ValueError("a distributed run needs a master port")
        argv += ["--processes", str(processes), "--expect-workers-max-wait", "60"]
        argv += ["--master-bind-host", LOOPBACK, "--master-bind-port", str(master_port)]
        argv += ["--master-host", LOOPBACK, "--master-port", str(master_port)]
    argv += ["--run-time", f"{max(1, round(run_time_s))}s", "--only-summary"]
    # At the stop, each user finishes the request it is in (up to this long, whole seconds: locust
    # takes no fraction), then stops ...
    argv += ["--stop-timeout", str(math.ceil(stop_timeout_s))]
    # ... and a run with failures still exits 1 by default: the caller reads the records instead.
    argv += ["--exit-code-on-error", "0"]
    if csv_prefix is not None:
        argv += ["--csv", str(csv_prefix)]
    argv += option_args(merged)
    return [*argv, *user_classes(scenarios, kind)]


def web_ui_argv(
    *,
    host_url: str,
    web_host: str,
    web_port: int,
    users: int,
    master_port: int | None = None,
    params: Options | None = None,
    extra: Sequence[str] = (),
    python: str = sys.executable,
) -> list[str]:
    """The web UI's locust command line (the master's, when ``master_port`` is given).

    The shapes file comes with it: with ``--class-picker`` the start form offers its
    ConcurrencySteps shape, the bench's concurrency curve step by step (loadtests.shapes).
    """
    files = f"{LOCUSTFILE},{SHAPES_FILE}"
    argv = [python, "-m", "locust", "-f", files, "--class-picker", "--host", host_url]
    argv += ["--web-host", web_host, "--web-port", str(web_port)]
    argv += ["--users", str(users), "--spawn-rate", str(users)]
    # Stop kills users mid-download, as in the batch runner: no half-measured sample.
    argv += ["--stop-timeout", "0"]
    if master_port is not None:
        argv += ["--master", "--master-bind-host", LOOPBACK, "--master-bind-port", str(master_port)]
    argv += option_args(params or {})
    return [*argv, *extra]  # last: the person's own arguments win


def worker_argv(master_port: int, python: str = sys.executable) -> list[str]:
    """A locust worker's command line; the master sends it the options of each test."""
    return [
        *(python, "-m", "locust", "-f", str(LOCUSTFILE), "--worker"),
        *("--master-host", LOOPBACK, "--master-port", str(master_port)),
    ]


class LocustProcess(StartStop):
    """One locust process in a process group of its own, pinned to ``cpus``; a context manager."""

    def __init__(
        self,
        argv: list[str],
        env: Mapping[str, str],
        *,
        log: Path | None = None,
        cpus: tuple[int, ...] | None = None,
    ) -> None:
        self.argv = argv
        self.env = dict(env)
        self.log_path = log  # None: its output goes to ours (the web UI's)
        self.cpus = cpus
        self._proc: subprocess.Popen[bytes] | None = None
        self._tree: ProcessTree | None = None
        self._log: IO[bytes] | None = None
        self._pinned: set[int] = set()

    @property
    def pid(self) -> int:
        """The root process's pid (locust's master, when distributed)."""
        if self._proc is None:
            raise RuntimeError("locust is not started")
        return self._proc.pid

    def start(self) -> Self:
        """Launch it and pin it; return at once (it runs on its own)."""
        if self._proc is not None:
            raise RuntimeError("locust is already started")
        logger.info("starting %s", " ".join(self.argv))
        if self.log_path is not None:
            self._log = self.log_path.open("wb")
        try:
            # Started and owned as one step: a stop signal in between would orphan locust.
            with held_stop_signals():
                # Its group outlives it when locust forked (--processes N): the tree stops
                # those too. On its CPUs from before exec: its threads and workers inherit them.
                self._tree = spawn(
                    self.argv,
                    env=self.env,
                    cwd=REPO_ROOT,
                    log=self._log,
                    name="locust",
                    cpus=self.cpus,
                )
                self._proc = self._tree.proc
        except OSError:
            self._close_log()
            raise
        except BaseException:
            self.stop()
            raise
        self.poll()
        return self

    def poll(self) -> int | None:
        """The exit code, or None while it runs; workers it forked are found and pinned."""
        if self._proc is None or self._tree is None:
            raise RuntimeError("locust is not started")
        found = self._tree.everyone()  # remembered: stop() finds forked ones even once it exited
        if self.cpus:
            # A process that widened its own CPUs would run anywhere: pin each once more.
            for proc in found:
                if proc.pid not in self._pinned:
                    with contextlib.suppress(psutil.Error):
                        proc.cpu_affinity(list(self.cpus))
                        self._pinned.add(proc.pid)
        return self._proc.poll()

    def wait(self, timeout_s: float, interval_s: float) -> int:
        """Its exit code, looking every ``interval_s``; CompareError past ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while (code := self.poll()) is None:
            if time.monotonic() > deadline:
                raise CompareError(f"locust did not finish within {timeout_s:.0f} s")
            assert self._proc is not None
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=interval_s)
        return code

    def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """SIGTERM to its group, SIGKILL to what is left after ``grace_s``; idempotent."""
        try:
            if self._tree is not None:
                self._tree.stop(((signal.SIGTERM, grace_s),))
        finally:
            self._tree = None
            self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
