"""Two runs compared: each headline figure's change, judged against the run-to-run spread."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from compare.metrics import HEADLINE, Headline
from compare.report.model import Document, Model, build
from compare.report.text import format_table, plus_minus
from compare.stats import Spread, change

DIFF_KEYS = (
    "mb_per_s",
    "ttfb_p50_ms",
    "ttfb_p99_ms",
    "ttlb_p50_ms",
    "ttlb_p99_ms",
    "ping_p50_ms",
    "ping_p99_ms",
    "peak_pss_increase_mb",
    "server_cpu_s_per_gb",
)
# Settings that change what the figures mean: runs that differ in them are compared with a warning.
COMPARABLE = ("rows", "duration_s", "users", "workers", "source", "server_cpus", "client_cpus")
DEFAULT_MIN_CHANGE = 0.05

Verdict = Literal["regression", "improvement", "no clear difference", "spread unknown", "missing"]


@dataclass(frozen=True)
class FigureChange:
    """One figure of one scenario on one stack, old run against new."""

    scenario: str
    stack: str
    headline: Headline
    old: Spread | None
    new: Spread | None
    verdict: Verdict
    statement: str

    @property
    def relative(self) -> float | None:
        """The change of the medians as a share of the old one."""
        if self.old is None or self.new is None:
            return None
        return change(self.old, self.new).relative


@dataclass(frozen=True)
class Diff:
    """Every figure's change, and what makes the two runs hard to compare."""

    changes: list[FigureChange]
    notes: list[str]

    @property
    def regressions(self) -> list[FigureChange]:
        """Changes for the worse beyond the run-to-run spread."""
        return [c for c in self.changes if c.verdict == "regression"]


def judge(
    headline: Headline, old: Spread | None, new: Spread | None, min_change: float
) -> tuple[Verdict, str]:
    """Classify one figure's change, with a plain statement of why."""
    if old is None or new is None:
        return "missing", "not measured in the " + ("old" if old is None else "new") + " run"
    c = change(old, new)
    relative = c.relative
    if relative is None:
        return "spread unknown", "old value is zero: no relative change"
    better = (relative > 0) == headline.higher_is_better
    direction = "better" if better else "worse"
    if not c.known:
        return "spread unknown", f"{direction}; spread unknown (one repetition in each run)"
    if not c.beyond_spread:
        return "no clear difference", "no clear difference (within the run-to-run spread)"
    if abs(relative) < min_change:
        return "no clear difference", (
            f"no clear difference (beyond the spread, but under {min_change:.0%})"
        )
    verdict: Verdict = "improvement" if better else "regression"
    return verdict, f"{direction}, beyond the run-to-run spread"


def _config_notes(old: Document, new: Document) -> list[str]:
    notes = []
    a, b = old.get("config") or {}, new.get("config") or {}
    for key in COMPARABLE:
        if a.get(key) != b.get(key):
            notes.append(f"the runs differ in {key} ({a.get(key)!r} vs {b.get(key)!r})")
    for label, doc in (("old", old), ("new", new)):
        if doc.get("status") != "complete":
            notes.append(f"the {label} run's status is {doc.get('status')!r}")
    return notes


def _group_notes(label: str, model: Model) -> list[str]:
    return [
        f"{label}: {g.scenario} on {g.stack}: {note}"
        for sc in model.scenarios
        for g in model.scenario_groups(sc)
        for note in g.caveats
    ]


def diff(old: Document, new: Document, min_change: float = DEFAULT_MIN_CHANGE) -> Diff:
    """Compare two results documents figure by figure (pure)."""
    a, b = build(old), build(new)
    scenarios = list(dict.fromkeys([*a.scenarios, *b.scenarios]))
    stacks = list(dict.fromkeys([*a.stacks, *b.stacks]))
    changes = []
    for scenario in scenarios:
        for stack in stacks:
            ga, gb = a.group(scenario, stack), b.group(scenario, stack)
            if ga is None and gb is None:
                continue
            for key in DIFF_KEYS:
                headline = HEADLINE[key]
                sa = ga.spread(key) if ga is not None else None
                sb = gb.spread(key) if gb is not None else None
                if sa is None and sb is None:
                    continue
                verdict, statement = judge(headline, sa, sb, min_change)
                changes.append(FigureChange(scenario, stack, headline, sa, sb, verdict, statement))
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
                f"{c.headline.label} ({c.headline.unit})",
                plus_minus(c.old, c.headline.fmt),
                plus_minus(c.new, c.headline.fmt),
                f"{relative:+.0%}" if relative is not None else "-",
                c.statement,
            ]
        )
    counts = {
        verdict: sum(c.verdict == verdict for c in result.changes)
        for verdict in ("regression", "improvement", "no clear difference", "spread unknown")
    }
    summary = (
        f"{counts['regression']} regressions and {counts['improvement']} improvements beyond "
        f"the run-to-run spread; {counts['no clear difference']} figures with no clear "
        f"difference; {counts['spread unknown']} with unknown spread."
    )
    parts = [format_table(rows) if len(rows) > 1 else "(no figures in common)"]
    if result.notes:
        parts.append("Notes:\n" + "\n".join(f"- {n}" for n in result.notes))
    parts.append(summary)
    return "\n\n".join(parts)
