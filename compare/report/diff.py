"""Two runs compared: each headline figure's change, judged like the stacks within one run.

The same permutation test over repetitions (compare.report.stats.judge, on the two samples: two
runs make no pairs) decides whether a figure moved between the old and the new run, with the
same minimum effect and the same words; it refuses to judge where the report refuses (too few
repetitions, users starved, latencies that are lower bounds), and says why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from compare.report.comparisons import refusal, values
from compare.report.figuredefs import DIFF_FIGURES, Figure
from compare.report.model import Group, Model, build
from compare.report.runresults import RunResults
from compare.report.stats import DEFAULT_MIN_RELATIVE, Judgement, Spread, centre, judge, spread
from compare.report.text import format_table, plus_minus

# Settings that change what the figures mean: runs that differ in them are compared with a warning.
COMPARABLE = (
    "rows",
    "duration_s",
    "users",
    "workers",
    "source",
    "placement",
    "server_cpus",
    "client_cpus",
)
DEFAULT_MIN_CHANGE = DEFAULT_MIN_RELATIVE
DIFF_SCHEMA = "django-stream-compare/diff"
# compare diff's exit status when no figure could be judged (CI learned nothing).
NOTHING_JUDGED = 3

# Version 1's classification of a change (kept in --json as "verdict"): on the point estimate.
Verdict = Literal[
    "regression", "improvement", "not-meaningful", "no-difference", "not-judged", "missing"
]
# The words of the reports (compare.report.stats.Conclusion), a clear change by its direction.
Conclusion = Literal[
    "regression",
    "improvement",
    "no-meaningful-difference",
    "inconclusive",
    "not-judged",
    "missing",
]
JUDGED: tuple[Conclusion, ...] = (
    "regression",
    "improvement",
    "no-meaningful-difference",
    "inconclusive",
)


@dataclass(frozen=True)
class FigureChange:
    """One figure of one scenario on one stack, old run against new."""

    scenario: str
    stack: str
    figure: Figure
    old: Spread | None
    new: Spread | None
    verdict: Verdict
    statement: str
    judgement: Judgement | None = None
    conclusion: Conclusion = "not-judged"

    @property
    def relative(self) -> float | None:
        """The change of the medians as a share of the old one."""
        if self.old is None or self.new is None or self.old.median == 0:
            return None
        return (self.new.median - self.old.median) / abs(self.old.median)

    @property
    def change(self) -> str:
        """The change the judgement estimated (of geometric means for ratios, of means for
        differences), as text: '+21%', '+3.2 MB'; else the medians' relative change."""
        j = self.judgement
        if j is not None and j.estimate is not None:
            if j.kind == "ratio":
                return f"{j.estimate - 1:+.0%}"
            return f"{self.figure.format(j.estimate)} {self.figure.unit}".replace("+-", "-")
        return "-" if self.relative is None else f"{self.relative:+.0%}"

    def cells(self) -> list[str]:
        """Its row as the text and Markdown tables show it, up to the change."""
        return [
            self.scenario,
            self.stack,
            f"{self.figure.label} ({self.figure.unit})",
            plus_minus(self.old, self.figure.fmt),
            plus_minus(self.new, self.figure.fmt),
            self.change,
        ]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, for --json."""
        j = self.judgement.as_dict() if self.judgement is not None else {}
        return {
            "scenario": self.scenario,
            "stack": self.stack,
            "figure": self.figure.name,
            "unit": self.figure.unit,
            "old_median": None if self.old is None else self.old.median,
            "new_median": None if self.new is None else self.new.median,
            "relative": self.relative,
            "verdict": self.verdict,
            "statement": self.statement,
            "estimate": j.get("estimate"),
            "low": j.get("low"),
            "high": j.get("high"),
            "p_value": j.get("p_value"),
            "n_old": j.get("n_b", 0 if self.old is None else self.old.n),
            "n_new": j.get("n_a", 0 if self.new is None else self.new.n),
            "conclusion": self.conclusion,
            "min_effect": j.get("min_effect"),
        }


@dataclass(frozen=True)
class Diff:
    """Every figure's change, and what makes the two runs hard to compare."""

    changes: list[FigureChange]
    notes: list[str]

    @property
    def regressions(self) -> list[FigureChange]:
        """Clear changes for the worse, at least the minimum effect."""
        return [c for c in self.changes if c.conclusion == "regression"]

    @property
    def judged(self) -> int:
        """How many figures were judged at all (inconclusive ones included)."""
        return sum(c.conclusion in JUDGED for c in self.changes)

    def as_dict(self) -> dict[str, Any]:
        """The machine-readable diff (``compare diff --json``)."""
        return {
            "schema": DIFF_SCHEMA,
            "version": 1,
            "regressions": len(self.regressions),
            "counts": {v: sum(c.verdict == v for c in self.changes) for v in VERDICTS},
            "changes": [c.as_dict() for c in self.changes],
            "notes": self.notes,
            "conclusions": {v: sum(c.conclusion == v for c in self.changes) for v in CONCLUSIONS},
            "judged": self.judged,
            # Nothing judged (too few repetitions, every figure refused): CI learns nothing.
            "nothing_judged": self.judged == 0,
        }


VERDICTS: tuple[Verdict, ...] = (
    "regression",
    "improvement",
    "not-meaningful",
    "no-difference",
    "not-judged",
    "missing",
)
CONCLUSIONS: tuple[Conclusion, ...] = (*JUDGED, "not-judged", "missing")


def judge_change(
    figure: Figure, old: Group | None, new: Group | None, min_change: float
) -> tuple[Verdict, Conclusion, str, Judgement | None]:
    """Classify one figure's change between two runs, with a plain statement of why.

    Not judged on the same grounds as two stacks of one run (compare.report.comparisons
    .refusal: starved users, latencies that are lower bounds, too few repetitions).
    """
    old_values, new_values = values(old, figure.name), values(new, figure.name)
    if not old_values or not new_values:
        where = "old" if not old_values else "new"
        return "missing", "missing", f"not measured in the {where} run", None
    why = refusal(figure, new, old)
    if why is not None:
        j = Judgement.refused(figure.kind, new_values, old_values, why)
        return "not-judged", "not-judged", f"not judged: {why}", j
    j = judge(
        new_values,
        old_values,
        figure.kind,
        floor=figure.floor,
        min_relative=min_change,
        unit=figure.unit,
    )
    if j.conclusion == "not-judged":
        return "not-judged", "not-judged", f"not judged: {j.reason}", j
    assert j.estimate is not None
    grew = j.estimate > 1 if j.kind == "ratio" else j.estimate > 0
    direction = "better" if grew == figure.higher_is_better else "worse"
    clear: Literal["improvement", "regression"] = (
        "improvement" if direction == "better" else "regression"
    )
    verdict: Verdict = "no-difference" if j.verdict == "no-difference" else "not-meaningful"
    if j.verdict == "clear":
        verdict = clear
    if j.conclusion == "clear":
        return verdict, clear, f"{direction}, clearly ({j.reason})", j
    if j.conclusion == "no-meaningful-difference":
        return verdict, "no-meaningful-difference", f"no meaningful difference ({j.reason})", j
    return verdict, "inconclusive", f"inconclusive ({j.reason})", j


def _config_notes(old: RunResults, new: RunResults) -> list[str]:
    notes = []
    a, b = old.config, new.config
    for key in COMPARABLE:
        if a.get(key) != b.get(key):
            notes.append(f"the runs differ in {key} ({a.get(key)!r} vs {b.get(key)!r})")
    for label, run in (("old", old), ("new", new)):
        if run.status != "complete":
            notes.append(f"the {label} run's status is {run.status!r}")
    return notes


def _group_notes(label: str, model: Model) -> list[str]:
    return [
        f"{label}: {g.scenario} on {g.stack}: {note}"
        for sc in model.scenarios
        for g in model.scenario_groups(sc)
        for note in g.caveats
    ]


def _centred(found: Sequence[float], figure: Figure) -> Spread | None:
    """Median and range, the judgement's centre in the median's place (see centre)."""
    if not found:
        return None
    s = spread(found)
    return Spread(centre(found, figure.kind), s.low, s.high, s.n)


def diff(old: RunResults, new: RunResults, min_change: float = DEFAULT_MIN_CHANGE) -> Diff:
    """Compare two runs figure by figure (pure)."""
    a, b = build(old), build(new)
    scenarios = list(dict.fromkeys([*a.scenarios, *b.scenarios]))
    stacks = list(dict.fromkeys([*a.stacks, *b.stacks]))
    changes = []
    for scenario in scenarios:
        for stack in stacks:
            ga, gb = a.group(scenario, stack), b.group(scenario, stack)
            if ga is None and gb is None:
                continue
            for figure in DIFF_FIGURES:
                old_values, new_values = values(ga, figure.name), values(gb, figure.name)
                if not old_values and not new_values:
                    continue
                verdict, conclusion, statement, j = judge_change(figure, ga, gb, min_change)
                changes.append(
                    FigureChange(
                        scenario,
                        stack,
                        figure,
                        _centred(old_values, figure),
                        _centred(new_values, figure),
                        verdict,
                        statement,
                        j,
                        conclusion,
                    )
                )
    notes = _config_notes(old, new) + _group_notes("old", a) + _group_notes("new", b)
    return Diff(changes, notes)


def render_diff(result: Diff) -> str:
    """The diff as a plain-text table, a summary line, and a last line when nothing was judged."""
    rows = [["scenario", "stack", "figure", "old", "new", "change", "verdict"]]
    for c in result.changes:
        rows.append([*c.cells(), c.statement])
    counts = result.as_dict()["conclusions"]
    summary = (
        f"{counts['regression']} regressions and {counts['improvement']} improvements "
        f"(permutation test over repetitions at 5%, and at least the minimum effect); "
        f"{counts['no-meaningful-difference']} figures with no meaningful difference (the whole "
        f"95% interval within the minimum effect); {counts['inconclusive']} inconclusive; "
        f"{counts['not-judged']} not judged."
    )
    parts = [format_table(rows) if len(rows) > 1 else "(no figures in common)"]
    if result.notes:
        parts.append("Notes:\n" + "\n".join(f"- {n}" for n in result.notes))
    parts.append(summary)
    if not result.judged:
        parts.append(
            "Nothing was judged: no figure of the two runs could be compared (too few "
            f"repetitions, or figures the report refuses to judge); exit status {NOTHING_JUDGED}."
        )
    return "\n\n".join(parts)
