"""Turning figures into short text: values with their spread, aligned plain-text tables."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # stats words its reasons with plural() from here
    from compare.report.stats import Spread

MISSING = "-"


def plural(count: float, word: str) -> str:
    """'1 user', '3 users', '2.5 users'."""
    number = f"{count:g}" if isinstance(count, float) else str(count)
    return f"{number} {word}{'' if count == 1 else 's'}"


def span(low: str, high: str) -> str:
    """'11.0-13.1', or '-1.7 to 1.3' where a minus sign would read as the dash."""
    return f"{low} to {high}" if low.startswith("-") or high.startswith("-") else f"{low}-{high}"


def with_range(s: Spread | None, fmt: str) -> str:
    """'12.3 (11.0-13.1)' for repeated measurements, '12.3' for one, '-' for none."""
    if s is None:
        return MISSING
    text = fmt.format(s.median)
    if s.n > 1 and fmt.format(s.low) != fmt.format(s.high):
        text += f" ({span(fmt.format(s.low), fmt.format(s.high))})"
    return text


def plus_minus(s: Spread | None, fmt: str) -> str:
    """'12.3 ±5%' (half the range as a share of the median): compact, for the terminal."""
    if s is None:
        return MISSING
    text = fmt.format(s.median)
    if s.n < 2 or s.relative < 0.005:
        return text
    if s.relative > 1:  # around zero a share means nothing: half the range in the unit
        return text + f" ±{fmt.format((s.high - s.low) / 2)}"
    return text + f" ±{s.relative:.0%}"


def format_table(rows: list[list[str]]) -> str:
    """Align rows of text in columns, the first row as the header."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
