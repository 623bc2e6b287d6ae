"""The synthetic row source: deterministic, sized as promised, batched."""

from __future__ import annotations

import csv
import io

from project.export.rows import HEADER, synthetic_batches, synthetic_row


def test_same_index_gives_same_row() -> None:
    assert [synthetic_row(i) for i in range(1000)] == [synthetic_row(i) for i in range(1000)]


def test_rows_differ_and_ids_count_from_one() -> None:
    rows = [synthetic_row(i) for i in range(100)]
    assert [r[0] for r in rows] == list(range(1, 101))
    assert len({r[1] for r in rows}) == 100
    assert all(len(r) == len(HEADER) for r in rows)


def test_batches_cover_every_row_once_in_order() -> None:
    batches = list(synthetic_batches(4501, batch_rows=1000))
    assert [len(b) for b in batches] == [1000, 1000, 1000, 1000, 501]
    assert [row for b in batches for row in b] == [synthetic_row(i) for i in range(4501)]
    assert list(synthetic_batches(0)) == []


def test_rows_are_about_fifty_to_sixty_bytes_of_csv() -> None:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(synthetic_row(i) for i in range(100_000, 110_000))
    assert 50 <= len(buffer.getvalue()) / 10_000 <= 60


def test_timestamps_advance_and_roll_over_days() -> None:
    assert synthetic_row(0)[5] == "2026-01-01T00:00:00Z"
    assert synthetic_row(1)[5] == "2026-01-01T00:00:37Z"
    # 86_400 / 37 = 2335.1: row 2336 is the first of the next day.
    assert synthetic_row(2336)[5] == "2026-01-02T00:00:32Z"
