"""The run's self-check: its figures held against what the independent client measured. Pure.

Each re-measurement the results document keeps (compare.run.crosscheck) gives one item per
figure: the bench's value (the median over the repetitions of the cell or sweep point it
re-measured), the independent client's, their difference and whether it is within the
tolerance docs/measuring.md states: the larger of 10% of the bench's value and 3 ms for times
or 2 MB for memory; 10% for a rate. One item outside it flags the run ``crosscheck-disagrees``.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from compare.report.metrics import SweepFigures
from compare.results import MB
from compare.settings import CROSSCHECK_MEMORY_MB, CROSSCHECK_SHARE, CROSSCHECK_TIME_MS

DISAGREES = "crosscheck-disagrees"
Unit = Literal["ms", "MB/s", "MB"]
# The figures compared, under their names in the figures document, with their unit.
WHAT: tuple[tuple[str, Unit], ...] = (
    ("ttfb_p50_ms", "ms"),
    ("ttlb_p50_ms", "ms"),
    ("mb_per_s", "MB/s"),
    ("peak_pss_increase_mb", "MB"),
)
_FLOOR: Mapping[Unit, float] = {"ms": CROSSCHECK_TIME_MS, "MB/s": 0.0, "MB": CROSSCHECK_MEMORY_MB}


@dataclass(frozen=True)
class CrosscheckItem:
    """One figure of one stack, as the bench and the independent client measured it."""

    stack: str
    what: str
    bench: float | None
    independent: float | None
    difference: float | None  # independent minus bench, in the figure's unit
    within_tolerance: bool | None  # None: one of the two has no value
    # Which part of the run: "cell download 1 users" or "sweep stream 1000000 rows", and how far
    # the two may differ; None only for a stored item that does not say.
    measured: str | None = None
    tolerance: float | None = None

    @classmethod
    def measure(
        cls,
        stack: str,
        what: str,
        measured: str,
        bench: float | None,
        independent: float | None,
        tolerance: float,
    ) -> CrosscheckItem:
        """Held against its tolerance; the figures rounded as the document keeps them."""
        difference = None if bench is None or independent is None else independent - bench
        within = None if difference is None else abs(difference) <= tolerance
        return cls(
            stack,
            what,
            _round(bench),
            _round(independent),
            _round(difference),
            within,
            measured,
            _round(tolerance),
        )

    @classmethod
    def read(cls, stored: Mapping[str, Any]) -> CrosscheckItem:
        """From an entry of the document's ``crosscheck`` (a hand-made one may say less)."""

        def number(key: str) -> float | None:
            value = stored.get(key)
            return float(value) if isinstance(value, int | float) else None

        measured = stored.get("measured")
        return cls(
            stack=str(stored.get("stack", "?")),
            what=str(stored.get("what", "?")),
            bench=number("bench"),
            independent=number("independent"),
            difference=number("difference"),
            within_tolerance=stored.get("within_tolerance") is True,
            measured=None if measured is None else str(measured),
            tolerance=number("tolerance"),
        )

    def as_dict(self) -> dict[str, Any]:
        """The figures document's item (measured and tolerance only when known)."""
        found: dict[str, Any] = {"stack": self.stack, "what": self.what}
        if self.measured is not None:
            found["measured"] = self.measured
        found |= {"bench": self.bench, "independent": self.independent}
        found["difference"] = self.difference
        if self.tolerance is not None:
            found["tolerance"] = self.tolerance
        found["within_tolerance"] = self.within_tolerance
        return found


def read_crosscheck(stored: Any) -> tuple[CrosscheckItem, ...]:
    """Every well-formed item of a document's ``crosscheck`` (absent: none)."""
    if not isinstance(stored, Sequence) or isinstance(stored, str):
        return ()
    return tuple(CrosscheckItem.read(item) for item in stored if isinstance(item, Mapping))


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def tolerance(unit: Unit, bench: float | None) -> float:
    """How far the two may differ: 10% of the bench's value, or the unit's floor if larger."""
    return max(CROSSCHECK_SHARE * abs(bench or 0.0), _FLOOR[unit])


def independent_figures(entry: Mapping[str, Any]) -> dict[str, float | None]:
    """The independent client's figures of one re-measurement, under the bench's names."""
    downloads = [d for d in entry.get("downloads") or [] if d.get("problem") is None]
    window = entry.get("window")
    if window is not None:  # a cell: the requests that started in its window
        downloads = [d for d in downloads if window["start"] <= d["start"] < window["end"]]
    ttfb = [d["ttfb_s"] * 1000 for d in downloads]
    ttlb = [d["ttlb_s"] * 1000 for d in downloads]
    if window is not None:
        length = window["end"] - window["start"]
        rate = entry.get("window_bytes", 0) / length / MB if length > 0 else None
    else:
        rates = [d["body_bytes"] / d["ttlb_s"] / MB for d in downloads if d["ttlb_s"] > 0]
        rate = statistics.median(rates) if rates else None
    peak = _increase(entry)
    return {
        "ttfb_p50_ms": statistics.median(ttfb) if ttfb else None,
        "ttlb_p50_ms": statistics.median(ttlb) if ttlb else None,
        "mb_per_s": rate,
        "peak_pss_increase_mb": peak,
    }


def _increase(entry: Mapping[str, Any]) -> float | None:
    """As the bench's: the larger of the sampled PSS peak and the kernel's marks, over idle."""
    peak, baseline = entry.get("peak_pss"), entry.get("baseline_pss")
    known = [max(peak - baseline, 0) / MB] if peak is not None and baseline is not None else []
    if (hwm := entry.get("hwm_increase")) is not None:
        known.append(hwm / MB)
    return max(known) if known else None


def _sweep_row(point: SweepFigures) -> dict[str, float | None]:
    return {
        "ttfb_p50_ms": point.ttfb_ms,
        "ttlb_p50_ms": None if point.total_s is None else point.total_s * 1000,
        "mb_per_s": point.mb_per_s,
        "peak_pss_increase_mb": point.peak_pss_increase_mb,
    }


def _median(rows: Iterable[Mapping[str, Any]], name: str) -> float | None:
    values = [v for row in rows if (v := row.get(name)) is not None]
    return statistics.median(values) if values else None


def _cells_of(entry: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> list[Any]:
    """The bench's ok cells the entry re-measured: its stack, scenario and load level."""
    level = entry.get("level")
    return [
        r
        for r in rows
        if r["stack"] == entry["stack"]
        and r["scenario"] == entry.get("scenario")
        and r["status"] == "ok"
        and (level is None or (r.get("load") or {}).get("level") == level)
    ]


def crosscheck_items(
    entries: Iterable[Mapping[str, Any]],
    rows: Sequence[Mapping[str, Any]],
    sweep: Sequence[SweepFigures],
) -> tuple[CrosscheckItem, ...]:
    """Every item of the run's self-check, in the order it was measured."""
    items: list[CrosscheckItem] = []
    for entry in entries:
        if entry.get("status") != "ok":
            continue
        bench_rows: list[Mapping[str, Any]]
        if entry["kind"] == "cell":
            bench_rows = _cells_of(entry, rows)
            measured = f"cell {entry.get('scenario')} {entry['users']} users"
        else:
            bench_rows = [
                _sweep_row(p)
                for p in sweep
                if p.stack == entry["stack"]
                and p.variant == entry.get("variant")
                and p.rows == entry.get("rows")
                and p.ok
            ]
            measured = f"sweep {entry.get('variant')} {entry.get('rows')} rows"
        if not bench_rows:
            continue
        independent = independent_figures(entry)
        for what, unit in WHAT:
            bench = _median(bench_rows, what)
            items.append(
                CrosscheckItem.measure(
                    entry["stack"], what, measured, bench, independent[what], tolerance(unit, bench)
                )
            )
    return tuple(items)


def caveat(entries: Iterable[Mapping[str, Any]]) -> str | None:
    """The report's line on re-measurements that could not be made (the answer block says
    what disagreed)."""
    failed = [f"{e['stack']} {e['kind']}: {e.get('error')}" for e in entries if e["status"] != "ok"]
    return "The self-check could not re-measure " + "; ".join(failed) + "." if failed else None
