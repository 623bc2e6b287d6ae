"""Root never trusts what the PostgreSQL account controls: the log's path, postmaster.pid.

Run as root, the harness hands its cluster's directory to an unprivileged account
(compare.servers.postgres). The server tests act as that account after the hand-over, as the
reliability review's experiment E9 does: a link or a FIFO where the log goes, a postmaster.pid
naming someone else's shared memory. They need root and the account (``make test`` installs
PostgreSQL, whose package creates it) and skip saying so otherwise.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import stat
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from compare.servers import postgres
from compare.servers.postgres import PostgresServer, missing, server_account
from compare.servers.server import ServerStartError
from compare.system import sysvshm
from tests.helpers import no_new_children


def _account() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    with contextlib.suppress(ServerStartError):
        return server_account()
    return None


ACCOUNT = _account()
pytestmark = [
    pytest.mark.server,
    pytest.mark.skipif(missing() is not None, reason=str(missing())),
    pytest.mark.skipif(
        os.geteuid() != 0, reason="root only: not root, PostgreSQL runs as us, nothing handed over"
    ),
    pytest.mark.skipif(ACCOUNT is None, reason="no account to hand the cluster to"),
]
START_S = 60.0  # a failing start takes initdb's seconds; generous for a machine 3x slower


def as_account(*argv: str) -> None:
    """Run ``argv`` as the account the cluster was handed to."""
    assert ACCOUNT is not None
    subprocess.run(
        argv,
        user=ACCOUNT.pw_uid,
        group=ACCOUNT.pw_gid,
        extra_groups=[],
        check=True,
        capture_output=True,
        timeout=30,
    )


def fingerprint(path: Path) -> tuple[bytes, int, int, int]:
    """What root must not change: content, owner, group and mode."""
    info = path.stat()
    return path.read_bytes(), info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    """A root-only file (as /etc/shadow would be)."""
    path = tmp_path / "secret"
    path.write_text("SECRET-ROOT-ONLY\n")
    path.chmod(0o600)
    return path


def after(
    monkeypatch: pytest.MonkeyPatch, step: str, plant: Callable[[PostgresServer], None]
) -> None:
    """Run ``plant`` as soon as PostgresServer's ``step`` (a method) has run."""
    original = getattr(PostgresServer, step)

    def step_then_plant(self: PostgresServer, *args: Any) -> None:
        original(self, *args)
        plant(self)

    monkeypatch.setattr(PostgresServer, step, step_then_plant)


def test_a_link_planted_where_the_log_goes_leaves_its_target_untouched(
    secret: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = fingerprint(secret)
    # After initdb: the directory is the account's, and the server is not started yet.
    after(
        monkeypatch, "_initdb", lambda pg: as_account("ln", "-sfn", str(secret), str(pg.log_path))
    )
    with no_new_children(), PostgresServer() as server:
        assert server.log_path.is_symlink()  # planted
        with psycopg.connect(server.conninfo()) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        # The server's log still reaches us, through the file it was given.
        assert "starting PostgreSQL" in server.log_tail()
    assert fingerprint(secret) == before


def failing_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the postmaster refuse to start (it says why in its log)."""
    bad = ("shared_buffers", "bogus", "a value the postmaster refuses")
    monkeypatch.setattr(postgres, "SETTINGS", (*postgres.SETTINGS, bad))


@pytest.mark.parametrize("planted", ["link", "fifo"])
def test_a_start_error_quotes_the_servers_log_not_what_its_path_now_names(
    planted: str, secret: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing_settings(monkeypatch)
    paths: list[Path] = []

    def plant(pg: PostgresServer) -> None:
        paths.append(pg.log_path)
        if planted == "link":
            as_account("ln", "-sfn", str(secret), str(pg.log_path))
        else:  # opening it for reading would block until someone writes
            as_account("rm", str(pg.log_path))
            as_account("mkfifo", str(pg.log_path))

    # After the postmaster started (and failed): the error message reads the log next.
    after(monkeypatch, "_launch", plant)
    errors: list[BaseException] = []

    def start() -> None:
        try:
            PostgresServer().start()
        except BaseException as exc:  # handed over to the test
            errors.append(exc)

    with no_new_children():
        thread = threading.Thread(target=start, daemon=True)
        thread.start()
        thread.join(START_S)
        if thread.is_alive():
            unblock(paths[0])
            thread.join(30)
            pytest.fail(f"start() blocked reading the {planted} planted where the log goes")
    (error,) = errors
    assert isinstance(error, ServerStartError), error
    message = str(error)
    assert "exited with code" in message and "shared_buffers" in message
    assert "SECRET" not in message


def unblock(fifo: Path) -> None:
    """Let a reader blocked opening ``fifo`` go on (it reads end of file)."""
    with contextlib.suppress(OSError):
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


@pytest.fixture
def foreign_segment() -> Iterator[int]:
    """A SysV segment of root's own, which the cluster has nothing to do with."""
    ipcmk = shutil.which("ipcmk")
    if ipcmk is None:
        pytest.skip("no ipcmk (util-linux)")
    done = subprocess.run([ipcmk, "-M", "4096"], capture_output=True, text=True, check=True)
    segment = int(done.stdout.split()[-1])
    try:
        yield segment
    finally:
        subprocess.run(["ipcrm", "-m", str(segment)], capture_output=True, check=False)


def test_a_postmaster_pid_naming_a_foreign_segment_does_not_get_it_removed(
    foreign_segment: int,
) -> None:
    assert ACCOUNT is not None
    with no_new_children():
        server = PostgresServer().start()
        try:
            own = {s.id for s in sysvshm.created_by(server.pid, ACCOUNT.pw_uid)}
            assert own, "the postmaster created no SysV segment"
            # As E9: name the foreign segment where PostgreSQL keeps its own, then kill -9.
            pid_file = server.directory / "data" / "postmaster.pid"
            as_account("sed", "-i", f"7s/.*/  1   {foreign_segment}/", str(pid_file))
            as_account("kill", "-9", str(server.pid))
        finally:
            server.stop()
    left = {s.id for s in sysvshm.segments()}
    assert foreign_segment in left  # someone else's: untouched
    assert not own & left  # the killed postmaster's own: removed
