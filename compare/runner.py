"""The benchmark run: every repetition x scenario x stack, then the size sweep, saved as it goes."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from compare.config import BenchConfig
from compare.loadcell import run_load_cell
from compare.results import ResultsError, ResultsWriter
from compare.stacks import StackSpec, get_stack
from compare.sweep import run_sweep

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]


def describe_stack(spec: StackSpec, config: BenchConfig) -> dict[str, Any]:
    """What the report needs to know about a stack: its spec and whether it could run."""
    sized = spec.with_options(workers=config.workers)
    description = asdict(sized)
    description["available"] = sized.missing() is None
    description["missing"] = sized.missing()
    description["server_version"] = sized.server_version()
    description["front_version"] = sized.front_version()
    description["argv_example"] = sized.argv("127.0.0.1", 0, Path("RUN_DIR"))
    return description


def load_order(config: BenchConfig, specs: list[StackSpec]) -> list[tuple[int, str, StackSpec]]:
    """Cells in run order: stacks innermost and alternating direction (A B, B A), repetitions last.

    Drift in the machine (thermal, other load) then falls on every stack alike.
    """
    order: list[tuple[int, str, StackSpec]] = []
    for repetition in range(config.repeat):
        for index, scenario in enumerate(config.scenarios):
            turn = specs if (repetition + index) % 2 == 0 else list(reversed(specs))
            order += [(repetition, scenario, spec) for spec in turn]
    return order


def run_bench(config: BenchConfig, writer: ResultsWriter, progress: Progress) -> None:
    """Run the whole matrix; KeyboardInterrupt leaves a valid document marked interrupted."""
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
        for repetition, scenario, spec in cells:
            progress(clock.line(f"r{repetition + 1} {scenario:<16} {spec.name}"))
            cell_dir = writer.directory / "cells" / f"r{repetition + 1}-{scenario}-{spec.name}"
            cell = run_load_cell(config, spec, scenario, repetition, cell_dir)
            writer.add_cell(cell)
            clock.done()
            if cell["status"] != "ok":
                progress(f"    failed: {cell['error']}")

        def record(point: dict[str, Any]) -> None:
            writer.add_sweep_point(point)
            clock.done()
            if point["status"] != "ok":
                progress(f"    failed: {point['error']}")

        if config.sweep_points:
            run_sweep(
                config,
                specs,
                writer.directory,
                record,
                lambda label: progress(clock.line(label)),
            )
    except KeyboardInterrupt:
        _close(writer, "interrupted", "interrupted: the results hold every cell that finished")
        raise
    except BaseException as error:
        _close(writer, "failed", f"stopped by an error: {error}")
        raise
    writer.finish("complete")


def _close(writer: ResultsWriter, status: str, message: str) -> None:
    """Mark how the run ended, if the disk still lets us; the original error matters more."""
    with contextlib.suppress(ResultsError):
        writer.add_event(message)
        writer.finish(status)


class _Eta:
    """Progress counter with a time-left estimate from the pace so far."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.finished = 0
        self.started = time.monotonic()

    def done(self) -> None:
        self.finished += 1

    def line(self, label: str) -> str:
        elapsed = time.monotonic() - self.started
        if self.finished:
            left = elapsed / self.finished * (self.total - self.finished)
            eta = f"~{int(left // 60)}m{int(left % 60):02d}s left"
        else:
            eta = "estimating"
        return f"[{self.finished + 1}/{self.total}] {label}  ({eta})"
