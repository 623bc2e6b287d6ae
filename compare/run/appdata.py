"""What a run's stacks serve beyond the server: the app profile and the database, made ready.

One RunData per bench, serve or ui: it starts the harness's PostgreSQL (``source=postgres``),
migrates the database when the rows or the startproject profile need tables (SQLite by default,
or ``$DATABASE_URL``), seeds the synthetic rows (so ``source=db`` streams the same bytes as
``source=synthetic``), and for the startproject profile logs a user in, whose session the load
generator sends as a cookie. ``server_env()`` points the stacks at all that, ``client_env()``
locust; leaving the context stops PostgreSQL.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal, Self

from compare import REPO_ROOT
from compare.errors import CompareError
from compare.servers.postgres import PostgresServer
from compare.servers.server import SECRET_KEY_ENV
from compare.settings import DATABASE_URL, DJANGO_APP_PROFILE, DJANGO_DATA_DIR
from compare.system.startstop import StartStop
from loadtests.options import OPTIONS
from project.profiles import APP_PROFILES, AppProfile

Source = Literal["synthetic", "db", "postgres"]
SOURCES: tuple[Source, ...] = ("synthetic", "db", "postgres")
PROFILE_ENV = DJANGO_APP_PROFILE.name
# Locust reads its --session and --source options from these (a command-line value wins).
SESSION_ENV = OPTIONS["session"].env_var
SOURCE_ENV = OPTIONS["source"].env_var
MANAGE_TIMEOUT_S = 1800.0  # seeding 5M rows takes about 40 s on 2 cores; a hung one, never


DEFAULT_SEED_ROWS = 1_000_000  # serve and ui; bench seeds what its largest export needs


def _database_here() -> str:
    """Which database ``--source db`` would seed here, for the help text."""
    url = DATABASE_URL.value()
    if url:
        return f"{url.partition(':')[0]} from ${DATABASE_URL.name}"
    return f"SQLite in {DJANGO_DATA_DIR.value()}, ${DATABASE_URL.name} being unset"


def add_data_arguments(
    parser: argparse.ArgumentParser, *, seed_rows: bool = False, several_apps: bool = False
) -> None:
    """``--source`` and ``--app``, the same for bench, serve and ui (and ``--seed-rows``).

    ``several_apps``: ``--app`` may list profiles (the bench runs each stack under each).
    """
    parser.add_argument(
        "--source",
        choices=SOURCES,
        default="synthetic",
        help=f"row source: synthetic (no database), db (the project's database, seeded first: "
        f"{_database_here()}), postgres (a PostgreSQL server the harness starts, seeds and "
        "stops) (default %(default)s)",
    )
    app_help = (
        "Django app profile: minimal (one native middleware) or startproject (a new "
        "project's middleware and apps, requests from a logged-in user)"
    )
    if several_apps:
        parser.add_argument(
            "--app",
            default="minimal",
            help=app_help + "; minimal,startproject runs every stack under both, as "
            "STACK@minimal and STACK@startproject, so the report shows what the middleware costs "
            "each (default %(default)s)",
        )
    else:
        parser.add_argument(
            "--app",
            choices=APP_PROFILES,
            default="minimal",
            help=app_help + " (default %(default)s)",
        )
    if seed_rows:
        parser.add_argument(
            "--seed-rows",
            type=int,
            default=DEFAULT_SEED_ROWS,
            help="rows to seed the database with, for --source db or postgres "
            "(default %(default)s)",
        )


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
    ) -> None:
        self.source = source
        # An existing database instead of $DATABASE_URL or the project's SQLite (not postgres).
        self.database_url = database_url
        self.app = app
        self.rows = rows
        self.progress = progress
        self.postgres: PostgresServer | None = None
        self.session: str | None = None
        # One key for the run: the session seeded below is signed with it, and every stack
        # must accept that session.
        self.secret_key = secrets.token_urlsafe(50)
        self._started = False

    def start(self) -> Self:
        """Start, migrate and seed what this run needs; nothing at all for the default run."""
        if self._started:
            raise RuntimeError("this run's data is already started")
        if self.rows < 0:
            raise CompareError(f"rows to seed must not be negative, got {self.rows}")
        self._started = True
        try:
            if self.source == "postgres":
                self.progress("starting PostgreSQL (a throwaway cluster in a temporary directory)")
                self.postgres = PostgresServer().start()
            if self.source != "synthetic" or self.app == "startproject":
                self._manage("migrate", "--verbosity", "0")
            if self.source != "synthetic":
                where = "PostgreSQL" if self.postgres else "the database"
                self.progress(f"seeding {where} with {self.rows:,} rows")
                self._manage("seed_rows", str(self.rows))
            if self.app == "startproject":
                self.session = self._manage("seed_session").strip()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop PostgreSQL (if this run started it); idempotent."""
        self._started = False
        if self.postgres is not None:
            self.postgres.stop()
            self.postgres = None

    def server_env(self) -> dict[str, str]:
        """The environment the stacks need on top of their own: profile and database."""
        env: dict[str, str] = {PROFILE_ENV: self.app, SECRET_KEY_ENV: self.secret_key}
        if self.postgres is not None:
            env["DATABASE_URL"] = self.postgres.url
        elif self.database_url:
            env["DATABASE_URL"] = self.database_url
        return env

    def client_env(self) -> dict[str, str]:
        """The environment locust needs: this run's row source, the logged-in user's session."""
        env: dict[str, str] = {SOURCE_ENV: self.source}
        if self.session:
            env[SESSION_ENV] = self.session
        return env

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

    @contextlib.contextmanager
    def exported(self) -> Iterator[None]:
        """Put both environments into ours for the block (bench: its cells inherit it)."""
        wanted = {**self.server_env(), **self.client_env()}
        saved = {name: os.environ.get(name) for name in wanted}
        os.environ.update(wanted)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    def _manage(self, *command: str) -> str:
        """Run ``python -m project COMMAND`` against this run's database; return its stdout."""
        env: Mapping[str, str] = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "project.settings",
            "DJANGO_SECRET_KEY": self.secret_key,
            "PYTHONPATH": str(REPO_ROOT),
            **self.server_env(),
        }
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
