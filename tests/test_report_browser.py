"""The HTML report in a real browser: headless Chromium loads it without console errors."""

from __future__ import annotations

import html
import re
import subprocess
from pathlib import Path

import pytest

from compare.dev.chromium import CHROMIUM_FLAGS, MISSING, chromium_binary
from compare.report import render_html
from compare.report.runresults import RunResults
from tests.cells import document as made_document
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


# Appended to a copy of the page (the report itself has no scripts): each matrix cell's class,
# computed background and hover text, written into the DOM for --dump-dom to carry out.
PROBE = """<script>
const out = [...document.querySelectorAll('table.matrix td')].map(td =>
  [td.className, getComputedStyle(td).backgroundColor, td.title, td.textContent].join('|'));
const pre = document.createElement('pre'); pre.id = 'probe'; pre.textContent = out.join('\\n');
document.body.appendChild(pre);
</script>"""


def test_the_verdict_matrix_shows_colour_word_and_sentence(tmp_path: Path) -> None:
    # Six repetitions, one stack twice as slow: clear figures, and memory alike on both.
    results = RunResults.from_document(made_document(repetitions=6))
    page = tmp_path / "report.html"
    page.write_text(render_html(results).replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom, messages = load_in_chromium(page, tmp_path / "profile")
    assert messages == []
    probe = html.unescape(dom.split('<pre id="probe">', 1)[1].split("</pre>", 1)[0])
    cells = [line.split("|", 3) for line in probe.splitlines()]
    by_class: dict[str, tuple[str, str, str]] = {}
    for css, colour, title, text in cells:  # the first of each: throughput is the first row
        by_class.setdefault(css, (colour, title, text))
    clear, same = by_class["v-clear"], by_class["v-same"]
    assert clear[0] != same[0] and "rgba(0, 0, 0, 0)" not in (clear[0], same[0])
    assert clear[2].startswith("gunicorn-sync 2.0") and clear[2].endswith("x higher")
    assert clear[1].startswith("Throughput: gunicorn-sync")
    assert same[2] == "no difference" and same[1].startswith("Peak memory increase")
