"""The export's bounds on real servers: no work left after a hang-up, no silent error, no bare 400.

Under ASGI Django reads a sync body (``iterator=sync``, the mismatch) to its end in a thread that
no hang-up can cancel; the body itself must stop once Django gives up. An unexpected error (a
database that cannot be opened) must reach the server's log with its traceback; an export from a
database nobody migrated is a 503 that says what to run, its traceback logged too. A refused Host
header is named, with the variable that admits it, in the answer and in one log line.
"""

from __future__ import annotations

import http.client
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from compare.servers.server import ServerProcess
from compare.servers.stacks import STACKS
from tests.helpers import stack_params, tree_pids

pytestmark = pytest.mark.server

_STOPPED = re.compile(r"export stopped iterator=sync rows_encoded=(\d+) rows_announced=(\d+)")
# Enough rows that the full mismatch takes seconds on any machine (about 5 s here), so that a
# stop within a fraction of that time cannot be the export simply finishing.
MISMATCH_ROWS = 2_000_000
RATE_ROWS = 200_000
# The worker counts as busy on the body once it has used this much CPU since the headers.
BUSY_CPU_S = 0.2


def _cpu_seconds(server: ServerProcess) -> float:
    total = 0.0
    for pid in tree_pids(server.pid):
        times = psutil.Process(pid).cpu_times()
        total += times.user + times.system
    return total


def _get(server: ServerProcess, target: str, host: str | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=120)
    try:
        conn.request("GET", target, headers={"Host": host} if host else {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _stopped(server: ServerProcess) -> list[tuple[int, int]]:
    text = server.log_path.read_text(errors="replace")
    return [(int(m[1]), int(m[2])) for m in _STOPPED.finditer(text)]


def _log_when(pattern: str, server: ServerProcess, timeout: float) -> str:
    """The server's log once ``pattern`` is in it (polled), or fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not re.search(pattern, text := server.log_path.read_text(errors="replace")):
        assert time.monotonic() < deadline, f"{pattern!r} not in the log: {text[-3000:]}"
        time.sleep(0.02)
    return text


@pytest.fixture(scope="module")
def uvicorn() -> Iterator[ServerProcess]:
    """uvicorn with one worker: the hang-up and the measurements meet the same process."""
    with ServerProcess(STACKS["uvicorn"].with_options(workers=1)) as running:
        yield running


@pytest.mark.serial  # a time measured against this worker's own rate: measured alone
def test_a_mismatch_under_asgi_stops_soon_after_the_client_hangs_up(
    uvicorn: ServerProcess,
) -> None:
    # The rate of this worker, measured now: the whole mismatched export would take full_s.
    started = time.monotonic()
    status, body = _get(uvicorn, f"/export.csv?rows={RATE_ROWS}&iterator=sync")
    assert status == 200 and body.count(b"\n") == RATE_ROWS + 1
    full_s = MISMATCH_ROWS / (RATE_ROWS / (time.monotonic() - started))

    before = len(_STOPPED.findall(uvicorn.log_path.read_text()))
    with socket.create_connection((uvicorn.host, uvicorn.port), timeout=30) as sock:
        target = f"/export.csv?rows={MISMATCH_ROWS}&iterator=sync"
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        # Django sends the headers, then reads the body in its thread: no byte of it before.
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        cpu_start = _cpu_seconds(uvicorn)
        deadline = time.monotonic() + full_s
        while _cpu_seconds(uvicorn) - cpu_start < BUSY_CPU_S:
            assert time.monotonic() < deadline, "the worker never got busy on the body"
            time.sleep(0.02)
        hung_up = time.monotonic()

    # Half the whole export's time: the bound scales with this machine's own speed.
    stop_within_s = full_s / 2
    while len(lines := _stopped(uvicorn)) == before:
        assert time.monotonic() - hung_up < stop_within_s, (
            f"still reading the body {stop_within_s:.1f} s after the hang-up "
            f"(the whole export takes {full_s:.1f} s here; log: {uvicorn.log_path})"
        )
        time.sleep(0.02)
    stopped_s = time.monotonic() - hung_up
    rows_encoded, announced = lines[-1]
    assert announced == MISMATCH_ROWS and rows_encoded < MISMATCH_ROWS / 2
    # And the worker is idle again: a quarter second in which it used under a quarter of a core.
    while True:
        cpu_before, window_start = _cpu_seconds(uvicorn), time.monotonic()
        time.sleep(0.25)
        share = (_cpu_seconds(uvicorn) - cpu_before) / (time.monotonic() - window_start)
        if share < 0.25:
            break
        assert time.monotonic() - hung_up < stop_within_s, f"still busy ({share:.0%} of a core)"
    print(
        f"mismatch of {MISMATCH_ROWS:,} rows (whole: {full_s:.1f} s): stopped at row "
        f"{rows_encoded:,} {stopped_s:.3f} s after the hang-up, idle after "
        f"{time.monotonic() - hung_up:.2f} s"
    )


def _on_data_dir(stack: str, data_dir: Path) -> ServerProcess:
    """A one-worker stack whose SQLite database is DJANGO_DATA_DIR/db.sqlite3."""
    spec = STACKS[stack].with_options(workers=1)
    return ServerProcess(spec, env={"DJANGO_DATA_DIR": str(data_dir), "DATABASE_URL": ""})


@pytest.fixture(scope="module", params=stack_params(["gunicorn-sync", "uvicorn"]))
def unmigrated(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A stack whose database is a new, empty SQLite file (DJANGO_DATA_DIR: an empty dir)."""
    with _on_data_dir(request.param, tmp_path_factory.mktemp("unmigrated")) as running:
        yield running


@pytest.fixture(scope="module", params=stack_params(["gunicorn-sync", "uvicorn"]))
def unopenable(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A stack whose database file cannot be opened (a directory stands where it should be)."""
    data_dir = tmp_path_factory.mktemp("unopenable")
    (data_dir / "db.sqlite3").mkdir()
    with _on_data_dir(request.param, data_dir) as running:
        yield running


def test_an_unexpected_error_is_a_500_with_its_traceback_in_the_log(
    unopenable: ServerProcess,
) -> None:
    # Django's defaults send this traceback only to handlers that drop it unless DEBUG is on.
    status, _ = _get(unopenable, "/export.csv?source=db&rows=10")
    log = _log_when(r"unable to open database file", unopenable, timeout=10)
    assert status == 500
    assert "ERROR django.request Internal Server Error: /export.csv" in log
    assert "Traceback (most recent call last)" in log


def test_an_export_from_an_unmigrated_database_logs_its_traceback(
    unmigrated: ServerProcess,
) -> None:
    status, body = _get(unmigrated, "/export.csv?source=db&rows=10")
    log = _log_when(r"no such table: export_exportrow", unmigrated, timeout=10)
    assert "Traceback (most recent call last)" in log
    # Not a bare 500: the reason, and what to run.
    assert (status, body) == (
        503,
        b"the database is not migrated: run python -m project migrate, then seed_rows N "
        b"(python -m compare serve --source db does both)\n",
    )
    assert "ERROR project.export.views export refused: the database is not migrated" in log


def test_a_wrong_host_is_named_in_the_answer_and_in_one_log_line(
    unmigrated: ServerProcess,
) -> None:
    status, body = _get(unmigrated, "/ping", host="exports.example.com:8000")
    reason = (
        "Host 'exports.example.com:8000' is not allowed here: add 'exports.example.com' to "
        "DSC_ALLOWED_HOSTS (servers that python -m compare starts) or DJANGO_ALLOWED_HOSTS"
    )
    assert (status, body) == (400, f"{reason}\n".encode())
    log = _log_when(re.escape(reason), unmigrated, timeout=10)
    (line,) = [line for line in log.splitlines() if "exports.example.com" in line]
    assert line.endswith(f"WARNING project.middleware refused '/ping': {reason}")
    assert "DisallowedHost" not in log
