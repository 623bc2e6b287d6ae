"""The verdict in plain words: per scenario, which stack wins on what, by how much, and caveats."""

from __future__ import annotations

import math
from dataclasses import dataclass

from compare.report.comparisons import FigureComparison, scenario_comparisons
from compare.report.figuredefs import VERDICT_FIGURES, Figure
from compare.report.model import Group, Model, describe_scenario
from compare.report.stats import DEFAULT_MIN_RELATIVE, Spread, centre, spread
from compare.report.text import span, with_range

# Flags that make every figure of a cell suspect: said next to each finding they touch.
SUSPECT_FLAGS = ("client-bound", "machine-bound", "server-cpu-shared", "uneven", "in-flight-limit")


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
    # The findings that are not comparisons (users served, one stack's values, Django's
    # warnings): shown beside the matrix, which holds the comparisons.
    observations: tuple[str, ...] = ()


def _value(s: Spread, figure: Figure) -> str:
    return f"{with_range(s, figure.fmt)} {figure.unit}"


def factor(x: float) -> str:
    """A ratio as '1.21x' or, from 10 up, '15x'."""
    return f"{x:.2f}x" if x < 10 else f"{x:.0f}x"


def _stated(c: FigureComparison, side: str) -> str:
    """One side's values as the judgement compared them: its centre (geometric mean for a
    ratio, mean for a difference) and range."""
    values = c.a_values if side == c.a else c.b_values
    if not values:
        return f"{side} -"
    s = spread(values)
    middle = Spread(centre(values, c.judgement.kind), s.low, s.high, s.n)
    return f"{side} {_value(middle, c.figure)}"


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


def bounds(c: FigureComparison) -> str:
    """The 95% interval of a against b as it stands: 'a/b 0.91x-1.18x', 'a-b -1.2 to 3.4 MB'."""
    j = c.judgement
    if j.low is None or j.high is None or not math.isfinite(j.low) or not math.isfinite(j.high):
        return "no interval"
    if j.kind == "ratio":
        return f"{c.a}/{c.b} {j.low:.2f}x-{j.high:.2f}x"
    low, high = c.figure.format(j.low), c.figure.format(j.high)
    return f"{c.a}-{c.b} {span(low, high)} {c.figure.unit}"


@dataclass(frozen=True)
class Ahead:
    """Which side of a comparison is ahead, and by how much, in words."""

    better: str
    worse: str
    size: str  # '1.21x' or '3.2 MB'
    word: str  # 'higher' or 'lower'
    a_better: bool


def ahead(c: FigureComparison) -> Ahead | None:
    """Who is ahead on the estimate (judged or not), or None when nothing was estimated."""
    h, j = c.figure, c.judgement
    if j.estimate is None:
        return None
    if j.kind == "ratio":
        a_better = (j.estimate > 1) == h.higher_is_better
        size = factor(max(j.estimate, 1 / j.estimate))
    else:
        a_better = (j.estimate > 0) == h.higher_is_better
        size = f"{h.format(abs(j.estimate))} {h.unit}"
    word = "higher" if h.higher_is_better else "lower"
    better, worse = (c.a, c.b) if a_better else (c.b, c.a)
    return Ahead(better, worse, size, word, a_better)


def headline(c: FigureComparison) -> str:
    """A clear difference in one short clause: 'uvicorn 1.80x higher throughput than
    gunicorn-sync (95% interval 1.62x-2.01x)'."""
    found = ahead(c)
    if found is None:
        return f"{c.figure.label}: not judged ({c.judgement.reason})"
    return (
        f"{found.better} {found.size} {found.word} {c.figure.label} than {found.worse} "
        f"({_interval(c, found.a_better)})"
    )


def sentence(c: FigureComparison) -> str:
    """A judged or unjudged difference in words, with both sides' values."""
    h, j = c.figure, c.judgement
    label = h.label[0].upper() + h.label[1:]
    values = f"{_stated(c, c.a)}, {_stated(c, c.b)}"
    found = ahead(c)
    if found is None:
        return f"{label}: {values} (not judged: {j.reason})"
    better, worse, size, word = found.better, found.worse, found.size, found.word
    a_better = found.a_better
    if j.conclusion == "not-judged":
        reason = "" if j.too_few else f"; not judged: {j.reason}"
        if size in (factor(1.0), f"{h.format(0.0)} {h.unit}"):
            return f"{label}: {values} (a difference that rounds to {size}{reason})"
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
        at_once = g.spread("served_at_once")
        if at_once is not None:
            text += f", {at_once.median:.1f} being sent at once on average"
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


def judged(found: list[FigureComparison], groups: list[Group]) -> list[str]:
    """The comparisons in words: each clear or unjudged difference a sentence, the figures with
    no meaningful difference and the inconclusive ones in one line each (``groups``: the
    compared stacks' cells, whose suspect flags are said beside a finding)."""
    findings: list[str] = []
    too_few = next((c.judgement for c in found if c.judgement.too_few), None)
    if too_few is not None:
        findings.append(f"Not judged: {too_few.reason}. What was seen:")
    by_stack = {g.stack: g for g in groups}
    several = len({s for c in found for s in (c.a, c.b)}) > 2
    equivalent: list[str] = []
    inconclusive: list[str] = []
    for c in found:
        pair = f" ({c.a} vs {c.b})" if several else ""
        if c.conclusion == "no-meaningful-difference":
            equivalent.append(_with_note(f"{c.figure.label}{pair}", c))
        elif c.conclusion == "inconclusive":
            inconclusive.append(_with_note(f"{c.figure.label} ({bounds(c)})", c))
        else:
            flags = suspect([g for g in (by_stack.get(c.a), by_stack.get(c.b)) if g])
            findings.append(_with_note(sentence(c), c) + flags + ".")
    if equivalent:
        findings.append(
            f"No meaningful difference (the whole 95% interval within the minimum effect that "
            f"matters: {DEFAULT_MIN_RELATIVE:.0%}, and 2 ms, 2 MB or 0.1 MB/s) in "
            + ", ".join(equivalent)
            + "."
        )
    if inconclusive:
        findings.append(
            "Inconclusive (the 95% interval allows both no difference and one that matters; "
            "more repetitions would tell) in " + ", ".join(inconclusive) + "."
        )
    return findings


def scenario_verdict(model: Model, scenario: str) -> ScenarioVerdict:
    """The findings and caveats of one scenario."""
    groups = model.scenario_groups(scenario)
    description = describe_scenario(scenario)
    if not groups:
        return ScenarioVerdict(scenario, description, None, (), ("not measured in this run",))
    seen: list[str] = []
    if any(g.served_matters for g in groups):
        seen.append(_served(groups, model.results.duration_s))
    if len(groups) == 1:
        g = groups[0]
        for figure in VERDICT_FIGURES:
            s = g.spread(figure.name)
            if s is not None:
                label = figure.label[0].upper() + figure.label[1:]
                seen.append(f"{label}: {g.stack} {_value(s, figure)}.")
    outlasted = [g.stack for g in groups if g.outlasting and g.no_download_finished]
    if outlasted:
        seen.append(
            f"No download finished within the cell on {', '.join(outlasted)}: as designed, each "
            "reads at --read-kbps for longer than the cell lasts."
        )
    warned = _warnings(groups)
    findings = seen + judged(scenario_comparisons(model, scenario), groups) + warned
    caveats = [f"{g.stack}: {note}" for g in groups for note in g.caveats]
    caveats += [f"{stack}: not measured" for sc, stack in model.missing if sc == scenario]
    users = max((c.users for g in groups for c in g.cells), default=None)
    if " at " in scenario:  # a sweep's level already says how many users
        users = None
    return ScenarioVerdict(
        scenario, description, users, tuple(findings), tuple(caveats), tuple(seen + warned)
    )


def verdicts(model: Model) -> list[ScenarioVerdict]:
    """The verdict of every planned or measured scenario, in run order."""
    return [scenario_verdict(model, scenario) for scenario in model.scenarios]
