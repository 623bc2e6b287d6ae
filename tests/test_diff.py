"""`compare diff`: the fixture against modified copies of itself."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from compare.metrics import HEADLINE
from compare.report.diff import diff, judge, render_diff
from compare.results import load_results
from compare.server import REPO_ROOT
from compare.stats import spread
from tests.test_report import compare_cli

FIXTURE = Path(__file__).parent / "fixtures" / "report"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return load_results(FIXTURE)


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
        c for c in result.changes if (c.scenario, c.stack, c.headline.key) == (scenario, stack, key)
    )


def test_a_run_against_itself_has_no_difference(document: dict[str, Any]) -> None:
    result = diff(document, document)
    assert result.changes and result.regressions == []
    assert {c.verdict for c in result.changes} == {"no clear difference"}
    assert any(n.startswith("old: download on uvicorn: uneven") for n in result.notes)


def test_a_clear_regression_is_flagged(document: dict[str, Any]) -> None:
    result = diff(document, slower(document, "download", "gunicorn-sync", 3.0))
    last_byte = find(result, "download", "gunicorn-sync", "ttlb_p50_ms")
    assert last_byte.verdict == "regression"
    assert last_byte.statement == "worse, beyond the run-to-run spread"
    assert last_byte.relative == pytest.approx(2.0)
    assert find(result, "download", "gunicorn-sync", "mb_per_s").verdict == "regression"
    # The other stack did not change.
    assert find(result, "download", "uvicorn", "ttlb_p50_ms").verdict == "no clear difference"
    text = render_diff(result)
    assert "+200%" in text and "regressions" in text
    improved = diff(slower(document, "download", "gunicorn-sync", 3.0), document)
    assert find(improved, "download", "gunicorn-sync", "ttlb_p50_ms").verdict == "improvement"


def test_a_change_within_the_spread_is_no_clear_difference(document: dict[str, Any]) -> None:
    new = copy.deepcopy(document)
    # download on gunicorn-sync peaked at 8.3-8.7 MB over idle; +2% stays inside that range.
    for cell in cells(new, "download", "gunicorn-sync"):
        memory = cell["memory"]
        memory["peak_pss"] += int((memory["peak_pss"] - memory["baseline_pss"]) * 0.02)
    memory = find(diff(document, new), "download", "gunicorn-sync", "peak_pss_increase_mb")
    assert memory.verdict == "no clear difference"
    assert memory.statement == "no clear difference (within the run-to-run spread)"


def test_judging_one_figure() -> None:
    latency = HEADLINE["ttlb_p50_ms"]
    assert judge(latency, spread([100, 110]), spread([200, 210]), 0.05)[0] == "regression"
    assert judge(latency, spread([100, 110]), spread([90, 95]), 0.05)[0] == "improvement"
    assert judge(latency, spread([100, 110]), spread([105, 120]), 0.05)[0] == (
        "no clear difference"
    )
    # Beyond the (tiny) spread but under the threshold: not worth failing a build over.
    assert judge(latency, spread([100, 100.5]), spread([102, 102.5]), 0.05) == (
        "no clear difference",
        "no clear difference (beyond the spread, but under 5%)",
    )
    assert judge(latency, spread([100]), spread([200]), 0.05) == (
        "spread unknown",
        "worse; spread unknown (one repetition in each run)",
    )
    assert judge(latency, None, spread([1]), 0.05) == ("missing", "not measured in the old run")


def test_differing_settings_are_noted(document: dict[str, Any]) -> None:
    new = copy.deepcopy(document)
    new["config"]["duration_s"] = 10.0
    new["status"] = "interrupted"
    notes = diff(document, new).notes
    assert "the runs differ in duration_s (4.0 vs 10.0)" in notes
    assert "the new run's status is 'interrupted'" in notes


def _diff_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*compare_cli(), "diff", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )


def test_cli_diff_exit_codes(tmp_path: Path, document: dict[str, Any]) -> None:
    new = tmp_path / "new"
    new.mkdir()
    (new / "results.json").write_text(json.dumps(slower(document, "mismatch", "uvicorn", 4.0)))
    done = _diff_cli(str(FIXTURE), str(new))
    assert done.returncode == 0, done.stderr
    assert "worse, beyond the run-to-run spread" in done.stdout
    failing = _diff_cli(str(FIXTURE), str(new), "--fail-on-regression")
    assert failing.returncode == 1
    assert _diff_cli(str(FIXTURE), str(FIXTURE), "--fail-on-regression").returncode == 0
    missing = _diff_cli(str(FIXTURE), str(tmp_path / "nowhere"))
    assert missing.returncode == 1
    assert missing.stderr.startswith("compare: error: cannot read ")
    assert len(missing.stderr.strip().splitlines()) == 1
