"""`compare bench --source postgres --app startproject` end to end, and Ctrl-C while it seeds."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from compare.report.metrics import read_cell
from compare.results import load_results
from compare.servers.postgres import missing
from tests.helpers import (
    alive,
    assert_gone,
    describe_process,
    run_compare,
    start_compare,
    stop_run,
)

pytestmark = [pytest.mark.server, pytest.mark.skipif(missing() is not None, reason=str(missing()))]

BENCH = ["bench", "--quick", "--source", "postgres"]
# A hang guard, not a timing: the bench starts seeding 1.2 s after it starts on this machine, idle
# or with four busy loops on its two cores (initdb 0.4 s, postgres 0.8 s, migrate 0.9 s); a
# machine 3x slower is far inside it.
SEEDING_WITHIN_S = 120.0


def _cmdline(proc: psutil.Process) -> str:
    """A process's command line, or '' once it has exited (a zombie has none)."""
    try:
        return " ".join(proc.cmdline())
    except psutil.Error:
        return ""


@pytest.fixture
def tmpdir_env() -> Iterator[dict[str, str]]:
    """A TMPDIR of the test's own for the bench, so that the PostgreSQL directories found there
    are its own whatever runs beside it; short, as the server's socket path must fit 107 bytes,
    and open to the account PostgreSQL runs as.
    """
    path = Path(tempfile.mkdtemp(prefix="dsc-t-"))
    path.chmod(0o1777)
    try:
        yield {"TMPDIR": str(path)}
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _postgres_dirs(env: dict[str, str]) -> list[str]:
    return glob.glob(os.path.join(env["TMPDIR"], "dsc-postgres-*"))


def test_a_postgres_startproject_run_records_both_and_leaves_nothing(
    tmp_path: Path, tmpdir_env: dict[str, str]
) -> None:
    argv = [*BENCH, "--app", "startproject", "--out", str(tmp_path), "--stacks", "uvicorn"]
    # Long enough for whole downloads even when locust is slow to start on a busy machine.
    argv += ["--scenarios", "download", "--duration", "5", "--rows", "5000"]
    argv += ["--sweep-sizes", "10000", "--sweep-variants", "stream"]
    done = run_compare(*argv, timeout=240, env=tmpdir_env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr.count("starting PostgreSQL") == 1
    # The warm-up's 20,000 rows: more than the sweep's 10,000 and the cells' 5,000.
    assert done.stderr.count("seeding PostgreSQL with 20,000 rows") == 1
    document = load_results(tmp_path / "latest")
    assert document["status"] == "complete"
    assert (document["config"]["source"], document["config"]["app"]) == ("postgres", "startproject")
    data = document["environment"]["data"]
    assert data["database"]["engine"] == "postgresql" and data["database"]["pid"] > 0
    assert data["database"]["settings"]["fsync"] == "off"
    assert [c["status"] for c in document["cells"]] == ["ok"]
    assert [p["status"] for p in document["sweep"]] == ["ok"]
    # The database is measured with the stack: its processes in the tree, its part shown apart.
    cell = document["cells"][0]
    assert cell["memory"]["database_baseline_pss"] > 1_000_000
    assert cell["memory"]["database_peak_pss"] >= cell["memory"]["database_baseline_pss"]
    assert 0 < cell["database_cpu_s"] < cell["server_cpu_s"]
    assert read_cell(cell)["database_increase_mb"] is not None
    assert not alive([data["database"]["pid"]])
    assert _postgres_dirs(tmpdir_env) == []


def test_ctrl_c_while_seeding_stops_postgres_and_keeps_an_interrupted_document(
    tmp_path: Path, tmpdir_env: dict[str, str]
) -> None:
    # Enough rows that seeding takes seconds: the signal lands in the middle of it.
    argv = [*BENCH, "--out", str(tmp_path), "--stacks", "uvicorn", "--scenarios", "download"]
    argv += ["--rows", "3000000", "--sweep-sizes", ""]
    # A process group of its own, as a terminal's job.
    proc = start_compare(*argv, start_new_session=True, env={**os.environ, **tmpdir_env})
    seen: set[int] = set()
    try:
        deadline = time.monotonic() + SEEDING_WITHIN_S
        seeding = False
        while not seeding:
            assert proc.poll() is None, proc.communicate()[1][-2000:]
            children = psutil.Process(proc.pid).children(recursive=True)
            seen |= {child.pid for child in children}
            seeding = any("seed_rows" in _cmdline(child) for child in children)
            if not seeding and time.monotonic() > deadline:
                where = [describe_process(child.pid) for child in children]
                said = stop_run(proc, seen)
                raise AssertionError(
                    f"the bench never started seeding in {SEEDING_WITHIN_S:g} s; its processes: "
                    f"{where}; its stderr: {said[-2000:]}"
                )
            time.sleep(0.05)
        # Its data directory is in the TMPDIR given, where the check below looks.
        data_dir = f"postgres -D {tmpdir_env['TMPDIR']}/dsc-postgres-"
        assert any(data_dir in _cmdline(p) for p in psutil.Process(proc.pid).children())
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 130, stderr[-2000:]
    finally:
        stop_run(proc, seen)
    assert_gone(seen)
    document = load_results(tmp_path / "latest")
    assert document["status"] == "interrupted" and document["cells"] == []
    assert any("while preparing the data" in event["message"] for event in document["events"])
    assert _postgres_dirs(tmpdir_env) == []
