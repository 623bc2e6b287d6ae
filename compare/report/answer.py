"""The answer first: per scenario, what each stack carries within the service level, what it
costs, and the one or two differences that matter, with every flag that weakens a figure beside
it. Built from the run's capacity curves and verdicts only (pure); every report opens with it.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from compare.report.comparisons import FigureComparison, memory_comparisons, scenario_comparisons
from compare.report.crosscheck import CrosscheckItem
from compare.report.curves import Curve
from compare.report.model import Group, Model, base_scenario, level_text
from compare.report.selfcheck import agrees, disagreements, shown, summary
from compare.report.tables import Table
from compare.report.text import plural
from compare.report.verdict import headline, suspect

# Cell flags that weaken a figure, as the answer names them (censored: a lower bound).
WEAKENING: dict[str, str] = {
    "client-bound": "client-bound",
    "machine-bound": "machine-bound",
    "server-cpu-shared": "server-cpu-shared",
    "uneven": "uneven",
    "unserved": "unserved",
    "waiting-at-end": "censored",
    "unfinished-at-end": "censored",
    "in-flight-limit": "in-flight-limit",
    "failures": "failures",
}
# How many clear differences the answer names per scenario (the rest are counted).
MOST_DIFFERENCES = 2
DEFAULT_TARGET = "this project's export view (project/export)"


@dataclass(frozen=True)
class StackAnswer:
    """One stack under one scenario: its load within the service level, its costs, its flags."""

    stack: str
    load: str  # 'up to 8 users within the service level', '120 MB/s at 4 users'
    memory: str  # '0.35 MB per download in progress', '+8.0 MB peak'
    cpu: str  # '3.1 s server CPU per GB'
    flags: tuple[str, ...]  # 'uneven 2/6'

    def text(self) -> str:
        """The stack's line: '<stack>: up to 8 users ...; 0.35 MB ...; 3.1 s ... [flags]'."""
        parts = "; ".join(p for p in (self.load, self.memory, self.cpu) if p)
        flags = f" [flagged: {', '.join(self.flags)}]" if self.flags else ""
        return f"{self.stack}: {parts}{flags}"


@dataclass(frozen=True)
class ScenarioAnswer:
    """One scenario's answer."""

    scenario: str
    service: str  # the service level in words, '' when not swept
    stacks: tuple[StackAnswer, ...]
    differences: tuple[str, ...]  # the clear differences that matter most, with intervals
    rest: str  # what the other comparisons found, counted


@dataclass(frozen=True)
class Answer:
    """The first screen of every report."""

    target: str
    scenarios: tuple[ScenarioAnswer, ...]
    selfcheck: str | None  # the self-check's line, None when the run made none
    selfcheck_agrees: bool
    checks: tuple[CrosscheckItem, ...] = ()  # the self-check's items, shown as a table


def target(model: Model) -> str:
    """What was measured: the user's project when the run names one, else this project's view."""
    stored = model.results.config.get("target")
    if isinstance(stored, dict) and stored.get("project"):
        urls = ", ".join(stored.get("urls") or ())
        return (
            f"{stored['project']} (settings {stored.get('settings')}) at {urls}; "
            f"WSGI stacks serve {stored.get('wsgi_app')}, ASGI stacks {stored.get('asgi_app')}"
        )
    if isinstance(stored, dict):
        stored = stored.get("name")
    return str(stored) if stored else DEFAULT_TARGET


def _median(groups: list[Group], key: str) -> float | None:
    found = [v for g in groups for c in g.ok if (v := c[key]) is not None]
    return statistics.median(found) if found else None


def _flags(groups: list[Group]) -> tuple[str, ...]:
    cells = [c for g in groups for c in g.cells]
    counts: dict[str, int] = {}
    for c in cells:
        for name in dict.fromkeys(WEAKENING[f] for f in c.flags if f in WEAKENING):
            counts[name] = counts.get(name, 0) + 1
    failed = sum(1 for c in cells if not c.ok)
    found = [f"{name} {n}/{len(cells)}" for name, n in counts.items()]
    return tuple(found + ([f"cells failed {failed}/{len(cells)}"] if failed else []))


def _disagrees(model: Model, stack: str) -> tuple[str, ...]:
    """The self-check's disagreement on this stack, as a flag beside its figures."""
    wrong = [i.what for i in disagreements(model.results.crosscheck) if i.stack == stack]
    return (f"crosscheck disagrees on {', '.join(wrong)}",) if wrong else ()


def _load(curve: Curve | None, groups: list[Group]) -> str:
    if curve is not None and len(curve.levels) > 1:
        if curve.knee is None and curve.knee_stop == "load-generator":
            return "not measured: the load generator was the limit from the lowest level"
        if curve.knee is None:
            lowest = level_text(curve.kind, curve.levels[0].level)
            return f"not within the service level even at {lowest}"
        top = "" if curve.knee_stop == "every-level" else " (the highest it met)"
        return f"up to {level_text(curve.kind, curve.knee)} within the service level{top}"
    if not groups or not groups[-1].ok:
        return "no cell completed"
    last = groups[-1]
    users = max(c.downloaders for c in last.ok)
    rate = last.spread("mb_per_s")
    served = min(min(c.users_served, c.downloaders) for c in last.ok)
    text = f"{rate.median:.3g} MB/s" if rate is not None else "no throughput"
    if last.served_matters:
        text += f", {served} of them served" if served < users else ", every one served"
    return f"at {plural(users, 'user')}: {text}"


def _memory(curve: Curve | None, groups: list[Group]) -> str:
    if curve is not None and curve.memory.mb_per_download is not None:
        return f"{curve.memory.mb_per_download:.2f} MB per download in progress"
    peak = _median(groups, "peak_pss_increase_mb")
    return "" if peak is None else f"+{peak:.1f} MB peak memory"


def _stack(model: Model, scenario: str, labels: list[str], stack: str) -> StackAnswer | None:
    groups = [g for label in labels if (g := model.group(label, stack)) is not None]
    if not groups:
        return None
    curve = next(
        (c for c in model.results.curves if c.scenario == scenario and c.stack == stack), None
    )
    cpu = _median(groups, "server_cpu_s_per_gb")
    return StackAnswer(
        stack,
        _load(curve, groups),
        _memory(curve, groups),
        "" if cpu is None else f"{cpu:.3g} s server CPU per GB",
        _flags(groups) + _disagrees(model, stack),
    )


def _size(c: FigureComparison) -> float:
    """How far a clear difference is from none, comparable between figures."""
    estimate = c.judgement.estimate or 0.0
    if c.judgement.kind == "ratio":
        return abs(math.log(estimate)) if estimate > 0 else 0.0
    values = [abs(v) for v in (*c.a_values, *c.b_values)]
    scale = max(statistics.fmean(values) if values else 0.0, c.figure.floor or 1.0)
    return abs(estimate) / scale


def _difference(model: Model, c: FigureComparison) -> str:
    where = c.scenario.partition(" at ")[2]
    prefix = f"at {where}: " if where else ""
    groups = [g for s in (c.a, c.b) if (g := model.group(c.scenario, s)) is not None]
    return prefix + headline(c) + suspect(groups)


def _rest(found: list[FigureComparison], named: int) -> str:
    counts = {
        "no meaningful difference": sum(c.conclusion == "no-meaningful-difference" for c in found),
        "inconclusive": sum(c.conclusion == "inconclusive" for c in found),
        "not judged": sum(c.conclusion == "not-judged" for c in found),
        "clear, not named here": sum(c.conclusion == "clear" for c in found) - named,
    }
    shown = [f"{n} {word}" for word, n in counts.items() if n]
    if not shown:
        return ""
    total = len(found) - named
    return f"The other {plural(total, 'comparison')}: " + ", ".join(shown) + "."


def _none_clear(found: list[FigureComparison]) -> str:
    too_few = next((c.judgement for c in found if c.judgement.too_few), None)
    if too_few is not None and all(c.conclusion == "not-judged" for c in found):
        return f"No difference could be judged: {too_few.reason}."
    return "No difference between the stacks was clear in this run."


def scenario_answer(model: Model, scenario: str) -> ScenarioAnswer:
    """The answer for one scenario (all its load levels)."""
    labels = [s for s in model.scenarios if base_scenario(s) == scenario]
    swept = any(c.scenario == scenario and len(c.levels) > 1 for c in model.results.curves)
    slo = model.results.slo_ttfb_ms
    service = f"TTFB p99 within {slo:g} ms, no failures, every user served" if swept else ""
    stacks = tuple(
        found for stack in model.stacks if (found := _stack(model, scenario, labels, stack))
    )
    comparisons = [c for label in labels for c in scenario_comparisons(model, label)]
    comparisons += [c for c in memory_comparisons(model) if c.scenario == scenario]
    clear = sorted((c for c in comparisons if c.conclusion == "clear"), key=_size, reverse=True)
    differences = tuple(_difference(model, c) for c in clear[:MOST_DIFFERENCES])
    if not differences and comparisons:
        differences = (_none_clear(comparisons),)
    named = min(len(clear), MOST_DIFFERENCES)
    return ScenarioAnswer(scenario, service, stacks, differences, _rest(comparisons, named))


def answer(model: Model) -> Answer:
    """The run's answer, scenario by scenario in run order."""
    scenarios = list(dict.fromkeys(base_scenario(s) for s in model.scenarios))
    results = model.results
    return Answer(
        target(model),
        tuple(scenario_answer(model, s) for s in scenarios),
        summary(results.crosscheck, results.run_flags),
        agrees(results.crosscheck, results.run_flags),
        results.crosscheck,
    )


def lines(found: Answer) -> list[tuple[str, str]]:
    """The answer as (kind, text) lines every format renders: 'scenario', 'stack',
    'difference', 'rest', 'selfcheck' or 'disagrees'."""
    out: list[tuple[str, str]] = []
    if found.selfcheck is not None:
        out.append(("selfcheck" if found.selfcheck_agrees else "disagrees", found.selfcheck))
    for s in found.scenarios:
        service = f" (service level: {s.service})" if s.service else ""
        out.append(("scenario", f"{s.scenario}{service}"))
        out += [("stack", stack.text()) for stack in s.stacks]
        out += [("difference", d) for d in s.differences]
        if s.rest:
            out.append(("rest", s.rest))
    return out


def selfcheck_table(items: Sequence[CrosscheckItem]) -> Table:
    """Every item of the self-check, the disagreeing ones marked; what each re-measured and its
    tolerance when the items say (a hand-made document's may not)."""
    where = any(item.measured is not None for item in items)
    allowed = any(item.tolerance is not None for item in items)
    found = Table(
        ("stack", "figure")
        + (("measured",) if where else ())
        + ("bench", "independent", "difference")
        + (("tolerance",) if allowed else ())
        + ("within tolerance",)
    )
    for item in items:
        found.add(
            item.stack,
            item.what,
            *((item.measured or "-",) if where else ()),
            shown(item.bench),
            shown(item.independent),
            shown(item.difference),
            *((shown(item.tolerance),) if allowed else ()),
            "yes" if item.within_tolerance else "NO",
            mark="" if item.within_tolerance else "failed",
        )
    return found
