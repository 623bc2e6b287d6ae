"""The make targets that read runs: where they look and what they say when a run is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from compare import REPO_ROOT
from tests.helpers import REPORT_FIXTURE


def _make(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # -o: never rebuild .venv from here; the tests already run in it.
    return subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/.installed", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_make_report_reads_the_newest_run_under_dsc_out(tmp_path: Path) -> None:
    latest = tmp_path / "latest"
    latest.mkdir()
    shutil.copy(REPORT_FIXTURE / "results.json", latest / "results.json")
    done = _make("report", env={"DSC_OUT": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert (latest / "report.html").exists() and (latest / "report.md").exists()


def test_make_report_without_a_run_says_to_run_the_bench(tmp_path: Path) -> None:
    done = _make("report", env={"DSC_OUT": str(tmp_path)})
    assert done.returncode != 0
    assert f"no run at {tmp_path / 'latest'}: run `make bench` first" in done.stderr


def test_make_diff_without_runs_asks_for_old_and_new() -> None:
    for args in ((), ("OLD=results/a",)):
        done = _make("diff", *args)
        assert done.returncode == 2
        assert "make diff OLD=results/A NEW=results/B" in done.stderr
        assert "OLD_DIR" not in done.stderr
