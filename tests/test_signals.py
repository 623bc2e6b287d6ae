"""Signals to ``python -m compare bench`` at each phase, and ``serve`` refusing what it cannot do.

Ctrl-C (SIGINT to the process group, as a terminal sends it) and SIGTERM (what ``kill``, docker and
systemd send) both end the run with exit code 130: the bench turns SIGTERM into the same
KeyboardInterrupt. Whatever the phase, no server, nginx or locust process is left, and
results.json is a valid document marked "interrupted" that holds every cell that finished.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

from compare.results import load_results
from tests.helpers import (
    alive,
    assert_gone,
    no_new_children,
    run_compare,
    stack_params,
    start_compare,
    stop_run,
)

pytestmark = pytest.mark.server

MATRIX = [
    "--quick",
    "--stacks",
    "gunicorn-sync,uvicorn",
    "--scenarios",
    "download",
    "--duration",
    "3",
    "--rows",
    "20000",
    "--sweep-sizes",
    "10000,100000",
    "--sweep-variants",
    "stream",
]
PHASE_WITHIN_S = 90.0
EXIT_WITHIN_S = 60.0
SERVER_MODULES = ("-m gunicorn", "-m uvicorn", "-m compare.servers.proxy", "nginx")


@dataclass
class BenchRun:
    """A bench subprocess, with every descendant pid it has had and their command lines."""

    out: Path
    proc: subprocess.Popen[str]
    seen: dict[int, str] = field(default_factory=dict)

    @property
    def run_dir(self) -> Path:
        return self.out / "latest"

    def processes(self) -> dict[int, str]:
        """The live descendants' command lines; every one is remembered in ``seen``."""
        now: dict[int, str] = {}
        with contextlib.suppress(psutil.NoSuchProcess):
            for child in psutil.Process(self.proc.pid).children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    now[child.pid] = " ".join(child.cmdline())
        self.seen.update(now)
        return now

    def servers(self) -> list[str]:
        return [c for c in self.processes().values() if any(m in c for m in SERVER_MODULES)]

    def locust(self) -> bool:
        return any("locust" in c for c in self.processes().values())

    def first_server_log(self) -> str:
        logs = sorted(self.run_dir.glob("cells/*/server.log"))
        return logs[0].read_text(errors="replace") if logs else ""


def _start_bench(out: Path) -> BenchRun:
    proc = start_compare(
        "bench",
        "--out",
        str(out),
        *MATRIX,
        # Its own process group, so that a terminal's Ctrl-C can be imitated exactly.
        start_new_session=True,
        # DEBUG: the server logs "export complete" for each warm-up download.
        env={**os.environ, "EXPORT_LOG_LEVEL": "DEBUG"},
    )
    return BenchRun(out, proc)


# Each phase: what says the run is in it (polled every 20 ms), and a pause before the signal.
Phase = Callable[[BenchRun], bool]
PHASES: dict[str, tuple[Phase, float]] = {
    # A server process exists: it is importing Django, and the bench waits for /healthz.
    "start-up": (lambda run: bool(run.servers()), 0.0),
    # The first stack answered warm-up downloads, and locust has not started.
    "warm-up": (
        lambda run: "export complete" in run.first_server_log() and not run.locust(),
        0.0,
    ),
    # Locust is loading the server (its users are downloading after a second).
    "load": (lambda run: run.locust(), 1.0),
    # Every load cell is done and a sweep point's server is up or starting.
    "sweep": (lambda run: (run.run_dir / "sweep").is_dir() and bool(run.servers()), 0.3),
}


def _wait_for_phase(run: BenchRun, phase: str) -> None:
    reached, pause = PHASES[phase]
    deadline = time.monotonic() + PHASE_WITHIN_S
    while not reached(run):
        if run.proc.poll() is not None:
            raise AssertionError(f"bench ended before {phase}: {run.proc.communicate()[1][-2000:]}")
        assert time.monotonic() < deadline, f"bench never reached {phase}"
        time.sleep(0.02)
    time.sleep(pause)
    run.processes()


def _cells_so_far(run: BenchRun) -> int:
    try:
        return len(json.loads((run.run_dir / "results.json").read_text())["cells"])
    except (OSError, ValueError):
        return 0


def _processes_naming(path: Path) -> list[int]:
    """Any live process whose command line mentions ``path`` (an orphan we never saw included)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.Error):
            if str(path) in " ".join(proc.info["cmdline"] or ()):
                found.append(proc.pid)
    return alive(found)


def _clean_up(run: BenchRun) -> None:
    stop_run(run.proc, run.seen, EXIT_WITHIN_S)


@pytest.mark.parametrize(
    ("phase", "sig"),
    [
        ("start-up", signal.SIGINT),
        ("start-up", signal.SIGTERM),
        ("warm-up", signal.SIGTERM),
        ("load", signal.SIGTERM),
        ("sweep", signal.SIGINT),
    ],
    ids=lambda value: value if isinstance(value, str) else value.name,
)
def test_a_signal_at_any_phase_leaves_no_process_and_a_valid_partial_document(
    tmp_path: Path, phase: str, sig: signal.Signals
) -> None:
    run = _start_bench(tmp_path)
    try:
        _wait_for_phase(run, phase)
        cells_before = _cells_so_far(run)
        if sig == signal.SIGINT:
            os.killpg(run.proc.pid, sig)  # Ctrl-C: the whole foreground group
        else:
            os.kill(run.proc.pid, sig)
        _, stderr = run.proc.communicate(timeout=EXIT_WITHIN_S)
        assert run.proc.returncode == 130, stderr[-3000:]
        assert "partial results kept" in stderr
        servers = [pid for pid, cmd in run.seen.items() if any(m in cmd for m in SERVER_MODULES)]
        assert servers, f"no server process was seen before the {sig.name}"
        assert_gone(run.seen, context=f"seen: {run.seen}\nbench's stderr: {stderr[-3000:]}")
        assert _processes_naming(tmp_path) == []
    finally:
        _clean_up(run)  # after the checks: it finds nothing to do when they passed
    document = load_results(run.run_dir)
    assert document["status"] == "interrupted"
    assert any("interrupted" in event["message"] for event in document["events"])
    # The cell or point under way when the signal came is not recorded, as failed or otherwise.
    assert all(cell["status"] == "ok" for cell in document["cells"])
    assert all(point["status"] == "ok" for point in document["sweep"])
    if phase == "sweep":
        assert len(document["cells"]) == 2
    else:
        assert document["cells"] == [] and cells_before == 0
        assert document["sweep"] == []


def _serve(*args: str) -> subprocess.CompletedProcess[str]:
    return run_compare("serve", *args)


@pytest.mark.parametrize("bind_host", ["127.0.0.1", "0.0.0.0"], ids=["loopback", "wildcard"])
@pytest.mark.parametrize(
    "name", stack_params(["gunicorn-sync", "gunicorn-asgi", "nginx-unbuffered+uvicorn"])
)
def test_serve_on_a_port_in_use_is_one_line_naming_stack_and_port(
    name: str, bind_host: str
) -> None:
    with no_new_children(), socket.socket() as holder:
        holder.bind((bind_host, 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = _serve(name, "--port", str(port))
    assert done.returncode == 1
    assert done.stderr == f"compare: error: {name}: port {port} on 127.0.0.1 is in use\n"
