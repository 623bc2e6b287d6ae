"""The verdict in plain words: per scenario, which stack wins on what, by how much, and caveats."""

from __future__ import annotations

from dataclasses import dataclass

from compare.metrics import HEADLINE, Headline
from compare.report.model import Group, Model, describe_scenario
from compare.report.text import with_range
from compare.stats import Spread, ratio

# The figures the verdict compares, in the order a reader cares about them.
VERDICT_KEYS = (
    "mb_per_s",
    "ttfb_p50_ms",
    "ttlb_p50_ms",
    "ping_p99_ms",
    "peak_pss_increase_mb",
    "server_cpu_s_per_gb",
)
# Figures that grow with the number of users a stack serves at once.
LOAD_DEPENDENT = ("peak_pss_increase_mb", "mb_per_s")
# Flags that make every figure of a cell suspect: said next to each finding they touch.
SUSPECT_FLAGS = ("client-bound", "machine-bound", "uneven")


def suspect(groups: list[Group]) -> str:
    """' [flagged: uvicorn uneven in 1 of 3 cells]' for the findings of these groups, or ''."""
    parts = []
    for g in groups:
        counts = {f: n for f, n in g.flag_counts().items() if f in SUSPECT_FLAGS}
        if counts:
            text = ", ".join(f"{f} in {n} of {len(g.cells)} cells" for f, n in counts.items())
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


def _value(s: Spread, headline: Headline) -> str:
    return f"{with_range(s, headline.fmt)} {headline.unit}"


def factor(x: float) -> str:
    """A ratio as '1.21x' or, from 10 up, '15x'."""
    return f"{x:.2f}x" if x < 10 else f"{x:.0f}x"


@dataclass(frozen=True)
class Comparison:
    """One figure compared: sentences about differences, and pairs with no clear difference."""

    statements: list[str]
    unclear: list[str]


def compare_figure(
    headline: Headline, measured: list[tuple[str, Spread]], unmeasured: list[str] | None = None
) -> Comparison:
    """Compare the best stack on one figure with each of the others (unmeasured: ran, no value)."""
    result = Comparison([], [])
    if not measured:
        return result
    label = headline.label[0].upper() + headline.label[1:]
    if len(measured) == 1:
        stack, s = measured[0]
        where = f"not measured on {', '.join(unmeasured)}" if unmeasured else "the only stack"
        result.statements.append(f"{label}: {stack} {_value(s, headline)} ({where}).")
        return result
    pick = max if headline.higher_is_better else min
    best, best_s = pick(measured, key=lambda item: item[1].median)
    word = "higher" if headline.higher_is_better else "lower"
    for other, other_s in measured:
        if other == best:
            continue
        values = f"{best} {_value(best_s, headline)}, {other} {_value(other_s, headline)}"
        try:
            # Always best over other in the direction that reads as "better by this factor".
            r = ratio(best_s, other_s) if headline.higher_is_better else ratio(other_s, best_s)
        except ValueError:
            result.statements.append(f"{label}: {values} (no ratio: a value is zero or below).")
            continue
        if r.clear:
            result.statements.append(
                f"{label}: {best} {factor(r.value)} {word} than {other} "
                f"(range {factor(r.low)}-{factor(r.high)}): {values}."
            )
        elif not r.repeated:
            result.statements.append(
                f"{label}: {best} {factor(r.value)} {word} than {other} "
                f"(one repetition, spread unknown): {values}."
            )
        else:
            pair = "" if len(measured) == 2 else f" ({best} vs {other})"
            result.unclear.append(f"{headline.label}{pair}")
    return result


def _served(groups: list[Group], duration: object) -> str:
    within = f"within the {duration:g} s cell" if isinstance(duration, int | float) else ""
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
    return f"Users served a first byte {within}: " + "; ".join(parts) + "."


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
    unclear: list[str] = []
    starved = [g.stack for g in groups if g.starved]
    flags = suspect(groups)
    if starved or scenario == "slow-client":
        findings.append(_served(groups, model.config.get("duration_s")))
    for key in VERDICT_KEYS:
        measured = [
            (g.stack, s)
            for g in groups
            if (s := g.spread(key)) is not None
            # A TTFB over only the users that were served would flatter the stack that starved.
            and not (starved and key.startswith("ttfb"))
        ]
        unmeasured = [g.stack for g in groups if g.stack not in {m[0] for m in measured}]
        comparison = compare_figure(HEADLINE[key], measured, unmeasured)
        if starved and key in LOAD_DEPENDENT and len(measured) > 1:
            note = f" ({', '.join(starved)} served fewer users at once)"
            comparison.statements[:] = [t[:-1] + note + "." for t in comparison.statements]
        if flags:
            comparison.statements[:] = [t[:-1] + flags + "." for t in comparison.statements]
        findings += comparison.statements
        unclear += comparison.unclear
    if unclear:
        findings.append(
            "No clear difference (the repetitions' ranges overlap) in " + ", ".join(unclear) + "."
        )
    findings += _warnings(groups)
    caveats = [f"{g.stack}: {note}" for g in groups for note in g.caveats]
    caveats += [f"{stack}: not measured" for sc, stack in model.missing if sc == scenario]
    users = max((c.users for g in groups for c in g.cells), default=None)
    return ScenarioVerdict(scenario, description, users, tuple(findings), tuple(caveats))


def verdicts(model: Model) -> list[ScenarioVerdict]:
    """The verdict of every planned or measured scenario, in run order."""
    return [scenario_verdict(model, scenario) for scenario in model.scenarios]
