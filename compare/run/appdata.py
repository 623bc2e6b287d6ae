"""This project's export as a run's target: the app profile and the database, made ready.

One RunData per run (compare.run.target.Target): it starts the harness's PostgreSQL
(``source=postgres``), migrates the database when the rows or the startproject profile need
tables (SQLite by default, or ``$DATABASE_URL``), seeds the synthetic rows (so ``source=db``
streams the same bytes as ``source=synthetic``), and for the startproject profile logs a user
in, whose session the load generator sends as a cookie. ``stack_variables()`` points the
stacks at all that, ``locust_variables()`` and ``locust_options()`` locust; stopping it stops
PostgreSQL.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Callable
from typing import Any, Literal, Self

from compare import REPO_ROOT
from compare.errors import CompareError
from compare.servers.postgres import PostgresServer
from compare.servers.server import stack_environment
from compare.servers.stacks import PROJECT_APP, AppTarget
from compare.settings import (
    DATABASE_URL,
    DJANGO_APP_PROFILE,
    DJANGO_SECRET_KEY,
    LOCUST_SESSION,
)
from compare.system.startstop import StartStop
from project.profiles import AppProfile

Source = Literal["synthetic", "db", "postgres", "static"]
SOURCES: tuple[Source, ...] = ("synthetic", "db", "postgres", "static")
# The option that lets a run seed $DATABASE_URL (compare.commands.arguments).
OWN_DATABASE_FLAG = "--seed-database-i-own"
MANAGE_TIMEOUT_S = 1800.0  # seeding 5M rows takes about 40 s on 2 cores; a hung one, never


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class RunData(StartStop):
    """The database and app profile of one run; a context manager."""

    def __init__(
        self,
        source: Source,
        app: AppProfile,
        rows: int,
        progress: Callable[[str], None] = _stderr,
        database_url: str | None = None,
        *,
        own_database: bool = False,
    ) -> None:
        self.source = source
        # An existing database instead of $DATABASE_URL or the project's SQLite (not postgres).
        self.database_url = database_url
        # The person running it said that database is theirs to throw away (the flag below).
        self.own_database = own_database
        self.app = app
        self.rows = rows
        self.progress = progress
        self.postgres: PostgresServer | None = None
        self.session: str | None = None
        # One key for the run: the session seeded below is signed with it, and every stack
        # must accept that session.
        self.secret_key = secrets.token_urlsafe(50)
        self._started = False

    @property
    def from_database(self) -> bool:
        """Whether the rows come from a database the run seeds."""
        return self.source in ("db", "postgres")

    def start(self) -> Self:
        """Start, migrate and seed what this run needs; nothing at all for the default run."""
        if self._started:
            raise RuntimeError("this run's data is already started")
        if self.rows < 0:
            raise CompareError(f"rows to seed must not be negative, got {self.rows}")
        self._check_database_is_ours()
        self._started = True
        try:
            if self.source == "postgres":
                self.progress("starting PostgreSQL (a throwaway cluster in a temporary directory)")
                self.postgres = PostgresServer().start()
            if self.from_database or self.app == "startproject":
                self._manage("migrate", "--verbosity", "0")
            if self.from_database:
                where = "PostgreSQL" if self.postgres else "the database"
                self.progress(f"seeding {where} with {self.rows:,} rows")
                self._manage("seed_rows", str(self.rows))
            if self.app == "startproject":
                self.session = self._manage("seed_session").strip()
        except BaseException:
            self.stop()
            raise
        return self

    def _check_database_is_ours(self) -> None:
        """Refuse to migrate, empty and log a user into a database the harness did not create."""
        # source=postgres is the harness's own cluster; otherwise the rows and the startproject
        # profile's tables and user go where the URL points.
        touched = self.source == "db" or (self.source == "synthetic" and self.app == "startproject")
        url = self.database_url or DATABASE_URL.value()
        if touched and url and not self.own_database:
            engine = url.partition(":")[0] or "a"
            raise CompareError(
                f"{DATABASE_URL.name} names a database the harness did not create ({engine}): "
                "the run would migrate it, empty its export table and log a 'bench' user in; "
                f"pass {OWN_DATABASE_FLAG} if it is yours to throw away, or unset "
                f"{DATABASE_URL.name} (the project's SQLite), or use --source postgres"
            )

    def stop(self) -> None:
        """Stop PostgreSQL (if this run started it); idempotent."""
        self._started = False
        if self.postgres is not None:
            self.postgres.stop()
            self.postgres = None

    @property
    def app_target(self) -> AppTarget:
        """This project's own application (its /healthz answers readiness)."""
        return PROJECT_APP

    @property
    def database_pid(self) -> int | None:
        """The PostgreSQL this run started (its postmaster), if any."""
        return self.postgres.pid if self.postgres is not None else None

    def stack_variables(self) -> dict[str, str]:
        """The run's secret key, app profile and database, for every stack's environment."""
        env = {DJANGO_APP_PROFILE.name: self.app, DJANGO_SECRET_KEY.name: self.secret_key}
        if self.postgres is not None:
            env[DATABASE_URL.name] = self.postgres.url
        elif self.database_url:
            env[DATABASE_URL.name] = self.database_url
        return env

    @property
    def warm_paths(self) -> tuple[str, ...]:
        """None of its own: the warm-up fetches this project's export and /ping."""
        return ()

    @property
    def counts_rows(self) -> bool:
        """Yes: a cell asks this project's export for a number of rows."""
        return True

    def locust_variables(self) -> dict[str, str]:
        """The logged-in user's session, sent as a cookie (in the environment: argv is recorded)."""
        return {LOCUST_SESSION.name: self.session} if self.session else {}

    def locust_options(self) -> dict[str, int | float | str]:
        """This run's row source."""
        return {"source": self.source}

    def describe(self) -> dict[str, Any]:
        """What the results document records (never a password: no URL)."""
        database: dict[str, Any] | None = None
        if self.postgres is not None:
            database = self.postgres.describe()
        elif self.source == "db" or self.app == "startproject":
            url = self.database_url or DATABASE_URL.value() or "sqlite"
            engine = url.partition(":")[0]
            database = {"engine": engine}
        return {"app": self.app, "source": self.source, "database": database}

    def _manage(self, *command: str) -> str:
        """Run ``python -m project COMMAND`` against this run's database; return its stdout."""
        # The stacks' own environment: the same settings, key and database as they will have.
        env = stack_environment(os.environ, self.stack_variables())
        argv = [sys.executable, "-m", "project", *command]
        try:
            done = subprocess.run(
                argv,
                cwd=REPO_ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=MANAGE_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            raise CompareError(f"'python -m project {' '.join(command)}' timed out") from None
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise CompareError(f"'python -m project {' '.join(command)}' failed: {last}")
        return done.stdout
