"""The HTML report in a real browser: headless Chromium loads it without console errors."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from compare.dev.chromium import CHROMIUM_FLAGS, MISSING, chromium_binary
from compare.report import render_html
from compare.report.runresults import RunResults
from tests.helpers import REPORT_FIXTURE

BINARY = chromium_binary()
# Chromium logs every console message (and uncaught exception) of the page as INFO:CONSOLE.
CONSOLE = re.compile(r":CONSOLE[(:]\d+\)?\] (.*)")

pytestmark = pytest.mark.skipif(BINARY is None, reason=MISSING)


def load_in_chromium(page: Path, profile: Path) -> tuple[str, list[str]]:
    """Open a local page headless (no network, no sync); return its DOM and console messages."""
    done = subprocess.run(
        [
            str(BINARY),
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, [m.group(1) for m in CONSOLE.finditer(done.stderr)]


def test_the_console_check_catches_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><p>x</p><script>console.error('boom'); nothing();</script>")
    _, messages = load_in_chromium(bad, tmp_path / "profile")
    assert any("boom" in m for m in messages)
    assert any("Uncaught ReferenceError" in m for m in messages)


def test_report_renders_without_console_errors(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_html(RunResults.load(REPORT_FIXTURE)), encoding="utf-8")
    dom, messages = load_in_chromium(page, tmp_path / "profile")
    assert messages == []
    assert "<h1>Django streaming export: gunicorn-sync vs uvicorn</h1>" in dom
    assert dom.count("<svg") >= 5
