"""``compare check`` on a second, separate Django project (tests/ownproject): each view's verdict
on both interfaces, its evidence, the exit status, and the user's data left alone."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest

from compare.run.streamcheck import wake_workers
from compare.servers.server import ServerProcess
from compare.servers.stacks import STACKS
from tests.helpers import run_compare

pytestmark = pytest.mark.server

PROJECT = Path(__file__).parent / "ownproject"
# The last two, about 37 MB, for the hang-up: costs of a second or more of the server's CPU.
BIG = "/sync/?rows=1000000"
ABIG = "/async/?rows=1000000"
CASES = (
    "/sync/",
    "/async/",
    "/whole/",
    "/file/",
    "/behind-mw/",
    "/raises/",
    "/sync/?rows=100",
    BIG,
    ABIG,
)
# What Django does with each (DESIGN.md, Known traps; django/http/response.py, handlers/asgi.py).
EXPECTED = {
    "gunicorn-sync": {
        "/sync/": "streams",
        "/async/": "buffered",  # async iterator under WSGI: collected whole
        "/whole/": "buffered",
        "/file/": "streams",  # wsgi.file_wrapper: the file goes as it is read
        "/behind-mw/": "buffered",
        "/raises/": "failed",
        "/sync/?rows=100": "streams",  # 35 kB: fits a socket buffer, still told apart
        BIG: "streams",
        ABIG: "buffered",
    },
    "uvicorn": {
        "/sync/": "buffered",  # sync iterator under ASGI: consumed whole in a thread
        "/async/": "streams",
        "/whole/": "buffered",
        "/file/": "buffered",  # a FileResponse is a sync iterator
        "/behind-mw/": "buffered",
        "/raises/": "failed",
        "/sync/?rows=100": "buffered",
        BIG: "buffered",
        ABIG: "streams",
    },
}
KEYS = {
    "url",
    "stack",
    "status",
    "streams",
    "ttfb_ms",
    "ttlb_ms",
    "body_bytes",
    "peak_increase_mb",
    "hangup_stops_work",
    "warnings",
    "advice",
}
TIMEOUT = 600  # 18 checks, each twice, bodies up to 37 MB; about 50 s here


def check(*args: str, env: dict[str, str] | None = None) -> Any:
    """Run ``compare check`` on the test project; its completed process."""
    return run_compare(
        "check",
        "--project",
        str(PROJECT),
        "--settings",
        "shop.settings",
        *args,
        timeout=TIMEOUT,
        env=env,
    )


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the test project's settings put its SQLite database (it must never appear)."""
    return tmp_path_factory.mktemp("shop") / "db.sqlite3"


@pytest.fixture(scope="module")
def verdicts(database: Path) -> tuple[int, dict[tuple[str, str], dict[str, Any]]]:
    """Every case on both default stacks, once for the module: (exit status, rows by key)."""
    urls = [arg for url in CASES for arg in ("--url", url)]
    done = check(*urls, "--json", env={"SHOP_DB": str(database)})
    assert done.stdout, done.stderr
    rows = json.loads(done.stdout)
    return done.returncode, {(row["stack"], row["url"]): row for row in rows}


@pytest.mark.parametrize("stack", sorted(EXPECTED))
@pytest.mark.parametrize("url", CASES)
def test_each_view_gets_its_verdict_on_both_interfaces(
    verdicts: tuple[int, dict[tuple[str, str], dict[str, Any]]], stack: str, url: str
) -> None:
    row = verdicts[1][(stack, url)]
    assert set(row) >= KEYS
    why = {k: row[k] for k in ("reasons", "warnings", "peak_increase_mb", "body_bytes", "evidence")}
    assert row["verdict"] == EXPECTED[stack][url], why
    assert row["streams"] is (row["verdict"] == "streams")
    if row["verdict"] == "buffered":
        assert row["advice"] and row["reasons"], row


def test_the_evidence_behind_the_verdicts(
    verdicts: tuple[int, dict[tuple[str, str], dict[str, Any]]],
) -> None:
    code, rows = verdicts
    assert code == 1  # some URL is buffered or failed
    mismatch = rows[("uvicorn", "/sync/")]
    assert any("must consume synchronous iterators" in w for w in mismatch["warnings"])
    assert any("async generator" in a for a in mismatch["advice"])
    streamed = rows[("gunicorn-sync", "/sync/")]
    # The body, measured in this run, against the memory the stack took while sending it.
    assert streamed["peak_increase_mb"] < 0.25 * streamed["body_bytes"] / 1e6
    whole = rows[("gunicorn-sync", "/whole/")]
    assert whole["peak_increase_mb"] >= 0.5 * whole["body_bytes"] / 1e6
    # A streamed body's first byte comes long before its last; a buffered one's just before.
    assert streamed["ttfb_ms"] < 0.25 * streamed["ttlb_ms"]
    assert mismatch["ttfb_ms"] > 0.5 * mismatch["ttlb_ms"]
    # A client that gives up stops a streamed export, not a buffered one: Django's thread reads
    # a sync generator whole under ASGI, and an async one under WSGI, whoever is still there.
    # Judged by the CPU the stack spends after the hang-up against the response's own cost.
    expected = {
        ("gunicorn-sync", BIG): True,
        ("uvicorn", ABIG): True,
        ("uvicorn", BIG): False,
        ("gunicorn-sync", ABIG): False,
        ("uvicorn", "/sync/?rows=100"): None,  # too short to tell
    }
    hangups = {k: (rows[k]["hangup_stops_work"], rows[k]["evidence"]["hangup"]) for k in expected}
    notes = "\n".join(f"{k}: {v}" for k, v in hangups.items())  # not cut short by pytest
    assert {k: stops for k, (stops, _) in hangups.items()} == expected, notes
    failed = rows[("uvicorn", "/raises/")]
    assert failed["status"] == 500
    assert any("RuntimeError: the export broke" in w for w in failed["warnings"])


def test_the_users_database_is_never_created(
    verdicts: tuple[int, dict[tuple[str, str], dict[str, Any]]], database: Path
) -> None:
    assert verdicts[1]  # the check ran, with SHOP_DB pointing here
    assert not database.exists()


def test_exit_0_when_everything_streams_and_the_human_table() -> None:
    done = check("--url", "/sync/", "--stacks", "gunicorn-sync,nginx-buffered+gunicorn-sync")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:4] == ["url", "stack", "status", "verdict"]
    assert [line.split()[3] for line in lines[1:3]] == ["streams", "streams"]
    assert "X-Accel-Buffering" in done.stdout  # the buffered front's advice


OWN = ("--project", str(PROJECT), "--settings", "shop.settings")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("serve", "uvicorn", *OWN, "--source", "db"), "not with --project: --source"),
        (("serve", "uvicorn", *OWN, "--seed-rows", "5"), "not with --project: --seed-rows"),
        (("serve", "uvicorn", *OWN, "--app", "minimal"), "not with --project: --app"),
        (("serve", "uvicorn@startproject", *OWN), "app profiles are this harness's"),
        (("check", *OWN), "at least one --url"),
        (("check", *OWN, "--url", "sync/"), "starting with '/'"),
        (("check", "--project", str(PROJECT), "--url", "/sync/"), "needs --settings"),
        (("check", *OWN, "--url", "/x/", "--stacks", "nosuch"), "unknown stack"),
        (("check", "--url", "/x/"), "need --project"),
    ],
)
def test_unusable_arguments_exit_2_with_one_line(args: tuple[str, ...], message: str) -> None:
    done = run_compare(*args, timeout=TIMEOUT)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr


def teardown_module() -> None:
    """The test project's FileResponse file, shared by its workers."""
    Path(tempfile.gettempdir(), "dsc-shop-export.csv").unlink(missing_ok=True)


@pytest.mark.parametrize("name", ["gunicorn-sync", "uvicorn"])
def test_every_worker_is_woken_before_the_measurements(name: str) -> None:
    # A worker's first request imports the URLconf and its views: none of the measured ones may.
    with ServerProcess(STACKS[name]) as server:
        woken = wake_workers(server)
        workers = {proc.pid for proc in server.processes()} - {server.pid}
    assert len(woken) == STACKS[name].child_processes()
    assert set(woken) <= workers
