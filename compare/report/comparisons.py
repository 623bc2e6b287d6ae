"""Every pair of stacks judged on every verdict figure of every scenario, as data.

The report's verdict sentences and ``compare figures`` (its ``comparisons``) are both made from
these objects, so what the page says and what CI reads cannot disagree.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from compare.report.curves import Curve
from compare.report.figuredefs import FIGURES, MB_PER_DOWNLOAD, VERDICT_FIGURES, Figure
from compare.report.model import Group, Model
from compare.report.stats import Judgement, judge, too_few
from compare.report.text import plural
from compare.servers.stacks import stack_parts


@dataclass(frozen=True)
class FigureComparison:
    """Stack a against stack b on one figure of one scenario."""

    scenario: str
    figure: Figure
    a: str
    b: str
    a_values: tuple[float, ...]
    b_values: tuple[float, ...]
    judgement: Judgement
    # What makes the two sides unlike, said in the same sentence as the figure.
    load_note: str = ""

    @property
    def verdict(self) -> str:
        """Version 1's classification: clear, not-meaningful, no-difference or not-judged."""
        return self.judgement.verdict

    @property
    def conclusion(self) -> str:
        """clear, no-meaningful-difference, inconclusive or not-judged."""
        return self.judgement.conclusion

    def as_dict(self) -> dict[str, Any]:
        """The comparison under the names ``compare figures`` promises."""
        base, _, level = self.scenario.partition(" at ")
        return {
            "scenario": base,
            "level": level or None,  # '4 users' or '5/s' where the scenario was swept
            "figure": self.figure.name,
            "unit": self.figure.unit,
            "a": self.a,
            "b": self.b,
            **self.judgement.as_dict(),
            "higher_is_better": self.figure.higher_is_better,
            "a_values": [round(v, 6) for v in self.a_values],
            "b_values": [round(v, 6) for v in self.b_values],
            "load_note": self.load_note or None,
        }


def values(group: Group | None, key: str) -> tuple[float, ...]:
    """A figure's value in each completed repetition of a group that measured it."""
    if group is None:
        return ()
    return tuple(v for c in group.ok if (v := c[key]) is not None)


def by_repetition(group: Group, key: str) -> dict[int, float]:
    """A figure's value in each completed repetition of a group, by repetition."""
    return {c.repetition: v for c in group.ok if (v := c[key]) is not None}


def load_note(a: Group, b: Group) -> str:
    """'gunicorn-sync had at most 2 downloads in progress, uvicorn 4', or '' when alike."""
    sent_a, sent_b = (g.spread("downloads_held_max") for g in (a, b))
    if sent_a is None or sent_b is None or round(sent_a.median) == round(sent_b.median):
        return ""
    most = plural(round(sent_a.median), "download")
    return f"{a.stack} had at most {most} in progress, {b.stack} {round(sent_b.median)}"


def refusal(figure: Figure, a: Group | None, b: Group | None) -> str | None:
    """Why a figure of two groups (two stacks, or one stack in two runs) is not judged, or None.

    A latency over only the users that were served, or over requests some of which were still
    waiting when the cell ended (a lower bound), would flatter the side that starved or stalled.
    """
    groups = [g for g in (a, b) if g is not None]
    if figure.name.startswith(("ttfb", "ttlb")):
        starved = ", ".join(dict.fromkeys(g.stack for g in groups if g.starved))
        if starved:
            return f"{starved} left users without a first byte: their latency is unknown"
    bounded = [g for g in groups if any(c.lower_bound(figure.name) for c in g.ok)]
    if bounded:
        stacks = ", ".join(dict.fromkeys(g.stack for g in bounded))
        return (
            f"on {stacks} requests were still waiting when the cell ended: "
            f"the {figure.label} is a lower bound"
        )
    missing = next((g for g in (a, b) if g is not None and not values(g, figure.name)), None)
    return None if missing is None else f"not measured on {missing.stack}"


def compare_groups(scenario: str, a: Group, b: Group, key: str) -> FigureComparison | None:
    """One figure of two stacks' repetitions, judged; None when neither measured it.

    Paired where enough repetitions of both completed (each repetition runs its stacks back to
    back, compare.run.runner: the test on within-pair differences, so the machine's drift
    between repetitions cancels), else on the two samples.
    """
    figure = FIGURES[key]
    by_a, by_b = by_repetition(a, key), by_repetition(b, key)
    if not by_a and not by_b:
        return None
    note = load_note(a, b) if figure.load_dependent else ""
    why = refusal(figure, a, b)
    if why is None:
        return _judged(scenario, figure, ((a.stack, by_a), (b.stack, by_b)), note)
    a_values, b_values = tuple(by_a.values()), tuple(by_b.values())
    judgement = Judgement.refused(figure.kind, a_values, b_values, why)
    return FigureComparison(scenario, figure, a.stack, b.stack, a_values, b_values, judgement, note)


def comparable(a: str, b: str) -> bool:
    """Whether two stacks of a run are worth a verdict: the same app profile, or one server
    under two profiles (uvicorn against uvicorn@startproject: what the middleware costs)."""
    base_a, app_a, _ = stack_parts(a)
    base_b, app_b, _ = stack_parts(b)
    return app_a == app_b or base_a == base_b


def scenario_comparisons(model: Model, scenario: str) -> list[FigureComparison]:
    """Every comparable pair of stacks of one scenario on every verdict figure, by figure."""
    groups = model.scenario_groups(scenario)
    pairs = [(a, b) for a, b in itertools.combinations(groups, 2) if comparable(a.stack, b.stack)]
    found = []
    for figure in VERDICT_FIGURES:
        for a, b in pairs:
            comparison = compare_groups(scenario, a, b, figure.name)
            if comparison is not None:
                found.append(comparison)
    return found


def _judged(
    scenario: str,
    figure: Figure,
    sides: tuple[tuple[str, Mapping[int, float]], tuple[str, Mapping[int, float]]],
    note: str = "",
) -> FigureComparison:
    """Two stacks' values by repetition, judged on their pairs where enough, else as samples."""
    (a, by_a), (b, by_b) = sides
    a_values, b_values = tuple(by_a.values()), tuple(by_b.values())
    common = [r for r in by_a if r in by_b]
    if not a_values or not b_values:
        missing = a if not a_values else b
        judgement = Judgement.refused(figure.kind, a_values, b_values, f"no value on {missing}")
    elif too_few(len(common), len(common), "paired") is None:
        a_values, b_values = tuple(by_a[r] for r in common), tuple(by_b[r] for r in common)
        judgement = judge(
            a_values, b_values, figure.kind, floor=figure.floor, paired=True, unit=figure.unit
        )
    else:
        judgement = judge(a_values, b_values, figure.kind, floor=figure.floor, unit=figure.unit)
    return FigureComparison(scenario, figure, a, b, a_values, b_values, judgement, note)


def memory_comparisons(model: Model) -> list[FigureComparison]:
    """Memory per download in progress of every comparable pair of stacks, per swept scenario:
    each repetition's slope over its load levels (compare.report.curves.memory_fit)."""
    order = {stack: i for i, stack in enumerate(model.stacks)}
    sets: dict[tuple[str, str], list[Curve]] = {}
    for curve in sorted(model.results.curves, key=lambda c: order.get(c.stack, len(order))):
        if len(curve.levels) > 1:
            sets.setdefault((curve.scenario, curve.kind), []).append(curve)
    found = []
    for (scenario, _), curves in sets.items():
        for a, b in itertools.combinations(curves, 2):
            if not comparable(a.stack, b.stack):
                continue
            most_a, most_b = a.memory.most_in_progress, b.memory.most_in_progress
            note = (
                f"{a.stack} held at most {plural(most_a, 'download')} at once, {b.stack} {most_b}"
                if most_a is not None and most_b is not None and most_a != most_b
                else ""
            )
            slopes = [
                (c.stack, {r: v for r, v in c.memory.per_repetition.items() if v is not None})
                for c in (a, b)
            ]
            found.append(_judged(scenario, MB_PER_DOWNLOAD, (slopes[0], slopes[1]), note))
    return found


def comparisons(model: Model) -> list[FigureComparison]:
    """Every comparison of the run, scenario by scenario, then memory per download by curve."""
    found = [c for scenario in model.scenarios for c in scenario_comparisons(model, scenario)]
    return found + memory_comparisons(model)
