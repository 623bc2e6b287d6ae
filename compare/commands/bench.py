"""``bench``: run the comparison matrix, save results as they arrive, print the verdict."""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any, cast

from compare.appdata import RunData, add_data_arguments
from compare.config import DEFAULT_STACKS, ENV_PREFIX, SWEEP_VARIANTS, BenchConfig, SweepVariant
from compare.environment import describe
from compare.errors import CompareError
from compare.lifecycle import pin
from compare.placement import MODES, choose, pin_self
from compare.report import write_reports
from compare.results import ResultsWriter, new_document
from compare.runner import run_bench
from compare.stacks import STACKS, numbered
from compare.summary import terminal_verdict
from loadtests.catalog import SCENARIOS

FULL_SWEEP = (10_000, 100_000, 1_000_000, 5_000_000)
QUICK_SWEEP = (10_000, 100_000, 1_000_000)


def _env(name: str, default: str) -> str:
    return os.environ.get(ENV_PREFIX + name, default)


def register(subparsers: Any) -> None:
    """Add the ``bench`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "bench", help="run every scenario on every stack and the size sweep; write results"
    )
    parser.add_argument(
        "--stacks",
        default=_env("STACKS", ",".join(DEFAULT_STACKS)),
        help="comma-separated stack names or aliases: all (every server), nginx (the default "
        "pair behind nginx, buffered and not), everything (default %(default)s); a stack named "
        "twice (uvicorn,uvicorn) runs against itself as uvicorn#1 and uvicorn#2: an A/A "
        "calibration, whose report must find no difference",
    )
    parser.add_argument(
        "--scenarios",
        default=_env("SCENARIOS", "all"),
        help=f"comma-separated, or 'all' ({', '.join(SCENARIOS)})",
    )
    parser.add_argument(
        "--users",
        type=int,
        default=None,
        help="concurrent users per cell (default: each scenario's own)",
    )
    parser.add_argument(
        "--duration", type=float, default=None, help="seconds of load per cell (default 6, quick 4)"
    )
    parser.add_argument(
        "--repeat", type=int, default=None, help="repetitions, interleaved (default 3, quick 1)"
    )
    parser.add_argument(
        "--rows",
        type=int,
        default=100_000,
        help="rows per export in load cells (default %(default)s, the view's default; "
        "0: each scenario's own)",
    )
    parser.add_argument(
        "--sweep-sizes",
        default=None,
        help="comma-separated export sizes for the size sweep; '' for none",
    )
    parser.add_argument(
        "--sweep-variants",
        default=",".join(SWEEP_VARIANTS),
        help="which of stream,buffered,mismatch the sweep runs",
    )
    parser.add_argument("--sweep-repeat", type=int, default=1, help="size sweep repetitions")
    parser.add_argument("--workers", type=int, default=2, help="worker processes per stack")
    add_data_arguments(parser)
    parser.add_argument(
        "--placement",
        choices=MODES,
        default=_env("PLACEMENT", "split"),
        help="split (default): servers on the first CPUs, locust and the harness on the last "
        "quarter (at least one); shared: nothing pinned",
    )
    parser.add_argument("--server-cpus", default=None, help="pin servers to these CPUs, e.g. 0")
    parser.add_argument("--client-cpus", default=None, help="pin locust to these CPUs, e.g. 1")
    parser.add_argument("--quick", action="store_true", help="a short run (about 2 minutes)")
    parser.add_argument(
        "--out",
        default=_env("OUT", "results"),
        help="parent directory of the run's directory (default %(default)s)",
    )
    parser.set_defaults(handler=run)


def _names(
    raw: str,
    known: Mapping[str, Any],
    what: str,
    aliases: Mapping[str, tuple[str, ...]],
    repeats: bool = False,
) -> tuple[str, ...]:
    """Comma-separated names, each a known one or an alias for several; repeats dropped, or
    with ``repeats`` kept and numbered (uvicorn,uvicorn: uvicorn#1, uvicorn#2)."""
    expanded: list[str] = []
    for name in (n.strip() for n in raw.split(",")):
        if name:
            expanded += aliases.get(name, (name,))
    names = numbered(expanded) if repeats else tuple(dict.fromkeys(expanded))
    unknown = [n for n in names if n.partition("#")[0] not in known]
    if unknown:
        valid = ", ".join([*aliases, *known])
        raise CompareError(f"unknown {what} {unknown[0]!r}; valid: {valid}")
    if not names:
        raise CompareError(f"no {what} given")
    return names


# 'all' means every server stack on its own; nginx-fronted ones are asked for by name or alias.
STACK_ALIASES = {
    "all": tuple(name for name, spec in STACKS.items() if spec.front is None),
    "nginx": tuple(
        name
        for name, spec in STACKS.items()
        if spec.front and spec.upstream().name in DEFAULT_STACKS
    ),
    "everything": tuple(STACKS),
}


def _ints(raw: str | None, what: str) -> tuple[int, ...]:
    if raw is None:
        return ()
    try:
        values = tuple(int(v.replace("_", "")) for v in raw.split(",") if v.strip())
    except ValueError:
        raise CompareError(f"{what} must be comma-separated whole numbers, got {raw!r}") from None
    if any(v < 0 for v in values):
        raise CompareError(f"{what} must not be negative, got {raw!r}")
    return values


def _positive(value: float | None, default: float, what: str) -> float:
    chosen = default if value is None else value
    if chosen <= 0:
        raise CompareError(f"{what} must be positive, got {value}")
    return chosen


def build_config(args: argparse.Namespace) -> BenchConfig:
    """Validate the arguments into the run's one frozen configuration."""
    stacks = _names(args.stacks, STACKS, "stack", STACK_ALIASES, repeats=True)
    scenarios = _names(args.scenarios, SCENARIOS, "scenario", {"all": tuple(SCENARIOS)})
    variants = _names(args.sweep_variants, {v: v for v in SWEEP_VARIANTS}, "sweep variant", {})
    sizes = (
        _ints(args.sweep_sizes, "--sweep-sizes")
        if args.sweep_sizes is not None
        else (QUICK_SWEEP if args.quick else FULL_SWEEP)
    )
    placement = choose(
        args.placement,
        _ints(args.server_cpus, "--server-cpus") or None,
        _ints(args.client_cpus, "--client-cpus") or None,
    )
    if args.users is not None and args.users < 1:
        raise CompareError(f"--users must be at least 1, got {args.users}")
    if args.workers < 1 or args.sweep_repeat < 1 or args.rows < 0:
        raise CompareError("--workers and --sweep-repeat must be at least 1, --rows at least 0")
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return BenchConfig(
        stacks=stacks,
        scenarios=scenarios,
        users=args.users or 0,
        duration_s=_positive(args.duration, 4.0 if args.quick else 6.0, "--duration"),
        warmup_s=0.5 if args.quick else 1.0,
        idle_s=0.5 if args.quick else 1.0,
        settle_s=0.5 if args.quick else 1.0,
        drain_s=5.0 if args.quick else 10.0,
        repeat=int(_positive(args.repeat, 1 if args.quick else 3, "--repeat")),
        sweep_sizes=sizes,
        sweep_variants=cast(tuple[SweepVariant, ...], variants),
        sweep_repeat=args.sweep_repeat,
        workers=args.workers,
        out_dir=Path(args.out) / stamp,
        rows=args.rows,
        source=args.source,
        app=args.app,
        placement=placement.mode,
        server_cpus=placement.server_cpus,
        client_cpus=placement.client_cpus,
        quick=args.quick,
    )


def _terminate(signum: int, frame: FrameType | None) -> None:
    # SIGTERM unwinds like Ctrl-C: servers and locust stopped, the partial results saved.
    raise KeyboardInterrupt


def _link_latest(run_dir: Path) -> None:
    latest = run_dir.parent / "latest"
    try:
        if latest.is_symlink() or latest.exists():
            latest.unlink()
        latest.symlink_to(run_dir.name)
    except OSError as error:
        print(f"note: could not point {latest} at this run: {error}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    """Run the benchmark and print where the results are."""
    config = build_config(args)
    try:
        config.out_dir.mkdir(parents=True, exist_ok=False)
    except OSError as error:
        raise CompareError(f"cannot create {config.out_dir}: {error.strerror or error}") from None
    # From here on SIGTERM unwinds like Ctrl-C, seeding included.
    signal.signal(signal.SIGTERM, _terminate)
    writer: ResultsWriter | None = None
    started = time.monotonic()

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        document = new_document(
            describe(), config.as_dict(), [sys.executable, "-m", "compare", *sys.argv[1:]]
        )
        document["environment"]["placement"] = {
            "mode": config.placement,
            "server_cpus": config.server_cpus,
            "client_cpus": config.client_cpus,
        }
        pin_self(config.client_cpus)
        writer = ResultsWriter(config.out_dir, document)
        _link_latest(config.out_dir)
        print(f"results: {config.out_dir}", file=sys.stderr, flush=True)
        rows = max((*config.sweep_sizes, config.rows or 200_000))
        data = RunData(config.source, config.app, rows, progress)
        try:
            data.start()
        except KeyboardInterrupt:
            writer.add_event("interrupted while preparing the database: nothing measured")
            writer.finish("interrupted")
            raise
        try:
            if data.postgres is not None:
                # The database is server-side work: on the servers' CPUs, not ours (pin_self),
                # and measured with each stack.
                pin(data.postgres.pid, config.server_cpus)
                config = dataclasses.replace(config, database_pid=data.postgres.pid)
            # Recorded with the next write; the postmaster's pid lets the figures sample it.
            writer.document["environment"]["data"] = data.describe()
            # The cells start their servers and locust from our environment.
            with data.exported():
                run_bench(config, writer, progress)
        finally:
            data.stop()
    except KeyboardInterrupt:
        if writer is None:
            print("\ninterrupted before anything was measured", file=sys.stderr)
            return 130
        print(f"\ninterrupted; partial results kept in {writer.path}", file=sys.stderr)
        _report(config.out_dir)
        return 130
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    minutes = (time.monotonic() - started) / 60
    print(terminal_verdict(writer.document))
    _report(config.out_dir)
    print(f"\nwall time {minutes:.1f} min; results: {writer.path}")
    return 0


def _report(out_dir: Path) -> None:
    """Render the reports; a failure there must not lose or hide the results."""
    try:
        for path in write_reports(out_dir):
            print(f"report: {path}")
    except CompareError as error:
        print(f"note: report not written: {error}", file=sys.stderr)
