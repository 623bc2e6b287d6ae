"""One run of the harness and everything it owns (locust's ``Environment`` is the model).

Every command that starts stacks or locust (bench, serve, ui, measure-once, encode-bench) builds
one Run and asks it for what it starts. The Run holds the frozen config, the target (what the
stacks serve: compare.run.target), the environment every child starts from (copied once, so
nothing ever writes ``os.environ`` for a child), the CPU placement (it pins the harness, the
database, each stack and each locust), the results writer and the progress sink.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Self, cast

from compare.config import BenchConfig
from compare.results import ResultsWriter
from compare.run.lifecycle import MeasuredServer
from compare.run.locust import LocustProcess
from compare.run.target import Target
from compare.servers.server import ServerProcess
from compare.servers.stacks import StackSpec
from compare.system.placement import NOT_PINNED, Placement, pin_self, started_on, unpin_self
from compare.system.startstop import StartStop

Progress = Callable[[str], None]


def to_stderr(line: str) -> None:
    """The terminal's progress sink: one line at a time, at once."""
    print(line, file=sys.stderr, flush=True)


def placement_of(config: BenchConfig) -> Placement:
    """The CPU placement a configuration chose."""
    return Placement(cast(Any, config.placement), config.server_cpus, config.client_cpus)


class Run(StartStop):
    """One run: start() pins the harness and prepares the target, stop() undoes both."""

    def __init__(
        self,
        target: Target,
        config: BenchConfig | None = None,
        *,
        placement: Placement | None = None,
        results: ResultsWriter | None = None,
        progress: Progress = to_stderr,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.target = target
        self._config = config
        # A configuration's own, unless told; serve and ui (no configuration) pin nothing.
        self.placement = placement or (placement_of(config) if config else NOT_PINNED)
        self._results = results
        self.progress = progress
        # What every child starts from, copied once: the harness's environment as it began.
        self.environ = dict(os.environ if environ is None else environ)
        self._cpus_before: frozenset[int] | None = None

    @property
    def config(self) -> BenchConfig:
        """The run's frozen configuration (measuring commands only)."""
        if self._config is None:
            raise RuntimeError("this run measures nothing: it has no configuration")
        return self._config

    @property
    def results(self) -> ResultsWriter:
        """The writer of the run's results document (bench only)."""
        if self._results is None:
            raise RuntimeError("this run keeps no results document")
        return self._results

    def start(self) -> Self:
        """Move the harness onto the load generator's CPUs, then prepare the target."""
        self._cpus_before = pin_self(self.placement.client_cpus)
        try:
            # The database is server-side work: started on the servers' CPUs, not ours.
            with started_on(self.placement.server_cpus):
                self.target.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the target and give the harness its CPUs back; idempotent."""
        try:
            self.target.stop()
        finally:
            if self._cpus_before is not None:
                unpin_self(self._cpus_before)
                self._cpus_before = None

    def locust_environment(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The whole environment of every locust process: ours, the target's, then ``extra``."""
        env = {**self.environ, **self.target.locust_variables(), "PYTHONUNBUFFERED": "1"}
        return {**env, **(extra or {})}

    def server(self, spec: StackSpec, **options: Any) -> ServerProcess:
        """A stack serving the target, not measured (serve, ui); ``options`` as ServerProcess's."""
        env = self.target.stack_variables()
        return ServerProcess(
            spec, env=env, environ=self.environ, app=self.target.app_target, **options
        )

    def measured(
        self,
        spec: StackSpec,
        run_dir: Path,
        *,
        sample_interval_s: float | None = None,
        static_rows: int | None = None,
    ) -> MeasuredServer:
        """A stack started for measurement: on the servers' CPUs, with the database sampled."""
        return MeasuredServer(
            self.config,
            spec,
            run_dir,
            self.target.stack_variables(),
            environ=self.environ,
            app=self.target.app_target,
            cpus=self.placement.server_cpus,
            database_pid=self.target.database_pid,
            sample_interval_s=sample_interval_s,
            static_rows=static_rows,
            warm_paths=self.target.warm_paths,
        )

    def locust(
        self, argv: list[str], *, log: Path | None = None, env: Mapping[str, str] | None = None
    ) -> LocustProcess:
        """A locust process on the load generator's CPUs (started by the caller)."""
        return LocustProcess(
            argv, self.locust_environment(env), log=log, cpus=self.placement.client_cpus
        )
