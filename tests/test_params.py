"""Export query parameters: defaults, ranges, every bad input refused with a reason."""

from __future__ import annotations

import pytest
from django.http import QueryDict

from project.export.csvchunks import CsvChunker
from project.export.params import (
    MAX_TOTAL_DELAY_S,
    BadParameter,
    ExportParams,
    Interface,
    check_buffered_rows,
    check_rows_held,
    parse_export_params,
)
from project.export.rows import HEADER, synthetic_batches


def _parse(query: str, max_rows: int = 1_000_000) -> ExportParams:
    return parse_export_params(QueryDict(query), max_rows)


def test_defaults() -> None:
    assert _parse("") == ExportParams(
        rows=100_000, chunk_kb=64, mode="stream", iterator="auto", source="synthetic", delay_ms=0
    )


def test_a_default_above_a_lower_limit_is_refused_not_capped() -> None:
    with pytest.raises(BadParameter, match="rows defaults to 100000, above this server's "):
        _parse("chunk_kb=1", max_rows=500)
    with pytest.raises(BadParameter, match="EXPORT_MAX_ROWS of 500: give rows from 0 to 500"):
        _parse("", max_rows=500)
    assert _parse("rows=500", max_rows=500).rows == 500


def test_every_parameter_read() -> None:
    params = _parse("rows=60&chunk_kb=0&mode=buffered&iterator=async&source=db&delay_ms=1000")
    assert params == ExportParams(60, 0, "buffered", "async", "db", 1000)
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


def _delayed_pieces(rows: int, chunk_kb: int) -> int:
    """How many pieces sync_pieces sleeps before: those that feed() yields."""
    chunker = CsvChunker(chunk_kb * 1024)
    list(chunker.header(HEADER))
    return sum(len(list(chunker.feed(batch))) for batch in synthetic_batches(rows))


@pytest.mark.parametrize(
    ("rows", "chunk_kb"), [(0, 0), (7, 0), (1, 1), (30_000, 1), (30_000, 4), (200_000, 64)]
)
def test_most_pieces_bounds_the_pieces_that_sleep(rows: int, chunk_kb: int) -> None:
    pieces = _delayed_pieces(rows, chunk_kb)
    bound = ExportParams(rows=rows, chunk_kb=chunk_kb).most_pieces
    # An upper bound, and a close one: the cap must not refuse what it would allow.
    assert pieces <= bound <= max(pieces * 1.5, pieces + 1)


def test_total_delay_is_capped_with_the_cap_in_the_reason() -> None:
    # chunk_kb=0: a piece per row, so rows x delay_ms is the whole sleep.
    cap_rows = MAX_TOTAL_DELAY_S * 1000
    assert _parse(f"rows={cap_rows}&chunk_kb=0&delay_ms=1").delay_ms == 1
    with pytest.raises(BadParameter) as caught:
        _parse(f"rows={cap_rows + 1}&chunk_kb=0&delay_ms=1")
    assert str(caught.value) == (
        f"delay_ms is slept once per piece, at most {MAX_TOTAL_DELAY_S} s per response: "
        f"delay_ms=1 with up to {cap_rows + 1} pieces (rows={cap_rows + 1}, chunk_kb=0) "
        "would sleep 60 s"
    )
    # The review's case: a second per row of 50M rows.
    with pytest.raises(BadParameter, match="would sleep 50000000 s"):
        _parse("rows=50000000&chunk_kb=0&delay_ms=1000", max_rows=50_000_000)
    # The upstream-latency scenario's default (5 ms per 64 KiB piece) fits at 5M rows.
    assert _parse("rows=5000000&delay_ms=5", max_rows=50_000_000).delay_ms == 5


@pytest.mark.parametrize(
    ("query", "interface", "cause"),
    [
        ("mode=buffered", "wsgi", "mode=buffered"),
        ("mode=buffered&iterator=sync", "asgi", "mode=buffered"),
        ("iterator=async", "wsgi", "iterator=async under WSGI"),
        ("iterator=sync", "asgi", "iterator=sync under ASGI"),
        ("source=static", "wsgi", "source=static"),
        ("source=static", "asgi", "source=static"),
    ],
)
def test_a_body_held_in_memory_has_its_own_limit(
    query: str, interface: Interface, cause: str
) -> None:
    check_buffered_rows(_parse(f"rows=1000&{query}"), interface, 1000)
    with pytest.raises(BadParameter) as caught:
        check_buffered_rows(_parse(f"rows=1001&{query}"), interface, 1000)
    assert str(caught.value) == (
        f"{cause} holds the whole body in memory: rows must be at most 1000 "
        "(EXPORT_MAX_BUFFERED_ROWS), got 1001"
    )
    # A piece per row costs twice the memory per row: half the rows.
    with pytest.raises(BadParameter, match=r"at most 500 \(EXPORT_MAX_BUFFERED_ROWS, halved"):
        check_buffered_rows(_parse(f"rows=501&chunk_kb=0&{query}"), interface, 1000)


@pytest.mark.parametrize(
    ("query", "interface"),
    [("", "wsgi"), ("iterator=sync", "wsgi"), ("iterator=async", "asgi"), ("", "asgi")],
)
def test_streamed_bodies_only_have_the_row_limit(query: str, interface: Interface) -> None:
    check_buffered_rows(_parse(f"rows=1000000&chunk_kb=0&{query}"), interface, 10)


def test_a_database_export_of_more_rows_than_held_is_refused() -> None:
    check_rows_held(_parse("rows=7000&source=db"), 7000)
    with pytest.raises(BadParameter) as caught:
        check_rows_held(_parse("rows=9000&source=db"), 7000)
    assert str(caught.value) == (
        "rows=9000 but the database holds 7000 export rows: ask for at most 7000, "
        "or seed more (python -m project seed_rows N)"
    )
