"""A server killed mid-scenario: the cell fails with the reason, the run goes on, nothing leaks."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from compare.results import load_results
from tests.helpers import start_compare, stop_run

pytestmark = pytest.mark.server


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _cell_master(bench: subprocess.Popen[str], cell: str) -> psutil.Process | None:
    """The gunicorn master of a running cell, once locust is running too."""
    procs = _descendants(bench.pid)
    cmdlines: dict[int, str] = {}
    parents: dict[int, int] = {}
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            cmdlines[proc.pid] = " ".join(proc.cmdline())
            parents[proc.pid] = proc.ppid()
    if not any("locust" in c and cell in c for c in cmdlines.values()):
        return None
    for proc in procs:
        line = cmdlines.get(proc.pid, "")
        # The master is the harness's own child (its workers are the master's): judged by the
        # parent's pid, not its cmdline, whose read can miss in a race (a worker was once taken
        # for the master and had no children).
        if "gunicorn" in line and cell in line and parents.get(proc.pid) == bench.pid:
            return proc
    return None


def _wait_for_master(bench: subprocess.Popen[str], cell: str, seen: set[int]) -> psutil.Process:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert bench.poll() is None, "bench ended early"
        seen |= {p.pid for p in _descendants(bench.pid)}
        master = _cell_master(bench, cell)
        if master is not None:
            time.sleep(1.0)  # downloads are under way
            seen |= {p.pid for p in _descendants(bench.pid)}
            return master
        time.sleep(0.1)
    raise AssertionError(f"cell {cell} never started")


def test_killed_worker_and_killed_master_fail_their_cells_and_the_run_goes_on(
    tmp_path: Path,
) -> None:
    bench = start_compare(
        "bench",
        "--out",
        str(tmp_path),
        "--stacks",
        "gunicorn-sync",
        "--scenarios",
        "download",
        "--repeat",
        "3",
        "--duration",
        "5",
        "--rows",
        "50000",
        "--sweep-sizes",
        "",
    )
    seen: set[int] = set()
    try:
        master = _wait_for_master(bench, "r1-download-gunicorn-sync", seen)
        worker = master.children()[0]
        os.kill(worker.pid, signal.SIGKILL)
        master = _wait_for_master(bench, "r2-download-gunicorn-sync", seen)
        os.kill(master.pid, signal.SIGKILL)
        _, stderr = bench.communicate(timeout=180)
    except AssertionError as exc:
        # What the bench was doing (a loaded run saw no second cell start within 90 s).
        said = stop_run(bench, seen)
        raise AssertionError(f"{exc}; the bench said:\n{said[-4000:]}") from None
    finally:
        stop_run(bench, seen)
    assert bench.returncode == 1, stderr[-3000:]
    assert "failed: 2 of 3 measurements" in stderr
    document = load_results(tmp_path / "latest")
    first, second, third = document["cells"]
    assert first["status"] == "failed"
    assert f"pid {worker.pid}" in first["error"] and "died" in first["error"]
    assert second["status"] == "failed" and "exited during the cell" in second["error"]
    assert third["status"] == "ok"  # the run went on
    leftovers = [
        pid
        for pid in seen
        if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    ]
    assert leftovers == []
    report = (tmp_path / "latest" / "report.md").read_text()
    assert "failed" in report
