"""The one frozen configuration of a benchmark run, built once by the CLI and passed down."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from compare.errors import CompareError
from compare.settings import MAX_IN_FLIGHT, SLO_TTFB_MS
from loadtests.catalog import SCENARIOS

SweepVariant = Literal["stream", "buffered", "mismatch"]
LoadKind = Literal["concurrency", "rate"]
ArrivalKind = Literal["constant", "poisson"]

SWEEP_VARIANTS: tuple[SweepVariant, ...] = ("stream", "buffered", "mismatch")


def parse_names(
    raw: str,
    known: Collection[str],
    what: str,
    aliases: Mapping[str, tuple[str, ...]] | None = None,
    *,
    repeats: bool = False,
) -> tuple[str, ...]:
    """Comma-separated names, each a known one or an alias for several; repeats dropped, or
    with ``repeats`` kept and numbered (uvicorn,uvicorn: uvicorn#1, uvicorn#2)."""
    aliases = aliases or {}
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


def numbered(names: list[str]) -> tuple[str, ...]:
    """Names with each one given more than once numbered: a,a,b -> a#1,a#2,b."""
    seen: dict[str, int] = {}
    counts = {name: names.count(name) for name in names}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(f"{name}#{seen[name]}" if counts[name] > 1 else name)
    return tuple(out)


@dataclass(frozen=True)
class RunProfile:
    """What a run measures when the command line does not say: make bench, QUICK=1, FULL=1."""

    scenarios: tuple[str, ...]
    concurrency: str | None  # the curve's levels; None: each scenario at its own users
    repeat: int
    duration_s: float
    sweep_sizes: tuple[int, ...]
    warmup_s: float = 0.5
    idle_s: float = 0.5
    settle_s: float = 0.5
    drain_s: float = 10.0


# Measured on the 2-core development machine: each repetition runs the stacks back to back, and
# six is the fewest pairs whose sign-flip test can reach p <= 0.05 (2/64): it cancels the
# machine's drift between repetitions (up to 1.8x), which two samples of five could not, and
# finds a 10% difference in throughput or last byte (2-3% per value in an A/A run) in nearly
# every run (tests/power.py). 1.5 s windows instead of 2.5 saved 12% of a cell's time and
# doubled its spread, so the windows stay.
RUN_PROFILES = {
    "default": RunProfile(
        scenarios=("download", "slow-client"),
        concurrency="1,2,4,8",
        repeat=6,
        duration_s=2.5,
        sweep_sizes=(10_000, 100_000, 1_000_000),
    ),
    "quick": RunProfile(
        scenarios=("download", "slow-client"),
        concurrency="1,4",
        repeat=1,
        duration_s=2.0,
        sweep_sizes=(10_000, 1_000_000),
        drain_s=5.0,
    ),
    "full": RunProfile(
        scenarios=tuple(SCENARIOS),
        concurrency="1,2,4,8,16",
        repeat=6,
        duration_s=2.5,
        sweep_sizes=(10_000, 100_000, 1_000_000, 5_000_000),
    ),
}


@dataclass(frozen=True)
class BenchConfig:
    """Everything that decides what a benchmark run measures."""

    stacks: tuple[str, ...]
    scenarios: tuple[str, ...]
    users: int
    duration_s: float
    warmup_s: float
    repeat: int
    sweep_sizes: tuple[int, ...]
    sweep_variants: tuple[SweepVariant, ...]
    sweep_repeat: int
    # A number: every stack runs that many workers; "auto": each its documented recommendation
    # for the servers' CPUs (compare.run.workers).
    workers: int | Literal["auto"]
    out_dir: Path
    rows: int
    # db: the project's database (SQLite unless DATABASE_URL says otherwise), seeded first;
    # postgres: a PostgreSQL server the harness starts, seeds and stops (compare.run.appdata);
    # static: the synthetic export encoded once per server process (project.export.static).
    source: Literal["synthetic", "db", "postgres", "static"] = "synthetic"
    # minimal: one native middleware (like for like); startproject: a new project's middleware
    # and apps, with a logged-in user's session on every request (project.profiles).
    app: Literal["minimal", "startproject"] = "minimal"
    # --seed-database-i-own: $DATABASE_URL may be migrated and seeded (compare.run.appdata).
    own_database: bool = False
    placement: str = "shared"  # compare.system.placement: split, shared or custom
    server_cpus: tuple[int, ...] | None = None
    client_cpus: tuple[int, ...] | None = None
    sample_interval_s: float = 0.1
    # The size sweep measures one download at a time: sampled faster, so a short peak is seen.
    sweep_sample_interval_s: float = 0.02
    idle_s: float = 1.0
    # After every user was spawned, this long before the measurement window opens.
    settle_s: float = 1.0
    # After the window closes, requests that started in it get this long to finish (locust's
    # --stop-timeout): their latency counts, and no new request starts.
    drain_s: float = 10.0
    quick: bool = False
    # The load of each cell: a closed loop of ``levels`` users (concurrency) or an open loop of
    # ``levels`` arrivals per second (rate); no levels: each scenario's own users, as before.
    load_kind: LoadKind = "concurrency"
    levels: tuple[float, ...] = ()
    arrivals: ArrivalKind = "constant"
    # Open loop: requests in flight at most (all locust processes together); an arrival past it
    # is not started, and counted.
    max_in_flight: int = MAX_IN_FLIGHT
    # The service level a curve's knee is judged by (compare.report.curves).
    slo_ttfb_ms: float = SLO_TTFB_MS
    # Locust's distributed mode: a master and this many worker processes (0: one process).
    locust_workers: int = 0
    # After the cells and the sweep, re-measure a sample with an independent client
    # (compare.run.crosscheck); --no-crosscheck skips it.
    crosscheck: bool = True
    # A user's project as the target (compare.run.userproject.UserProject.describe()); None:
    # this project's export.
    target: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for the results document."""
        data = dataclasses.asdict(self)
        data["out_dir"] = str(self.out_dir)
        return data

    def levels_of(self, scenario: str) -> tuple[float | None, ...]:
        """The load levels a scenario runs at (None: its own users)."""
        return self.levels if self.levels and SCENARIOS[scenario].curve else (None,)

    @property
    def load_cells(self) -> int:
        """How many load-test cells the run has."""
        per_rep = sum(len(self.levels_of(s)) for s in self.scenarios)
        return self.repeat * len(self.stacks) * per_rep

    @property
    def sweep_points(self) -> int:
        """How many size-sweep downloads the run has."""
        per_rep = len(self.sweep_sizes) * len(self.sweep_variants) * len(self.stacks)
        return self.sweep_repeat * per_rep
