"""Two runs compared: each headline figure's change, judged like the stacks within one run.

The same permutation test over repetitions (compare.report.stats.judge) decides whether a figure
moved between the old and the new run, with the same minimum effect; too few repetitions on
either side and it refuses to judge, and says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from compare.report.figuredefs import DIFF_FIGURES, Figure
from compare.report.model import Group, Model, build
from compare.report.runresults import RunResults
from compare.report.stats import DEFAULT_MIN_RELATIVE, Judgement, Spread, judge, spread
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

Verdict = Literal[
    "regression", "improvement", "not-meaningful", "no-difference", "not-judged", "missing"
]


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

    @property
    def relative(self) -> float | None:
        """The change of the medians as a share of the old one."""
        if self.old is None or self.new is None or self.old.median == 0:
            return None
        return (self.new.median - self.old.median) / abs(self.old.median)

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
        }


@dataclass(frozen=True)
class Diff:
    """Every figure's change, and what makes the two runs hard to compare."""

    changes: list[FigureChange]
    notes: list[str]

    @property
    def regressions(self) -> list[FigureChange]:
        """Clear changes for the worse, at least the minimum effect."""
        return [c for c in self.changes if c.verdict == "regression"]

    def as_dict(self) -> dict[str, Any]:
        """The machine-readable diff (``compare diff --json``)."""
        return {
            "schema": DIFF_SCHEMA,
            "version": 1,
            "regressions": len(self.regressions),
            "counts": {v: sum(c.verdict == v for c in self.changes) for v in VERDICTS},
            "changes": [c.as_dict() for c in self.changes],
            "notes": self.notes,
        }


VERDICTS: tuple[Verdict, ...] = (
    "regression",
    "improvement",
    "not-meaningful",
    "no-difference",
    "not-judged",
    "missing",
)


def judge_change(
    figure: Figure, old: list[float], new: list[float], min_change: float
) -> tuple[Verdict, str, Judgement | None]:
    """Classify one figure's change between two runs, with a plain statement of why."""
    if not old or not new:
        return "missing", "not measured in the " + ("old" if not old else "new") + " run", None
    j = judge(new, old, figure.kind, floor=figure.floor, min_relative=min_change)
    if j.verdict == "not-judged":
        return "not-judged", f"not judged: {j.reason}", j
    if j.verdict == "no-difference":
        return "no-difference", f"no difference ({j.reason})", j
    assert j.estimate is not None
    grew = j.estimate > 1 if j.kind == "ratio" else j.estimate > 0
    direction = "better" if grew == figure.higher_is_better else "worse"
    if j.verdict == "not-meaningful":
        return "not-meaningful", f"{direction}, but under the minimum effect ({j.reason})", j
    verdict: Verdict = "improvement" if direction == "better" else "regression"
    return verdict, f"{direction}, clearly ({j.reason})", j


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


def _values(group: Group | None, key: str) -> list[float]:
    if group is None:
        return []
    return [v for c in group.ok if (v := c[key]) is not None]


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
                old_values, new_values = _values(ga, figure.name), _values(gb, figure.name)
                if not old_values and not new_values:
                    continue
                verdict, statement, j = judge_change(figure, old_values, new_values, min_change)
                changes.append(
                    FigureChange(
                        scenario,
                        stack,
                        figure,
                        spread(old_values) if old_values else None,
                        spread(new_values) if new_values else None,
                        verdict,
                        statement,
                        j,
                    )
                )
    notes = _config_notes(old, new) + _group_notes("old", a) + _group_notes("new", b)
    return Diff(changes, notes)


def render_diff(result: Diff) -> str:
    """The diff as a plain-text table with a one-line summary."""
    rows = [["scenario", "stack", "figure", "old", "new", "change", "verdict"]]
    for c in result.changes:
        relative = c.relative
        rows.append(
            [
                c.scenario,
                c.stack,
                f"{c.figure.label} ({c.figure.unit})",
                plus_minus(c.old, c.figure.fmt),
                plus_minus(c.new, c.figure.fmt),
                f"{relative:+.0%}" if relative is not None else "-",
                c.statement,
            ]
        )
    counts = result.as_dict()["counts"]
    summary = (
        f"{counts['regression']} regressions and {counts['improvement']} improvements "
        f"(permutation test over repetitions at 5%, and at least the minimum effect); "
        f"{counts['no-difference'] + counts['not-meaningful']} figures with no meaningful "
        f"difference; {counts['not-judged']} not judged (too few repetitions)."
    )
    parts = [format_table(rows) if len(rows) > 1 else "(no figures in common)"]
    if result.notes:
        parts.append("Notes:\n" + "\n".join(f"- {n}" for n in result.notes))
    parts.append(summary)
    return "\n\n".join(parts)
