"""The verdicts as a matrix: one row per figure (and pair of stacks), one column per scenario
and load level, one cell per comparison: who is ahead and by how much, or the verdict word.

Made from the same comparisons as the verdict sentences and ``compare figures``' ``comparisons``
(compare.report.comparisons), so the matrix, the sentences and CI cannot disagree. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from compare.report.comparisons import FigureComparison, scenario_comparisons
from compare.report.model import Model
from compare.report.verdict import ahead, sentence

# The cell's colour class: the verdict word, a clear one by its side.
Tone = Literal["clear", "same", "inconclusive", "not-judged"]

WORDS: dict[str, tuple[Tone, str]] = {
    "no-meaningful-difference": ("same", "no difference"),
    "inconclusive": ("inconclusive", "inconclusive"),
    "not-judged": ("not-judged", "not judged"),
}


@dataclass(frozen=True)
class MatrixCell:
    """One comparison: its word or who is ahead, its colour class, and its full sentence."""

    tone: Tone
    text: str  # 'uvicorn 1.80x', 'no difference', 'inconclusive', 'not judged'
    sentence: str


@dataclass(frozen=True)
class MatrixRow:
    """One figure of one pair of stacks across the columns (None: not compared there)."""

    figure: str
    pair: str  # 'gunicorn-sync vs uvicorn'
    cells: tuple[MatrixCell | None, ...]


@dataclass(frozen=True)
class Matrix:
    """Figures by scenario and level; ``several_pairs`` when rows must name their pair."""

    columns: tuple[str, ...]
    rows: tuple[MatrixRow, ...]
    several_pairs: bool

    def count(self, tone: Tone) -> int:
        """How many cells carry this colour."""
        return sum(1 for r in self.rows for c in r.cells if c is not None and c.tone == tone)


def cell(c: FigureComparison) -> MatrixCell:
    """The matrix cell of one comparison."""
    if c.conclusion == "clear":
        found = ahead(c)
        assert found is not None  # a clear verdict has an estimate
        return MatrixCell("clear", f"{found.better} {found.size} {found.word}", sentence(c))
    tone, word = WORDS.get(c.conclusion, ("not-judged", "not judged"))
    return MatrixCell(tone, word, sentence(c))


def matrix(model: Model) -> Matrix:
    """Every scenario's comparisons laid out as figures (rows) by scenario and level."""
    columns = tuple(model.scenarios)
    found: dict[tuple[str, str], dict[str, FigureComparison]] = {}
    for column in columns:
        for c in scenario_comparisons(model, column):
            found.setdefault((c.figure.label, f"{c.a} vs {c.b}"), {})[column] = c
    rows = tuple(
        MatrixRow(
            label,
            pair,
            tuple(cell(by[col]) if col in by else None for col in columns),
        )
        for (label, pair), by in found.items()
    )
    pairs = {r.pair for r in rows}
    kept = tuple(col for i, col in enumerate(columns) if any(r.cells[i] for r in rows))
    if kept != columns:  # drop scenarios with nothing compared (one stack measured)
        index = [columns.index(col) for col in kept]
        rows = tuple(MatrixRow(r.figure, r.pair, tuple(r.cells[i] for i in index)) for r in rows)
    return Matrix(kept, rows, len(pairs) > 1)
