"""The locust scenarios (loadtests/): pure rules here, locust itself always as a subprocess.

``import locust`` monkey-patches the standard library with gevent, so nothing in this process
imports it (nor loadtests.scenarios / measure / locustfile); the pure modules are fine.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest

from compare import REPO_ROOT
from compare.run.locust import headless_argv, option_args, worker_argv
from compare.run.records import read_records
from compare.servers.server import ServerProcess
from compare.system.ports import free_port
from loadtests import catalog, helphook
from loadtests.body import (
    BadHeader,
    BadStatus,
    BodyTally,
    DifferentBody,
    OwnUrl,
    TruncatedBody,
    WrongBody,
    WrongRowCount,
    announced_rows,
    check_export,
    check_own,
    check_ping,
)
from loadtests.options import OPTIONS, LoadOptions
from tests import loadtest_fakeserver as fake

LOCUST_TIMEOUT = 60  # seconds beyond --run-time before a locust subprocess counts as hung

StatsRow = dict[str, str]


# --- locust as a subprocess -------------------------------------------------------------------


def run_locust(argv: list[str], run_time_s: float) -> subprocess.CompletedProcess[str]:
    """Run a locust command line to completion; fail with its output if it errs or hangs."""
    proc = subprocess.run(
        argv,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=run_time_s + LOCUST_TIMEOUT,
        check=False,
    )
    assert proc.returncode == 0, f"locust exited {proc.returncode}:\n{proc.stderr[-4000:]}"
    return proc


def read_stats(prefix: Path) -> dict[str, StatsRow]:
    """Locust's <prefix>_stats.csv rows by "<Type> <Name>" (as the console table shows them)."""
    with open(f"{prefix}_stats.csv", newline="") as handle:
        return {f"{row['Type']} {row['Name']}".strip(): row for row in csv.DictReader(handle)}


def read_failures(prefix: Path) -> list[StatsRow]:
    """Locust's <prefix>_failures.csv rows."""
    with open(f"{prefix}_failures.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def read_exceptions(prefix: Path) -> list[StatsRow]:
    """Locust's <prefix>_exceptions.csv rows: errors raised inside users (bugs, not failures)."""
    with open(f"{prefix}_exceptions.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def count(row: StatsRow) -> tuple[int, int]:
    """(requests, failures) of a stats row."""
    return int(row["Request Count"]), int(row["Failure Count"])


# --- pure modules: catalog, options, body checks ----------------------------------------------


def test_pure_modules_import_without_locust_or_gevent() -> None:
    code = (
        "import sys, loadtests.catalog, loadtests.options, loadtests.body\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('locust', 'gevent'))\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True, timeout=30)


@pytest.mark.parametrize(
    ("argv", "wanted"),
    [
        (["/venv/bin/locust", "-f", "loadtests/locustfile.py", "--help"], True),
        (["locust", "-h", "-f", "/repo/loadtests/locustfile.py,loadtests/shapes.py"], True),
        (["/venv/bin/locust", "-f", "loadtests/locustfile.py", "--headless"], False),
        (["/venv/bin/locust", "-f", "other.py", "--help"], False),
        (["/venv/bin/gunicorn", "--help", "loadtests/locustfile.py"], False),
        ([], False),
    ],
)
def test_the_help_hook_answers_only_locusts_help_of_this_locustfile(
    argv: list[str], wanted: bool
) -> None:
    assert helphook.wanted(argv) is wanted


def test_the_help_hook_costs_other_interpreters_no_import() -> None:
    # make venv's .pth runs it as every interpreter of the venv starts, the servers' included.
    code = "import sys; assert not {'locust', 'gevent'} & set(sys.modules), sorted(sys.modules)"
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True, timeout=30)


@pytest.mark.server  # it starts locust, if only to print its help
def test_locusts_help_lists_the_projects_options() -> None:
    # Issue 24.3: locust answers --help before it imports the locustfile (loadtests.helphook).
    locust = Path(sys.executable).with_name("locust")
    done = subprocess.run(
        [str(locust), "-f", "loadtests/locustfile.py", "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    text = " ".join(done.stdout.split())  # argparse wraps help text at the terminal's width
    for spec in OPTIONS.values():
        assert f"{spec.flag} " in text, f"{spec.flag} missing: run make venv (its .pth)"
    read_kbps = OPTIONS["read_kbps"].default
    assert f"slow-client: reading rate per user, in KiB/s. Default: {read_kbps}." in text


def test_catalog_matches_the_locustfile_classes() -> None:
    """The locustfile's runnable classes are exactly the catalog's, each made for its scenario."""
    code = (
        "import json\n"
        "from loadtests import locustfile\n"
        "print(json.dumps({name: [c.scenario.name, c.abstract, c.__mro__[1].__name__]\n"
        "    for name, c in locustfile.CLASSES.items()}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, check=True, timeout=60, capture_output=True
    )
    made = json.loads(out.stdout)
    for name, scenario in catalog.SCENARIOS.items():
        for classes, base in (
            (scenario.classes(), "ExportUser"),
            (scenario.arrival_classes, "ArrivalUser"),
        ):
            for cls in classes:
                probe = cls == scenario.probe_class
                assert made[cls] == [name, False, "PingProbe" if probe else base]
    # The names the web UI and the docs use stay.
    assert {"DownloadUser", "HeadOfLineDownloadUser", "PingProbeUser", "SlowClientArrivals"} <= {
        *made
    }
    assert {s for s, sc in catalog.SCENARIOS.items() if not sc.open_loop} == {"mismatch", "ping"}
    listed = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(catalog.LOCUSTFILE), "--list"],
        cwd="/",  # the locustfile finds its package from anywhere
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    ).stdout.split()
    runnable = {word for word in listed if word.endswith(("User", "Arrivals"))}
    arrival_scenarios = [s for s, info in catalog.SCENARIOS.items() if info.arrival_classes]
    every = {*catalog.user_classes(list(catalog.SCENARIOS))}
    every |= {*catalog.user_classes(arrival_scenarios, "rate")}
    assert runnable == every


def test_locust_command_picks_classes_and_passes_options() -> None:
    argv = headless_argv(
        ["head-of-line", "slow-client"],
        host="http://127.0.0.1:1",
        users=6,
        run_time_s=12.4,
        csv_prefix="/tmp/x",
        params={"read_kbps": 512},
    )
    assert argv[-3:] == ["HeadOfLineDownloadUser", "PingProbeUser", "SlowClientUser"]
    joined = " ".join(argv)
    assert "--headless" in argv and "--run-time 12s" in joined and "--csv /tmp/x" in joined
    assert "--read-kbps 512" in joined
    with pytest.raises(KeyError, match="unknown scenario"):
        catalog.user_classes(["nope"])
    with pytest.raises(KeyError, match="'mismatch' has no rate load"):
        catalog.user_classes(["mismatch"], "rate")
    # An open loop, distributed: the master stops the test itself so the workers drain.
    argv = headless_argv(
        ["head-of-line"],
        host="http://127.0.0.1:1",
        users=3,
        run_time_s=5,
        params={"arrival_rate": 2.5},
        kind="rate",
        processes=2,
        master_port=5999,
    )
    joined = " ".join(argv)
    assert argv[-2:] == ["HeadOfLineArrivals", "PingProbeUser"]
    assert "--processes 2" in joined and "--master-port 5999" in joined
    assert "--run-time 5s" in joined
    assert "--arrival-rate 2.5" in joined
    with pytest.raises(KeyError, match="unknown loadtest option"):
        option_args({"rowz": 1})


def test_load_options_defaults_namespace_and_validation() -> None:
    assert LoadOptions.from_namespace(None) == LoadOptions()
    namespace = SimpleNamespace(rows=7, read_kbps=64, host="ignored")
    options = LoadOptions.from_namespace(namespace)
    assert (options.rows, options.read_kbps, options.mode) == (7, 64, "stream")
    assert options.export_query(mode="buffered")["mode"] == "buffered"
    assert options.export_query()["delay_ms"] == 0  # only upstream-latency sends a delay
    assert {spec.flag for spec in OPTIONS.values()} >= {"--rows", "--read-kbps", "--ping-rate"}
    with pytest.raises(ValueError, match="--rows must be at least 0"):
        LoadOptions(rows=-1)
    with pytest.raises(ValueError, match="--ping-rate must be positive"):
        LoadOptions(ping_rate=0)
    with pytest.raises(ValueError, match="--mode must be one of"):
        LoadOptions(mode="fast")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="--arrival-rate must be positive"):
        LoadOptions(arrival_rate=0)
    with pytest.raises(ValueError, match="--max-in-flight must be at least 1"):
        LoadOptions(max_in_flight=0)
    with pytest.raises(ValueError, match="--arrivals must be one of constant, poisson"):
        LoadOptions(arrivals="bursty")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="--step-levels must be comma-separated whole numbers"):
        LoadOptions(step_levels="1,x")
    assert LoadOptions(step_levels="2, 8").levels() == (2, 8)


def tally_of(*pieces: bytes) -> BodyTally:
    tally = BodyTally()
    for piece in pieces:
        tally.add(piece)
    return tally


def test_check_export_accepts_a_whole_body_in_any_pieces() -> None:
    body = fake.csv_body(3)
    check_export(tally_of(body[:5], b"", body[5:]), rows=3, content_length=None, complete=True)
    check_export(tally_of(body), rows=3, content_length=len(body), complete=True)


@pytest.mark.parametrize(
    ("body", "content_length", "complete", "error"),
    [
        (fake.csv_body(3), None, False, TruncatedBody),  # the parser never saw the end
        (fake.csv_body(3), 999, True, TruncatedBody),
        (fake.csv_body(2), None, True, WrongRowCount),
        (fake.csv_body(4), None, True, WrongRowCount),
        (fake.csv_body(3) + b"1,x", None, True, TruncatedBody),  # a stray partial line
        (b"", None, True, WrongRowCount),
    ],
)
def test_check_export_rejects_wrong_bodies(
    body: bytes, content_length: int | None, complete: bool, error: type[Exception]
) -> None:
    with pytest.raises(error):
        check_export(tally_of(body), rows=3, content_length=content_length, complete=complete)


def test_a_users_body_is_held_to_the_reference_or_to_its_status() -> None:
    body = b"any,bytes\nat all"
    own = OwnUrl("/x/", "body", len(body), hashlib.sha256(body).hexdigest())

    def tally(*pieces: bytes, checked: OwnUrl = own) -> BodyTally:
        counted = BodyTally(digest=checked.digest())
        for piece in pieces:
            counted.add(piece)
        return counted

    check_own(tally(body[:3], body[3:]), own, content_length=None, complete=True)
    for other in (body[:-1], body[:-1] + b"L"):  # shorter; same length, one byte changed
        with pytest.raises(DifferentBody):
            check_own(tally(other), own, content_length=None, complete=True)
    with pytest.raises(TruncatedBody):
        check_own(tally(body), own, content_length=None, complete=False)
    status_only = OwnUrl("/x/", "status")
    assert status_only.digest() is None
    check_own(tally(b"whatever", checked=status_only), status_only, content_length=8, complete=True)
    with pytest.raises(TruncatedBody):
        check_own(
            tally(b"short", checked=status_only), status_only, content_length=8, complete=True
        )
    assert LoadOptions().own_url() is None
    with pytest.raises(ValueError, match="needs --body-bytes and --body-sha256"):
        LoadOptions(url="/x/")
    with pytest.raises(ValueError, match="starting with '/'"):
        LoadOptions(url="x/", verify="status")


def test_rows_header_and_ping_checks() -> None:
    assert announced_rows("42") == 42
    for bad in (None, "", "-1", "4 2", "x", ["1", "2"]):
        with pytest.raises(BadHeader):
            announced_rows(bad)
    check_ping(200, b"pong\n")
    with pytest.raises(BadStatus, match=r"HTTP 503: busy"):
        check_ping(503, b"busy\nmore")
    with pytest.raises(WrongBody):
        check_ping(200, b"pon")


# --- locust against tiny fake servers --------------------------------------------------------


@pytest.mark.server
def test_ttfb_is_the_first_body_byte_not_the_headers(tmp_path: Path) -> None:
    """Headers at once, the chunk-size line 0.3 s later, the first body byte 0.3 s after that."""
    gap = 0.3
    with fake.FakeExportServer([fake.honest(first_gap_s=gap)]) as server:
        argv = headless_argv(
            ["download", "first-byte"],
            host=server.url,
            users=2,
            run_time_s=3,
            csv_prefix=tmp_path / "ttfb",
            params={"rows": 2000, "first_byte_rows": 2000},
        )
        run_locust(argv, 3)
    stats = read_stats(tmp_path / "ttfb")
    for key in ("TTFB download", "DOWNLOAD download", "TTFB first-byte"):
        requests, failures = count(stats[key])
        assert requests >= 2 and failures == 0, (key, stats[key])
        assert float(stats[key]["Min Response Time"]) >= 2 * gap * 1000 - 5, (key, stats[key])
    assert float(stats["TTFB download"]["Average Content Size"]) == 0
    assert float(stats["DOWNLOAD download"]["Average Content Size"]) == len(fake.csv_body(2000))
    assert not read_exceptions(tmp_path / "ttfb")


@pytest.mark.server
def test_every_request_carries_the_session_cookie_when_given(tmp_path: Path) -> None:
    # compare --app startproject: locust's users are one logged-in user (the option's env var).
    with fake.FakeExportServer([fake.honest()]) as server:
        argv = headless_argv(
            ["download", "head-of-line"],
            host=server.url,
            users=3,
            run_time_s=2,
            csv_prefix=tmp_path / "cookie",
            params={"rows": 100},
        )
        env = {**os.environ, OPTIONS["session"].env_var: "k3y"}
        done = subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, text=True, env=env)
        assert done.returncode == 0, done.stderr[-2000:]
    assert server.paths and set(server.cookies) == {"sessionid=k3y"}


@pytest.mark.server
def test_lying_servers_count_as_failures_never_successes(tmp_path: Path) -> None:
    with fake.FakeExportServer(fake.LIES) as server:
        argv = headless_argv(
            ["download"],
            host=server.url,
            users=2,
            run_time_s=3,
            csv_prefix=tmp_path / "lies",
            params={"rows": 1000, "record_dir": str(tmp_path / "records")},
        )
        run_locust(argv, 3)
    stats = read_stats(tmp_path / "lies")
    requests, failures = count(stats["DOWNLOAD download"])
    assert requests >= len(fake.LIES) and failures == requests, stats["DOWNLOAD download"]
    # Failures before the first body byte (HTTP 500, no X-Export-Rows) fail TTFB as well.
    ttfb_requests, ttfb_failures = count(stats["TTFB download"])
    # locust writes its CSV once a second, not at the end: each of the 2 users may have a TTFB
    # logged whose DOWNLOAD row was not yet written.
    assert requests <= ttfb_requests <= requests + 2 and 0 < ttfb_failures < requests
    errors = " | ".join(row["Error"] for row in read_failures(tmp_path / "lies"))
    for expected in (
        "WrongRowCount",  # short and extra rows, short until close
        "Incomplete response",  # cut mid-chunk, before the last chunk, short Content-Length
        "does not end with a line end",
        "HTTP 500: export failed",
        "no X-Export-Rows header",
    ):
        assert expected in errors, errors
    assert not read_exceptions(tmp_path / "lies")
    # The raw records (what the harness measures from) hold each request once, by kind.
    records = read_records(tmp_path / "records")
    downloads = [r for r in records.requests if r.kind == "download"]
    outcomes = {r.outcome for r in downloads}
    assert {"wrong-rows", "truncated", "http-500", "bad-header"} <= outcomes, outcomes
    assert "ok" not in outcomes
    finished = [r for r in downloads if r.outcome != "stopped"]
    # Locust's CSV misses the last second of a run (it is rewritten once a second, not at exit).
    assert len(finished) >= requests
    assert all(
        r.end >= r.start and (r.first_byte is None or r.first_byte >= r.start) for r in downloads
    )
    assert {"test_start", "spawning_complete", "test_stopping"} <= set(records.events)


@pytest.mark.server
def test_a_users_url_is_fetched_as_it_is_and_held_to_its_reference(tmp_path: Path) -> None:
    """The fake serves the same 50-row body every time: the right hash passes every download,
    a wrong one fails every one as wrong-body, whatever else is right about it."""
    url = "/mine/?rows=50"
    body = fake.csv_body(50)
    outcomes = {}
    for name, sha in (("right", hashlib.sha256(body).hexdigest()), ("wrong", "0" * 64)):
        with fake.FakeExportServer([fake.honest()]) as server:
            argv = headless_argv(
                ["download"],
                host=server.url,
                users=1,
                run_time_s=2,
                csv_prefix=tmp_path / name,
                params={
                    "url": url,
                    "body_bytes": len(body),
                    "body_sha256": sha,
                    "record_dir": str(tmp_path / name / "records"),
                },
            )
            run_locust(argv, 2)
        assert server.paths and set(server.paths) == {url}
        downloads = read_records(tmp_path / name / "records").requests
        outcomes[name] = {r.outcome for r in downloads if r.outcome != "stopped"}
    assert outcomes == {"right": {"ok"}, "wrong": {"wrong-body"}}


@pytest.mark.server
def test_distributed_master_sends_custom_options_to_workers(tmp_path: Path) -> None:
    port = free_port()
    with fake.FakeExportServer([fake.honest()]) as server:
        master = headless_argv(
            ["download"],
            host=server.url,
            users=2,
            run_time_s=3,
            csv_prefix=tmp_path / "dist",
            params={"rows": 777, "record_dir": str(tmp_path / "records")},
        )
        at = master.index("--headless")
        master[at:at] = ["--master", "--master-bind-host", "127.0.0.1"]
        master[at:at] = ["--master-bind-port", str(port), "--expect-workers", "1"]
        worker = subprocess.Popen(
            worker_argv(port),
            cwd=REPO_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            run_locust(master, 3)
            worker.wait(timeout=30)  # a worker quits when its master does
        finally:
            if worker.poll() is None:
                os.killpg(worker.pid, 9)
                worker.wait()
    stats = read_stats(tmp_path / "dist")
    requests, failures = count(stats["DOWNLOAD download"])
    assert requests > 0 and failures == 0
    exports = [path for path in server.paths if path.startswith("/export.csv")]
    assert exports and all("rows=777" in path for path in exports), exports[:3]
    # Master and worker each wrote their own records file; merged, they hold every download.
    assert len(list((tmp_path / "records").glob("records-*.jsonl"))) == 2
    records = read_records(tmp_path / "records")
    assert sum(r.outcome == "ok" for r in records.requests) >= requests
    assert len(records.events["spawning_complete"]) == 2  # fired on the master and the worker


# --- locust against the real stacks ----------------------------------------------------------

SERVER_STACKS = ["gunicorn-sync", "uvicorn"]
ROWS = 20_000
READ_KBPS = 2048


@pytest.mark.server
def test_every_scenario_against_a_real_stack(server: ServerProcess, tmp_path: Path) -> None:
    """One locust run, one user per class: every scenario reports right-sized, clean rows."""
    sizes: dict[int, int] = {}

    def body_bytes(rows: int) -> int:
        """The export's size at ``rows`` as the server sends it (slow-client has its own rows)."""
        if rows not in sizes:
            url = f"{server.base_url}/export.csv?rows={rows}"
            with urllib.request.urlopen(url, timeout=30) as reply:
                sizes[rows] = len(reply.read())
        return sizes[rows]

    scenarios = list(catalog.SCENARIOS)
    classes = catalog.user_classes(scenarios)
    run_time = 6
    slow = body_bytes(catalog.export_rows(catalog.SCENARIOS["slow-client"], {"rows": ROWS}))
    slowest_possible_ms = slow / (READ_KBPS * 1024) * 1000
    # The slow client's one download (7 MB at the reader's rate, 3.4 s) can begin inside the
    # run and end after it, later still where one busy core is locust's and every other user's
    # (a loaded run saw none end in 6 s). Locust's drain lets each request in flight finish and
    # starts none: bounded as a hang guard, three times that body's time at the rate and 20 s.
    drain = 3 * slowest_possible_ms / 1000 + 20
    argv = headless_argv(
        scenarios,
        host=server.base_url,
        users=len(classes),
        run_time_s=run_time,
        csv_prefix=tmp_path / "all",
        params={"rows": ROWS, "read_kbps": READ_KBPS, "delay_ms": 2},
        stop_timeout_s=drain,
    )
    run_locust(argv, run_time + drain)
    stats = read_stats(tmp_path / "all")
    assert not read_failures(tmp_path / "all"), read_failures(tmp_path / "all")
    assert not read_exceptions(tmp_path / "all"), read_exceptions(tmp_path / "all")
    for name, info in catalog.SCENARIOS.items():
        for request_type in info.request_types:
            row = stats.get(f"{request_type} {name}")
            assert row is not None, f"no {request_type} {name} in {sorted(stats)}"
            requests, failures = count(row)
            assert requests > 0 and failures == 0, row
        if catalog.DOWNLOAD in info.request_types:
            expected = body_bytes(catalog.export_rows(info, {"rows": ROWS}))
            assert float(stats[f"DOWNLOAD {name}"]["Average Content Size"]) == expected
    assert float(stats["PING head-of-line"]["Average Content Size"]) == len(b"pong\n")
    # The slow client really reads at its rate.
    assert float(stats["DOWNLOAD slow-client"]["Min Response Time"]) >= slowest_possible_ms * 0.95
