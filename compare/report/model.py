"""A results document grouped for reporting: cells by scenario and stack, with their caveats."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from compare.report.metrics import CellFigures, figures
from compare.report.stats import ALPHA, MIN_REPETITIONS, Spread, spread
from compare.report.text import plural
from compare.results import Cell
from loadtests.catalog import SCENARIOS, Scenario

Document = dict[str, Any]
UNKNOWN_SCENARIO = "(not in this version's scenario catalog)"


def level_text(kind: str, level: float) -> str:
    """'4 users' or '5/s': one load level of a capacity curve."""
    if kind == "rate":
        return f"{level:g}/s"
    return f"{level:g} user" + ("" if level == 1 else "s")


def scenario_label(cell: Cell, swept: set[str]) -> str:
    """The scenario a cell is reported under: its name, and its load level in a sweep."""
    name = str(cell["scenario"])
    load = cell.get("load", {})
    if name in swept and load.get("level") is not None:
        return f"{name} at {level_text(str(load.get('kind')), float(load['level']))}"
    return name


def base_scenario(label: str) -> str:
    """The catalog name under a label ('download at 4 users' -> 'download')."""
    return label.split(" at ", 1)[0]


def swept_scenarios(cells: list[Cell]) -> set[str]:
    """Scenarios run at more than one load level (kind or level) in this document."""
    loads: dict[str, set[tuple[str, float]]] = defaultdict(set)
    for cell in cells:
        load = cell.get("load", {})
        if load.get("level") is not None:
            loads[str(cell["scenario"])].add((str(load.get("kind")), float(load["level"])))
    return {name for name, seen in loads.items() if len(seen) > 1}


@dataclass(frozen=True)
class Group:
    """Every repetition of one scenario (at one load level, in a sweep) on one stack."""

    scenario: str  # the label: the scenario's name, with its level in a sweep
    stack: str
    cells: tuple[CellFigures, ...]

    @property
    def base(self) -> str:
        """The scenario's catalog name."""
        return base_scenario(self.scenario)

    @property
    def info(self) -> Scenario:
        """The scenario from the catalog (one unknown to it: a plain download)."""
        return SCENARIOS.get(self.base, Scenario(self.base, UNKNOWN_SCENARIO))

    @property
    def served_matters(self) -> bool:
        """Whether its report says how many users got a first byte: some went without, or its
        scenario always says (slow readers hold workers) and it had downloading users."""
        downloading = any(c.downloaders for c in self.cells)
        return bool(self.starved) or (self.info.report_served and downloading)

    @property
    def ok(self) -> tuple[CellFigures, ...]:
        """The cells that completed (only these feed the figures)."""
        return tuple(c for c in self.cells if c.ok)

    def spread(self, key: str) -> Spread | None:
        """Median and range of a figure, or None when no repetition measured it."""
        values = [v for c in self.ok if (v := getattr(c, key)) is not None]
        return spread(values) if values else None

    @property
    def starved(self) -> int:
        """The most downloading users left without a first byte in any repetition."""
        return max((c.starved for c in self.ok), default=0)

    def flag_counts(self) -> dict[str, int]:
        """How many of the group's cells carry each flag."""
        counts: dict[str, int] = {}
        for cell in self.cells:
            for flag in cell.flags:
                counts[flag] = counts.get(flag, 0) + 1
        return counts

    @property
    def caveats(self) -> list[str]:
        """What makes this group's figures incomplete or suspect, in plain words."""
        notes: list[str] = []
        failed = [c for c in self.cells if not c.ok]
        if failed:
            errors = "; ".join(dict.fromkeys(c.error or "unknown error" for c in failed))
            notes.append(f"{len(failed)} of {len(self.cells)} cells failed ({errors})")
        counts, total = self.flag_counts(), len(self.cells)
        if counts.get("client-bound"):
            notes.append(
                f"client-bound in {counts['client-bound']} of {total} cells: a load-generator "
                "process saturated its core, so these figures understate the server"
            )
        if counts.get("machine-bound"):
            notes.append(
                f"machine-bound in {counts['machine-bound']} of {total} cells: every CPU was "
                ">= 95% busy, so client wake-ups (part of every latency) waited for a CPU"
            )
        if counts.get("uneven"):
            shares = [
                f"{min(c.worker_cpu_s):.1f} vs {max(c.worker_cpu_s):.1f} s"
                for c in self.cells
                if "uneven" in c.flags
            ]
            notes.append(
                f"uneven in {counts['uneven']} of {total} cells: one worker did under a third "
                f"of another's CPU work (worker CPU {', '.join(shares)}); keep-alive connections "
                "stay on the worker that accepted them"
            )
        failures: dict[str, int] = {}
        for c in self.cells:
            for kind, n in c.failures_by_kind.items():
                failures[kind] = failures.get(kind, 0) + n
        if failures:
            requests = sum(c.requests for c in self.cells)
            kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(failures.items()))
            notes.append(
                f"{sum(failures.values())} of {requests} requests failed ({kinds}); "
                "they enter no latency or rate"
            )
        ok = self.ok
        if ok and ok[0].expects_downloads and not any(c.downloads for c in ok):
            notes.append("no download started in the window completed: no last-byte time")
        if self.starved:
            users = max(c.downloaders for c in ok)
            notes.append(
                f"{self.starved} of {users} users got no first byte within a cell; "
                "TTFB percentiles cover only those served"
            )
        return notes


@dataclass(frozen=True)
class Model:
    """The document in the shape the renderers need."""

    document: Document
    scenarios: tuple[str, ...]  # in run order, planned ones first
    stacks: tuple[str, ...]
    groups: dict[tuple[str, str], Group]
    missing: tuple[tuple[str, str], ...]  # planned (scenario, stack) pairs with no cell
    notes: tuple[str, ...] = field(default=())  # run-level caveats

    def group(self, scenario: str, stack: str) -> Group | None:
        """The group of a scenario on a stack, if it ran."""
        return self.groups.get((scenario, stack))

    def scenario_groups(self, scenario: str) -> list[Group]:
        """Groups of one scenario in stack order."""
        return [g for s in self.stacks if (g := self.groups.get((scenario, s))) is not None]

    @property
    def config(self) -> dict[str, Any]:
        """The run's configuration as stored (empty if absent)."""
        config: dict[str, Any] = self.document.get("config") or {}
        return config


def _ordered(planned: Any, seen: list[str]) -> tuple[str, ...]:
    names = [str(n) for n in planned] if isinstance(planned, list | tuple) else []
    return tuple(dict.fromkeys([*names, *seen]))


def _run_notes(document: Document, missing: list[tuple[str, str]]) -> list[str]:
    notes: list[str] = []
    status = document.get("status")
    if status == "interrupted":
        notes.append("The run was interrupted: this report holds only what finished before.")
    elif status == "failed":
        notes.append("The run stopped with an error: this report holds only what finished before.")
    elif status == "running":
        notes.append("The run had not finished when this report was made (status 'running').")
    elif status != "complete":
        notes.append(f"The run's status is {status!r}.")
    for name, stack in sorted((document.get("stacks") or {}).items()):
        if isinstance(stack, dict) and stack.get("available") is False:
            notes.append(f"Stack {name} was unavailable: {stack.get('missing')}.")
    if missing:
        pairs = ", ".join(f"{scenario} on {stack}" for scenario, stack in missing)
        notes.append(f"Not measured: {pairs}.")
    config = document.get("config") or {}
    repeat = config.get("repeat")
    if isinstance(repeat, int) and repeat < MIN_REPETITIONS:
        notes.append(
            f"{plural(repeat, 'repetition')} per cell: a verdict needs at "
            f"least {MIN_REPETITIONS} (fewer can never reach p <= {ALPHA:g}), so differences "
            "are shown but not judged."
        )
    copies: dict[str, list[str]] = {}
    for name in config.get("stacks") or []:
        base, mark, _ = str(name).partition("#")
        if mark:
            copies.setdefault(base, []).append(str(name))
    for base, names in copies.items():
        notes.append(
            f"A/A calibration: {' and '.join(names)} are the same stack ({base}) run as two. "
            f"Any difference called clear between them is a false positive; the method allows "
            f"at most {ALPHA:.0%} per figure."
        )
    return notes


def build(document: Document) -> Model:
    """Group a results document's cells for the renderers (pure)."""
    cells: dict[tuple[str, str], list[CellFigures]] = defaultdict(list)
    raw = list(document.get("cells") or [])
    swept = swept_scenarios(raw)
    config = document.get("config") or {}
    order = [str(s) for s in config.get("scenarios") or []]

    def position(cell: Cell) -> tuple[int, str, float]:
        # Scenarios in the planned order, a sweep's levels from the lowest up.
        name = str(cell["scenario"])
        load = cell.get("load", {})
        at = order.index(name) if name in order else len(order)
        return (at, str(load.get("kind") or ""), float(load.get("level") or 0))

    for cell in sorted(raw, key=position):
        cells[(scenario_label(cell, swept), cell["stack"])].append(figures(cell))
    planned = [s for s in order if s not in swept]
    scenarios = _ordered(planned, [s for s, _ in cells])
    # Planned scenarios keep their place; a swept one is replaced by its levels, in place.
    scenarios = tuple(sorted(scenarios, key=lambda label: _rank(label, order, scenarios)))
    stacks = _ordered(
        config.get("stacks") or list(document.get("stacks") or {}), [s for _, s in cells]
    )
    groups = {key: Group(key[0], key[1], tuple(value)) for key, value in cells.items()}
    missing = [(sc, st) for sc in scenarios for st in stacks if (sc, st) not in groups]
    return Model(
        document=document,
        scenarios=scenarios,
        stacks=stacks,
        groups=groups,
        missing=tuple(missing),
        notes=tuple(_run_notes(document, missing)),
    )


def _rank(label: str, order: list[str], labels: tuple[str, ...]) -> tuple[int, int]:
    base = base_scenario(label)
    return (order.index(base) if base in order else len(order), labels.index(label))


def describe_scenario(name: str) -> str:
    """The catalog's one-line description of a scenario (or a plain note for unknown ones)."""
    info = SCENARIOS.get(base_scenario(name))
    return info.description if info is not None else UNKNOWN_SCENARIO
