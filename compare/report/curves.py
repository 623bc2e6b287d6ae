"""Capacity curves: each stack's figures level by level, its knee, and memory per download. Pure.

Computed from the figures document's cell rows (compare.report.figuredefs.row), so anyone holding
that JSON can recompute them; the report reads the typed ``Curve``s, ``compare figures`` their
``as_dict()``. A *level* is a load: concurrency (downloading users, a closed loop) or rate
(exports started per second, an open loop). Per stack and scenario:

- each level's figures are the medians over its repetitions, with every repetition's value;
- the level *meets the service level* when *every* repetition does (one rule for every term):
  its p99 TTFB is within the SLO, no request failed, no user went unserved, no request was
  still waiting for its first byte (or, after a drain, its last) when the cell ended and, under
  an arrival rate, at least MIN_ACHIEVED_SHARE of the offered rate was served with no arrival
  left unstarted. A repetition that failed to complete fails it too;
- a repetition where the load generator was saturated (``client-bound``) says nothing about the
  server: a level whose other repetitions break the service level fails, else it is excluded,
  neither meeting nor breaking it;
- the *knee* is the highest level reached from the lowest one with every level on the way
  meeting the service level (None when the lowest already misses it). An excluded level stops
  the climb there: "the load generator was the limit at N", never skipped;
- memory per download in progress is the least-squares slope of the peak tree PSS increase
  against the most downloads the server held at once (from the first body byte; for a body
  built before it, buffered or mismatched, from when the server began), over every completed
  repetition of every level, with its fit quality R^2; and the same slope within each
  repetition (its levels climbed back to back), which the verdict compares between stacks.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from compare.settings import SLO_TTFB_MS

KneeStop = Literal["service-level", "load-generator", "every-level"]
DEFAULT_SLO_TTFB_MS = SLO_TTFB_MS  # for a document that states no slo_ttfb_ms
MIN_ACHIEVED_SHARE = 0.95
# Row keys that are not figures (never aggregated).
_NOT_FIGURES = frozenset({"repetition"})

# A cell's row of the figures document (compare.report.figuredefs.row).
FigureRow = Mapping[str, Any]


@dataclass(frozen=True)
class Fit:
    """A least-squares line y = intercept + slope * x, with its coefficient of determination."""

    slope: float
    intercept: float
    r2: float | None  # None when every y is the same (nothing to explain)
    points: int


def fit_line(points: Sequence[tuple[float, float]]) -> Fit | None:
    """The least-squares line through ``points``; None for fewer than 3 or one distinct x."""
    if len(points) < 3 or len({x for x, _ in points}) < 2:
        return None
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in points)
    slope = sxy / sxx
    intercept = mean_y - slope * mean_x
    total = sum((y - mean_y) ** 2 for _, y in points)
    residual = sum((y - intercept - slope * x) ** 2 for x, y in points)
    return Fit(slope, intercept, 1 - residual / total if total > 0 else None, n)


@dataclass(frozen=True)
class MemoryFit:
    """MB per download in progress: the slope of the peak increase against downloads held."""

    mb_per_download: float | None
    intercept_mb: float | None
    r2: float | None
    points: int
    # The slope within each repetition (None: too few levels completed in it), by repetition.
    per_repetition: Mapping[int, float | None]
    # The most downloads in progress at once in any cell of the curve.
    most_in_progress: int | None

    def as_dict(self) -> dict[str, Any]:
        """Its entry in the figures document."""
        found = asdict(self)
        found["per_repetition"] = [self.per_repetition[r] for r in sorted(self.per_repetition)]
        return {**found, "x": "downloads_held_max", "y": "peak_pss_increase_mb"}


@dataclass(frozen=True)
class Level:
    """One load level of a curve: its repetitions judged, each figure's median and values."""

    level: float
    repetitions: int
    ok_repetitions: int
    meets_slo: bool | None  # None: excluded (client-bound)
    excluded: bool
    reasons: tuple[str, ...]
    flags: Mapping[str, int]
    medians: Mapping[str, float]  # over the completed repetitions, rounded to 4 digits
    per_repetition: Mapping[str, list[Any]]

    def as_dict(self) -> dict[str, Any]:
        """Its entry in the figures document."""
        return {
            "level": self.level,
            "repetitions": self.repetitions,
            "ok_repetitions": self.ok_repetitions,
            "meets_slo": self.meets_slo,
            "excluded": self.excluded,
            "reasons": list(self.reasons),
            "flags": dict(self.flags),
            **self.medians,
            "per_repetition": dict(self.per_repetition),
        }


@dataclass(frozen=True)
class Curve:
    """One stack's figures level by level under one scenario and kind of load, and its knee."""

    stack: str
    scenario: str
    kind: str
    levels: tuple[Level, ...]
    knee: float | None
    knee_reason: str
    # Why the climb stopped: a level broke the service level, the load generator was the limit,
    # or every measured level met it.
    knee_stop: KneeStop
    slo_ttfb_ms: float
    memory: MemoryFit

    def as_dict(self) -> dict[str, Any]:
        """Its entry in the figures document."""
        return {
            "stack": self.stack,
            "scenario": self.scenario,
            "kind": self.kind,
            "levels": [level.as_dict() for level in self.levels],
            "knee": self.knee,
            "knee_reason": self.knee_reason,
            "knee_stop": self.knee_stop,
            "slo": {"ttfb_p99_ms": self.slo_ttfb_ms, "min_achieved_share": MIN_ACHIEVED_SHARE},
            "memory": self.memory.as_dict(),
        }


def load_of(cell: FigureRow) -> tuple[str, float | None]:
    """A row's load kind and level."""
    load = cell["load"]
    return str(load["kind"]), load["level"]


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def aggregate(cells: Sequence[FigureRow]) -> tuple[dict[str, float], dict[str, list[Any]]]:
    """Every numeric figure's median over the completed cells, and its value in each cell."""
    keys = [k for k in cells[0] if k not in _NOT_FIGURES] if cells else []
    medians: dict[str, float] = {}
    values: dict[str, list[Any]] = {}
    for key in keys:
        column = [c.get(key) for c in cells]
        if not any(_numeric(v) for v in column):
            continue
        if not all(v is None or _numeric(v) for v in column):
            continue
        values[key] = column
        present = [v for v in column if v is not None]
        medians[key] = statistics.median(present)
    return medians, values


def _flagged(cells: Sequence[FigureRow], flag: str) -> int:
    return sum(1 for c in cells if flag in (c.get("flags") or []))


def _broken(kind: str, cells: Sequence[FigureRow], slo_ttfb_ms: float) -> list[str]:
    """Why these completed repetitions do not all meet the service level (empty: they do)."""

    def where(count: int) -> str:
        return "" if len(cells) == 1 else f" in {count} of {len(cells)}"

    reasons: list[str] = []
    p99s = [c["ttfb_p99_ms"] for c in cells if c.get("ttfb_p99_ms") is not None]
    over = [p for p in p99s if p > slo_ttfb_ms]
    if len(p99s) < len(cells):
        reasons.append("no first body byte in the window" + where(len(cells) - len(p99s)))
    if over:
        most = f"{over[0]:.0f}" if len(over) == 1 else f"up to {max(over):.0f}"
        reasons.append(f"TTFB p99 {most} ms > {slo_ttfb_ms:g} ms" + where(len(over)))
    failures = [int(c.get("failures") or 0) for c in cells]
    if any(failures):
        reasons.append(f"{sum(failures)} requests failed" + where(sum(map(bool, failures))))
    if n := _flagged(cells, "unserved"):
        reasons.append("users were left without a first byte" + where(n))
    if n := _flagged(cells, "waiting-at-end"):
        reasons.append("requests still waited for a first byte when the cell ended" + where(n))
    if n := _flagged(cells, "unfinished-at-end"):
        reasons.append("downloads still unfinished when the drain ended" + where(n))
    if kind == "rate":
        shares = [
            c["achieved_rate_per_s"] / c["offered_rate_per_s"]
            for c in cells
            if c.get("achieved_rate_per_s") is not None and c.get("offered_rate_per_s")
        ]
        if short := [share for share in shares if share < MIN_ACHIEVED_SHARE]:
            reasons.append(
                f"served {min(short):.0%} of the offered rate (< {MIN_ACHIEVED_SHARE:.0%})"
                + where(len(short))
            )
        refused = [int(c.get("not_started") or 0) for c in cells]
        if any(refused):
            reasons.append(
                f"{sum(refused)} arrivals not started (the in-flight bound was reached)"
                + where(sum(map(bool, refused)))
            )
    return reasons


def judge_level(
    kind: str, cells: Sequence[FigureRow], slo_ttfb_ms: float
) -> tuple[bool | None, bool, list[str]]:
    """(meets the service level, excluded as client-bound, why) for one level's repetitions.

    Met only when every repetition completed and met it; repetitions where the load generator
    was the limit are left out of that, and if the rest met it the level is excluded instead.
    """
    ok = [c for c in cells if c.get("status") == "ok"]
    if not ok:
        return False, False, ["no repetition completed"]
    reasons: list[str] = []
    if len(ok) < len(cells):
        reasons.append(f"{len(cells) - len(ok)} of {len(cells)} repetitions failed")
    free = [c for c in ok if "client-bound" not in (c.get("flags") or [])]
    if free:
        reasons += _broken(kind, free, slo_ttfb_ms)
    if reasons:
        return False, False, reasons
    if bound := len(ok) - len(free):
        return (
            None,
            True,
            [f"the load generator was the limit (client-bound) in {bound} of {len(ok)}"],
        )
    return True, False, []


def knee(levels: Sequence[Level]) -> tuple[float | None, str, KneeStop]:
    """The highest level met from the lowest on, why the climb stopped there, and at what.

    A level the load generator limited stops the climb as a broken one does: what lies above
    it was not measured of the server.
    """
    best: float | None = None
    for level in sorted(levels, key=lambda lv: lv.level):
        if level.excluded:
            return best, f"the load generator was the limit at {level.level:g}", "load-generator"
        if not level.meets_slo:
            return best, f"at {level.level:g}: " + "; ".join(level.reasons), "service-level"
        best = level.level
    return best, "every measured level met the service level", "every-level"


def _slope(points: list[tuple[float, float]]) -> float | None:
    fit = fit_line(points)
    return None if fit is None else round(fit.slope, 4)


def memory_fit(cells: Iterable[FigureRow]) -> MemoryFit:
    """MB per download in progress: slope of peak PSS increase against downloads held, over
    every completed cell and within each repetition."""
    points = []
    by_repetition: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for c in cells:
        x = c.get("downloads_held_max")
        y = c.get("peak_pss_increase_mb")
        if c.get("status") == "ok" and isinstance(x, int | float) and isinstance(y, int | float):
            points.append((float(x), float(y)))
            by_repetition[int(c.get("repetition") or 0)].append((float(x), float(y)))
    fit = fit_line(points)
    return MemoryFit(
        mb_per_download=round(fit.slope, 4) if fit else None,
        intercept_mb=round(fit.intercept, 3) if fit else None,
        r2=round(fit.r2, 4) if fit and fit.r2 is not None else None,
        points=len(points),
        per_repetition={r: _slope(found) for r, found in sorted(by_repetition.items())},
        most_in_progress=round(max(x for x, _ in points)) if points else None,
    )


def _level(level: float, reps: list[FigureRow], kind: str, slo_ttfb_ms: float) -> Level:
    meets, excluded, reasons = judge_level(kind, reps, slo_ttfb_ms)
    medians, values = aggregate([c for c in reps if c.get("status") == "ok"])
    flags: dict[str, int] = {}
    for c in reps:
        for flag in c.get("flags") or []:
            flags[flag] = flags.get(flag, 0) + 1
    return Level(
        level=level,
        repetitions=len(reps),
        ok_repetitions=sum(1 for c in reps if c.get("status") == "ok"),
        meets_slo=meets,
        excluded=excluded,
        reasons=tuple(reasons),
        flags=flags,
        medians={k: round(v, 4) for k, v in medians.items()},
        per_repetition=values,
    )


def curves(cells: Sequence[FigureRow], slo_ttfb_ms: float = DEFAULT_SLO_TTFB_MS) -> list[Curve]:
    """One curve per stack, scenario and load kind, in the order the cells first appear."""
    grouped: dict[tuple[str, str, str], dict[float, list[FigureRow]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for cell in cells:
        kind, level = load_of(cell)
        if level is not None:
            grouped[(cell["stack"], cell["scenario"], kind)][level].append(cell)
    found = []
    for (stack, scenario, kind), by_level in grouped.items():
        levels = tuple(
            _level(
                level,
                sorted(by_level[level], key=lambda c: c.get("repetition", 0)),
                kind,
                slo_ttfb_ms,
            )
            for level in sorted(by_level)
        )
        at, why, stop = knee(levels)
        memory = memory_fit(c for reps in by_level.values() for c in reps)
        found.append(Curve(stack, scenario, kind, levels, at, why, stop, slo_ttfb_ms, memory))
    return found
