"""``bench``: run the comparison matrix, save results as they arrive, print the verdict.

This module parses and validates (``build_config``); the run itself is compare.run.bench.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, cast

from compare.commands.arguments import (
    add_data_arguments,
    add_project_arguments,
    blamed,
    env_default,
    project_target,
    refuse_profiles,
    stop_leftovers,
)
from compare.config import (
    RUN_PROFILES,
    SWEEP_VARIANTS,
    BenchConfig,
    LoadKind,
    RunProfile,
    SweepVariant,
    parse_names,
)
from compare.errors import CompareError, UsageError
from compare.run.bench import bench
from compare.run.userproject import UserProject
from compare.servers.stacks import DEFAULT_WORKERS, stack_names
from compare.settings import (
    DSC_OUT,
    DSC_PLACEMENT,
    DSC_SCENARIOS,
    DSC_STACKS,
    EXPORT_MAX_BUFFERED_ROWS,
    EXPORT_MAX_ROWS,
    EXPORT_ROWS,
    MAX_IN_FLIGHT,
    SLO_TTFB_MS,
)
from compare.system import leftovers
from compare.system.placement import MODES, choose
from loadtests.catalog import SCENARIOS, export_rows
from project.profiles import APP_PROFILES


class FromProfile(str):
    """The run profile's scenarios, not named on the command line."""


# The largest --duration, --repeat and --slo-ttfb-ms taken: a day, in each one's unit.
MOST = 86_400.0


def register(subparsers: Any) -> None:
    """Add the ``bench`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "bench", help="run every scenario on every stack and the size sweep; write results"
    )
    parser.add_argument(
        "--stacks",
        default=env_default(DSC_STACKS),
        help="comma-separated stack names or aliases: all (every server), nginx (the default "
        "pair behind nginx, buffered and not), everything (default %(default)s); a stack named "
        "twice (uvicorn,uvicorn) runs against itself as uvicorn#1 and uvicorn#2: an A/A "
        "calibration, whose report must find no difference",
    )
    parser.add_argument(
        "--scenarios",
        default=env_default(DSC_SCENARIOS),
        help=f"comma-separated, or 'all' ({', '.join(SCENARIOS)}); default: download and "
        "slow-client as capacity curves of 1, 2, 4 and 8 users (--full: every scenario); "
        "named scenarios run at their own users unless --concurrency or --rate is given",
    )
    parser.add_argument(
        "--users",
        type=int,
        default=None,
        help="concurrent users per cell (default: each scenario's own)",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=None,
        help="seconds of each cell's measurement window (default 2.5, quick 2)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="repetitions, each running the stacks back to back as pairs (default 6, the "
        "fewest pairs a verdict can rest on; quick 1: shown, not judged; 4 or 5 are judged as "
        "two samples, which the machine's drift between repetitions blurs)",
    )
    parser.add_argument(
        "--rows",
        type=int,
        default=None,
        help=f"rows per export in load cells (default {EXPORT_ROWS}, the view's default; "
        "0: each scenario's own; not with --project)",
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
    parser.add_argument(
        "--workers",
        default=None,
        help="worker processes per stack: a number for every stack, or 'auto': each server's "
        "documented recommendation for the servers' CPUs (default: auto with --concurrency or "
        "--rate, else 2)",
    )
    curve = parser.add_argument_group("capacity curves")
    curve.add_argument(
        "--concurrency",
        default=None,
        help="a closed-loop curve: run each scenario at each of these numbers of downloading "
        "users, e.g. 1,2,4,8 (head-of-line's probe comes on top)",
    )
    curve.add_argument(
        "--rate",
        default=None,
        help="an open-loop curve: start each scenario's exports at each of these rates per "
        "second, e.g. 1,2,5,10, whatever the server does; latency counts from each request's "
        "intended start",
    )
    curve.add_argument(
        "--arrivals",
        choices=("constant", "poisson"),
        default=None,
        help="with --rate: evenly spaced (constant, the default) or Poisson arrivals",
    )
    curve.add_argument(
        "--max-in-flight",
        type=int,
        default=None,
        help=f"with --rate: requests in flight at most (default {MAX_IN_FLIGHT}); an arrival "
        "past it is not started, counted and reported",
    )
    curve.add_argument(
        "--slo-ttfb-ms",
        type=float,
        default=SLO_TTFB_MS,
        help="the service level of a curve's knee: p99 TTFB within this (default %(default)g), "
        "no failures and, for rates, at least 95%% of the offered rate served",
    )
    curve.add_argument(
        "--locust-workers",
        type=int,
        default=0,
        help="run locust distributed in every cell: a master and this many worker processes "
        "on the load generator's CPUs, their records merged (default 0: one process)",
    )
    add_data_arguments(parser, several_apps=True)
    parser.add_argument(
        "--placement",
        choices=MODES,
        default=env_default(DSC_PLACEMENT),
        help="split (default): servers on the first CPUs, locust and the harness on the last "
        "quarter (at least one); shared: nothing pinned",
    )
    parser.add_argument("--server-cpus", default=None, help="pin servers to these CPUs, e.g. 0")
    parser.add_argument("--client-cpus", default=None, help="pin locust to these CPUs, e.g. 1")
    breadth = parser.add_mutually_exclusive_group()
    breadth.add_argument(
        "--quick",
        action="store_true",
        help="a short run (about 2 minutes): one repetition, so nothing is judged",
    )
    breadth.add_argument(
        "--full",
        action="store_true",
        help="the wide run (about an hour): every scenario as a curve of 1 to 16 users, the "
        "size sweep up to 5M rows",
    )
    parser.add_argument(
        "--no-crosscheck",
        dest="crosscheck",
        action="store_false",
        help="skip the self-check: after the cells, one cell and one sweep point per stack "
        "re-measured by an independent raw-socket client (about 25 s for two stacks)",
    )
    parser.add_argument(
        "--out",
        default=DSC_OUT.value(),
        help="parent directory of the run's directory (default %(default)s)",
    )
    add_project_arguments(
        parser, urls_help="the path every cell fetches, e.g. /orders/export.csv (one per run)"
    )
    parser.add_argument(
        "--verify",
        choices=("body", "status"),
        default="body",
        help="with --project: body (every body the same length and SHA-256 as a reference "
        "download taken on the first stack before the cells) or status (any 2xx) "
        "(default %(default)s)",
    )
    parser.set_defaults(handler=run)


def with_apps(stacks: tuple[str, ...], apps: tuple[str, ...]) -> tuple[str, ...]:
    """Each stack under each app profile when several are asked for: STACK@minimal, ..."""
    if len(apps) == 1:  # the run's profile, set for every stack (--app)
        return stacks
    named = []
    for stack in stacks:
        stem, mark, copy = stack.partition("#")
        named += [f"{stem}@{app}{mark}{copy}" for app in apps]
    return tuple(named)


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


def _positive(value: float | None, default: float, what: str, most: float = MOST) -> float:
    chosen = default if value is None else value
    # NaN passes every comparison, and 1e308 s overflows the first deadline after a stack started.
    if not (math.isfinite(chosen) and 0 < chosen <= most):
        raise CompareError(f"{what} must be positive and at most {most:g}, got {value}")
    return chosen


def _exportable(rows: int, what: str, variants: tuple[str, ...] = ()) -> None:
    """Refuse rows the stacks' view would answer with a 400 on every request, before anything
    is seeded or started: above EXPORT_MAX_ROWS, or EXPORT_MAX_BUFFERED_ROWS for a body held
    in memory (project/export/params.py)."""
    held = [v for v in variants if v in ("buffered", "mismatch")]
    limit, name = EXPORT_MAX_ROWS.value(), EXPORT_MAX_ROWS.name
    if held and EXPORT_MAX_BUFFERED_ROWS.value() < limit:
        limit, name = EXPORT_MAX_BUFFERED_ROWS.value(), EXPORT_MAX_BUFFERED_ROWS.name
        name += f" ({held[0]})"
    if rows > limit:
        raise CompareError(f"{what} asks for {rows} rows, above the view's {name} of {limit}")


def profile_of(args: argparse.Namespace) -> RunProfile:
    """The run's defaults: quick, full, or the default run."""
    return RUN_PROFILES["quick" if args.quick else "full" if args.full else "default"]


def build_config(args: argparse.Namespace, project: UserProject | None = None) -> BenchConfig:
    """Validate the arguments into the run's one frozen configuration (``project``: a user's
    project, the target every cell measures)."""
    profile = profile_of(args)
    apps = parse_names(args.app, APP_PROFILES, "app profile")
    with blamed(args.stacks):
        stacks = with_apps(stack_names(args.stacks, repeats=True), apps)
    refuse_profiles(stacks, project)
    if args.scenarios is None:
        args.scenarios = FromProfile(",".join(profile.scenarios))
        # The profile's curve, unless this run asked for one (or for fixed users) itself.
        if args.concurrency is None and args.rate is None and args.users is None:
            args.concurrency = profile.concurrency
    with blamed(args.scenarios):
        scenarios = parse_names(args.scenarios, SCENARIOS, "scenario", {"all": tuple(SCENARIOS)})
    if project is not None:
        scenarios = _project_scenarios(args.scenarios, scenarios)
    variants = parse_names(args.sweep_variants, SWEEP_VARIANTS, "sweep variant")
    sizes = (
        _ints(args.sweep_sizes, "--sweep-sizes")
        if args.sweep_sizes is not None
        else profile.sweep_sizes
    )
    if project is not None:
        if args.sweep_sizes:
            raise CompareError("not with --project: --sweep-sizes (sizes are this project's rows)")
        if args.rows is not None:
            raise CompareError(
                "not with --project: --rows (your URL decides its body; put a size in its query)"
            )
        sizes = ()  # the size sweep asks this project's export for its sizes
    server_cpus = _ints(args.server_cpus, "--server-cpus") or None
    client_cpus = _ints(args.client_cpus, "--client-cpus") or None
    with blamed(args.placement):
        placement = choose(args.placement, server_cpus, client_cpus)
    if args.rows is None:
        args.rows = 0 if project is not None else EXPORT_ROWS
    for flag, value, least in (
        ("--users", args.users, 1),
        ("--sweep-repeat", args.sweep_repeat, 1),
        ("--rows", args.rows, 0),
    ):
        if value is not None and value < least:
            raise CompareError(f"{flag} must be at least {least}, got {value}")
    curve = _curve(args)
    if curve.kind == "rate":
        scenarios = _open_loop_scenarios(args.scenarios, scenarios)
    for size in sizes:
        _exportable(size, "--sweep-sizes", variants)
    asked: dict[str, int | float | str] = {"rows": args.rows} if args.rows else {}
    for name in scenarios:
        scenario = SCENARIOS[name]
        held = ("buffered",) if scenario.step.built_first else ()
        _exportable(export_rows(scenario, asked), f"scenario {name!r} (--rows)", held)
    if curve.levels and args.users is not None:
        raise CompareError("--users sets one load for every cell; --concurrency or --rate a curve")
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return BenchConfig(
        stacks=stacks,
        scenarios=scenarios,
        users=args.users or 0,
        duration_s=_positive(args.duration, profile.duration_s, "--duration"),
        warmup_s=profile.warmup_s,
        idle_s=profile.idle_s,
        settle_s=profile.settle_s,
        drain_s=profile.drain_s,
        repeat=int(_positive(args.repeat, profile.repeat, "--repeat")),
        sweep_sizes=sizes,
        sweep_variants=cast(tuple[SweepVariant, ...], variants),
        sweep_repeat=args.sweep_repeat,
        workers=_workers(args.workers, sweep=bool(curve.levels)),
        out_dir=Path(args.out) / stamp,
        rows=args.rows,
        source=args.source,
        own_database=args.own_database,
        # The run's data serves the richest profile any stack runs (sessions, a logged-in user).
        app="startproject" if "startproject" in apps else "minimal",
        placement=placement.mode,
        server_cpus=placement.server_cpus,
        client_cpus=placement.client_cpus,
        quick=args.quick,
        load_kind=curve.kind,
        levels=curve.levels,
        arrivals=args.arrivals or "constant",
        max_in_flight=args.max_in_flight or MAX_IN_FLIGHT,
        slo_ttfb_ms=_positive(args.slo_ttfb_ms, SLO_TTFB_MS, "--slo-ttfb-ms"),
        locust_workers=args.locust_workers,
        # The self-check re-measures this project's export with its own client.
        crosscheck=args.crosscheck and project is None,
        target=project.describe() if project is not None else None,
    )


@dataclass(frozen=True)
class Curve:
    """The load levels a run sweeps (none: each scenario at its own users)."""

    kind: LoadKind
    levels: tuple[float, ...]


def _curve(args: argparse.Namespace) -> Curve:
    """--concurrency or --rate, validated; the open-loop options only with --rate."""
    if args.concurrency is not None and args.rate is not None:
        raise CompareError("--concurrency and --rate are alternatives: one curve per run")
    if args.locust_workers < 0:
        raise CompareError(f"--locust-workers must not be negative, got {args.locust_workers}")
    if args.rate is None:
        if args.arrivals is not None or args.max_in_flight is not None:
            raise CompareError("--arrivals and --max-in-flight apply to --rate only")
        levels = _ints(args.concurrency, "--concurrency")
        if args.concurrency is not None and (not levels or min(levels) < 1):
            raise CompareError(f"--concurrency needs levels of at least 1, got {args.concurrency}")
        return Curve("concurrency", tuple(float(v) for v in sorted(set(levels))))
    try:
        rates = tuple(float(v) for v in args.rate.split(",") if v.strip())
    except ValueError:
        raise CompareError(f"--rate must be comma-separated numbers, got {args.rate!r}") from None
    if not rates or min(rates) <= 0 or not all(map(math.isfinite, rates)):
        raise CompareError(f"--rate needs positive rates, got {args.rate!r}")
    if args.max_in_flight is not None and args.max_in_flight < 1:
        raise CompareError(f"--max-in-flight must be at least 1, got {args.max_in_flight}")
    return Curve("rate", tuple(sorted(set(rates))))


def _open_loop_scenarios(raw: str, scenarios: tuple[str, ...]) -> tuple[str, ...]:
    """The scenarios with an arrival-rate load: 'all' keeps those, a named other one is an error."""
    usable = tuple(s for s in scenarios if SCENARIOS[s].arrival_classes)
    if raw.strip() != "all" and usable != scenarios:
        other = next(s for s in scenarios if s not in usable)
        raise CompareError(f"scenario {other!r} has no arrival-rate load; leave it out of --rate")
    return usable


def _project_scenarios(raw: str, scenarios: tuple[str, ...]) -> tuple[str, ...]:
    """The scenarios that only fetch a URL: 'all' and the defaults keep those, a named other
    one is an error saying what it needs of this project's export."""
    usable = tuple(s for s in scenarios if not SCENARIOS[s].needs)
    named = not (raw.strip() == "all" or isinstance(raw, FromProfile))
    if named and usable != scenarios:
        other = next(s for s in scenarios if s not in usable)
        raise CompareError(
            f"not with --project: scenario {other!r} (it needs {SCENARIOS[other].needs})"
        )
    if not usable:
        raise CompareError("--project: none of these scenarios only fetches a URL")
    return usable


def _workers(raw: str | None, sweep: bool) -> int | Literal["auto"]:
    """--workers: 'auto', or the same number for every stack (default: auto for curves, else 2)."""
    if raw is None:
        return "auto" if sweep else DEFAULT_WORKERS
    if raw.strip() == "auto":
        return "auto"
    try:
        workers = int(raw)
    except ValueError:
        raise CompareError(f"--workers must be 'auto' or a whole number, got {raw!r}") from None
    if workers < 1:
        raise CompareError(f"--workers must be at least 1, got {workers}")
    return workers


def run(args: argparse.Namespace) -> int:
    """Run the benchmark; the exit status says whether everything was measured."""
    try:
        project = _project(args)
        config = build_config(args, project)
    except CompareError as error:
        # Nothing has started: bad options, exit 2 as argparse's own, never 1 ("a cell failed").
        raise UsageError(str(error)) from None
    with leftovers.bench_lock():
        stop_leftovers()
        return bench(config, [sys.executable, "-m", "compare", *sys.argv[1:]], project)


def _project(args: argparse.Namespace) -> UserProject | None:
    """The user's project the arguments name, with the bench's own limits on it."""
    project = project_target(args, urls_needed=True)
    if project is None:
        if args.verify != "body":
            raise CompareError("--verify applies to --project only")
        return None
    if len(project.urls) > 1:
        raise CompareError("bench --project measures one --url per run; run it once per URL")
    project.verify = args.verify
    return project
