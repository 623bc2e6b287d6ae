"""``python -m compare ui`` as a subprocess: the web UI, its Server tab, a swarm, a clean stop.

One UI process serves the module (starting it costs seconds); the last test stops it. Chromium,
when installed, is driven over ``--remote-debugging-pipe`` (the DevTools protocol without a
websocket library) to load the page and collect console errors.

``python -m tests.test_ui --screenshot docs/locust-ui.png`` makes the README's screenshot from a
real run (both default stacks, a streamed then a buffered swarm on the first).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from compare import REPO_ROOT
from compare.system.ports import free_port
from tests.browser import CHROMIUM_FLAGS, MISSING, chromium_binary
from tests.helpers import COMPARE, alive, assert_gone

pytestmark = pytest.mark.server

UI = [*COMPARE, "ui"]
UI_BROWSER_FLAGS = [*CHROMIUM_FLAGS, "--hide-scrollbars", "--remote-debugging-pipe"]
READY_S = 45.0


def wait_until(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    """Poll ``check`` until it returns something truthy; fail saying ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not within {timeout:g} s")
        time.sleep(interval)


class LiveUI:
    """A running ``compare ui`` process and the HTTP calls a person's browser would make."""

    def __init__(self, stacks: str, port: int, log: Path, *extra: str) -> None:
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [*UI, "--stacks", stacks, "--port", str(port), *extra],
                cwd=REPO_ROOT,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.pids: set[int] = set()

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self) -> None:
        def ready() -> bool:
            if self.proc.poll() is not None:
                pytest.fail(f"compare ui exited with {self.proc.returncode}:\n{self.output()}")
            return "Locust web UI:" in self.output()

        wait_until(ready, READY_S, "the UI", interval=0.2)
        # Everything it started, while they are still its descendants.
        root = psutil.Process(self.proc.pid)
        self.pids = {self.proc.pid, *(p.pid for p in root.children(recursive=True))}

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.base + path, timeout=10) as resp:
            body: bytes = resp.read()
            return body

    def json(self, path: str) -> Any:
        return json.loads(self.get(path))

    def post(self, path: str, fields: list[tuple[str, str]] | None = None) -> Any:
        data = urllib.parse.urlencode(fields or []).encode()
        with urllib.request.urlopen(self.base + path, data=data, timeout=10) as resp:
            return json.loads(resp.read() or b"null")

    def swarm(self, host: str, users: int, user_class: str, **options: object) -> None:
        fields = [("user_count", str(users)), ("spawn_rate", str(users)), ("host", host)]
        fields += [("user_classes", user_class), *((k, str(v)) for k, v in options.items())]
        answer = self.post("/swarm", fields)
        assert answer["success"], answer

    def stop_swarm(self) -> None:
        self.post("/stop")
        wait_until(lambda: self.json("/stats/requests")["state"] == "stopped", 15, "locust stopped")

    def rows(self) -> dict[tuple[str, str], dict[str, Any]]:
        stats = self.json("/stats/requests")["stats"]
        return {(row["method"], row["name"]): row for row in stats if row["method"]}

    def interrupt(self, timeout: float = 40.0) -> int:
        """SIGINT, as Ctrl-C would; the exit code (kills whatever is left if it hangs)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            for pid in alive(self.pids):
                with contextlib.suppress(psutil.Error):
                    psutil.Process(pid).kill()
            self.proc.wait(timeout=5)
            pytest.fail(f"compare ui did not stop within {timeout:g} s:\n{self.output()}")


class Chromium:
    """Headless Chromium over the DevTools protocol on a pipe (NUL-separated JSON messages)."""

    def __init__(self, binary: str, profile: Path, width: int = 1400, height: int = 1000) -> None:
        to_read, self._to_browser = os.pipe()
        self._from_browser, from_write = os.pipe()
        # Chromium reads commands on fd 3 and writes answers on fd 4; move the pipe ends there.
        trampoline = (
            "import fcntl, os, sys\n"
            "r, w = (fcntl.fcntl(int(fd), fcntl.F_DUPFD, 10) for fd in sys.argv[1:3])\n"
            "os.dup2(r, 3); os.dup2(w, 4)\n"
            "os.execv(sys.argv[3], sys.argv[3:])\n"
        )
        argv = [binary, *UI_BROWSER_FLAGS, f"--user-data-dir={profile}"]
        argv += [f"--window-size={width},{height}", "about:blank"]
        self.proc = subprocess.Popen(
            [sys.executable, "-c", trampoline, str(to_read), str(from_write), *argv],
            pass_fds=(to_read, from_write),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,  # D-Bus and GPU noise, nothing the page did
        )
        os.close(to_read)
        os.close(from_write)
        fcntl.fcntl(self._from_browser, fcntl.F_SETFL, os.O_NONBLOCK)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        self.session = ""
        self.size = (width, height)

    def _message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no answer from chromium")
            if select.select([self._from_browser], [], [], remaining)[0]:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    raise EOFError("chromium closed its pipe")
                self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(b"\0")
        message: dict[str, Any] = json.loads(raw)
        return message

    def call(self, method: str, params: dict[str, Any] | None = None, timeout: float = 20) -> Any:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if self.session and not method.startswith(("Target.", "Browser.")):
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._message(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            self.events.append(answer)

    def open(self, url: str) -> None:
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        attached = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})
        self.session = attached["sessionId"]
        for domain in ("Runtime", "Log", "Page"):
            self.call(f"{domain}.enable")
        width, height = self.size
        metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
        self.call("Emulation.setDeviceMetricsOverride", metrics)
        self.call("Page.navigate", {"url": url})

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float, what: str) -> Any:
        return wait_until(lambda: self.evaluate(expression), timeout, what, interval=0.2)

    def errors(self) -> list[str]:
        """Uncaught exceptions, console.error/assert calls and error log entries (failed loads)."""
        found = []
        for event in self.events:
            params = event.get("params", {})
            if event.get("method") == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                found.append(details.get("exception", {}).get("description") or details["text"])
            elif event.get("method") == "Runtime.consoleAPICalled" and params["type"] in (
                "error",
                "assert",
            ):
                found.append(
                    " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
                )
            elif event.get("method") == "Log.entryAdded" and params["entry"]["level"] == "error":
                entry = params["entry"]
                found.append(f"{entry['text']} ({entry.get('url', '')})")
        return found

    def screenshot(self, path: Path) -> None:
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.call("Browser.close", timeout=5)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        os.close(self._to_browser)
        os.close(self._from_browser)


@contextlib.contextmanager
def browser(binary: str, width: int = 1400, height: int = 1000) -> Iterator[Chromium]:
    with tempfile.TemporaryDirectory(prefix="dsc-chromium-") as profile:
        chrome = Chromium(binary, Path(profile), width, height)
        try:
            yield chrome
        finally:
            chrome.close()


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


def stack_url(ui: LiveUI) -> str:
    url: str = ui.json("/server-data")["stacks"][0]["url"]
    return url


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


# --- the README's screenshot -------------------------------------------------------------------


def make_screenshot(path: Path, seconds: float = 14.0) -> None:
    """A real run: both default stacks; a streamed swarm, then a buffered one, on the first."""
    binary = chromium_binary()
    if binary is None:
        raise SystemExit("chromium is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        ui = LiveUI("gunicorn-sync,uvicorn", free_port(), Path(tmp) / "ui.log")
        try:
            ui.wait_ready()
            host = stack_url(ui)
            ui.swarm(host, 4, "DownloadUser", rows=1_000_000)
            time.sleep(seconds)
            ui.stop_swarm()
            ui.swarm(host, 4, "BufferedUser", rows=1_000_000)
            time.sleep(seconds)
            with browser(binary, 1400, 790) as chrome:
                chrome.open(ui.base + "/?tab=server")
                chrome.wait_for(
                    "document.querySelectorAll('#dsc-server-panel svg path').length >= 4",
                    15,
                    "both stacks' lines",
                )
                time.sleep(1.5)  # one more poll, so the table is as fresh as the lines
                chrome.screenshot(path)
                assert chrome.errors() == [], chrome.errors()
            ui.stop_swarm()
        finally:
            ui.interrupt()
            assert_gone(ui.pids, timeout=10)
    print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Make the locust UI screenshot for the README.")
    parser.add_argument("--screenshot", type=Path, default=REPO_ROOT / "docs" / "locust-ui.png")
    parser.add_argument("--seconds", type=float, default=14.0, help="of each swarm")
    options = parser.parse_args()
    make_screenshot(options.screenshot, options.seconds)
