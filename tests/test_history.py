"""``history`` over hand-made runs: a regression in the last is marked, a change of options is a
visible break never judged across, and the CLI reads runs, directories of runs and globs."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from compare.report.history import history, render_history_markdown
from compare.report.historypage import render_history_html, segments
from compare.report.runresults import RunResults
from tests.cells import document
from tests.helpers import run_compare
from tests.test_diff import slower


def dated(doc: dict[str, Any], day: int, commit: str) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    doc["started"] = f"2026-12-0{day}T10:00:00+00:00"
    doc["environment"] = {"git": {"commit": commit * 40, "dirty": False}}
    return doc


def three_runs() -> list[dict[str, Any]]:
    """Two alike runs, then one whose uvicorn downloads take three times as long."""
    return [
        dated(document(seed=1), 1, "a"),
        dated(document(seed=2), 2, "b"),
        dated(slower(document(seed=3), "download", "uvicorn", 3.0), 3, "c"),
    ]


def read(docs: list[dict[str, Any]]) -> list[RunResults]:
    return [RunResults.from_document(d) for d in docs]


def test_the_regression_in_the_last_run_is_marked() -> None:
    found = history(read(three_runs()[::-1]))  # any order in: oldest first out
    assert [r.commit for r in found.runs] == ["aaaaaaa", "bbbbbbb", "ccccccc"]
    assert {r.segment for r in found.runs} == {0}
    marked = {(s.stack, s.figure.name, p.run) for s, p in found.regressions}
    assert ("uvicorn", "ttlb_p50_ms", 2) in marked and ("uvicorn", "mb_per_s", 2) in marked
    assert all(stack == "uvicorn" and run == 2 for stack, _, run in marked)
    ttlb = next(s for s in found.series if (s.stack, s.figure.name) == ("uvicorn", "ttlb_p50_ms"))
    assert [p.change for p in ttlb.points] == [None, "no-meaningful-difference", "regression"]
    table = render_history_markdown(found)
    row = next(line for line in table.splitlines() if line.startswith("| download | uvicorn |"))
    assert row.count("REGRESSION") == 1 and row.rstrip(" |").endswith("REGRESSION**")
    data = found.as_dict()
    assert data["schema"] == "django-stream-compare/history" and data["regressions"] == len(marked)


def test_runs_with_other_options_are_a_visible_break() -> None:
    runs = three_runs()
    runs[2]["config"]["duration_s"] = 9.0  # the slow run, made with other options
    found = history(read(runs))
    assert [r.segment for r in found.runs] == [0, 0, 1]
    assert found.runs[2].changed == ("duration_s None -> 9.0",)
    assert found.regressions == []  # not judged across the break
    table = render_history_markdown(found)
    assert "‖ 3" in table
    assert (
        "- run 3: 2026-12-03 10:00 ccccccc, ? (repeat 5, duration_s 9.0) (options changed" in table
    )
    page = render_history_html(found)
    assert page.count("<svg") == 10  # 5 figures x 2 stacks
    assert "options changed" in page and "duration_s None -&gt; 9.0" in page
    # Each series is drawn as one line per segment: two here, where alike runs make one.
    ttfb = next(s for s in found.series if (s.stack, s.figure.name) == ("uvicorn", "ttfb_p50_ms"))
    assert [[x for x, *_ in part] for part in segments(found, ttfb)] == [[0, 1], [2]]
    alike = history(read(three_runs()))
    assert [len(segments(alike, s)) for s in alike.series] == [1] * len(alike.series)
    assert "options changed" not in render_history_html(alike)


def test_cli_history_reads_dirs_and_globs(tmp_path: Path) -> None:
    root = tmp_path / "results"
    for i, doc in enumerate(three_runs()):
        run = root / f"2026120{i + 1}-100000"
        run.mkdir(parents=True)
        (run / "results.json").write_text(json.dumps(doc))
    (root / "latest").symlink_to(root / "20261203-100000")
    page = tmp_path / "history.html"
    done = run_compare("history", str(root), "--html", str(page))
    assert done.returncode == 0, done.stderr
    assert "| download | uvicorn |" in done.stdout and "REGRESSION" in done.stdout
    assert page.read_text().count("<svg") == 10
    data = json.loads(run_compare("history", str(root / "2026*"), "--json").stdout)
    assert len(data["runs"]) == 3 and data["regressions"] >= 2  # latest is not a fourth run
    bad = run_compare("history", str(root), "--figures", "speed")
    assert bad.returncode == 2 and "unknown figure speed" in bad.stderr
    assert run_compare("history", str(tmp_path / "none*")).returncode == 2
