"""One running server stack: start it, wait until it answers, stop it leaving nothing behind."""

from __future__ import annotations

import atexit
import contextlib
import http.client
import json
import logging
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Self

import psutil

from compare import REPO_ROOT
from compare.errors import CompareError
from compare.servers.stacks import PROJECT_APP, UPSTREAM_HOST, AppTarget, Interface, StackSpec
from compare.settings import (
    DJANGO_ALLOWED_HOSTS,
    DJANGO_APP_PROFILE,
    DJANGO_DEBUG,
    DJANGO_SECRET_KEY,
    DSC_ALLOWED_HOSTS,
)
from compare.system import leftovers
from compare.system.interrupts import held_stop_signals
from compare.system.ports import LOOPBACK, free_port, port_in_use
from compare.system.proctree import POLL_INTERVAL, ProcessTree, spawn
from compare.system.startstop import StartStop

logger = logging.getLogger(__name__)

# Python's "SomeError: message", then any line a server flags as an error.
_EXCEPTION_LINE = re.compile(r"^[\w.]*(Error|Exception|Exit)\b:")
_ERROR_WORD = re.compile(r"\b(ERROR|Error|CRITICAL|FATAL)\b")
TAIL_LINES = 200
# Ready means idle: the tree used under a quarter of a core over the last quarter second.
SETTLE_WINDOW = 0.25
SETTLE_CPU_SHARE = 0.25
# Workers that exited while the stack starts, per expected worker, before it is called a crash
# loop: one restart each is a supervisor's normal recovery, two is a worker that cannot boot.
CRASH_LOOP_FACTOR = 2
# A worker that exited with an error and that its supervisor has not reaped for this long: the
# supervisor is stuck (uvicorn's waits out its health-check timeout, 30 s here, on a ping sent
# to a worker that died before answering), not about to restart it (it checks every 0.5 s).
UNNOTICED_EXIT_S = 1.0

# The readiness probe's Host: always among ALLOWED_HOSTS, whatever address the stack is bound to.
PROBE_HOST_HEADER = "localhost"

# Servers still running at interpreter exit get stopped: the last line of defence for callers
# that forget (or never reach) their own stop.
_LIVE: set[ServerProcess] = set()


class ServerStartError(CompareError):
    """A stack did not come up; the message is one line with the log's last lines."""

    def __init__(self, stack: str, reason: str, log_tail: str = "", log_path: Path | None = None):
        self.stack = stack
        self.reason = reason
        self.log_tail = log_tail
        self.log_path = log_path
        message = f"{stack}: {reason}"
        if log_tail:
            message += f"; log tail: {_one_line(log_tail)}"
        if log_path is not None:
            message += f" (full log: {log_path})"
        super().__init__(message)


def _one_line(tail: str, keep: int = 3) -> str:
    """Squeeze a log tail into one line: the last error-looking line plus the last few lines."""
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    picked = lines[-keep:]
    exceptions = [line for line in lines if _EXCEPTION_LINE.match(line)]
    # The last exception is the one that ended things; without one, the first error is the cause.
    flagged = [line for line in lines if _ERROR_WORD.search(line)]
    cause = exceptions[-1] if exceptions else (flagged[0] if flagged else None)
    if cause is not None and cause not in picked:
        picked.insert(0, cause)
    return " | ".join(picked)


def allowed_hosts(environ: Mapping[str, str] | None = None) -> str:
    """Loopback names, plus any in $DSC_ALLOWED_HOSTS of ``environ`` (default: ours; docker: the
    service names)."""
    return ",".join([DJANGO_ALLOWED_HOSTS.default, *DSC_ALLOWED_HOSTS.value(environ)])


def probe_address(host: str) -> str:
    """Where this machine reaches a stack bound to ``host``: loopback for a wildcard address."""
    bare = host.strip("[]")
    if bare in ("", "0.0.0.0"):
        return LOOPBACK
    if bare == "::":
        return "::1"
    return bare


def stack_environment(
    base: Mapping[str, str], overrides: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The whole environment a stack runs with: ``base`` (the harness's own), the project's
    settings with a fresh secret key, then ``overrides`` (the run's target: its key, database,
    app profile).

    A target that names its own settings module (a user's project) keeps ``base``'s Django
    variables as they are: their settings read them, and their DEBUG and hosts stay theirs.
    """
    env = dict(base)
    own_settings = "DJANGO_SETTINGS_MODULE" in (overrides or {})
    pythonpath = [str(REPO_ROOT), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    if not own_settings:
        env.pop(DJANGO_DEBUG.name, None)
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "project.settings",
                DJANGO_SECRET_KEY.name: secrets.token_urlsafe(50),
                DJANGO_ALLOWED_HOSTS.name: allowed_hosts(base),
            }
        )
    # Without PYTHONUNBUFFERED a crash's last words can sit in a buffer that dies with it.
    env.update({"PYTHONPATH": os.pathsep.join(pythonpath), "PYTHONUNBUFFERED": "1"})
    env.update(overrides or {})
    return env


class ServerProcess(StartStop):
    """A stack running in its own process group on a loopback port; a context manager."""

    def __init__(
        self,
        spec: StackSpec,
        *,
        host: str = LOOPBACK,
        port: int | None = None,
        env: Mapping[str, str] | None = None,
        environ: Mapping[str, str] | None = None,
        run_dir: Path | None = None,
        start_timeout: float = 30.0,
        stop_grace: float = 10.0,
        cpus: tuple[int, ...] | None = None,
        app: AppTarget = PROJECT_APP,
    ) -> None:
        self.spec = spec
        self.cpus = cpus  # set before exec: every process and thread of the stack inherits them
        self.app = app
        self.host = host
        self._requested_port = port
        self.port = port or 0
        # ``environ`` (the run's copy of ours) with the project's settings, then ``env`` (the
        # run's key, database, profile), then the stack's own app profile (STACK@startproject).
        self.env = stack_environment(os.environ if environ is None else environ, env)
        if spec.app_profile:
            self.env[DJANGO_APP_PROFILE.name] = spec.app_profile
        if app.pythonpath is not None:
            # Every server imports from it, daphne (no flag for it) included.
            paths = [str(app.pythonpath), self.env["PYTHONPATH"]]
            self.env["PYTHONPATH"] = os.pathsep.join(paths)
        self._own_run_dir = run_dir is None
        self._run_dir = run_dir
        self.start_timeout = start_timeout
        self.stop_grace = stop_grace
        self.argv: list[str] = []
        # A fronted stack: the server's own port behind nginx (None without a front).
        self.upstream_port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._tree: ProcessTree | None = None
        self._log: IO[bytes] | None = None

    @property
    def interface(self) -> Interface:
        """The interface the stack serves: wsgi or asgi."""
        return self.spec.interface

    @property
    def pid(self) -> int:
        """The pid of the root process (its group id); for a fronted stack, the supervisor's.

        That supervisor (compare.servers.proxy) is the parent of both nginx and the server, so the
        tree under this pid holds every process the stack runs.
        """
        if self._proc is None:
            raise RuntimeError(f"{self.spec.name} is not started")
        return self._proc.pid

    @property
    def base_url(self) -> str:
        """The URL the stack answers on, without a trailing slash."""
        host = f"[{self.host.strip('[]')}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def upstream_url(self) -> str | None:
        """A fronted stack's server, bypassing nginx; None for a stack without a front."""
        if self.upstream_port is None:
            return None
        return f"http://{UPSTREAM_HOST}:{self.upstream_port}"

    @property
    def run_dir(self) -> Path:
        """The per-instance directory holding the log (and gunicorn's heartbeat files)."""
        if self._run_dir is None:
            raise RuntimeError(f"{self.spec.name} is not started")
        return self._run_dir

    @property
    def log_path(self) -> Path:
        """The file the server's stdout and stderr go to."""
        return self.run_dir / "server.log"

    def log_tail(self, lines: int = 20) -> str:
        """Return the last ``lines`` lines of the server's log."""
        try:
            text = self.log_path.read_text(errors="replace")
        except (OSError, RuntimeError):
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def running(self) -> bool:
        """Tell whether the root process is still alive."""
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> Self:
        """Launch the stack, return once its ready path answers; raise ServerStartError if not."""
        if self._proc is not None:
            raise RuntimeError(f"{self.spec.name} is already started")
        name = self.spec.name
        missing = self.spec.missing()
        if missing is not None:
            raise ServerStartError(name, missing)
        if not self._requested_port:
            self.port = free_port(self.host)
        elif port_in_use(self.host, self._requested_port):
            raise ServerStartError(name, f"port {self._requested_port} on {self.host} is in use")
        if self._run_dir is None:
            self._run_dir = Path(tempfile.mkdtemp(prefix=f"dsc-{name}-"))
            leftovers.registry().add_dir(self._run_dir)
        if self.spec.front is not None:
            self.upstream_port = free_port(UPSTREAM_HOST)
            while self.upstream_port == self.port:
                self.upstream_port = free_port(UPSTREAM_HOST)
        self.argv = self.spec.argv(
            self.host, self.port, self.run_dir, upstream_port=self.upstream_port, app=self.app
        )
        logger.info("starting %s: %s", name, " ".join(self.argv))
        self._log = self.log_path.open("wb")
        try:
            # Started and owned as one step: a stop signal in between would orphan the stack.
            with held_stop_signals():
                self._spawn()
            self._wait_ready()
        except ServerStartError:
            self.stop(keep_run_dir=True)  # the message points at the full log
            raise
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self) -> None:
        assert self._log is not None
        try:
            # A user's project runs in its own directory, as manage.py would run it.
            cwd = self.app.pythonpath or REPO_ROOT
            tree = spawn(
                self.argv, env=self.env, cwd=cwd, log=self._log, name=self.spec.name, cpus=self.cpus
            )
        except OSError as exc:
            self._close_log()
            raise ServerStartError(self.spec.name, f"cannot run {self.argv[0]}: {exc}") from exc
        self._tree, self._proc = tree, tree.proc
        _LIVE.add(self)

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while True:
            assert self._proc is not None
            self._descendants()  # remembered now, so stop() finds them even if the root dies
            code = self._proc.poll()
            if code is not None:
                raise self._start_error(f"exited with code {code} while starting")
            self._check_crash_loop()
            problem = self._probe()
            if not problem:
                break
            if time.monotonic() > deadline:
                raise self._start_error(f"not ready after {self.start_timeout:g} s ({problem})")
            time.sleep(POLL_INTERVAL)
        self._wait_settled(deadline)

    def _check_crash_loop(self) -> None:
        """Fail at once when workers keep dying while the stack boots."""
        # Supervisors that restart dead workers (uvicorn's, granian's) would otherwise keep a
        # stack whose Django cannot import "starting" until the deadline.
        assert self._tree is not None
        exited = self._tree.exited()
        if exited >= CRASH_LOOP_FACTOR * max(1, self.spec.child_processes()):
            raise self._start_error(f"{exited} worker processes exited while starting")
        for pid, code in self._tree.unnoticed_failures(UNNOTICED_EXIT_S):
            raise self._start_error(
                f"worker process {pid} exited with code {code} while starting (its supervisor "
                f"had not noticed in {UNNOTICED_EXIT_S:g} s)"
            )

    def _wait_settled(self, deadline: float) -> None:
        """Wait until the tree is nearly idle: the first worker answering says nothing of the rest.

        A worker still importing Django would skew the first measurements, and gunicorn loses a
        SIGTERM that reaches a worker before it installs its handlers.
        """
        t0, cpu0 = time.monotonic(), self.cpu_seconds()
        while time.monotonic() < deadline:
            time.sleep(POLL_INTERVAL)
            now, cpu = time.monotonic(), self.cpu_seconds()
            if now - t0 < SETTLE_WINDOW:
                continue
            if (cpu - cpu0) / (now - t0) < SETTLE_CPU_SHARE:
                return
            t0, cpu0 = now, cpu
        logger.warning("%s: still busy at the start deadline; going on", self.spec.name)

    def processes(self) -> list[psutil.Process]:
        """The root and its live descendants (none before start)."""
        return [] if self._tree is None else self._tree.everyone()

    def cpu_seconds(self) -> float:
        """User plus system CPU seconds of the live tree (0 before start)."""
        return 0.0 if self._tree is None else self._tree.cpu_seconds()

    def _probe(self) -> str:
        """Return '' when the ready path says our interface and all workers exist, else why not."""
        if self.upstream_port is not None:
            # The server first, directly: asking nginx before would only log a 502 per poll.
            problem = self._probe_healthz(UPSTREAM_HOST, self.upstream_port)
            if problem:
                return f"server behind nginx: {problem}"
        problem = self._probe_healthz(probe_address(self.host), self.port)
        if problem:
            return problem
        workers, expected = len(self._descendants()), self.spec.child_processes()
        if workers < expected:
            return f"{workers} of {expected} worker processes up"
        return ""

    def _probe_healthz(self, host: str, port: int) -> str:
        """Return '' when host:port answers the ready path for our interface, else why not."""
        path = self.app.ready_path
        conn = http.client.HTTPConnection(host, port, timeout=2)
        try:
            # Not the address: a wildcard one (0.0.0.0) or a machine's own is no allowed host.
            conn.request("GET", path, headers={"Host": f"{PROBE_HOST_HEADER}:{port}"})
            resp = conn.getresponse()
            body = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            return f"{path}: {exc.__class__.__name__}"
        finally:
            conn.close()
        if resp.status != 200:
            return f"{path} answered {resp.status}"
        try:
            interface = json.loads(body).get("interface")
        except (ValueError, AttributeError):
            return f"{path} did not answer JSON"
        if interface != self.spec.interface:
            raise self._start_error(f"{path} reports interface {interface!r}")
        return ""

    def _start_error(self, reason: str) -> ServerStartError:
        if self._log is not None:
            self._log.flush()
        path = self.log_path if self._run_dir is not None else None
        return ServerStartError(self.spec.name, reason, self.log_tail(TAIL_LINES), path)

    def _descendants(self) -> list[psutil.Process]:
        """Every live process under the root; remembered so stop() finds even orphaned ones."""
        return [] if self._tree is None else self._tree.descendants()

    def stop(self, *, keep_run_dir: bool = False) -> None:
        """Stop the whole tree: SIGTERM to the group, SIGKILL after the grace period; idempotent."""
        proc, tree = self._proc, self._tree
        if proc is None or tree is None:
            return
        try:
            tree.stop(((signal.SIGTERM, self.stop_grace),))
        finally:
            self._proc = None
            self._tree = None
            _LIVE.discard(self)
            self._close_log()
            if self._own_run_dir and self._run_dir is not None:
                # Kept (its log explains a failed start) or removed: not a leftover either way.
                leftovers.registry().forget_dir(self._run_dir)
                if not keep_run_dir:
                    shutil.rmtree(self._run_dir, ignore_errors=True)
                    self._run_dir = None

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


@atexit.register
def _stop_all() -> None:
    for server in list(_LIVE):
        with contextlib.suppress(Exception):
            print(f"stopping {server.spec.name} left running at exit", file=sys.stderr)
            server.stop()
