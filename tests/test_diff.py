"""`compare diff`: the fixture against modified copies of itself."""

from __future__ import annotations

import copy
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from compare.report import diff as runs
from compare.report.diff import Diff, render_diff
from compare.report.diffmarkdown import MARKER, render_diff_markdown
from compare.report.runresults import RunResults
from tests import cells as made_cells
from tests.helpers import run_compare


def diff(old: dict[str, Any], new: dict[str, Any]) -> Diff:
    """Two documents read, then compared."""
    return runs.diff(RunResults.from_document(old), RunResults.from_document(new))


def cells(doc: dict[str, Any], scenario: str, stack: str) -> list[dict[str, Any]]:
    return [c for c in doc["cells"] if c["scenario"] == scenario and c["stack"] == stack]


def slower(doc: dict[str, Any], scenario: str, stack: str, factor: float) -> dict[str, Any]:
    """A copy in which one group's downloads all took `factor` times as long."""
    doc = copy.deepcopy(doc)
    for cell in cells(doc, scenario, stack):
        table = cell["requests"]
        for i, kind in enumerate(table["kind"]):
            if kind == "download":
                table["end"][i] = table["start"][i] + (table["end"][i] - table["start"][i]) * factor
        bins = cell["body_bytes"]
        bins["counts"] = [int(count / factor) for count in bins["counts"]]
    return doc


def find(result: Any, scenario: str, stack: str, key: str) -> Any:
    return next(
        c for c in result.changes if (c.scenario, c.stack, c.figure.name) == (scenario, stack, key)
    )


def test_a_run_against_itself_has_no_difference(document: dict[str, Any]) -> None:
    result = diff(document, document)
    assert result.changes and result.regressions == []
    # The fixture has 3 repetitions: shown, but too few to judge.
    assert {c.verdict for c in result.changes} == {"not-judged"}
    assert any(n.startswith("old: download on uvicorn: uneven") for n in result.notes)
    same = made()
    assert {c.verdict for c in diff(same, same).changes} == {"no-difference"}


def made(**kw: Any) -> dict[str, Any]:
    return made_cells.document(**kw)


def test_a_clear_regression_is_flagged() -> None:
    old = made(seed=1)
    result = diff(old, slower(made(seed=2), "download", "gunicorn-sync", 3.0))
    last_byte = find(result, "download", "gunicorn-sync", "ttlb_p50_ms")
    assert last_byte.verdict == "regression"
    assert last_byte.statement.startswith("worse, clearly (p = 0.008")
    assert last_byte.relative == pytest.approx(2.0, abs=0.1)
    assert find(result, "download", "gunicorn-sync", "mb_per_s").verdict == "regression"
    # The other stack did not change beyond its noise.
    assert find(result, "download", "uvicorn", "ttlb_p50_ms").verdict == "no-difference"
    text = render_diff(result)
    assert re.search(r"\+2\d\d%", text) and "regressions" in text
    improved = diff(slower(made(seed=2), "download", "gunicorn-sync", 3.0), old)
    assert find(improved, "download", "gunicorn-sync", "ttlb_p50_ms").verdict == "improvement"


def test_a_change_within_the_noise_is_no_difference() -> None:
    # Two runs of the same stacks, each repetition 3% off at random: nothing moved.
    result = diff(made(seed=1, jitter=0.03), made(seed=7, jitter=0.03))
    assert result.regressions == []
    # A consistent 2% slowdown is under the 5% that matters.
    steady = made(seed=1, jitter=0.0)
    small = diff(steady, slower(steady, "download", "uvicorn", 1.02))
    assert find(small, "download", "uvicorn", "ttlb_p50_ms").verdict in (
        "not-meaningful",
        "no-difference",
    )


def test_too_few_repetitions_are_not_judged_and_the_diff_says_nothing_was() -> None:
    result = diff(made(repetitions=3), slower(made(repetitions=3), "download", "uvicorn", 3.0))
    change = find(result, "download", "uvicorn", "ttlb_p50_ms")
    assert change.verdict == change.conclusion == "not-judged"
    assert "3 and 3 repetitions can reach p = 0.1 at best" in change.statement
    assert result.regressions == [] and result.judged == 0
    assert result.as_dict()["nothing_judged"] is True
    assert render_diff(result).splitlines()[-1].startswith("Nothing was judged:")
    # Review [9]: 3 against 5 can reach p = 1/56, so that regression is seen.
    uneven = diff(made(repetitions=3), slower(made(repetitions=5), "download", "uvicorn", 3.0))
    assert find(uneven, "download", "uvicorn", "ttlb_p50_ms").conclusion == "regression"
    assert not uneven.as_dict()["nothing_judged"]


def starved(document: dict[str, Any], served: int, ttfb: float) -> dict[str, Any]:
    """A copy whose slow-client cells on gunicorn-sync served ``served`` of 8 users after
    ``ttfb`` s, the others still waiting when the cell ended (review [6], repro r8)."""
    doc = copy.deepcopy(document)
    doc["cells"] = [
        made_cells.cell(
            [
                made_cells.Req("download", 0.0, 3.0, ttfb + 0.01 * u, 700_000, "stopped", u)
                for u in range(served)
            ]
            + [
                made_cells.Req("download", 0.0, 3.0, outcome="stopped", user=u)
                for u in range(served, 8)
            ],
            scenario="slow-client",
            stack="gunicorn-sync",
            repetition=r,
            users=8,
            window=(0.0, 3.0),
            span=(0.0, 3.0),
            bytes_per_bin=100_000,
        )
        for r in range(5)
    ]
    doc["config"]["scenarios"] = ["slow-client"]
    return doc


def test_diff_refuses_what_the_report_refuses() -> None:
    # Review [6]: the old run served 8 of 8 slow readers after 0.3 s; the new one 3 of 8 after
    # 20 ms. Over the served only, TTFB "improved" 15x; the report calls it unknown, so does diff.
    old, new = starved(made(), 8, 0.3), starved(made(), 3, 0.02)
    result = diff(old, new)
    for key in ("ttfb_p50_ms", "ttfb_p99_ms", "ttlb_p50_ms", "ttlb_p99_ms"):
        change = find(result, "slow-client", "gunicorn-sync", key)
        assert change.conclusion == "not-judged", key
    assert (
        "left users without a first byte"
        in find(result, "slow-client", "gunicorn-sync", "ttfb_p50_ms").statement
    )
    # Throughput still moved, and is judged.
    assert find(result, "slow-client", "gunicorn-sync", "mb_per_s").conclusion != "not-judged"


def test_an_inconclusive_change_never_fails() -> None:
    # Noisy runs (30% apart at random) of the same stacks: wide intervals, no verdict either way.
    result = diff(made(seed=1, jitter=0.3), made(seed=5, jitter=0.3))
    conclusions = {c.conclusion for c in result.changes}
    assert "inconclusive" in conclusions and result.regressions == []
    counts = result.as_dict()["conclusions"]
    assert counts["inconclusive"] >= 1 and result.as_dict()["judged"] == result.judged > 0


def test_differing_settings_are_noted(document: dict[str, Any]) -> None:
    new = copy.deepcopy(document)
    new["config"]["duration_s"] = 10.0
    new["status"] = "interrupted"
    notes = diff(document, new).notes
    assert "the runs differ in duration_s (4.0 vs 10.0)" in notes
    assert "the new run's status is 'interrupted'" in notes


def _diff_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return run_compare("diff", *args)


def test_cli_diff_exit_codes_and_json(tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir()
    new.mkdir()
    (old / "results.json").write_text(json.dumps(made(seed=1)))
    (new / "results.json").write_text(json.dumps(slower(made(seed=2), "download", "uvicorn", 4.0)))
    assert _diff_cli(str(old), str(old)).returncode == 0
    few = tmp_path / "few"
    few.mkdir()
    (few / "results.json").write_text(json.dumps(made(repetitions=3)))
    # Two quick runs: nothing judged, its own exit status, said in the last line and the JSON.
    quick = _diff_cli(str(few), str(few))
    assert quick.returncode == 3 and quick.stdout.strip().splitlines()[-1].endswith(
        "exit status 3."
    )
    assert json.loads(_diff_cli(str(few), str(few), "--json").stdout)["nothing_judged"] is True
    failing = _diff_cli(str(old), str(new))
    assert failing.returncode == 1, failing.stderr
    assert "worse, clearly" in failing.stdout
    data = json.loads(_diff_cli(str(old), str(new), "--json").stdout)
    assert data["schema"] == "django-stream-compare/diff" and data["regressions"] >= 2
    change = next(
        c for c in data["changes"] if c["stack"] == "uvicorn" and c["figure"] == "ttlb_p50_ms"
    )
    assert change["verdict"] == change["conclusion"] == "regression"
    assert change["n_old"] == change["n_new"] == 5 and change["min_effect"] == pytest.approx(1.05)
    assert change["low"] < change["estimate"] < change["high"]
    for bad in ([str(old), str(tmp_path / "nowhere")], [str(old), str(new), "--min-change", "-1"]):
        done = _diff_cli(*bad)
        assert done.returncode == 2, bad
        assert done.stderr.startswith("compare: error: ")
        assert len(done.stderr.strip().splitlines()) == 1
    assert _diff_cli(str(old)).returncode == 2  # argparse: a usage error
    # The option that did nothing is gone: a script still passing it hears so.
    assert _diff_cli(str(old), str(old), "--fail-on-regression").returncode == 2


def test_the_markdown_comment_puts_what_matters_first() -> None:
    # uvicorn 4x slower in the new run, gunicorn-sync unchanged: regressions in a table with
    # their intervals, then one line counting the rest (nothing of gunicorn-sync listed).
    result = diff(made(seed=1), slower(made(seed=2), "download", "uvicorn", 4.0))
    comment = render_diff_markdown(result, "main", "pr")
    lines = comment.splitlines()
    assert lines[0] == MARKER
    assert lines[1].startswith(f"### Benchmark: **{len(result.regressions)} regressions** (pr")
    rows = [line for line in lines if line.startswith("| download |")]
    assert rows and all("| uvicorn |" in row for row in rows)
    ttlb = next(row for row in rows if "time to last byte p50" in row)
    change = find(result, "download", "uvicorn", "ttlb_p50_ms")
    assert change.judgement is not None and change.judgement.low is not None
    assert f"| {change.judgement.low - 1:+.0%} to " in ttlb
    rest = len(result.changes) - len(rows)
    assert f"The other {rest} figures: " in comment
    assert len(lines) < 30  # compact: a screen, whatever the number of figures unchanged
    calm = render_diff_markdown(diff(made(seed=1), made(seed=2)))
    assert "**No regression**" in calm and "| download |" not in calm


def test_cli_diff_format_markdown(tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    for where, doc in ((old, made(seed=1)), (new, slower(made(seed=2), "download", "uvicorn", 4))):
        where.mkdir()
        (where / "results.json").write_text(json.dumps(doc))
    done = _diff_cli(str(old), str(new), "--format", "markdown")
    assert done.returncode == 1, done.stderr  # the exit status CI fails on, whatever the format
    assert done.stdout.startswith(MARKER) and "(new against old)" in done.stdout
    assert json.loads(_diff_cli(str(old), str(new), "--format", "json").stdout)["regressions"]
