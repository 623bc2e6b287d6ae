"""The one check that a download is a complete export body."""

from __future__ import annotations

import pytest

from compare.system.download import Download


def _download(
    status: int = 200, announced: str | None = "3", lines: int = 4, end: bool = True
) -> Download:
    headers = {} if announced is None else {"x-export-rows": announced}
    return Download(status, headers, 0.01, 0.02, 200, lines, end)


def test_a_complete_body_has_no_problem() -> None:
    assert _download().problem() is None
    assert _download().problem(expected_rows=3) is None


@pytest.mark.parametrize(
    ("download", "expected", "problem"),
    [
        (_download(status=500), None, "HTTP 500"),
        (_download(announced=None), None, "no X-Export-Rows header"),
        (_download(lines=3), None, "body has 2 rows, 3 announced"),
        (_download(), 5, "body has 3 rows, 3 announced"),
        (_download(end=False), None, "body ends mid-row (truncated)"),
    ],
)
def test_each_defect_is_named(download: Download, expected: int | None, problem: str) -> None:
    assert download.problem(expected_rows=expected) == problem
