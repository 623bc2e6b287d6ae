"""How chosen figures moved across many runs, each change judged as ``diff`` judges two. Pure.

Runs are ordered by when they started. A run's *options* are its configuration without what
only names its output or picks which series exist (stacks, scenarios) or the size sweep: runs
whose options differ start a new *segment*, and a line is never drawn, nor a change judged,
across two segments. Each point is compared with the previous run of its segment by
compare.report.diff.judge_change (the same test, minimum change and refusals as ``diff``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from compare.report.comparisons import values
from compare.report.diff import DEFAULT_MIN_CHANGE, Conclusion, judge_change
from compare.report.figuredefs import FIGURES, Figure
from compare.report.model import Model, build
from compare.report.runresults import RunResults
from compare.report.stats import centre, spread

HISTORY_SCHEMA = "django-stream-compare/history"
DEFAULT_FIGURES = (
    "mb_per_s",
    "ttfb_p50_ms",
    "ttlb_p50_ms",
    "peak_pss_increase_mb",
    "server_cpu_s_per_gb",
)
# The options each run is labelled with (the rest are in --json and said where they change).
SUMMARY = ("repeat", "duration_s", "levels", "users", "rows", "source", "workers", "placement")
# Configuration that says where a run went or which series it has, not what its figures mean.
NOT_OPTIONS = frozenset({"out_dir", "stacks", "scenarios"})


@dataclass(frozen=True)
class RunInfo:
    """One run as history labels it."""

    source: str
    started: str
    commit: str  # the short commit, '+' when the checkout was dirty, '?' unknown
    options: Mapping[str, Any]
    segment: int  # runs with the same options in a row share a segment
    changed: tuple[str, ...]  # what differs from the run before, at a segment's start

    @property
    def summary(self) -> str:
        """The options a reader tells runs apart by: 'repeat 5, duration_s 2.0, ...'."""
        return ", ".join(
            f"{k} {self.options[k]}".replace("'", "")
            for k in SUMMARY
            if self.options.get(k) not in (None, 0, [], "")  # unset: nothing to tell apart
        )

    @property
    def label(self) -> str:
        """'2026-12-05 19:45 8f0ec59'."""
        return f"{self.started[:16].replace('T', ' ')} {self.commit}"

    def as_dict(self) -> dict[str, Any]:
        """Its entry in ``history --json``."""
        return {
            "source": self.source,
            "started": self.started,
            "commit": self.commit,
            "segment": self.segment,
            "options_changed": list(self.changed),
            "options": dict(self.options),
        }


@dataclass(frozen=True)
class Point:
    """One figure of one series in one run: its centre and range, and the change it made."""

    run: int  # index into History.runs
    value: float
    low: float
    high: float
    n: int
    change: Conclusion | None  # against the previous run of its segment; None: the first
    statement: str

    def as_dict(self) -> dict[str, Any]:
        """Its entry in ``history --json``."""
        return {
            "run": self.run,
            "value": round(self.value, 6),
            "low": round(self.low, 6),
            "high": round(self.high, 6),
            "n": self.n,
            "change": self.change,
            "statement": self.statement,
        }


@dataclass(frozen=True)
class Series:
    """One figure of one scenario (at one level) on one stack, run by run."""

    scenario: str
    stack: str
    figure: Figure
    points: tuple[Point, ...]

    @property
    def regressions(self) -> list[Point]:
        """The points a clear change for the worse reached."""
        return [p for p in self.points if p.change == "regression"]

    def as_dict(self) -> dict[str, Any]:
        """Its entry in ``history --json``."""
        return {
            "scenario": self.scenario,
            "stack": self.stack,
            "figure": self.figure.name,
            "label": self.figure.label,
            "unit": self.figure.unit,
            "higher_is_better": self.figure.higher_is_better,
            "points": [p.as_dict() for p in self.points],
        }


@dataclass(frozen=True)
class History:
    """Every chosen figure's series over the runs."""

    runs: tuple[RunInfo, ...]
    series: tuple[Series, ...]

    @property
    def regressions(self) -> list[tuple[Series, Point]]:
        """Every regression, series by series."""
        return [(s, p) for s in self.series for p in s.regressions]

    def as_dict(self) -> dict[str, Any]:
        """``history --json``."""
        return {
            "schema": HISTORY_SCHEMA,
            "version": 1,
            "runs": [r.as_dict() for r in self.runs],
            "series": [s.as_dict() for s in self.series],
            "regressions": len(self.regressions),
        }


def options(results: RunResults) -> dict[str, Any]:
    """The run's configuration that changes what its figures mean."""
    return {
        k: v
        for k, v in sorted(results.config.items())
        if k not in NOT_OPTIONS and not k.startswith("sweep")
    }


def _commit(results: RunResults) -> str:
    git = results.environment.get("git")
    if not isinstance(git, Mapping) or not git.get("commit"):
        return "?"
    return str(git["commit"])[:7] + ("+" if git.get("dirty") else "")


def _runs(ordered: Sequence[RunResults]) -> list[RunInfo]:
    found: list[RunInfo] = []
    for results in ordered:
        mine = options(results)
        previous = found[-1] if found else None
        changed: tuple[str, ...] = ()
        segment = 0
        if previous is not None:
            keys = sorted(set(mine) | set(previous.options))
            changed = tuple(
                f"{k} {previous.options.get(k)!r} -> {mine.get(k)!r}"
                for k in keys
                if previous.options.get(k) != mine.get(k)
            )
            segment = previous.segment + (1 if changed else 0)
        source = str(results.source.parent if results.source else "?")
        found.append(
            RunInfo(source, results.started or "?", _commit(results), mine, segment, changed)
        )
    return found


def _series(
    runs: list[RunInfo], models: list[Model], scenario: str, stack: str, figure: Figure,
    min_change: float,
) -> Series | None:  # fmt: skip
    points = []
    last: tuple[int, Any] | None = None  # (run index, group) of the previous point
    for index, model in enumerate(models):
        group = model.group(scenario, stack)
        found = values(group, figure.name)
        if not found:
            continue
        s = spread(found)
        change: Conclusion | None = None
        statement = ""
        if last is not None and runs[last[0]].segment == runs[index].segment:
            _, change, statement, _ = judge_change(figure, last[1], group, min_change)
        elif last is not None:
            statement = "options changed: not compared with the run before"
        points.append(
            Point(index, centre(found, figure.kind), s.low, s.high, s.n, change, statement)
        )
        last = (index, group)
    return Series(scenario, stack, figure, tuple(points)) if points else None


def history(
    results: Sequence[RunResults],
    figures: Sequence[str] = DEFAULT_FIGURES,
    min_change: float = DEFAULT_MIN_CHANGE,
) -> History:
    """The chosen figures over the runs, oldest first (pure)."""
    ordered = sorted(results, key=lambda r: r.started or "")
    models = [build(r) for r in ordered]
    runs = _runs(ordered)
    scenarios = list(dict.fromkeys(s for m in models for s in m.scenarios))
    stacks = list(dict.fromkeys(s for m in models for s in m.stacks))
    found = [
        series
        for name in figures
        for stack in stacks
        for scenario in scenarios
        if (series := _series(runs, models, scenario, stack, FIGURES[name], min_change))
    ]
    return History(tuple(runs), tuple(found))


def render_history_markdown(found: History) -> str:
    """A Markdown table per figure (rows: scenario and stack; columns: runs), for CI logs."""
    runs = found.runs
    lines = ["## Figures across runs", ""]
    for i, run in enumerate(runs):
        note = f" (options changed: {'; '.join(run.changed)})" if run.changed else ""
        lines.append(f"- run {i + 1}: {run.label}, {run.source} ({run.summary}){note}")
    lines.append("")
    for name in dict.fromkeys(s.figure.name for s in found.series):
        figure = FIGURES[name]
        header = ["scenario", "stack"]
        for i, run in enumerate(runs):
            brk = "‖ " if run.changed else ""
            header.append(f"{brk}{i + 1}")
        lines += [f"**{figure.label}** ({figure.unit})", ""]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        for series in (s for s in found.series if s.figure.name == name):
            by_run = {p.run: p for p in series.points}
            cells = [series.scenario, series.stack]
            for i in range(len(runs)):
                p = by_run.get(i)
                cells.append("-" if p is None else _mark(figure.format(p.value), p.change))
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    count = len(found.regressions)
    lines.append(
        f"{count} regression{'s' if count != 1 else ''} between consecutive runs with the same "
        "options (diff's test: permutation over repetitions at 5%, at least the minimum change)"
        "; ‖ marks a run whose options differ from the one before: not compared across it."
    )
    return "\n".join(lines) + "\n"


def _mark(text: str, change: Conclusion | None) -> str:
    if change == "regression":
        return f"**{text} REGRESSION**"
    if change == "improvement":
        return f"{text} (better)"
    return text
