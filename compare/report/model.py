"""A run's results grouped for reporting: cells by scenario and stack, with their caveats."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from compare.report.crosscheck import caveat
from compare.report.metrics import CellFigures, scenario_of
from compare.report.runresults import RunResults
from compare.report.stats import ALPHA, MIN_PAIRS, Spread, spread, too_few
from compare.report.text import plural
from loadtests.catalog import Scenario


def level_text(kind: str, level: float) -> str:
    """'4 users' or '5/s': one load level of a capacity curve."""
    if kind == "rate":
        return f"{level:g}/s"
    return plural(level, "user")


def scenario_label(cell: CellFigures, swept: set[str]) -> str:
    """The scenario a cell is reported under: its name, and its load level in a sweep."""
    load = cell.stored_load
    if cell.scenario in swept and load is not None and load["level"] is not None:
        return f"{cell.scenario} at {level_text(load['kind'], float(load['level']))}"
    return cell.scenario


def base_scenario(label: str) -> str:
    """The catalog name under a label ('download at 4 users' -> 'download')."""
    return label.split(" at ", 1)[0]


def swept_scenarios(cells: Iterable[CellFigures]) -> set[str]:
    """Scenarios run at more than one load level (kind or level) in this run."""
    loads: dict[str, set[tuple[str, float]]] = defaultdict(set)
    for cell in cells:
        load = cell.stored_load
        if load is not None and load["level"] is not None:
            loads[cell.scenario].add((load["kind"], float(load["level"])))
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
        """The scenario from the catalog (one unknown to it: plain downloads)."""
        return scenario_of(self.base)

    @property
    def served_matters(self) -> bool:
        """Whether its report says how many users got a first byte: some went without, or its
        scenario always says (slow readers hold workers) and it had downloading users."""
        downloading = any(c.downloaders for c in self.cells)
        return bool(self.starved) or (self.info.report_served and downloading)

    @property
    def outlasting(self) -> bool:
        """Whether its downloads read at a throttled rate, meant to outlast the cell."""
        return self.info.step.read == "throttled"

    @property
    def no_download_finished(self) -> bool:
        """Whether it downloads whole exports but none started in the window finished."""
        ok = self.ok
        return bool(ok) and ok[0].expects_downloads and not any(c.downloads for c in ok)

    @property
    def ok(self) -> tuple[CellFigures, ...]:
        """The cells that completed (only these feed the figures)."""
        return tuple(c for c in self.cells if c.ok)

    def spread(self, key: str) -> Spread | None:
        """Median and range of a figure, or None when no repetition measured it."""
        values = [v for c in self.ok if (v := c[key]) is not None]
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
        if counts.get("server-cpu-shared"):
            most = max(c.server_cpus_other_pct or 0 for c in self.cells)
            notes.append(
                f"server-cpu-shared in {counts['server-cpu-shared']} of {total} cells: other "
                f"processes used up to {most:.0f}% of the servers' CPUs, so these figures "
                "understate the stack"
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
        if self.no_download_finished and not self.outlasting:
            notes.append("no download started in the window completed: no last-byte time")
        if self.starved:
            users = max(c.downloaders for c in ok)
            notes.append(
                f"{self.starved} of {users} users got no first byte within a cell: their "
                "latency is unknown, so TTFB and last byte are not judged"
            )
        if counts.get("waiting-at-end"):
            waiting = sum(len(c.ttfb_censored_ms) + len(c.ping_censored_ms) for c in self.cells)
            notes.append(
                f"waiting-at-end in {counts['waiting-at-end']} of {total} cells: {waiting} "
                "requests still waited for a first byte when the cell ended; each enters the "
                "percentiles at its wait so far, which makes those it reaches lower bounds"
            )
        if counts.get("unfinished-at-end"):
            cut = sum(len(c.ttlb_censored_ms) for c in self.cells)
            notes.append(
                f"unfinished-at-end in {counts['unfinished-at-end']} of {total} cells: {cut} "
                "downloads had no last byte when the drain ended; the last-byte percentiles "
                "they reach are lower bounds"
            )
        if counts.get("in-flight-limit"):
            refused = sum(c.open_loop.not_started for c in self.cells if c.open_loop)
            notes.append(
                f"in-flight-limit in {counts['in-flight-limit']} of {total} cells: {refused} "
                "arrivals were not started (the in-flight bound was reached); they would have "
                "waited longest, and enter no latency"
            )
        return notes


@dataclass(frozen=True)
class Model:
    """The run's results in the shape the renderers need."""

    results: RunResults
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

    def measured(self) -> list[Group]:
        """Every group, scenario by scenario in stack order."""
        return [g for sc in self.scenarios for g in self.scenario_groups(sc)]


def _ordered(planned: Iterable[str], seen: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys([*planned, *seen]))


def _run_notes(results: RunResults, missing: list[tuple[str, str]]) -> list[str]:
    notes: list[str] = []
    status = results.status
    if status == "interrupted":
        notes.append("The run was interrupted: this report holds only what finished before.")
    elif status == "failed":
        notes.append("The run stopped with an error: this report holds only what finished before.")
    elif status == "running":
        notes.append("The run had not finished when this report was made (status 'running').")
    elif status != "complete":
        notes.append(f"The run's status is {status!r}.")
    for name, stack in sorted(results.stacks.items()):
        if not stack.available:
            notes.append(f"Stack {name} was unavailable: {stack.missing}.")
    if missing:
        pairs = ", ".join(f"{scenario} on {stack}" for scenario, stack in missing)
        notes.append(f"Not measured: {pairs}.")
    repeat = results.repeat
    if repeat is not None and (why := too_few(repeat, repeat, "two-sample")):
        notes.append(
            f"{plural(repeat, 'repetition')} per cell: {why}, so differences are shown but "
            "not judged."
        )
    elif repeat is not None and too_few(repeat, repeat, "paired"):
        notes.append(
            f"{plural(repeat, 'repetition')} per cell: too few pairs for the test on "
            f"within-pair differences (at least {MIN_PAIRS}), so stacks are compared as two "
            "samples, which the machine's drift between repetitions makes less sensitive."
        )
    if line := caveat(results.crosscheck_runs):
        notes.append(line)
    copies: dict[str, list[str]] = {}
    for name in results.config.get("stacks") or []:
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


def build(results: RunResults) -> Model:
    """Group a run's cells for the renderers (pure)."""
    cells: dict[tuple[str, str], list[CellFigures]] = defaultdict(list)
    swept = swept_scenarios(results.cells)
    order = list(results.planned_scenarios)

    def position(cell: CellFigures) -> tuple[int, str, float]:
        # Scenarios in the planned order, a sweep's levels from the lowest up.
        load = cell.stored_load
        kind, level = (load["kind"], load["level"]) if load else ("", 0)
        at = order.index(cell.scenario) if cell.scenario in order else len(order)
        return (at, kind, float(level or 0))

    for cell in sorted(results.cells, key=position):
        cells[(scenario_label(cell, swept), cell.stack)].append(cell)
    planned = [s for s in order if s not in swept]
    scenarios = _ordered(planned, [s for s, _ in cells])
    # Planned scenarios keep their place; a swept one is replaced by its levels, in place.
    scenarios = tuple(sorted(scenarios, key=lambda label: _rank(label, order, scenarios)))
    stacks = _ordered(results.planned_stacks, [s for _, s in cells])
    groups = {key: Group(key[0], key[1], tuple(value)) for key, value in cells.items()}
    missing = [(sc, st) for sc in scenarios for st in stacks if (sc, st) not in groups]
    return Model(
        results=results,
        scenarios=scenarios,
        stacks=stacks,
        groups=groups,
        missing=tuple(missing),
        notes=tuple(_run_notes(results, missing)),
    )


def _rank(label: str, order: list[str], labels: tuple[str, ...]) -> tuple[int, int]:
    base = base_scenario(label)
    return (order.index(base) if base in order else len(order), labels.index(label))


def describe_scenario(name: str) -> str:
    """The catalog's one-line description of a scenario (or a plain note for unknown ones)."""
    return scenario_of(base_scenario(name)).description
