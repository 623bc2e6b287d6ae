"""The short verdict table printed at the end of a run (plain text, pure)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from compare.metrics import CellFigures, figures
from compare.stats import Spread, spread

Column = tuple[str, Callable[[CellFigures], float | None], str]

COLUMNS: tuple[Column, ...] = (
    ("MB/s", lambda f: f.mb_per_s, "{:.1f}"),
    ("TTFB p50 ms", lambda f: f.ttfb_p50_ms, "{:.0f}"),
    ("TTLB p50 ms", lambda f: f.ttlb_p50_ms, "{:.0f}"),
    ("ping p99 ms", lambda f: f.ping_p99_ms, "{:.0f}"),
    ("peak mem +MB", lambda f: f.peak_pss_increase_mb, "{:.1f}"),
)


def group_figures(document: dict[str, Any]) -> dict[tuple[str, str], list[CellFigures]]:
    """Figures of every cell, grouped by (scenario, stack), in document order."""
    groups: dict[tuple[str, str], list[CellFigures]] = defaultdict(list)
    for cell in document["cells"]:
        groups[(cell["scenario"], cell["stack"])].append(figures(cell))
    return groups


def _cell_text(values: list[float], fmt: str) -> str:
    if not values:
        return "-"
    s: Spread = spread(values)
    text = fmt.format(s.median)
    return text + (f" ±{s.relative:.0%}" if s.n > 1 and s.relative >= 0.005 else "")


def verdict_table(document: dict[str, Any]) -> str:
    """One row per scenario and stack: medians over repetitions (± half the range), caveats."""
    groups = group_figures(document)
    header = ["scenario", "stack", *[c[0] for c in COLUMNS], "failed", "notes"]
    rows: list[list[str]] = [header]
    for (scenario, stack), cells in groups.items():
        ok = [f for f in cells if f.ok]
        notes = []
        if len(ok) < len(cells):
            notes.append(f"{len(cells) - len(ok)} of {len(cells)} cells failed")
        bound = sum(f.client_bound for f in cells)
        if bound:
            notes.append(f"client-bound in {bound}")
        row = [scenario, stack]
        for _, pick, fmt in COLUMNS:
            row.append(_cell_text([v for f in ok if (v := pick(f)) is not None], fmt))
        failures = sum(f.failures for f in cells)
        requests = sum(f.requests for f in cells)
        row.append(f"{failures}/{requests}" if requests else "-")
        row.append("; ".join(notes))
        rows.append(row)
    return format_table(rows)


def sweep_table(document: dict[str, Any]) -> str:
    """Body TTFB and peak memory increase by size, variant and stack (medians)."""
    groups: dict[tuple[int, str, str], list[dict[str, Any]]] = defaultdict(list)
    for point in document["sweep"]:
        groups[(point["rows"], point["variant"], point["stack"])].append(point)
    rows = [["rows", "variant", "stack", "TTFB s", "total s", "peak mem +MB", "status"]]
    for (size, variant, stack), points in sorted(groups.items()):
        ok = [p for p in points if p["status"] == "ok"]
        ttfb = _cell_text([p["ttfb_s"] for p in ok], "{:.3f}")
        total = _cell_text([p["total_s"] for p in ok], "{:.2f}")
        memory = _cell_text([p["peak_pss_increase"] / 1e6 for p in ok], "{:.1f}")
        status = "ok" if len(ok) == len(points) else f"{len(points) - len(ok)} failed"
        rows.append([f"{size:,}", variant, stack, ttfb, total, memory, status])
    if len(rows) == 1:
        return "(no size sweep in this run)"
    return format_table(rows)


def format_table(rows: list[list[str]]) -> str:
    """Align rows of text in columns, the first row as the header."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
