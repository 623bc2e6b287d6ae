"""The benchmark run: every repetition x scenario x stack, then the size sweep, saved as it goes."""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from compare.config import BenchConfig
from compare.results import Crosscheck, ResultsError, ResultsWriter, SweepPoint
from compare.run.countdown import Countdown
from compare.run.crosscheck import run_crosscheck
from compare.run.loadcell import run_load_cell
from compare.run.run import Run
from compare.run.sweep import run_sweep
from compare.run.workers import choose, sized
from compare.servers.stacks import StackSpec, get_stack

logger = logging.getLogger(__name__)


def describe_stack(spec: StackSpec, config: BenchConfig) -> dict[str, Any]:
    """What the report needs to know about a stack: its spec and whether it could run."""
    sized_spec = sized(spec, config)
    description = asdict(sized_spec)
    description["available"] = sized_spec.missing() is None
    description["missing"] = sized_spec.missing()
    description["server_version"] = sized_spec.server_version()
    description["front_version"] = sized_spec.front_version()
    description["argv_example"] = sized_spec.argv("127.0.0.1", 0, Path("RUN_DIR"))
    # Which rule gave it its worker count, and why (compare.run.workers).
    description["workers_rule"] = choose(spec, config).as_dict()
    return description


Planned = tuple[int, str, float | None, StackSpec]  # repetition, scenario, load level, stack


def load_order(config: BenchConfig, specs: list[StackSpec]) -> list[Planned]:
    """Cells in run order: stacks innermost and alternating direction (A B, B A), then load
    levels from low to high, scenarios, repetitions last (level None: the scenario's own users).

    Drift in the machine (thermal, other load) then falls on every stack alike, and each
    repetition climbs its curves once.
    """
    points = [(s, level) for s in config.scenarios for level in config.levels_of(s)]
    order: list[Planned] = []
    for repetition in range(config.repeat):
        for index, (scenario, level) in enumerate(points):
            turn = specs if (repetition + index) % 2 == 0 else list(reversed(specs))
            order += [(repetition, scenario, level, spec) for spec in turn]
    return order


def cell_name(config: BenchConfig, repetition: int, scenario: str, level: float | None) -> str:
    """The directory name of a cell (its stack is appended), e.g. r1-download-c8 or r1-download."""
    if level is None:
        return f"r{repetition + 1}-{scenario}"
    mark = "c" if config.load_kind == "concurrency" else "rate"
    return f"r{repetition + 1}-{scenario}-{mark}{level:g}"


def run_bench(run: Run) -> None:
    """Run the whole matrix; KeyboardInterrupt leaves a valid document marked interrupted."""
    config, writer, progress = run.config, run.results, run.progress
    specs = [get_stack(name) for name in config.stacks]
    cells = load_order(config, specs)
    clock = _Eta(len(cells) + config.sweep_points)
    try:
        for spec in specs:
            writer.add_stack(spec.name, describe_stack(spec, config))
            if spec.missing() is not None:
                # Its cells are still run: each is recorded as failed, with the install hint.
                writer.add_event(f"{spec.name} is unavailable: {spec.missing()}")
                progress(f"note: {spec.name} is unavailable: {spec.missing()}")
        for repetition, scenario, level, spec in cells:
            name = cell_name(config, repetition, scenario, level)
            progress(clock.line(f"{name:<28} {spec.name}"))
            cell_dir = writer.directory / "cells" / f"{name}-{spec.name}"
            cell = run_load_cell(run, spec, scenario, repetition, cell_dir, level)
            writer.add_cell(cell)
            clock.done += 1
            if cell["status"] != "ok":
                progress(f"    failed: {cell['error']}")

        def record(point: SweepPoint) -> None:
            writer.add_sweep_point(point)
            clock.done += 1
            if point["status"] != "ok":
                progress(f"    failed: {point['error']}")

        if config.sweep_points:
            run_sweep(
                run,
                specs,
                writer.directory,
                record,
                lambda label: progress(clock.line(label)),
            )
        if config.crosscheck:
            _crosscheck(run, specs)
    except KeyboardInterrupt:
        message = "interrupted: the results hold every cell that finished"
        close_results(writer, "interrupted", message)
        raise
    except BaseException as error:
        close_results(writer, "failed", f"stopped by an error: {error}")
        raise
    writer.finish("complete")


def _crosscheck(run: Run, specs: list[StackSpec]) -> None:
    """The run's self-check, and what it cost in the run's events."""
    writer = run.results
    started = time.monotonic()

    def record(entry: Crosscheck) -> None:
        writer.add_crosscheck(entry)
        if entry["status"] != "ok":
            run.progress(f"    failed: {entry['error']}")

    run_crosscheck(run, specs, writer.directory / "crosscheck", record)
    writer.add_event(f"crosscheck: {time.monotonic() - started:.1f} s")


def close_results(writer: ResultsWriter, status: str, message: str) -> None:
    """Mark how the run ended, if the disk still lets us; the original error matters more."""
    with contextlib.suppress(ResultsError):
        writer.add_event(message)
        writer.finish(status)


class _Eta(Countdown):
    """The bench's progress line: the next step's number, its label and the time left."""

    def line(self, label: str) -> str:
        left = self.left()
        eta = "estimating" if left is None else f"~{int(left // 60)}m{int(left % 60):02d}s left"
        return f"[{self.done + 1}/{self.total}] {label}  ({eta})"
