"""The CSV chunker: piece sizes, byte-identical output, CSV-injection guard."""

from __future__ import annotations

import csv
import io

import pytest

from project.export.csvchunks import CsvChunker, neutralise
from project.export.rows import HEADER, synthetic_batches


def _chunk(rows: int, target: int) -> list[bytes]:
    chunker = CsvChunker(target)
    pieces = list(chunker.header(HEADER))
    for batch in synthetic_batches(rows):
        pieces.extend(chunker.feed(batch))
    pieces.extend(chunker.finish())
    return pieces


def _one_shot(rows: int) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    for batch in synthetic_batches(rows):
        writer.writerows([[neutralise(c) for c in row] for row in batch])
    return buffer.getvalue().encode("utf-8")


@pytest.mark.parametrize("target", [0, 1024, 64 * 1024, 1024 * 1024])
def test_pieces_concatenate_to_one_shot_csv(target: int) -> None:
    assert b"".join(_chunk(20_000, target)) == _one_shot(20_000)


@pytest.mark.parametrize("target", [1024, 64 * 1024])
def test_pieces_respect_target_size(target: int) -> None:
    pieces = _chunk(50_000, target)
    longest_row = max(len(line) + 1 for line in b"".join(pieces).split(b"\n"))
    for piece in pieces[:-1]:
        assert target <= len(piece) < target + longest_row
    assert 0 < len(pieces[-1]) < target + longest_row


def test_zero_target_gives_one_piece_per_row() -> None:
    pieces = _chunk(100, 0)
    assert len(pieces) == 101  # the header, then one piece per data row
    assert all(piece.count(b"\n") == 1 for piece in pieces)


def test_rows_encoded_counts_data_rows_only() -> None:
    chunker = CsvChunker(0)
    list(chunker.header(HEADER))
    for batch in synthetic_batches(1234):
        list(chunker.feed(batch))
    assert chunker.rows_encoded == 1234


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+44 20", "'+44 20"),
        ("-discount", "'-discount"),
        ("@team", "'@team"),
        ("\tindent", "'\tindent"),
        ("\rreturn", "'\rreturn"),
        ("plain", "plain"),
        ("", ""),
        ("a=b", "a=b"),
        (-5, -5),
        (12, 12),
    ],
)
def test_formula_cells_are_neutralised(cell: object, expected: object) -> None:
    assert neutralise(cell) == expected
    chunker = CsvChunker(0)
    encoded = b"".join(chunker.feed([("x", cell)])).decode()
    assert next(csv.reader(io.StringIO(encoded))) == ["x", str(expected)]


def test_synthetic_export_has_no_live_formula() -> None:
    text = b"".join(_chunk(3000, 64 * 1024)).decode()
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert "'=1+1" in cells and "'@team" in cells
    assert not [c for c in cells if c[:1] in {"=", "+", "-", "@", "\t", "\r"}]
