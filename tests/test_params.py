"""Export query parameters: defaults, ranges, every bad input refused with a reason."""

from __future__ import annotations

import pytest
from django.http import QueryDict

from project.export.params import BadParameter, ExportParams, parse_export_params


def _parse(query: str, max_rows: int = 1_000_000) -> ExportParams:
    return parse_export_params(QueryDict(query), max_rows)


def test_defaults() -> None:
    assert _parse("") == ExportParams(
        rows=100_000, chunk_kb=64, mode="stream", iterator="auto", source="synthetic", delay_ms=0
    )


def test_default_rows_respect_a_lower_limit() -> None:
    assert _parse("", max_rows=500).rows == 500


def test_every_parameter_read() -> None:
    params = _parse("rows=0&chunk_kb=0&mode=buffered&iterator=async&source=db&delay_ms=1000")
    assert params == ExportParams(0, 0, "buffered", "async", "db", 1000)
    assert _parse("chunk_kb=1024").target_bytes == 1024 * 1024


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("rows=abc", "rows must be a whole number"),
        ("rows=-1", "rows must be a whole number"),
        ("rows=1.5", "rows must be a whole number"),
        ("rows=", "rows must be a whole number"),
        ("rows=%201", "rows must be a whole number"),
        ("rows=1_000", "rows must be a whole number"),
        ("rows=%D9%A1", "rows must be a whole number"),  # an Arabic-Indic digit one
        ("rows=99999999999999999999", "rows must be a whole number"),
        ("rows=1000001", "rows must be from 0 to 1000000"),
        ("chunk_kb=1025", "chunk_kb must be from 0 to 1024"),
        ("chunk_kb=x", "chunk_kb must be a whole number"),
        ("delay_ms=1001", "delay_ms must be from 0 to 1000"),
        ("mode=fast", "mode must be one of stream, buffered"),
        ("iterator=SYNC", "iterator must be one of auto, sync, async"),
        ("source=mysql", "source must be one of synthetic, db, postgres"),
        ("rowz=5", "unknown parameter 'rowz'"),
        ("rows=1&rows=2", "parameter 'rows' is given more than once"),
    ],
)
def test_bad_input_names_the_problem(query: str, reason: str) -> None:
    with pytest.raises(BadParameter, match=reason) as caught:
        _parse(query)
    assert "\n" not in str(caught.value)
