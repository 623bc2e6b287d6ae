"""``diff --format markdown``: the comparison of two runs as a pull-request comment. Pure.

The changes that matter come first (regressions, then improvements, each with its 95% interval),
then one line counting the rest; what makes the runs hard to compare is folded away.
"""

from __future__ import annotations

import math

from compare.report.diff import NOTHING_JUDGED, Diff, FigureChange

# A hidden marker a CI job can search for to update its own comment instead of adding one.
MARKER = "<!-- django-stream-compare diff -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def interval(change: FigureChange) -> str:
    """The change's 95% interval: '+12% to +30%' for ratios, '1.2 to 3.4 MB' for differences."""
    j = change.judgement
    if j is None or j.low is None or j.high is None:
        return "-"
    if not (math.isfinite(j.low) and math.isfinite(j.high)):
        return "unbounded"
    if j.kind == "ratio":
        return f"{j.low - 1:+.0%} to {j.high - 1:+.0%}"
    f = change.figure
    return f"{f.format(j.low)} to {f.format(j.high)} {f.unit}"


def _table(changes: list[FigureChange]) -> list[str]:
    lines = [
        "| scenario | stack | figure | old | new | change | 95% interval |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in changes:
        lines.append("| " + " | ".join(_cell(x) for x in (*c.cells(), interval(c))) + " |")
    return lines


def render_diff_markdown(result: Diff, old: str = "old", new: str = "new") -> str:
    """A compact Markdown comment: the verdict line, the clear changes, a count of the rest."""
    regressions = result.regressions
    improvements = [c for c in result.changes if c.conclusion == "improvement"]
    if regressions:
        head = f"**{len(regressions)} regression{'s' if len(regressions) != 1 else ''}**"
    elif not result.judged:
        head = "**Nothing could be judged**"
    else:
        head = "**No regression**"
    lines = [MARKER, f"### Benchmark: {head} ({new} against {old})", ""]
    for title, found in (("Regressions", regressions), ("Improvements", improvements)):
        if found:
            lines += [f"**{title}** (clear at 5%, and at least the minimum change)", ""]
            lines += [*_table(found), ""]
    counts = result.as_dict()["conclusions"]
    rest = [
        f"{counts['no-meaningful-difference']} with no meaningful difference",
        f"{counts['inconclusive']} inconclusive",
        f"{counts['not-judged']} not judged",
    ]
    if counts["missing"]:
        rest.append(f"{counts['missing']} measured in one run only")
    lines.append(f"The other {len(result.changes) - len(regressions) - len(improvements)} "
                 f"figures: {', '.join(rest)}.")  # fmt: skip
    if not result.judged:
        lines.append(
            f"\nNo figure could be judged (too few repetitions, or figures the report refuses "
            f"to judge): `compare diff` exits {NOTHING_JUDGED}."
        )
    if result.notes:
        lines += ["", "<details><summary>Notes on the two runs</summary>", ""]
        lines += [f"- {_cell(n)}" for n in result.notes]
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"
