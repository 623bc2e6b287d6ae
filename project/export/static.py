"""The static source: the synthetic export's pieces, encoded once per process and then only sent.

Serving them costs next to nothing, so what a stack spends per byte with this source is its own
cost (the server, the protocol, Django's response) and how fast it goes is its transport ceiling;
the realistic sources add what building the rows and the CSV costs. The bytes are the synthetic
source's, piece for piece.
"""

from __future__ import annotations

from functools import lru_cache

from project.export.csvchunks import CsvChunker
from project.export.rows import HEADER, synthetic_batches

# (piece, data rows sent once it is): the log line at an export's end says how far it got.
Piece = tuple[bytes, int]


# Two bodies per process: a warm-up's and a load's (each within EXPORT_MAX_BUFFERED_ROWS).
@lru_cache(maxsize=2)
def static_pieces(rows: int, target_bytes: int) -> tuple[Piece, ...]:
    """The synthetic export of ``rows`` rows cut at ``target_bytes``, encoded on first use."""
    chunker = CsvChunker(target_bytes)
    pieces = [(piece, 0) for piece in chunker.header(HEADER)]
    for batch in synthetic_batches(rows):
        # A piece is yielded as soon as the row that fills it is written: every row counted
        # so far is in it or before it.
        pieces += [(piece, chunker.rows_encoded) for piece in chunker.feed(batch)]
    pieces += [(piece, chunker.rows_encoded) for piece in chunker.finish()]
    return tuple(pieces)
