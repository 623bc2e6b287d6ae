"""The timed test server (tests/timed_server.py) as a stack the harness starts like any other."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from compare.config import BenchConfig
from compare.results import ResultsWriter
from compare.run.appdata import RunData
from compare.run.run import Run
from compare.servers.options import HttpParser
from compare.servers.stacks import PROJECT_APP, AppTarget, StackSpec
from compare.system.placement import choose


@dataclass(frozen=True)
class TimedStack(StackSpec):
    """A 'stack' that runs tests/timed_server.py with ``extra`` arguments."""

    extra: tuple[str, ...] = ()

    def argv(
        self,
        host: str,
        port: int,
        run_dir: Path,
        python: str = sys.executable,
        upstream_port: int | None = None,
        app: AppTarget = PROJECT_APP,
    ) -> list[str]:
        """The timed server's command line, logging its ground truth into the run directory."""
        args = ["--host", host, "--port", str(port), "--log", str(run_dir / "truth.jsonl")]
        return [python, "-m", "tests.timed_server", *args, *self.extra]

    def problems(self) -> list[str]:
        """None: it is no server's worker, and takes no server's options."""
        return []

    def child_processes(self) -> int:
        """One process, no workers under it."""
        return 0


def timed_stack(*extra: str, name: str = "timed") -> TimedStack:
    """The timed server with these command-line arguments (see tests/timed_server.py)."""
    return TimedStack(
        name=name,
        interface="wsgi",
        server="gunicorn",
        worker_class="threads",
        loop=None,
        # A label no real stack has: problems() above keeps the data model's checks off it.
        http_parser=cast(HttpParser, "hand-written"),
        extra=extra,
    )


def short_run(config: BenchConfig, results: ResultsWriter | None = None) -> Run:
    """A run of ``config`` whose target is this project's synthetic export, quiet."""
    data = RunData(config.source, config.app, 0, lambda line: None)
    return Run(data, config, results=results, progress=lambda line: None)


def short_config(out_dir: Path, **changes: object) -> BenchConfig:
    """A short bench configuration for tests against the timed server (placement as the bench's)."""
    placement = choose("split")
    values: dict[str, object] = {
        "stacks": ("timed",),
        "scenarios": ("download",),
        "users": 2,
        "duration_s": 3.0,
        "warmup_s": 0.2,
        "repeat": 1,
        "sweep_sizes": (),
        "sweep_variants": (),
        "sweep_repeat": 1,
        "workers": 1,
        "out_dir": out_dir,
        "rows": 100_000,
        "idle_s": 0.3,
        "settle_s": 0.5,
        "drain_s": 5.0,
        "placement": placement.mode,
        "server_cpus": placement.server_cpus,
        "client_cpus": placement.client_cpus,
    }
    values.update(changes)
    return BenchConfig(**values)  # type: ignore[arg-type]
