"""A bench run from its configuration to its reports, and the exit status it ends with.

The results document first (with what the run runs on, before anything is measured, and
``latest`` beside it pointing at it), then the run's data, every cell and sweep point
(compare.run.runner), the reports, and a last line naming what failed. Exit status: 0 when
everything was measured, 1 when a cell or sweep point failed, 130 when interrupted (the results
and reports then hold what was measured).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from compare.config import BenchConfig
from compare.environment import describe
from compare.errors import CompareError
from compare.report import write_reports
from compare.report.runresults import RunResults
from compare.report.summary import terminal_verdict
from compare.results import Document, ResultsWriter, new_document
from compare.run.appdata import RunData
from compare.run.lifecycle import WARMUP_ROWS
from compare.run.reference import take_reference
from compare.run.run import Run, to_stderr
from compare.run.runner import close_results, run_bench
from compare.run.target import Target
from compare.run.userproject import UserProject
from compare.servers.server import ServerStartError
from compare.servers.stacks import get_stack
from compare.system.interrupts import stop_signals_interrupt
from loadtests.catalog import SCENARIOS, export_rows

INTERRUPTED = 130  # as a shell reports a process that Ctrl-C stopped


def bench(config: BenchConfig, command: list[str], project: UserProject | None = None) -> int:
    """Measure everything ``config`` asks for into its directory (``project``: a user's
    project as the target, else this project's export); return the exit status."""
    try:
        config.out_dir.mkdir(parents=True, exist_ok=False)
    except OSError as error:
        raise CompareError(f"cannot create {config.out_dir}: {error.strerror or error}") from None
    started = time.monotonic()
    # From here on SIGTERM and SIGHUP unwind like Ctrl-C, seeding included.
    with stop_signals_interrupt():
        try:
            writer = start_results(config, command)
        except KeyboardInterrupt:
            print("\ninterrupted before anything was measured", file=sys.stderr)
            return INTERRUPTED
        target: Target = project or RunData(
            config.source,
            config.app,
            rows_to_seed(config),
            to_stderr,
            own_database=config.own_database,
        )
        run = Run(target, config, results=writer)
        try:
            _measure(run)
        except KeyboardInterrupt:
            print(f"\ninterrupted; partial results kept in {writer.path}", file=sys.stderr)
            _report(config.out_dir)
            return INTERRUPTED
    minutes = (time.monotonic() - started) / 60
    results = RunResults.from_document(writer.document)
    if results.crosscheck_runs:  # the self-check's verdict, in the document for other readers
        items = [item.as_dict() for item in results.crosscheck]
        writer.set_crosscheck(items, list(results.run_flags))
    print(terminal_verdict(results))
    _report(config.out_dir)
    print(f"\nwall time {minutes:.1f} min; results: {writer.path}")
    failed = failed_summary(writer.document)
    if failed:
        print(failed, file=sys.stderr)
        return 1
    return 0


def failed_summary(document: Document) -> str | None:
    """One line naming the cells and sweep points that failed, or None when all measured."""
    cells: list[Any] = document["cells"]
    points: list[Any] = document["sweep"]
    names = [
        f"{c['stack']} {c['scenario']} r{c['repetition'] + 1}"
        for c in cells
        if c["status"] == "failed"
    ] + [
        f"{p['stack']} {p['variant']} {p['rows']:,} rows r{p['repetition'] + 1}"
        for p in points
        if p["status"] == "failed"
    ]
    if not names:
        return None
    shown = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
    total = len(cells) + len(points)
    return f"failed: {len(names)} of {total} measurements ({shown}); errors in the report"


def rows_to_seed(config: BenchConfig) -> int:
    """As many rows as the run's largest export asks for, the warm-up's included: the view
    refuses more than it holds."""
    asked: dict[str, int | float | str] = {"rows": config.rows} if config.rows else {}
    scenarios = (export_rows(SCENARIOS[s], asked) for s in config.scenarios)
    return max(WARMUP_ROWS, *config.sweep_sizes, *scenarios)


def start_results(config: BenchConfig, command: list[str]) -> ResultsWriter:
    """The run's results document, its metadata written before anything is measured."""
    document = new_document(describe(), config.as_dict(), command)
    document["environment"]["placement"] = {
        "mode": config.placement,
        "server_cpus": config.server_cpus,
        "client_cpus": config.client_cpus,
    }
    writer = ResultsWriter(config.out_dir, document)
    _link_latest(config.out_dir)
    print(f"results: {config.out_dir}", file=sys.stderr, flush=True)
    return writer


def _link_latest(run_dir: Path) -> None:
    latest = run_dir.parent / "latest"
    try:
        if latest.is_symlink() or latest.exists():
            latest.unlink()
        latest.symlink_to(run_dir.name)
    except OSError as error:
        print(f"note: could not point {latest} at this run: {error}", file=sys.stderr)


def _measure(run: Run) -> None:
    """Prepare the run's data, then measure every cell into its results."""
    try:
        run.start()
    except KeyboardInterrupt:
        message = "interrupted while preparing the data: nothing measured"
        close_results(run.results, "interrupted", message)
        raise
    except BaseException as error:
        # Seeding or the database failed before the first cell: the status says so, not "running".
        close_results(run.results, "failed", f"failed while preparing the data: {error}")
        raise
    try:
        if isinstance(run.target, UserProject):
            _take_reference(run, run.target)
        # Recorded with the next write; the postmaster's pid lets the figures sample it.
        run.results.document["environment"]["data"] = run.target.describe()
        run_bench(run)
    finally:
        run.stop()


def _take_reference(run: Run, project: UserProject) -> None:
    """The body every cell must return (``--verify body``), from the first stack, or the
    reason nothing could be measured."""
    if project.verify != "body":
        run.results.add_event("bodies checked by status only (--verify status)")
        return
    spec = get_stack(run.config.stacks[0])
    run.progress(f"reference download of {project.urls[0]} on {spec.name}")
    try:
        reference = take_reference(run, spec, project.urls[0])
    except (CompareError, ServerStartError, OSError) as error:
        close_results(run.results, "failed", f"no reference download: {error}")
        raise CompareError(f"no reference download: {error}") from None
    project.reference = reference.as_dict()
    run.results.add_event(
        f"reference: {reference.url} on {reference.stack}: HTTP {reference.status}, "
        f"{reference.size} bytes, SHA-256 {reference.sha256}"
    )


def _report(out_dir: Path) -> None:
    """Render the reports; a failure there must not lose or hide the results."""
    try:
        for path in write_reports(RunResults.load(out_dir), out_dir):
            print(f"report: {path}")
    except CompareError as error:
        print(f"note: report not written: {error}", file=sys.stderr)
