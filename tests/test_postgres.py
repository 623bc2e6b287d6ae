"""The harness's own PostgreSQL: started, reachable by DATABASE_URL, stopped leaving nothing.

Real PostgreSQL (Debian's package, which ``make test`` installs); skipped, saying so, without it.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import psutil
import psycopg
import pytest

from compare.servers.postgres import SETTINGS, PostgresServer, missing
from project.dburl import database_from_url
from tests.helpers import assert_gone, no_new_children, start_compare, tree_pids

pytestmark = [pytest.mark.server, pytest.mark.skipif(missing() is not None, reason=str(missing()))]


def _shared_memory_id(server: PostgresServer) -> str:
    """The SysV segment the postmaster holds (line 7 of postmaster.pid: key and id)."""
    lines = (server.directory / "data" / "postmaster.pid").read_text().splitlines()
    return lines[6].split()[1]


def _segments() -> set[str]:
    lines = Path("/proc/sysvipc/shm").read_text().splitlines()[1:]
    return {line.split()[1] for line in lines}


def test_a_running_cluster_answers_on_its_socket_only_with_the_stated_settings() -> None:
    with no_new_children(), PostgresServer() as server:
        entry = database_from_url(server.url, Path("unused"))
        assert entry["ENGINE"] == "django.db.backends.postgresql"
        assert entry["HOST"] == str(server.socket_dir)  # percent-encoded in the URL
        with psycopg.connect(server.conninfo()) as conn:
            for name, value, _ in SETTINGS:
                shown = conn.execute(f"SHOW {name}").fetchone()
                assert shown is not None and shown[0] == value, name
            assert conn.execute("SELECT current_database()").fetchone() == ("dsc",)
        described = server.describe()
        assert described["pid"] == server.pid and described["version"].startswith("1")
        if os.geteuid() == 0:  # initdb and postgres refuse root: an unprivileged account runs it
            assert psutil.Process(server.pid).username() != "root"
        assert oct(server.directory.stat().st_mode & 0o777) == "0o700"


@pytest.mark.parametrize("how", ["stop", "sigkill"])
def test_stop_leaves_no_process_directory_or_shared_memory(how: str) -> None:
    with no_new_children():
        server = PostgresServer().start()
        try:
            pids = tree_pids(server.pid)
            assert len(pids) > 3  # the postmaster and its background processes
            directory = server.directory
            segment = _shared_memory_id(server)
            assert segment in _segments()
            if how == "sigkill":
                # A killed postmaster cleans up nothing: stop() must.
                os.kill(server.pid, signal.SIGKILL)
        finally:
            server.stop()
        assert_gone(pids)
        assert not directory.exists()
        assert segment not in _segments()
        server.stop()  # idempotent


def test_serve_with_postgres_stops_it_on_sigint() -> None:
    argv = ["serve", "uvicorn", "--port", "0", "--source", "postgres", "--seed-rows", "1000"]
    with no_new_children():
        proc = start_compare(*argv, merge_stderr=True)
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                if " serving at " in line:
                    break
            children = psutil.Process(proc.pid).children(recursive=True)
            postgres = [p for p in children if p.name() == "postgres"]
            assert postgres, "no PostgreSQL under serve"
            directories = {Path(p.cwd()) for p in postgres[:1]}
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=30) == 0
            assert_gone(p.pid for p in children)
            assert not any(d.exists() for d in directories)
        finally:
            proc.kill()
            proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
