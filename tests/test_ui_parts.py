"""The locust web UI's parts, without locust: the server feed, the Server tab's Flask side, argv.

``loadtests.servertab`` imports Flask but not locust, so it is exercised on a bare Flask app with
a blueprint standing in for locust's own page.
"""

from __future__ import annotations

import argparse
import json
import logging
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Blueprint, Flask, request
from werkzeug.datastructures import MultiDict

from compare import REPO_ROOT
from compare.commands import ui
from compare.errors import CompareError
from compare.run import serverfeed
from compare.run.locust import web_ui_argv, worker_argv
from compare.servers.stacks import get_stack
from compare.system.sampler import ProcessSample, TreeSample
from loadtests import picker, servertab
from loadtests.catalog import LOCUSTFILE, SHAPES_FILE

MB = 1_000_000  # 10^6 bytes, as everywhere in the project


def tree(t: float, *procs: tuple[int, int, float]) -> TreeSample:
    """A tree sample at t: one process per (pid, pss in MB, cpu seconds)."""
    return TreeSample(
        t=t,
        wall=1_000_000.0 + t,
        processes=tuple(
            ProcessSample(pid, 1, 1.0, rss=pss * MB * 2, uss=pss * MB // 2, pss=pss * MB,
                          cpu_user=cpu, cpu_system=0.0)
            for pid, pss, cpu in procs
        ),
    )  # fmt: skip


class FakeSampler:
    def __init__(self, samples: list[TreeSample], exited: bool = False) -> None:
        self.samples = samples
        self.first = samples[:16]
        self.peak_pss = max((s.pss for s in samples), default=0)
        self.root_exited = exited


SAMPLES = [
    tree(10.0, (1, 30, 1.0), (2, 20, 0.5)),
    tree(10.5, (1, 30, 1.0), (2, 20, 0.5)),
    tree(11.0, (1, 30, 1.0), (2, 22, 1.0)),  # worker 2: 0.5 s of CPU in 0.5 s
    tree(11.5, (1, 30, 1.0), (2, 40, 1.5), (3, 10, 0.25)),  # worker 3 born, 0.25 s already
    tree(12.0, (1, 30, 1.0), (3, 10, 0.25)),  # worker 2 gone: its last CPU is not seen
]


def test_cpu_percent_counts_each_process_and_births() -> None:
    assert serverfeed.cpu_percent(SAMPLES[0], SAMPLES[1]) == 0.0
    assert serverfeed.cpu_percent(SAMPLES[1], SAMPLES[2]) == pytest.approx(100.0)
    assert serverfeed.cpu_percent(SAMPLES[2], SAMPLES[3]) == pytest.approx(150.0)
    assert serverfeed.cpu_percent(SAMPLES[3], SAMPLES[4]) == 0.0
    assert serverfeed.cpu_percent(SAMPLES[1], SAMPLES[1]) == 0.0


def test_series_is_relative_to_the_feed_clock_and_incremental() -> None:
    points = serverfeed.series(SAMPLES, t0=10.0, since=None)
    assert points == [
        [0.0, 50.0, 0.0],
        [0.5, 50.0, 0.0],
        [1.0, 52.0, 100.0],
        [1.5, 80.0, 150.0],
        [2.0, 40.0, 0.0],
    ]
    assert serverfeed.series(SAMPLES, t0=10.0, since=1.0) == points[3:]
    assert serverfeed.series(SAMPLES, t0=10.0, since=2.0) == []
    # The limit keeps the newest points; their CPU still comes from the sample before.
    assert serverfeed.series(SAMPLES, t0=10.0, since=None, limit=2) == points[3:]
    assert serverfeed.series([], t0=0.0, since=None) == []


def test_describe_reports_current_peak_and_idle_baseline() -> None:
    stack = serverfeed.FeedStack("s", "http://127.0.0.1:1", "wsgi", 42, FakeSampler(SAMPLES))
    entry = serverfeed.describe(stack, t0=10.0, since=1.5)
    assert entry["name"] == "s" and entry["running"] is True and entry["pid"] == 42
    assert entry["samples"] == [[2.0, 40.0, 0.0]]
    assert entry["pss_mb"] == 40.0
    assert entry["peak_pss_mb"] == 80.0
    assert entry["baseline_pss_mb"] == 51.0  # median of the first four: 50, 50, 52, 80
    assert entry["largest_uss_mb"] == 15.0
    assert entry["processes"] == 2
    assert entry["cpu_percent"] == 0.0
    empty = serverfeed.describe(
        serverfeed.FeedStack("e", "u", "asgi", 1, FakeSampler([], exited=True)), 0.0, None
    )
    assert empty["running"] is False and empty["samples"] == [] and "pss_mb" not in empty


@pytest.fixture
def feed() -> Iterator[serverfeed.ServerFeed]:
    stacks = [
        serverfeed.FeedStack("a", "http://127.0.0.1:1", "wsgi", 1, FakeSampler(SAMPLES)),
        serverfeed.FeedStack("b", "http://127.0.0.1:2", "asgi", 2, FakeSampler(SAMPLES[:2])),
    ]
    with serverfeed.ServerFeed(stacks, interval=0.5, t0=10.0) as running:
        yield running


def _get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.headers["Content-Type"], resp.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers["Content-Type"], exc.read()


def test_feed_serves_json_and_csv_on_loopback(feed: serverfeed.ServerFeed) -> None:
    assert feed.url.startswith("http://127.0.0.1:") and feed.url.endswith("/server-data")
    status, kind, body = _get(feed.url + "?since=1.0")
    assert (status, kind) == (200, "application/json")
    data = json.loads(body)
    assert data["interval"] == 0.5 and data["now"] > 0 and data["wall_t0"] > 0
    assert [s["name"] for s in data["stacks"]] == ["a", "b"]
    assert [len(s["samples"]) for s in data["stacks"]] == [2, 0]
    status, kind, body = _get(feed.url.removesuffix("/server-data") + "/server-data.csv")
    assert status == 200 and kind.startswith("text/csv")
    lines = body.decode().splitlines()
    assert lines[0].startswith("stack,t_s,wall,pss_bytes")
    assert len(lines) == 1 + len(SAMPLES) + 2
    assert lines[1] == f"a,0.000,1000010.000,{50 * MB},{25 * MB},{100 * MB},1.500,2"
    assert _get(feed.url + "?since=soon")[0] == 400
    assert _get(feed.url.removesuffix("/server-data") + "/other")[0] == 404


def test_feed_stops_and_frees_its_port() -> None:
    running = serverfeed.ServerFeed([], interval=1.0).start()
    url = running.url
    running.stop()
    running.stop()  # idempotent
    with pytest.raises(OSError):
        urllib.request.urlopen(url, timeout=2)


# --- the Server tab on a bare Flask app --------------------------------------------------------


def _web_ui(environ: dict[str, str]) -> SimpleNamespace:
    app = Flask("fake_locust")
    page = Blueprint("locust", __name__)

    @page.route("/")
    def index() -> str:
        return "<html><head></head><body><div id='root'></div>\n</body></html>"

    @page.route("/other")
    def other() -> str:
        return "<html><body></body></html>"

    app.register_blueprint(page)
    web_ui = SimpleNamespace(app=app, template_args={"extended_tabs": [{"key": "x", "title": "X"}]})
    servertab.install(web_ui, environ)
    return web_ui


def test_server_tab_is_added_to_locusts_page_only() -> None:
    web_ui = _web_ui({})
    assert web_ui.template_args["extended_tabs"] == [
        {"key": "x", "title": "X"},
        {"key": "server", "title": "Server"},
    ]
    assert web_ui.template_args["extended_csv_files"][0]["href"] == "/server-data.csv"
    client = web_ui.app.test_client()
    page = client.get("/").get_data(as_text=True)
    assert page.count('<script src="/server-tab.js" defer></script>') == 1
    assert page.index("server-tab.js") < page.index("</body>")
    assert "server-tab.js" not in client.get("/other").get_data(as_text=True)
    script = client.get("/server-tab.js")
    assert script.status_code == 200 and script.mimetype == "text/javascript"
    assert b"/server-data" in script.data


@pytest.mark.parametrize(
    ("ticked", "runs"),
    [
        # The picker as it opens (every class ticked), or nothing sent: the download scenario.
        (["DownloadUser", "BufferedUser", "SlowClientUser"], ["DownloadUser"]),
        ([], ["DownloadUser"]),
        # A choice is kept as made.
        (["SlowClientUser"], ["SlowClientUser"]),
        (["BufferedUser", "SlowClientUser"], ["BufferedUser", "SlowClientUser"]),
    ],
)
def test_start_with_every_class_ticked_runs_the_download_scenario(
    ticked: list[str], runs: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    app = Flask("fake_locust")
    seen: dict[str, Any] = {}

    @app.post("/swarm")
    def swarm() -> str:  # locust's view reads the form this way
        seen.update(classes=request.form.getlist("user_classes"), users=request.form["user_count"])
        return "{}"

    picker.install(app, lambda: ("BufferedUser", "DownloadUser", "SlowClientUser"))
    fields = [("user_count", "4"), *(("user_classes", name) for name in ticked)]
    with caplog.at_level(logging.WARNING, logger=picker.__name__):
        app.test_client().post("/swarm", data=MultiDict(fields))
    assert seen == {"classes": runs, "users": "4"}
    assert ("running the download scenario" in caplog.text) == (runs != ticked)


@pytest.mark.parametrize("picker", [True, False], ids=["class-picker", "without"])
def test_the_shapes_file_drops_locusts_shape_warnings_under_the_picker(picker: bool) -> None:
    # Locust warns at start-up that the first shape ignores --users; under --class-picker the
    # shape runs only when picked, so `make locust-ui` printed two wrong warnings (issue 24.8).
    argv = ["locust", "-f", "loadtests/shapes.py", *(["--class-picker"] if picker else [])]
    code = (
        f"import logging, sys\nsys.argv = {argv!r}\nimport loadtests.shapes\n"
        "logging.basicConfig(format='%(levelname)s %(message)s')\n"
        "log = logging.getLogger('locust.main')\n"
        "log.warning('--run-time, --users or --spawn-rate have no impact on LoadShapes ...')\n"
        "log.warning('The following option(s) will be ignored: --users, --spawn-rate')\n"
        "log.warning('something else')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("WARNING") == (1 if picker else 3), done.stderr
    assert "something else" in done.stderr


def test_server_data_without_a_feed_says_how_to_get_one() -> None:
    client = _web_ui({}).app.test_client()
    data = client.get("/server-data").get_json()
    assert data["stacks"] == [] and "python -m compare ui" in data["error"]
    assert client.get("/server-data.csv").status_code == 404


def test_server_data_relays_the_feed(feed: serverfeed.ServerFeed) -> None:
    client = _web_ui({servertab.FEED_ENV: feed.url}).app.test_client()
    answer = client.get("/server-data?since=1.0")
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    assert [len(s["samples"]) for s in answer.get_json()["stacks"]] == [2, 0]
    assert len(client.get("/server-data").get_json()["stacks"][0]["samples"]) == len(SAMPLES)
    assert client.get("/server-data?since=x").status_code == 400
    download = client.get("/server-data.csv")
    assert download.status_code == 200
    assert "attachment" in download.headers["Content-Disposition"]
    assert download.data.startswith(b"stack,t_s")


def test_server_data_when_the_feed_is_gone() -> None:
    gone = serverfeed.ServerFeed([], interval=1.0)
    url = gone.url
    gone.stop()
    answer = _web_ui({servertab.FEED_ENV: url}).app.test_client().get("/server-data")
    assert answer.status_code == 502
    assert "did not answer" in answer.get_json()["error"]


def test_feed_env_name_is_shared() -> None:
    # servertab runs inside locust and must not import serverfeed (psutil, compare): two names.
    assert servertab.FEED_ENV == serverfeed.FEED_ENV
    assert servertab.DATA_PATH == serverfeed.DATA_PATH
    assert servertab.CSV_PATH == serverfeed.CSV_PATH


# --- the ui command's pure parts ------------------------------------------------------------


def test_stacks_that_cannot_run_are_refused_or_skipped(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ok, absent = get_stack("gunicorn-sync"), get_stack("uvicorn")
    monkeypatch.setattr(type(absent), "missing", lambda self: "x" if self is absent else None)
    with pytest.raises(CompareError, match="uvicorn: x"):
        ui.installed([ok, absent], every=False)
    assert ui.installed([ok, absent], every=True) == [ok]
    assert "skipping uvicorn: x" in capsys.readouterr().err
    with pytest.raises(CompareError, match="none of the stacks"):
        ui.installed([absent], every=True)


def test_locust_command_lines() -> None:
    argv = web_ui_argv(
        host_url="http://127.0.0.1:9",
        web_host="127.0.0.1",
        web_port=8089,
        users=4,
        params={"source": "db"},
        extra=["-u", "8"],
    )
    assert argv[1:5] == ["-m", "locust", "-f", f"{LOCUSTFILE},{SHAPES_FILE}"]
    assert "--class-picker" in argv and "--headless" not in argv and "--master" not in argv
    assert argv[argv.index("--host") + 1] == "http://127.0.0.1:9"
    assert argv[argv.index("--web-host") + 1] == "127.0.0.1"
    assert argv[-4:] == ["--source", "db", "-u", "8"]  # the person's own arguments win
    master = web_ui_argv(
        host_url="http://127.0.0.1:9",
        web_host="127.0.0.1",
        web_port=8089,
        users=4,
        master_port=5557,
    )
    assert master[master.index("--master-bind-port") + 1] == "5557"
    assert master[master.index("--master-bind-host") + 1] == "127.0.0.1"
    worker = worker_argv(5557)
    assert "--worker" in worker and worker[worker.index("--master-port") + 1] == "5557"


def test_probe_host() -> None:
    assert ui.probe_host("127.0.0.1") == "127.0.0.1"
    assert ui.probe_host("0.0.0.0") == "127.0.0.1"
    assert ui.probe_host("::") == "[::1]"
    assert ui.probe_host("::1") == "[::1]"


def _args(**overrides: Any) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    ui.add_arguments(parser)
    args = parser.parse_args([])
    vars(args).update(overrides)
    return args


def test_defaults_and_passthrough_arguments() -> None:
    parser = argparse.ArgumentParser()
    ui.add_arguments(parser)
    args = parser.parse_args(["--stacks", "uvicorn", "--", "--rows", "5", "--mode", "buffered"])
    assert args.port == 8089 and args.web_host == "127.0.0.1" and args.locust_workers == 0
    assert args.locust_args == ["--rows", "5", "--mode", "buffered"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"stacks": "nope"}, "unknown stack"),
        ({"locust_workers": -1}, "--locust-workers"),
        ({"sample_interval": 0.0}, "--sample-interval"),
    ],
)
def test_bad_arguments_fail_before_starting_anything(
    overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(CompareError, match=message):
        ui.run(_args(**overrides))


def test_a_taken_port_is_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(CompareError, match="in use"):
            ui.run(_args(port=port))


def test_series_since_the_last_sent_point_never_repeats_it() -> None:
    samples = [tree(t, (1, 10, 0.0)) for t in (5.0004, 5.2506, 5.4993)]
    sent = serverfeed.series(samples, t0=5.0, since=None)
    assert [p[0] for p in sent] == [0.0, 0.251, 0.499]
    for index, point in enumerate(sent):
        assert serverfeed.series(samples, t0=5.0, since=point[0]) == sent[index + 1 :]
