"""The report renderers on a committed fixture from a real quick run, and on damaged documents."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from compare.report import charts, render_html, render_markdown, write_reports
from compare.report import writer as report_writer
from compare.report.model import build
from compare.report.page import SECTIONS
from compare.report.runresults import RunResults
from compare.report.summary import terminal_verdict
from tests.helpers import REPORT_FIXTURE, run_compare

GOLDEN = REPORT_FIXTURE / "expected-report.md"
# UPDATE_GOLDEN=1 pytest tests/test_report.py rewrites the golden file from the fixture.
UPDATE_GOLDEN = os.environ.get("UPDATE_GOLDEN") == "1"
VOID = {"meta", "br", "img", "input", "link", "hr", "col", "area", "base", "wbr", "source"}


@pytest.fixture(scope="module")
def results(document: dict[str, Any]) -> RunResults:
    return RunResults.from_document(document)


@pytest.fixture(scope="module")
def page(results: RunResults) -> str:
    return render_html(results)


class Outline(HTMLParser):
    """Collects headings, external references and scripts, and checks that tags nest."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.headings: dict[str, list[str]] = {"h1": [], "h2": [], "h3": []}
        self.references: list[str] = []
        self.scripts = 0
        self.row_classes: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("href", "src", "xlink:href"):
            if values.get(name) and not str(values[name]).startswith("#"):
                self.references.append(str(values[name]))
        self.scripts += tag == "script"
        if tag == "tr" and values.get("class"):
            self.row_classes.append(str(values["class"]))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pass

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        for level, texts in self.headings.items():
            if level in self.stack:
                texts.append(data)
        if "svg" not in self.stack:
            self.text.append(data)


def outline(html: str) -> Outline:
    parser = Outline()
    parser.feed(html)
    parser.close()
    assert parser.stack == [], f"unclosed: {parser.stack}"
    return parser


def test_html_parses_and_has_every_section(page: str) -> None:
    parsed = outline(page)
    assert [h.strip() for h in parsed.headings["h2"]] == [name for _, name in SECTIONS]
    assert "gunicorn-sync vs uvicorn" in parsed.headings["h1"][0]
    assert page.count("<svg") >= 5  # sweep, throughput, timelines, cost, probe


def test_html_is_self_contained(page: str) -> None:
    parsed = outline(page)
    assert parsed.scripts == 0
    assert parsed.references == []
    assert "<link" not in page and "@import" not in page
    assert re.findall(r"url\((?!#)", page) == []  # only references within the page


def test_charts_are_deterministic(document: dict[str, Any], page: str) -> None:
    # Rendering again must give the same bytes (fixed SVG hash salt, no dates): checked on one
    # chart, as a whole page takes seconds.
    chart = charts.sweep_chart(build(RunResults.from_document(copy.deepcopy(document))))
    assert chart is not None and chart in page


def test_html_states_figures_from_the_document(page: str) -> None:
    text = " ".join(outline(page).text)
    # The fixture's slow-client cells: gunicorn's two sync workers served 2 of the 8 users.
    assert "gunicorn-sync 2 of 8" in text
    assert "uvicorn 8 of 8" in text
    assert "StreamingHttpResponse must consume synchronous iterators" in text
    assert "Django 5.2.19" in text and "AMD EPYC" in text


def test_markdown_matches_the_golden_file(results: RunResults) -> None:
    markdown = render_markdown(results)
    if UPDATE_GOLDEN:
        GOLDEN.write_text(markdown, encoding="utf-8")
    assert GOLDEN.exists(), "no golden file; run UPDATE_GOLDEN=1 pytest tests/test_report.py"
    assert markdown == GOLDEN.read_text(encoding="utf-8"), (
        "report.md changed; if intended, run UPDATE_GOLDEN=1 pytest tests/test_report.py"
    )


def damaged(document: dict[str, Any]) -> dict[str, Any]:
    """The fixture with a failed cell, a client-bound cell, a missing scenario, interrupted."""
    doc = copy.deepcopy(document)
    doc["status"] = "interrupted"
    doc["events"].append({"at": "2026-01-01T00:00:00+00:00", "message": "interrupted: <Ctrl-C>"})
    doc["config"]["scenarios"].append("first-byte")
    cells = doc["cells"]
    failed = next(c for c in cells if c["scenario"] == "download" and c["stack"] == "uvicorn")
    failed.update(status="failed", error="the server exited during the cell")
    for key in ("timeline", "memory", "server_cpu_s", "client", "window", "requests"):
        failed.pop(key, None)
    bound = next(c for c in cells if c["scenario"] == "mismatch" and c["stack"] == "gunicorn-sync")
    bound["client"]["window_max_pct"] = 97.0
    # buffered never ran on uvicorn: missing cells, not failed ones.
    doc["cells"] = [
        c for c in cells if not (c["scenario"] == "buffered" and c["stack"] == "uvicorn")
    ]
    return doc


def test_damaged_document_renders_with_everything_marked(document: dict[str, Any]) -> None:
    doc = RunResults.from_document(damaged(document))
    page = render_html(doc)
    parsed = outline(page)
    text = " ".join(parsed.text)
    assert {"failed", "bound", "missing"} <= set(parsed.row_classes)
    assert "The run was interrupted" in text
    assert "1 of 3 cells failed (the server exited during the cell)" in text
    assert "client-bound in 1 of 3 cells" in text
    assert (
        "Not measured: buffered on uvicorn, first-byte on gunicorn-sync, first-byte on uvicorn"
        in text
    )
    assert "interrupted: <Ctrl-C>" in text  # escaped in the page, plain again once parsed
    assert "interrupted: <Ctrl-C>" not in page
    markdown = render_markdown(doc)
    assert "> **Note:** The run was interrupted" in markdown
    assert "| first-byte | uvicorn | - |" in markdown
    assert "**Caveat:** uvicorn: 1 of 3 cells failed" in markdown
    verdict = terminal_verdict(doc)
    assert "NOTE: The run was interrupted" in verdict
    assert "client-bound 1/3" in verdict


def test_hostile_text_is_escaped(document: dict[str, Any]) -> None:
    doc = copy.deepcopy(document)
    evil = "<script>alert(1)</script>"
    doc["cells"] = doc["cells"][:2]
    doc["sweep"] = []
    doc["cells"][0].update(status="failed", error=evil)
    doc["environment"]["cpu_model"] = evil
    doc["stacks"]["uvicorn"]["notes"] = [evil]
    page = render_html(RunResults.from_document(doc))
    assert evil not in page
    assert outline(page).scripts == 0
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def _renamed(document: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """The document with its stacks renamed, everywhere a name is."""
    doc = copy.deepcopy(document)
    doc["config"]["stacks"] = [names.get(s, s) for s in doc["config"]["stacks"]]
    doc["stacks"] = {names.get(k, k): v for k, v in doc["stacks"].items()}
    for record in doc["cells"] + doc["sweep"]:
        record["stack"] = names.get(record["stack"], record["stack"])
    return doc


def test_any_stack_name_survives_every_renderer(document: dict[str, Any]) -> None:
    # A '$' made matplotlib parse mathtext and raise, losing both reports; HTML and backticks
    # passed into the Markdown raw (review R1). Names come from hand-edited or shared documents.
    names = {"gunicorn-sync": "a$\\frac{$b `tick`", "uvicorn": '<script>x</script>"><img src=y>'}
    doc = _renamed(document, names)
    doc["cells"][0]["warnings"] = ["<b>bold</b> ![t](http://elsewhere.example/t.png)"]
    doc["command"] = ["python", "-m", "compare", "bench", "--out", "a``b`"]
    results = RunResults.from_document(doc)
    page = render_html(results)
    assert outline(page).scripts == 0 and "<img src=y>" not in page
    markdown = render_markdown(results)
    # The renderer's own folding tags are its only HTML; none comes from the document.
    own = re.sub(r"</?(details|summary)>", "", markdown)
    assert re.search(r"<[A-Za-z/!?]", own) is None, "raw HTML in the Markdown"
    assert "![" not in markdown  # an image would be fetched from elsewhere when rendered
    assert "- this run: ```python -m compare bench --out 'a``b`'```" in markdown
    # Escaped, the names still read as themselves.
    assert "a$\\\\frac{$b \\`tick\\`" in markdown and "&lt;script>x&lt;/script>" in markdown


@pytest.mark.parametrize(
    "doc",
    [
        {"cells": [], "sweep": [], "stacks": {}, "environment": {}},
        {
            "status": "failed",
            "cells": [{"stack": "uvicorn", "scenario": "download", "repetition": 0}],
            "sweep": [{"stack": "uvicorn", "variant": "stream", "rows": 10, "status": "failed"}],
            "stacks": {"uvicorn": {"available": False, "missing": "pip install uvicorn"}},
            "environment": {},
            "config": {"scenarios": ["download", "no-such-scenario"], "repeat": 1},
        },
    ],
    ids=["empty", "nothing-worked"],
)
def test_sparse_documents_render(doc: dict[str, Any]) -> None:
    results = RunResults.from_document(doc)
    outline(render_html(results))
    markdown = render_markdown(results)
    assert markdown.startswith("# Django streaming export")
    terminal_verdict(results)


def test_write_reports_writes_both_files_beside_the_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(REPORT_FIXTURE / "results.json", tmp_path / "results.json")
    monkeypatch.setattr(report_writer, "render_html", lambda results: "<html>stub</html>")
    paths = write_reports(RunResults.load(tmp_path), tmp_path)
    assert paths == [tmp_path / "report.html", tmp_path / "report.md"]
    assert (tmp_path / "report.md").read_text() == GOLDEN.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "report.html",
        "report.md",
        "results.json",
    ]
    # Read from the file itself, and written again: the old report is replaced.
    (tmp_path / "report.md").write_text("old")
    assert write_reports(RunResults.load(tmp_path / "results.json"), tmp_path) == paths
    assert (tmp_path / "report.md").read_text() == GOLDEN.read_text()


def test_a_failed_render_leaves_earlier_reports_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(REPORT_FIXTURE / "results.json", tmp_path / "results.json")
    (tmp_path / "report.html").write_text("earlier")

    def broken(results: RunResults) -> str:
        raise RuntimeError("renderer bug")

    monkeypatch.setattr(report_writer, "render_html", lambda results: "<html>new</html>")
    monkeypatch.setattr(report_writer, "render_markdown", broken)
    with pytest.raises(RuntimeError):
        write_reports(RunResults.load(tmp_path), tmp_path)
    assert (tmp_path / "report.html").read_text() == "earlier"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "results.json"]


def test_cli_report_writes_and_prints(tmp_path: Path) -> None:
    shutil.copy(REPORT_FIXTURE / "results.json", tmp_path / "results.json")
    done = run_compare("report", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert f"wrote {tmp_path / 'report.html'}" in done.stdout
    assert f"wrote {tmp_path / 'report.md'}" in done.stdout
    assert "uvicorn 8 of 8" in done.stdout
    assert (tmp_path / "report.html").stat().st_size > 10_000


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "run `make bench` first"),
        ("{not json", "is not valid JSON"),
        ('{"schema": "something/else"}', "is not a django-stream-compare results document"),
        (
            '{"schema": "django-stream-compare/results", "schema_version": 99}',
            "has schema version 99; this version reads 2",
        ),
        (
            '{"schema": "django-stream-compare/results", "schema_version": 2, "sweep": [],'
            ' "stacks": {}, "environment": {}, "cells": [{"stack": "uvicorn"}]}',
            "results.json cell 1 has no 'scenario'",
        ),
    ],
    ids=["missing", "not-json", "foreign", "wrong-version", "damaged"],
)
def test_cli_report_on_a_bad_document_is_a_one_line_error(
    tmp_path: Path, content: str | None, message: str
) -> None:
    if content is not None:
        (tmp_path / "results.json").write_text(content)
    done = run_compare("report", str(tmp_path))
    assert done.returncode == 2  # unusable input, as diff and figures: never 1 (a finding)
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("compare: error: ") and message in lines[0]
    assert not (tmp_path / "report.html").exists()


def test_fixture_is_small_and_real() -> None:
    raw = (REPORT_FIXTURE / "results.json").read_text()
    assert len(raw) < 250_000  # raw records of every cell included
    doc = json.loads(raw)
    assert doc["status"] == "complete" and doc["config"]["repeat"] == 3


def test_the_printed_factor_is_the_ratio_of_the_printed_values() -> None:
    # Review [16]: the factor is a ratio of geometric means; the sentence printed medians beside
    # it (924 / 46 = 20.1 printed as "21x"). Skewed repetitions make the two centres differ.
    from compare.report.comparisons import FigureComparison
    from compare.report.figuredefs import FIGURES
    from compare.report.stats import judge
    from compare.report.verdict import sentence

    a, b = (10.0, 10.0, 10.0, 10.0, 40.0), (2.0, 2.0, 2.0, 2.0, 2.0)
    figure = FIGURES["ttfb_p50_ms"]
    judged = judge(a, b, figure.kind, floor=figure.floor)
    text = sentence(FigureComparison("download", figure, "slow", "fast", a, b, judged))
    found = re.search(
        r"fast ([\d.]+)x lower than slow .*: slow (\d+) \(10-40\) ms, fast (\d+) ms", text
    )
    assert found is not None, text
    factor, slow, fast = (float(v) for v in found.groups())
    # Equal up to the printed rounding (13.2 shown as 13); medians would say 10 / 2 = 5.
    assert factor == pytest.approx(slow / fast, rel=0.02) and slow == 13
