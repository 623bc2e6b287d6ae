"""Every pair of stacks judged on every verdict figure of every scenario, as data.

The report's verdict sentences and ``compare figures`` (its ``comparisons``) are both made from
these objects, so what the page says and what CI reads cannot disagree.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from compare.report.figuredefs import FIGURES, VERDICT_FIGURES, Figure
from compare.report.model import Group, Model
from compare.report.stats import Judgement, judge
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
        """clear, not-meaningful, no-difference or not-judged."""
        return self.judgement.verdict

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


def _values(group: Group, key: str) -> tuple[float, ...]:
    return tuple(v for c in group.ok if (v := c[key]) is not None)


def load_note(a: Group, b: Group) -> str:
    """'gunicorn-sync had at most 2 downloads in progress, uvicorn 4', or '' when alike."""
    sent_a, sent_b = (g.spread("downloads_streaming_max") for g in (a, b))
    if sent_a is None or sent_b is None or round(sent_a.median) == round(sent_b.median):
        return ""
    most = plural(round(sent_a.median), "download")
    return f"{a.stack} had at most {most} in progress, {b.stack} {round(sent_b.median)}"


def compare_groups(scenario: str, a: Group, b: Group, key: str) -> FigureComparison | None:
    """One figure of two stacks' repetitions, judged; None when neither measured it."""
    figure = FIGURES[key]
    a_values, b_values = _values(a, key), _values(b, key)
    if not a_values and not b_values:
        return None
    note = load_note(a, b) if figure.load_dependent else ""
    if key.startswith("ttfb") and (a.starved or b.starved):
        # A TTFB over only the users that were served would flatter the stack that starved.
        starved = ", ".join(g.stack for g in (a, b) if g.starved)
        judgement = Judgement(
            figure.kind, None, None, None, None, len(a_values), len(b_values), "not-judged",
            f"{starved} left users without a first byte: their TTFB is unknown",
        )  # fmt: skip
    elif not a_values or not b_values:
        missing = a.stack if not a_values else b.stack
        judgement = Judgement(
            figure.kind, None, None, None, None, len(a_values), len(b_values), "not-judged",
            f"not measured on {missing}",
        )  # fmt: skip
    else:
        judgement = judge(a_values, b_values, figure.kind, floor=figure.floor)
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


def comparisons(model: Model) -> list[FigureComparison]:
    """Every comparison of the run, scenario by scenario."""
    return [c for scenario in model.scenarios for c in scenario_comparisons(model, scenario)]
