"""The verdict in plain words: per scenario, which stack wins on what, by how much, and caveats."""

from __future__ import annotations

from dataclasses import dataclass

from compare.report.comparisons import FigureComparison, scenario_comparisons
from compare.report.figuredefs import VERDICT_FIGURES, Figure
from compare.report.model import Group, Model, describe_scenario
from compare.report.stats import ALPHA, MIN_REPETITIONS, Spread, spread
from compare.report.text import with_range

# Flags that make every figure of a cell suspect: said next to each finding they touch.
SUSPECT_FLAGS = ("client-bound", "machine-bound", "uneven")


def suspect(groups: list[Group]) -> str:
    """' [flagged: uvicorn uneven 1/3]' (cells) for the findings of these groups, or ''."""
    parts = []
    for g in groups:
        counts = {f: n for f, n in g.flag_counts().items() if f in SUSPECT_FLAGS}
        if counts:
            text = ", ".join(f"{f} {n}/{len(g.cells)}" for f, n in counts.items())
            parts.append(f"{g.stack} {text}")
    return f" [flagged: {'; '.join(parts)}]" if parts else ""


@dataclass(frozen=True)
class ScenarioVerdict:
    """What one scenario showed."""

    scenario: str
    description: str
    users: int | None
    findings: tuple[str, ...]
    caveats: tuple[str, ...]


def _value(s: Spread, figure: Figure) -> str:
    return f"{with_range(s, figure.fmt)} {figure.unit}"


def factor(x: float) -> str:
    """A ratio as '1.21x' or, from 10 up, '15x'."""
    return f"{x:.2f}x" if x < 10 else f"{x:.0f}x"


def _stated(c: FigureComparison, side: str) -> str:
    values = c.a_values if side == c.a else c.b_values
    if not values:
        return f"{side} -"
    return f"{side} {_value(spread(values), c.figure)}"


def _interval(c: FigureComparison, a_better: bool) -> str:
    """The 95% interval, in the sentence's direction."""
    j = c.judgement
    if j.low is None or j.high is None:
        return ""
    if j.kind == "ratio":
        low, high = (
            (j.low, j.high) if a_better == c.figure.higher_is_better else (1 / j.high, 1 / j.low)
        )
        return f"95% interval {factor(low)}-{factor(high)}"
    low, high = sorted((abs(j.low), abs(j.high)))
    return f"95% interval {c.figure.format(low)}-{c.figure.format(high)} {c.figure.unit}"


def sentence(c: FigureComparison) -> str:
    """A judged or unjudged difference in words, with both sides' values."""
    h, j = c.figure, c.judgement
    label = h.label[0].upper() + h.label[1:]
    values = f"{_stated(c, c.a)}, {_stated(c, c.b)}"
    if j.estimate is None:
        return f"{label}: {values} (not judged: {j.reason})"
    if j.kind == "ratio":
        a_better = (j.estimate > 1) == h.higher_is_better
        size = factor(max(j.estimate, 1 / j.estimate))
    else:
        a_better = (j.estimate > 0) == h.higher_is_better
        size = f"{h.format(abs(j.estimate))} {h.unit}"
    word = "higher" if h.higher_is_better else "lower"
    better, worse = (c.a, c.b) if a_better else (c.b, c.a)
    if j.verdict == "not-judged":
        reason = "" if j.reason.startswith("needs at least") else f"; not judged: {j.reason}"
        return f"{label}: {values} ({better} {size} {word}{reason})"
    how = f"{_interval(c, a_better)}, p = {j.p_value:.3f}" if j.p_value is not None else ""
    return f"{label}: {better} {size} {word} than {worse} ({how}): {values}"


def _with_note(text: str, c: FigureComparison) -> str:
    return f"{text}; {c.load_note}" if c.load_note else text


def _served(groups: list[Group], duration: float | None) -> str:
    within = f" within the {duration:g} s cell" if isinstance(duration, int | float) else ""
    parts = []
    for g in groups:
        ok = g.ok
        if not ok:
            continue
        users = max(c.downloaders for c in ok)
        served = sorted(min(c.users_served, c.downloaders) for c in ok)
        count = f"{served[0]}" if served[0] == served[-1] else f"{served[0]}-{served[-1]}"
        text = f"{g.stack} {count} of {users}"
        if g.starved:
            text += f" (up to {g.starved} still waiting for a first byte when the cell ended)"
        else:
            longest = g.spread("ttfb_max_ms")
            if longest is not None:
                text += f" (the longest wait {longest.median:.0f} ms)"
        parts.append(text)
    return f"Users served a first byte{within}: " + "; ".join(parts) + "."


def _warnings(groups: list[Group]) -> list[str]:
    lines = []
    for g in groups:
        texts = sorted({w for c in g.cells for w in c.warnings})
        if texts:
            lines.append(
                f"Django buffered the body on {g.stack} and warned: "
                + " / ".join(f"\u201c{t}\u201d" for t in texts)
            )
    return lines


def scenario_verdict(model: Model, scenario: str) -> ScenarioVerdict:
    """The findings and caveats of one scenario."""
    groups = model.scenario_groups(scenario)
    description = describe_scenario(scenario)
    if not groups:
        return ScenarioVerdict(scenario, description, None, (), ("not measured in this run",))
    findings: list[str] = []
    if any(g.served_matters for g in groups):
        findings.append(_served(groups, model.results.duration_s))
    if len(groups) == 1:
        g = groups[0]
        for figure in VERDICT_FIGURES:
            s = g.spread(figure.name)
            if s is not None:
                label = figure.label[0].upper() + figure.label[1:]
                findings.append(f"{label}: {g.stack} {_value(s, figure)}.")
    by_verdict: dict[str, list[str]] = {"no-difference": [], "not-meaningful": []}
    found = scenario_comparisons(model, scenario)
    too_few = next(
        (c.judgement for c in found if c.judgement.reason.startswith("needs at least")), None
    )
    if too_few is not None:
        findings.append(
            f"Not judged: {min(too_few.n_a, too_few.n_b)} repetitions of a stack, and a verdict "
            f"needs at least {MIN_REPETITIONS} (fewer can never reach p <= {ALPHA:g}). What "
            "was seen:"
        )
    by_stack = {g.stack: g for g in groups}
    for c in found:
        pair = "" if len(groups) == 2 else f" ({c.a} vs {c.b})"
        if c.verdict in by_verdict:
            by_verdict[c.verdict].append(_with_note(f"{c.figure.label}{pair}", c))
            continue
        flags = suspect([by_stack[c.a], by_stack[c.b]])
        findings.append(_with_note(sentence(c), c) + flags + ".")
    if by_verdict["not-meaningful"]:
        findings.append(
            "Clear but under the minimum effect that matters (5%, and 2 ms or 2 MB), so no "
            "meaningful difference, in " + ", ".join(by_verdict["not-meaningful"]) + "."
        )
    if by_verdict["no-difference"]:
        findings.append(
            f"No difference beyond how repetitions of one stack vary (permutation test over "
            f"repetitions, p > {ALPHA:g}) in " + ", ".join(by_verdict["no-difference"]) + "."
        )
    findings += _warnings(groups)
    caveats = [f"{g.stack}: {note}" for g in groups for note in g.caveats]
    caveats += [f"{stack}: not measured" for sc, stack in model.missing if sc == scenario]
    users = max((c.users for g in groups for c in g.cells), default=None)
    if " at " in scenario:  # a sweep's level already says how many users
        users = None
    return ScenarioVerdict(scenario, description, users, tuple(findings), tuple(caveats))


def verdicts(model: Model) -> list[ScenarioVerdict]:
    """The verdict of every planned or measured scenario, in run order."""
    return [scenario_verdict(model, scenario) for scenario in model.scenarios]
