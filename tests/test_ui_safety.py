"""The locust web UI is safe to expose: the start form sets only what it shows, and the page
never holds the logged-in session (issue 23.6, review F8)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import Flask

from compare import REPO_ROOT
from compare.commands.ui import exposure_warning
from compare.run.locust import web_ui_argv
from compare.system.ports import free_port
from loadtests import startform
from loadtests.options import OPTIONS

# What a POST needs to start a test from the form: a dead host, nothing is ever downloaded.
FORM = {"user_count": "1", "spawn_rate": "1", "host": "http://127.0.0.1:9", "run_time": ""}


def _guarded() -> Flask:
    app = Flask("fake_locust")
    app.add_url_rule("/swarm", "swarm", lambda: {"success": True}, methods=["POST"])
    startform.install(SimpleNamespace(app=app))
    return app


@pytest.mark.parametrize("hidden", [spec.dest for spec in OPTIONS.values() if not spec.web_ui])
def test_the_form_cannot_set_an_option_it_does_not_show(hidden: str) -> None:
    answer = _guarded().test_client().post("/swarm", data={**FORM, hidden: "/tmp/x"})
    assert answer.status_code == 400
    assert answer.get_json()["success"] is False and hidden in answer.get_json()["message"]


@pytest.mark.parametrize("locusts", ["html_file", "csv_prefix", "logfile", "json_file", "config"])
def test_nor_one_of_locusts_own_that_writes_files(locusts: str) -> None:
    answer = _guarded().test_client().post("/swarm", data={**FORM, locusts: "/tmp/x"})
    assert answer.status_code == 400


def test_what_the_form_shows_still_starts() -> None:
    shown = {spec.dest: str(spec.default) for spec in OPTIONS.values() if spec.web_ui}
    form = {**FORM, **shown, "user_classes": "DownloadUser", "shape_class": "Default"}
    answer = _guarded().test_client().post("/swarm", data=form)
    assert answer.status_code == 200 and answer.get_json() == {"success": True}


def test_the_session_is_not_a_form_field() -> None:
    assert not OPTIONS["session"].web_ui


@pytest.mark.parametrize(
    ("web_host", "extra", "warned"),
    [
        ("127.0.0.1", [], False),
        ("localhost", [], False),
        ("::1", [], False),
        ("0.0.0.0", [], True),
        ("192.168.1.5", [], True),
        ("0.0.0.0", ["--web-login"], False),
        ("0.0.0.0", ["--rows", "10", "--web-login"], False),
    ],
)
def test_ui_warns_when_exposed_without_a_login(
    web_host: str, extra: list[str], warned: bool
) -> None:
    warning = exposure_warning(web_host, extra)
    assert (warning is not None) == warned
    if warning:
        assert "--web-login" in warning and web_host in warning


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read().decode()


def _post(url: str, form: dict[str, str]) -> tuple[int, dict[str, object]]:
    data = urllib.parse.urlencode(form).encode()
    try:
        with urllib.request.urlopen(url, data=data, timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


@pytest.mark.server
def test_a_real_locust_ui_refuses_a_record_dir_and_hides_the_session(tmp_path: Path) -> None:
    # Review E13: on c262ae1 the page held the session key and record_dir was created.
    port = free_port()
    argv = web_ui_argv(host_url="http://127.0.0.1:9", web_host="127.0.0.1", web_port=port, users=1)
    secret = "s3ss10n-k3y-0f-a-l0gged-in-user"
    env = {**os.environ, OPTIONS["session"].env_var: secret}
    ui = subprocess.Popen(
        argv,
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60  # locust's start-up, generous for a slow machine
        while True:
            try:
                status, page = _get(base + "/")
                break
            except OSError:
                assert ui.poll() is None and time.monotonic() < deadline, "no web UI"
                time.sleep(0.2)
        assert status == 200 and "extra_options" in page
        assert secret not in page
        planted = tmp_path / "planted"
        status, answer = _post(
            base + "/swarm", {**FORM, "user_classes": "DownloadUser", "record_dir": str(planted)}
        )
        assert status == 400 and answer["success"] is False, answer
        # On c262ae1 the test started and its recorder created the directory within a second.
        until = time.monotonic() + 3
        while time.monotonic() < until and not planted.exists():
            time.sleep(0.1)
        assert not planted.exists()
        status, answer = _post(base + "/swarm", {**FORM, "user_classes": "DownloadUser"})
        assert status == 200 and answer["success"] is True, answer
        _get(base + "/stop")
    finally:
        os.killpg(ui.pid, signal.SIGKILL)
        ui.wait(timeout=30)
