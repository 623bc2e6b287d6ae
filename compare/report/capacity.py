"""Capacity: each stack's curve over load levels, where it stops meeting the service level.

The curves come from compare.report.curves (the same as ``compare figures``' ``curves``); here
they are filtered to the scenarios actually swept (two levels or more) and put into words and a
table.
"""

from __future__ import annotations

from dataclasses import dataclass

from compare.report.comparisons import memory_comparisons
from compare.report.curves import Curve
from compare.report.model import Model, level_text
from compare.report.tables import Table
from compare.report.verdict import judged


def swept_curves(model: Model) -> list[Curve]:
    """Every stack's curve for the scenarios run at two or more load levels."""
    order = {stack: i for i, stack in enumerate(model.stacks)}
    kept = [c for c in model.results.curves if len(c.levels) > 1]
    return sorted(kept, key=lambda c: (c.scenario, c.kind, order.get(c.stack, 99)))


@dataclass(frozen=True)
class CurveSet:
    """One scenario under one kind of load: a curve per stack."""

    scenario: str
    kind: str
    curves: tuple[Curve, ...]

    @property
    def levels(self) -> list[float]:
        """Every level measured, on any stack."""
        return sorted({lv.level for c in self.curves for lv in c.levels})

    @property
    def title(self) -> str:
        """'download, 1-8 users' or 'download, 1-10/s'."""
        levels = self.levels
        high = level_text(self.kind, levels[-1])
        return f"{self.scenario}, {levels[0]:g}-{high}"


def curve_sets(model: Model) -> list[CurveSet]:
    """The swept scenarios, each with its stacks' curves."""
    sets: dict[tuple[str, str], list[Curve]] = {}
    for curve in swept_curves(model):
        sets.setdefault((curve.scenario, curve.kind), []).append(curve)
    return [CurveSet(scenario, kind, tuple(found)) for (scenario, kind), found in sets.items()]


def _knee_text(curve: Curve) -> str:
    if curve.knee is None and curve.knee_stop == "load-generator":
        return "not measured: the load generator was the limit from the lowest level"
    if curve.knee is None:
        return "not even at the lowest level"
    return f"up to {level_text(curve.kind, curve.knee)}"


def sentence(found: CurveSet, slo: float) -> str:
    """The scenario's capacity in one sentence per the issue's wording."""
    service = f"p99 TTFB within {slo:g} ms in every repetition, no failures, every user served"
    if found.kind == "rate":
        service += ", 95% of the offered rate"
    knees = {c.knee for c in found.curves}
    top = found.levels[-1]
    if len(knees) == 1:
        knee = next(iter(knees))
        if knee is None and all(c.knee_stop == "load-generator" for c in found.curves):
            return (
                f"{found.title}: the load generator was the limit from the lowest level "
                "on: nothing measured of the servers' capacity."
            )
        if knee is None:
            return f"{found.title}: no stack met the service level ({service}), not even first."
        who = "every stack" if len(found.curves) > 2 else "both stacks"
        if knee == top:
            return f"{found.title}: {who} met the service level ({service}) at every level."
        reasons = "; ".join(f"{c.stack}: {c.knee_reason}" for c in found.curves)
        return (
            f"{found.title}: {who} met the service level ({service}) "
            f"{_knee_text(found.curves[0])}; above that: {reasons}."
        )
    best = max(found.curves, key=lambda c: -1 if c.knee is None else c.knee)
    others = [c for c in found.curves if c is not best]
    parts = [f"{c.stack} {_knee_text(c)} ({c.knee_reason})" for c in others]
    held = "at every level" if best.knee == top else f"{_knee_text(best)} ({best.knee_reason})"
    return (
        f"{found.title}: {best.stack} met the service level ({service}) {held}; "
        + "; ".join(parts)
        + "."
    )


def sentences(model: Model) -> list[str]:
    """One sentence per swept scenario, then what memory per download in progress showed."""
    slo = model.results.slo_ttfb_ms
    memory = memory_comparisons(model)
    found = [sentence(found, slo) for found in curve_sets(model)]
    for scenario in dict.fromkeys(c.scenario for c in memory):
        lines = judged([c for c in memory if c.scenario == scenario], [])
        found += [f"{scenario}: {line}" for line in lines]
    return found


def knee_table(model: Model) -> Table:
    """Per swept scenario and stack: the knee, why it is there, memory per download."""
    table = Table(
        (
            "scenario",
            "load",
            "stack",
            "levels",
            "knee",
            "where it stops",
            "MB per download in progress",
            "fit R²",
        )
    )
    for found in curve_sets(model):
        for curve in found.curves:
            levels = [lv.level for lv in curve.levels]
            slope, r2 = curve.memory.mb_per_download, curve.memory.r2
            table.add(
                found.scenario,
                found.kind,
                curve.stack,
                ", ".join(f"{v:g}" for v in levels),
                "-" if curve.knee is None else level_text(found.kind, curve.knee),
                curve.knee_reason,
                "-" if slope is None else f"{slope:.2f}",
                "-" if r2 is None else f"{r2:.2f}",
                mark="" if curve.knee is not None else "warn",
            )
    return table
