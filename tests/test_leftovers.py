"""Nothing is left behind whatever kills the harness, and two benches never run at once
(issue 23.4, review H1, H2). The harness is a real subprocess killed with SIGKILL."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from compare import REPO_ROOT
from compare.system import leftovers
from compare.system.ports import free_port
from tests.helpers import alive, assert_gone, run_compare, start_compare, stop_run, tree_pids

# A stand-in harness: starts a process group the way the harness does (proctree.spawn, which
# writes it down), makes a temporary directory it registers, prints both, then waits.
HARNESS = r"""
import sys, tempfile, time
from pathlib import Path
from compare.system import leftovers
from compare.system.proctree import spawn
env = {"PATH": "/usr/bin:/bin"}
tree = spawn(["sleep", "300"], env=env, cwd=Path("."), log=None, name="uvicorn")
made = Path(tempfile.mkdtemp(prefix="dsc-uvicorn-", dir=sys.argv[1]))
leftovers.registry().add_dir(made)
print(tree.proc.pid, made, flush=True)
time.sleep(300)
"""


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "runtime"
    monkeypatch.setenv("DSC_RUNTIME_DIR", str(directory))
    return directory


@pytest.fixture
def harness(tmp_path: Path, runtime: Path) -> Iterator[tuple[subprocess.Popen[str], int, Path]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HARNESS, str(tmp_path)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "DSC_RUNTIME_DIR": str(runtime)},
    )
    assert proc.stdout is not None
    pid, made = proc.stdout.readline().split()
    try:
        yield proc, int(pid), Path(made)
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
        if alive([int(pid)]):
            os.killpg(int(pid), signal.SIGKILL)


def test_what_a_killed_harness_started_is_stopped_by_the_next(
    harness: tuple[subprocess.Popen[str], int, Path],
) -> None:
    proc, child, made = harness
    proc.kill()  # SIGKILL: no finally, no atexit
    proc.wait()
    assert alive([child]) and made.is_dir()  # left behind, as on c262ae1
    said = leftovers.sweep()
    assert len(said) == 1 and f"harness pid {proc.pid}" in said[0], said
    assert f"stopped uvicorn (pid {child})" in said[0] and str(made) in said[0]
    assert_gone([child])
    assert not made.exists()
    assert leftovers.sweep() == []  # its registry file went with it


def test_a_running_harness_is_left_alone(harness: tuple[subprocess.Popen[str], int, Path]) -> None:
    _, child, made = harness
    assert leftovers.sweep() == []
    assert alive([child]) and made.is_dir()


def test_a_pid_reused_since_is_someone_elses(runtime: Path, tmp_path: Path) -> None:
    # The registry of a harness that is gone names a pid that another process holds now.
    stranger = subprocess.Popen(["sleep", "60"], start_new_session=True)
    gone = subprocess.Popen(["true"])
    gone.wait()
    try:
        started = psutil.Process(stranger.pid).create_time()
        entries = leftovers.Entries(
            gone.pid, 1.0, {stranger.pid: (started - 100.0, "uvicorn")}, [str(tmp_path)]
        )
        runtime.mkdir()
        (runtime / f"run-{gone.pid}.json").write_text(entries.as_json())
        said = leftovers.sweep()
        assert alive([stranger.pid]), "a process that is not the harness's was killed"
        assert all("uvicorn" not in line for line in said)
    finally:
        stranger.kill()
        stranger.wait()


def test_a_second_bench_is_refused_with_the_holders_pid(runtime: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with leftovers.bench_lock():
        args = ["--quick", "--stacks", "uvicorn", "--scenarios", "download", "--sweep-sizes", ""]
        done = run_compare("bench", *args, "--out", str(out), env={"DSC_RUNTIME_DIR": str(runtime)})
    assert done.returncode == 1
    assert f"another bench is running (pid {os.getpid()})" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not out.exists()
    with leftovers.bench_lock():  # released with its holder
        pass


@pytest.mark.server
def test_serve_killed_with_sigkill_is_cleaned_up_by_the_next_serve(
    runtime: Path, tmp_path: Path
) -> None:
    # Review E7: after kill -9 of serve, its stack held the port and the next serve failed.
    port = str(free_port())
    env = {**os.environ, "DSC_RUNTIME_DIR": str(runtime)}
    first = start_compare("serve", "uvicorn", "--port", port, merge_stderr=True, env=env)
    stack: set[int] = set()
    try:
        stack_pid = _serving(first)
        stack = tree_pids(first.pid) - {first.pid}
        assert stack_pid in stack
        run_dirs = [Path(d) for d in _registered_dirs(runtime)]
        assert run_dirs and all(d.is_dir() for d in run_dirs)
        first.kill()  # SIGKILL: serve runs no clean-up at all
        first.communicate()
        assert alive(stack), "the stack died with its harness: nothing to show"
        second = start_compare("serve", "uvicorn", "--port", port, merge_stderr=True, env=env)
        try:
            lines = _until_serving(second)
            said = next(line for line in lines if line.startswith("leftovers of harness"))
            assert f"harness pid {first.pid}" in said and f"uvicorn (pid {stack_pid})" in said
            assert_gone(stack)
            assert not any(d.exists() for d in run_dirs)
        finally:
            second.send_signal(signal.SIGINT)
            second.communicate(timeout=60)
        assert not list(runtime.glob("run-*.json"))  # a clean stop leaves no registry
    finally:
        stop_run(first, stack)


def _registered_dirs(runtime: Path) -> list[str]:
    dirs: list[str] = []
    for path in runtime.glob("run-*.json"):
        dirs += json.loads(path.read_text())["dirs"]
    return dirs


def _until_serving(proc: subprocess.Popen[str]) -> list[str]:
    """Lines of serve's output up to the one saying it serves (a slow start: 120 s)."""
    assert proc.stdout is not None
    lines = []
    deadline = time.monotonic() + 120
    for line in proc.stdout:
        lines.append(line.strip())
        if " serving at " in line:
            return lines
        assert time.monotonic() < deadline, lines
    raise AssertionError(f"serve ended before serving: {lines}")


def _serving(proc: subprocess.Popen[str]) -> int:
    """The stack's pid, once serve says it serves."""
    line = _until_serving(proc)[-1]
    found = re.search(r"\(pid (\d+)\)", line)
    assert found, line
    return int(found.group(1))
