"""``python -m compare ui`` as a subprocess: the web UI, its Server tab, a swarm, a clean stop.

One UI process serves the module (starting it costs seconds); the last test stops it. Chromium,
when installed, is driven over ``--remote-debugging-pipe`` (the DevTools protocol without a
websocket library) to load the page and collect console errors.

The README's screenshot is made with the same parts: ``python -m compare.dev.screenshot``.
"""

from __future__ import annotations

import json
import re
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from compare.dev.chromium import MISSING, browser, chromium_binary
from compare.dev.liveui import LiveUI, stack_url
from compare.dev.wait import wait_until
from compare.system.ports import free_port
from tests.helpers import assert_gone

pytestmark = pytest.mark.server


# --- the tests ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveUI]:
    log = tmp_path_factory.mktemp("ui") / "ui.log"
    ui = LiveUI("gunicorn-sync", free_port(), log, "--sample-interval", "0.2")
    try:
        ui.wait_ready()
        yield ui
    finally:
        ui.interrupt()
        assert_gone(ui.pids, timeout=10)


def test_page_and_server_data_answer(live_ui: LiveUI) -> None:
    page = live_ui.get("/").decode()
    assert '<script src="/server-tab.js" defer></script>' in page
    args = json.loads(page.split("window.templateArgs = ", 1)[1].split("\n", 1)[0])
    assert {"key": "server", "title": "Server"} in args["extended_tabs"]
    assert args["show_userclass_picker"] is True
    assert {"DownloadUser", "BufferedUser", "PingProbeUser"} <= set(args["available_user_classes"])
    assert {"rows", "chunk_kb", "mode", "iterator", "delay_ms"} <= set(args["extra_options"])
    # Issue 24.8: nothing to puzzle over at start (locust warned that the shape ignores --users).
    assert "/WARNING/" not in live_ui.output(), live_ui.output()

    data = live_ui.json("/server-data")
    (stack,) = data["stacks"]
    assert stack["name"] == "gunicorn-sync" and stack["running"] is True
    assert stack["url"].startswith("http://127.0.0.1:")
    assert args["host"] == stack["url"]  # the first stack is the default host
    assert f"gunicorn-sync          {stack['url']}" in live_ui.output()
    assert stack["pss_mb"] > 10 and stack["baseline_pss_mb"] > 10
    assert stack["processes"] == 3  # gunicorn's arbiter and its two workers
    assert len(stack["samples"]) >= 4
    later = live_ui.json(f"/server-data?since={stack['samples'][-1][0]}")["stacks"][0]["samples"]
    assert all(point[0] > stack["samples"][-1][0] for point in later)
    with urllib.request.urlopen(stack["url"] + "/healthz", timeout=5) as resp:
        assert json.loads(resp.read())["interface"] == "wsgi"


def test_swarm_through_the_api_reports_ttfb_and_download_rows(live_ui: LiveUI) -> None:
    live_ui.swarm(stack_url(live_ui), 2, "DownloadUser", rows=20_000)
    try:

        def measured() -> bool:
            rows = live_ui.rows()
            return all(rows.get((kind, "download"), {}).get("num_requests") for kind in KINDS)

        wait_until(measured, 20, "TTFB and DOWNLOAD rows for download")
    finally:
        live_ui.stop_swarm()
    rows = live_ui.rows()
    for kind in KINDS:
        assert rows[(kind, "download")]["num_failures"] == 0, rows
    download = rows[("DOWNLOAD", "download")]
    # 20 000 rows of the synthetic source: about a megabyte per verified body.
    assert download["avg_content_length"] > 500_000
    assert live_ui.json("/server-data")["stacks"][0]["peak_pss_mb"] > 10


def test_start_with_every_class_ticked_runs_the_download_scenario_alone(live_ui: LiveUI) -> None:
    # The picker opens with every class ticked; Start as it is must not run every scenario.
    page = live_ui.get("/").decode()
    args = json.loads(page.split("window.templateArgs = ", 1)[1].split("\n", 1)[0])
    fields = [("user_count", "2"), ("spawn_rate", "2"), ("host", stack_url(live_ui))]
    fields += [("user_classes", name) for name in args["available_user_classes"]]
    assert live_ui.post("/swarm", [*fields, ("rows", "5000")])["success"]
    try:
        wait_until(
            lambda: live_ui.rows().get(("DOWNLOAD", "download"), {}).get("num_requests"),
            20,
            "a DOWNLOAD row for download",
        )
    finally:
        live_ui.stop_swarm()
    assert {name for _kind, name in live_ui.rows()} == {"download"}
    assert "running the download scenario (DownloadUser) alone" in live_ui.output()


KINDS = ("TTFB", "DOWNLOAD")


def test_the_concurrency_steps_shape_climbs_the_curve_and_stops(live_ui: LiveUI) -> None:
    page = live_ui.get("/").decode()
    args = json.loads(page.split("window.templateArgs = ", 1)[1].split("\n", 1)[0])
    assert "ConcurrencySteps" in args["available_shape_classes"]
    assert {"DownloadArrivals", "SlowClientArrivals"} <= set(args["available_user_classes"])
    live_ui.swarm(
        stack_url(live_ui),
        1,
        "DownloadUser",
        rows=5000,
        shape_class="ConcurrencySteps",
        step_levels="1,3",
        # Locust's shape worker ticks about once a second, and not on time while the download
        # greenlets hog a busy process: a short step can be skipped whole.
        step_seconds=4,
    )
    seen: list[int] = []
    try:

        def climbed() -> bool:
            seen.append(live_ui.json("/stats/requests")["user_count"])
            return 3 in seen

        wait_until(climbed, 20, "the shape's second step (3 users)")
        wait_until(
            lambda: live_ui.json("/stats/requests")["state"] == "stopped", 20, "the shape's end"
        )
    finally:
        live_ui.stop_swarm()
    assert seen[0] <= 1 and max(seen) == 3


def test_server_tab_loads_without_console_errors(live_ui: LiveUI) -> None:
    binary = chromium_binary()
    if binary is None:
        pytest.skip(MISSING)
    if live_ui.json("/stats/requests")["state"] == "ready":
        # The tabs only show once a test has run.
        live_ui.swarm(stack_url(live_ui), 1, "DownloadUser", rows=1000)
        live_ui.stop_swarm()
    with browser(binary) as chrome:
        chrome.open(live_ui.base + "/?tab=server")
        chrome.wait_for(
            "!!document.querySelector('#dsc-server-panel svg path[data-stack=\"gunicorn-sync\"]')",
            15,
            "the Server tab's memory line",
        )
        tabs = chrome.evaluate(
            "[...document.querySelectorAll('[role=tab]')].map(t => t.textContent.trim())"
        )
        assert "Server" in [t.title() for t in tabs], tabs
        row = chrome.evaluate(
            "document.querySelector('#dsc-server-panel tr[data-stack=\"gunicorn-sync\"]')"
            ".textContent"
        )
        assert stack_url(live_ui) in row and "MB" in row
        # Another tab hides the panel; coming back draws it again.
        chrome.evaluate("document.querySelectorAll('[role=tab]')[0].click()")
        chrome.wait_for("!document.getElementById('dsc-server-panel')", 5, "the panel hidden")
        chrome.evaluate(
            "[...document.querySelectorAll('[role=tab]')]"
            ".find(t => /server/i.test(t.textContent)).click()"
        )
        chrome.wait_for("!!document.querySelector('#dsc-server-panel svg')", 5, "panel back")
        assert chrome.errors() == []


def test_interrupt_stops_everything(live_ui: LiveUI) -> None:
    stack = stack_url(live_ui)
    assert len(live_ui.pids) >= 5  # ours, locust, gunicorn's arbiter and two workers
    started = time.monotonic()
    assert live_ui.interrupt() == 0, live_ui.output()
    assert time.monotonic() - started < 20
    assert_gone(live_ui.pids)
    for url in (live_ui.base + "/", stack + "/healthz"):
        with pytest.raises(OSError):
            urllib.request.urlopen(url, timeout=2)
    assert "stopped" in live_ui.output()


def test_ui_project_fetches_the_users_url_held_to_its_reference(tmp_path: Path) -> None:
    project = Path(__file__).parent / "ownproject"
    own = ("--project", str(project), "--settings", "shop.settings", "--url", "/async/?rows=20000")
    ui = LiveUI("uvicorn", free_port(), tmp_path / "ui.log", *own)
    try:
        ui.wait_ready()
        found = re.search(r"reference: /async/\?rows=20000: (\d+) bytes", ui.output())
        assert found, ui.output()
        ui.swarm(stack_url(ui), 1, "DownloadUser")
        try:
            wait_until(
                lambda: ui.rows().get(("DOWNLOAD", "download"), {}).get("num_requests"),
                20,
                "DOWNLOAD rows of the user's URL",
            )
        finally:
            ui.stop_swarm()
        download = ui.rows()[("DOWNLOAD", "download")]
        # Every body its reference's length and hash (else each counts as a wrong-body failure).
        assert download["num_failures"] == 0, download
        assert download["avg_content_length"] == int(found.group(1))
        assert ui.interrupt() == 0, ui.output()
    finally:
        ui.interrupt()
        assert_gone(ui.pids, timeout=10)


def test_distributed_mode_adds_up_the_workers_rows(tmp_path: Path) -> None:
    ui = LiveUI("uvicorn", free_port(), tmp_path / "ui.log", "--locust-workers", "2")
    try:
        ui.wait_ready()
        assert len(ui.pids) >= 6  # ours, the master, two workers, uvicorn's supervisor and more
        ui.swarm(stack_url(ui), 2, "DownloadUser", rows=5_000)

        def both_workers_measured() -> bool:
            report = ui.json("/stats/requests")
            rows = {(r["method"], r["name"]): r["num_requests"] for r in report["stats"]}
            busy = [w["user_count"] for w in report["workers"]]
            return busy == [1, 1] and all(rows.get((kind, "download")) for kind in KINDS)

        # The master runs no user: every row it shows came from the workers' reports.
        wait_until(both_workers_measured, 20, "rows from two workers")
        ui.stop_swarm()
        assert ui.interrupt() == 0, ui.output()
    finally:
        ui.interrupt()
        assert_gone(ui.pids, timeout=10)
