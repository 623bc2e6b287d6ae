"""Capacity curves: each stack's figures level by level, its knee, and memory per download. Pure.

Computed from the figures document's cell rows (compare.report.figuredefs.row), so anyone holding
that JSON can recompute them; the report reads the typed ``Curve``s, ``compare figures`` their
``as_dict()``. A *level* is a load: concurrency (downloading users, a closed loop) or rate
(exports started per second, an open loop). Per stack and scenario:

- each level's figures are the medians over its repetitions, with every repetition's value;
- the level *meets the service level* when its p99 TTFB (median over repetitions) is within
  the SLO, no request failed, no user went unserved and, under an arrival rate, at least
  MIN_ACHIEVED_SHARE of the offered rate was served with no arrival left unstarted;
- a level where the load generator was saturated (``client-bound`` in any repetition) says
  nothing about the server: it is flagged and skipped, neither meeting nor breaking the SLO;
- the *knee* is the highest level reached from the lowest one with every level on the way
  meeting the service level (None when the lowest already misses it);
- memory per download in progress is the least-squares slope of the peak tree PSS increase
  against the most downloads the server was sending at once, over every completed repetition
  of every level, with its fit quality R^2.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from compare.settings import SLO_TTFB_MS

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
    """MB per download in progress: the slope of the peak increase against downloads sent."""

    mb_per_download: float | None
    intercept_mb: float | None
    r2: float | None
    points: int

    def as_dict(self) -> dict[str, Any]:
        """Its entry in the figures document."""
        return {**asdict(self), "x": "downloads_streaming_max", "y": "peak_pss_increase_mb"}


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


def judge_level(
    kind: str, cells: Sequence[FigureRow], slo_ttfb_ms: float
) -> tuple[bool | None, bool, list[str]]:
    """(meets the service level, excluded as client-bound, why) for one level's repetitions."""
    ok = [c for c in cells if c.get("status") == "ok"]
    reasons: list[str] = []
    bound = sum(1 for c in ok if "client-bound" in (c.get("flags") or []))
    if bound:
        reasons.append(f"the load generator was saturated (client-bound) in {bound} of {len(ok)}")
        return None, True, reasons
    if not ok:
        return False, False, ["no repetition completed"]
    if len(ok) < len(cells):
        reasons.append(f"{len(cells) - len(ok)} of {len(cells)} repetitions failed")
    p99s = [c["ttfb_p99_ms"] for c in ok if c.get("ttfb_p99_ms") is not None]
    if not p99s:
        reasons.append("no first body byte in the window")
    elif (p99 := statistics.median(p99s)) > slo_ttfb_ms:
        reasons.append(f"TTFB p99 {p99:.0f} ms > {slo_ttfb_ms:g} ms")
    failures = sum(int(c.get("failures") or 0) for c in ok)
    if failures:
        reasons.append(f"{failures} requests failed")
    if any("unserved" in (c.get("flags") or []) for c in ok):
        reasons.append("users were left without a first byte")
    if kind == "rate":
        shares = [
            c["achieved_rate_per_s"] / c["offered_rate_per_s"]
            for c in ok
            if c.get("achieved_rate_per_s") is not None and c.get("offered_rate_per_s") is not None
        ]
        if shares and (share := statistics.median(shares)) < MIN_ACHIEVED_SHARE:
            reasons.append(f"served {share:.0%} of the offered rate (< {MIN_ACHIEVED_SHARE:.0%})")
        refused = sum(int(c.get("not_started") or 0) for c in ok)
        if refused:
            reasons.append(f"{refused} arrivals not started (the in-flight bound was reached)")
    return not reasons, False, reasons


def knee(levels: Sequence[Level]) -> tuple[float | None, str]:
    """The highest level met from the lowest on (client-bound levels skipped), and why there."""
    best: float | None = None
    for level in sorted(levels, key=lambda lv: lv.level):
        if level.excluded:
            continue
        if not level.meets_slo:
            return best, f"at {level.level:g}: " + "; ".join(level.reasons)
        best = level.level
    return best, "every measured level met the service level"


def memory_fit(cells: Iterable[FigureRow]) -> MemoryFit:
    """MB per download in progress: slope of peak PSS increase against downloads being sent."""
    points = []
    for c in cells:
        x = c.get("downloads_streaming_max")
        y = c.get("peak_pss_increase_mb")
        if c.get("status") == "ok" and isinstance(x, int | float) and isinstance(y, int | float):
            points.append((float(x), float(y)))
    fit = fit_line(points)
    return MemoryFit(
        mb_per_download=round(fit.slope, 4) if fit else None,
        intercept_mb=round(fit.intercept, 3) if fit else None,
        r2=round(fit.r2, 4) if fit and fit.r2 is not None else None,
        points=len(points),
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
        at, why = knee(levels)
        memory = memory_fit(c for reps in by_level.values() for c in reps)
        found.append(Curve(stack, scenario, kind, levels, at, why, slo_ttfb_ms, memory))
    return found
