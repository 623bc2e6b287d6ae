"""The verdict on the terminal: findings per scenario and the short tables (plain text, pure)."""

from __future__ import annotations

import textwrap
from collections import defaultdict

from compare.report.answer import answer, lines
from compare.report.capacity import sentences
from compare.report.figuredefs import FIGURES
from compare.report.matrix import Matrix, matrix
from compare.report.metrics import SweepFigures
from compare.report.model import Model, build
from compare.report.page import title
from compare.report.runresults import RunResults
from compare.report.stats import spread
from compare.report.tables import short_notes
from compare.report.text import format_table, plus_minus
from compare.report.verdict import verdicts

# The terminal table's columns: (header, figure).
COLUMNS: tuple[tuple[str, str], ...] = (
    ("MB/s", "mb_per_s"),
    ("TTFB p50 ms", "ttfb_p50_ms"),
    ("TTLB p50 ms", "ttlb_p50_ms"),
    ("ping p99 ms", "ping_p99_ms"),
    ("peak mem +MB", "peak_pss_increase_mb"),
)


def _cell_text(values: list[float], fmt: str) -> str:
    return plus_minus(spread(values) if values else None, fmt)


def verdict_table(model: Model) -> str:
    """One row per scenario and stack: medians over repetitions (± half the range), caveats."""
    header = ["scenario", "stack", *[c[0] for c in COLUMNS], "failed", "notes"]
    rows: list[list[str]] = [header]
    for scenario in model.scenarios:
        for stack in model.stacks:
            group = model.group(scenario, stack)
            if group is None:
                rows.append([scenario, stack, *["-"] * (len(COLUMNS) + 1), "not measured"])
                continue
            row = [scenario, stack]
            for _, name in COLUMNS:
                values = [v for f in group.ok if (v := f[name]) is not None]
                row.append(_cell_text(values, FIGURES[name].fmt))
            failures = sum(f.failures for f in group.cells)
            requests = sum(f.requests for f in group.cells)
            row.append(f"{failures}/{requests}" if requests else "-")
            row.append(short_notes(group))
            rows.append(row)
    return format_table(rows)


def sweep_table(results: RunResults) -> str:
    """Body TTFB and peak memory increase by size, variant and stack (medians)."""
    groups: dict[tuple[int, str, str], list[SweepFigures]] = defaultdict(list)
    for f in results.sweep:
        groups[(f.rows, f.variant, f.stack)].append(f)
    rows = [["rows", "variant", "stack", "TTFB ms", "total s", "peak mem +MB", "status"]]
    for (size, variant, stack), points in sorted(groups.items()):
        ok = [p for p in points if p.ok]
        ttfb = _cell_text([p.ttfb_ms for p in ok if p.ttfb_ms is not None], "{:.1f}")
        total = _cell_text([p.total_s for p in ok if p.total_s is not None], "{:.2f}")
        memory = _cell_text(
            [p.peak_pss_increase_mb for p in ok if p.peak_pss_increase_mb is not None], "{:.1f}"
        )
        status = "ok" if len(ok) == len(points) else f"{len(points) - len(ok)} failed"
        flags = sorted({flag for p in ok for flag in p.flags})
        if flags:
            status += " (" + ", ".join(flags) + ")"
        rows.append([f"{size:,}", variant, stack, ttfb, total, memory, status])
    if len(rows) == 1:
        return "(no size sweep in this run)"
    return format_table(rows)


def _wrap(text: str, bullet: str) -> str:
    return textwrap.fill(
        text,
        width=100,
        initial_indent=f"  {bullet} ",
        subsequent_indent=" " * (len(bullet) + 3),
        break_on_hyphens=False,
    )


# How the terminal marks each kind of answer line.
BULLETS = {"stack": "-", "difference": "*", "rest": " ", "selfcheck": "#", "disagrees": "!!"}


def matrix_text(found: Matrix) -> str:
    """The verdict matrix as plain columns ('=' no difference, '?' inconclusive, '.' not judged)."""
    if not found.rows:
        return "(no two stacks compared)"
    marks = {"same": "=", "inconclusive": "?", "not-judged": "."}
    header = ["figure", *(["stacks"] if found.several_pairs else []), *found.columns]
    rows = [header]
    for row in found.rows:
        words = [
            "-" if c is None else (c.text if c.tone == "clear" else marks[c.tone])
            for c in row.cells
        ]
        rows.append([row.figure, *([row.pair] if found.several_pairs else []), *words])
    legend = "= no meaningful difference, ? inconclusive, . not judged, - not compared"
    return format_table(rows) + "\n" + legend


def terminal_verdict(results: RunResults) -> str:
    """The verdict for the terminal: run notes, the answer, the matrix, caveats, two tables."""
    model = build(results)
    lines_out = [title(model), ""]
    lines_out += [
        textwrap.fill(f"NOTE: {n}", width=100, break_on_hyphens=False) for n in model.notes
    ]
    if model.notes:
        lines_out.append("")
    found = answer(model)
    lines_out.append(f"ANSWER (measured: {found.target})")
    for kind, text in lines(found):
        if kind == "scenario":
            lines_out.append(textwrap.fill(text, width=100, break_on_hyphens=False))
        else:
            lines_out.append(_wrap(text, BULLETS[kind]))
    lines_out += ["", matrix_text(matrix(model)), ""]
    capacity_lines = sentences(model)
    if capacity_lines:
        lines_out.append("capacity")
        lines_out += [_wrap(line, "-") for line in capacity_lines]
        lines_out.append("")
    for v in verdicts(model):
        if v.observations or v.caveats:
            lines_out.append(v.scenario)
            lines_out += [_wrap(f, "-") for f in v.observations]
            lines_out += [_wrap(c, "!") for c in v.caveats]
            lines_out.append("")
    lines_out += [verdict_table(model), "", sweep_table(results)]
    return "\n".join(lines_out)
