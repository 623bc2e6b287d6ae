"""A results document read once: typed cells with their figures, sweep points, stacks, the run.

``RunResults`` is what ``report``, ``figures`` and ``diff`` read (pyperf's Benchmark and
BenchmarkSuite are the model): a document is checked (compare.report.check) and every cell's
figures are computed once, when it is loaded; the stable names of the figures document appear
only where that document is written (compare.report.figures).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from compare.report import figuredefs
from compare.report.check import check_document
from compare.report.crosscheck import DISAGREES, CrosscheckItem, crosscheck_items, read_crosscheck
from compare.report.curves import DEFAULT_SLO_TTFB_MS, Curve, curves
from compare.report.metrics import CellFigures, SweepFigures, read_cell, sweep_figures
from compare.results import RESULTS_FILE, Document, load_results


@dataclass(frozen=True)
class StackInfo:
    """A stack as the run recorded it: its settings as shown, and whether it could run."""

    name: str
    available: bool
    missing: str | None
    interface: str | None
    server: str | None
    server_version: str | None
    worker_class: str | None
    threads: int | None
    timeout: int | None
    loop: str | None
    http_parser: str | None
    workers: int | None
    notes: tuple[str, ...]
    argv_example: tuple[str, ...]
    workers_rule: Mapping[str, Any] | None  # which rule gave its worker count (compare.run.workers)

    @classmethod
    def read(cls, name: str, stored: Mapping[str, Any]) -> StackInfo:
        """From its entry in the document's ``stacks``."""
        return cls(
            name=name,
            available=stored.get("available") is not False,
            missing=stored.get("missing"),
            interface=stored.get("interface"),
            server=stored.get("server"),
            server_version=stored.get("server_version"),
            worker_class=stored.get("worker_class"),
            threads=stored.get("threads"),
            timeout=stored.get("timeout"),
            loop=stored.get("loop"),
            http_parser=stored.get("http_parser"),
            workers=stored.get("workers"),
            notes=tuple(str(n) for n in stored.get("notes") or ()),
            argv_example=tuple(str(a) for a in stored.get("argv_example") or ()),
            workers_rule=stored.get("workers_rule"),
        )


@dataclass(frozen=True)
class Event:
    """Something that happened to the run (an interruption, a skipped stack)."""

    at: str | None
    message: str | None


@dataclass(frozen=True)
class RunResults:
    """One run's results: the run's facts, its stacks, every cell read, the size sweep."""

    status: str | None
    started: str | None
    finished: str | None
    command: tuple[str, ...]
    # The run's configuration and its machine as stored: shown as they are.
    config: Mapping[str, Any]
    environment: Mapping[str, Any]
    stacks: Mapping[str, StackInfo]
    cells: tuple[CellFigures, ...]
    sweep: tuple[SweepFigures, ...]
    events: tuple[Event, ...]
    source: Path | None = field(default=None, compare=False)
    # The self-check's items and the run's own flags (crosscheck-disagrees), when it made them.
    crosscheck: tuple[CrosscheckItem, ...] = ()
    run_flags: tuple[str, ...] = ()
    # The independent client's re-measurements as stored (compare.run.crosscheck): when there,
    # the items and the flag are computed from them and the bench's figures, not read.
    crosscheck_runs: tuple[Mapping[str, Any], ...] = ()

    @classmethod
    def load(cls, path: Path) -> RunResults:
        """Read a run's directory or its results.json; ResultsError (one line) if unusable."""
        document = load_results(path)
        return cls.from_document(document, path / RESULTS_FILE if path.is_dir() else path)

    @classmethod
    def from_document(cls, document: Document, source: Path | None = None) -> RunResults:
        """Check a results document, then read it: every cell's figures computed once."""
        check_document(document, str(source) if source else "the results document")
        return cls._checked(
            cls(
                status=document.get("status"),
                started=document.get("started"),
                finished=document.get("finished"),
                command=tuple(str(a) for a in document.get("command") or ()),
                config=document.get("config") or {},
                environment=document["environment"],
                stacks={n: StackInfo.read(n, s) for n, s in document["stacks"].items()},
                cells=tuple(read_cell(cell) for cell in document["cells"]),
                sweep=tuple(sweep_figures(point) for point in document["sweep"]),
                events=tuple(
                    Event(e.get("at"), e.get("message")) for e in document.get("events") or ()
                ),
                source=source,
                crosscheck=read_crosscheck(document.get("crosscheck")),
                run_flags=tuple(str(f) for f in document.get("flags") or () if isinstance(f, str)),
                crosscheck_runs=tuple(document.get("crosscheck_runs") or ()),
            )
        )

    @classmethod
    def _checked(cls, results: RunResults) -> RunResults:
        """With its self-check's items and flag computed from the raw re-measurements, when
        stored (else as the document states them)."""
        if not results.crosscheck_runs:
            return results
        items = crosscheck_items(results.crosscheck_runs, results.rows, results.sweep)
        flags = tuple(f for f in results.run_flags if f != DISAGREES)
        if any(i.within_tolerance is False for i in items):
            flags += (DISAGREES,)
        return dataclasses.replace(results, crosscheck=items, run_flags=flags)

    @property
    def repeat(self) -> int | None:
        """Repetitions the run planned per cell."""
        repeat = self.config.get("repeat")
        return repeat if isinstance(repeat, int) else None

    @property
    def planned_scenarios(self) -> tuple[str, ...]:
        """The scenarios the run planned, in its order."""
        return tuple(str(s) for s in self.config.get("scenarios") or ())

    @property
    def planned_stacks(self) -> tuple[str, ...]:
        """The stacks the run planned, in its order (else those it describes)."""
        return tuple(str(s) for s in self.config.get("stacks") or self.stacks)

    @property
    def duration_s(self) -> float | None:
        """How long each cell's window was meant to be."""
        return self.config.get("duration_s")

    @property
    def slo_ttfb_ms(self) -> float:
        """The service level a curve's knee is judged by: TTFB p99, in ms."""
        return float(self.config.get("slo_ttfb_ms") or DEFAULT_SLO_TTFB_MS)

    @cached_property
    def rows(self) -> list[dict[str, Any]]:
        """Each cell's row of the figures document."""
        return [figuredefs.row(cell) for cell in self.cells]

    @cached_property
    def curves(self) -> list[Curve]:
        """Each stack's capacity curve per scenario and kind of load."""
        return curves(self.rows, self.slo_ttfb_ms)
