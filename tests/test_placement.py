"""CPU placement as measured: the servers' CPUs are theirs, and a cell says when they were not.

Every thread of every stack's tree runs on the servers' CPUs (read from /proc/PID/task/*):
the CPUs are set before exec, so threads started before anything could pin them have them too.

Against the timed test server (tests/timed_server.py), whose own CPU use is small: a busy
process pinned on the servers' CPUs during a cell takes most of their time, which the cell's
``server-cpu-shared`` flag and figure must show, checked against the busy process's own CPU
seconds read from /proc.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from compare.report.metrics import read_cell
from compare.run.loadcell import run_load_cell
from compare.servers.stacks import STACKS, get_stack
from tests.timed_stack import short_config, short_run, timed_stack

pytestmark = pytest.mark.server

TIMED = ("--delay-ms", "20", "--rate", "4e6", "--size", "1000000")


def _cpu_list(text: str) -> set[int]:
    """A kernel CPU list such as ``0-2,5`` as a set."""
    cpus: set[int] = set()
    for part in text.split(","):
        low, _, high = part.partition("-")
        cpus.update(range(int(low), int(high or low) + 1))
    return cpus


def thread_cpus(pid: int) -> dict[str, set[int]]:
    """The CPUs every thread of the tree under ``pid`` may run on, from /proc/PID/task/*."""
    root = psutil.Process(pid)
    found: dict[str, set[int]] = {}
    for proc in [root, *root.children(recursive=True)]:
        for task in Path(f"/proc/{proc.pid}/task").glob("*"):
            try:
                status = (task / "status").read_text()
            except FileNotFoundError:  # a thread or process that just ended
                continue
            line = next(x for x in status.splitlines() if x.startswith("Cpus_allowed_list:"))
            found[f"{proc.name()} {proc.pid} thread {task.name}"] = _cpu_list(line.split(":")[1])
    return found


# Every server alone, and each front once: a fronted stack's tree is compare.servers.proxy
# running nginx (one config for every front) and the very argv of the server alone, all under
# one root pinned before exec, so every other pairing ran the same processes again: 18 more
# stack starts, 65 s of the 103 s this test took in a profiled shared pass.
PLACED = sorted(
    [name for name, spec in STACKS.items() if spec.front is None]
    + ["nginx-buffered+granian-asgi", "nginx-unbuffered+gunicorn-gthread"]
)


@pytest.mark.parametrize("name", PLACED)
def test_every_thread_of_a_stack_runs_on_the_servers_cpus(tmp_path: Path, name: str) -> None:
    # granian and gunicorn's gthread workers start threads before a pin by pid could reach
    # them; pinning a pid moves only its main thread. After the warm-up (every worker served
    # exports and pings, so threads started on demand exist) no thread may be elsewhere.
    spec = get_stack(name)
    if spec.missing() is not None:
        pytest.skip(f"{name} is unavailable: {spec.missing()}")
    config = short_config(tmp_path, stacks=(name,), workers=2)
    if not config.server_cpus:
        pytest.skip("a single CPU: nothing is pinned")
    with short_run(config) as run, run.measured(spec, tmp_path / name) as measured:
        found = thread_cpus(measured.server.pid)
    assert len(found) >= 2  # a tree of more than one thread was looked at
    servers = set(config.server_cpus)
    assert {t: c for t, c in found.items() if c != servers} == {}


# CPU shares of a whole machine: measured alone (make test runs serial tests after the rest).
@pytest.mark.serial
def test_a_busy_process_on_the_servers_cpus_is_flagged(tmp_path: Path) -> None:
    config = short_config(tmp_path)
    if not config.server_cpus:
        pytest.skip("a single CPU: nothing is pinned, so no CPU is the servers' alone")
    with short_run(config) as run:
        quiet = read_cell(run_load_cell(run, timed_stack(*TIMED), "download", 0, tmp_path / "q"))
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        psutil.Process(busy.pid).cpu_affinity(list(config.server_cpus))
        before, started = psutil.Process(busy.pid).cpu_times(), time.monotonic()
        with short_run(config) as run:
            cell = run_load_cell(run, timed_stack(*TIMED), "download", 0, tmp_path / "busy")
        after, ended = psutil.Process(busy.pid).cpu_times(), time.monotonic()
    finally:
        busy.kill()
        busy.wait()
    assert cell["status"] == "ok", cell["error"]
    shared = read_cell(cell)
    assert "server-cpu-shared" in shared.flags
    # The busy process's own share of the servers' CPUs over the whole cell (/proc, via psutil)
    # is a lower bound: it ran throughout, and what other engineers' unlocked processes took of
    # the same CPU counts as "other" too (so no upper bound but the CPUs' whole time).
    used = (after.user + after.system) - (before.user + before.system)
    true_pct = 100 * used / (ended - started) / len(config.server_cpus)
    other = shared["server_cpus_other_pct"]
    assert other is not None and true_pct - 10.0 <= other <= 100.0, (other, true_pct)
    # Without it, the share is what else ran there (other tests run unlocked: not always 0).
    assert quiet["server_cpus_other_pct"] is not None
    assert quiet["server_cpus_other_pct"] < other, (quiet["server_cpus_other_pct"], other)
