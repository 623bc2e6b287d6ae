"""What several subcommands share: the run's data (``--source``, ``--app``, ``--seed-rows``),
a user's project (``--project``, ``--settings``, ``--url``, ``--wsgi-app``, ``--asgi-app``),
``--min-change`` (diff, history), defaults from environment variables whose errors name the
variable, ports, and the sweep of what a killed harness left behind."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from compare.errors import CompareError, UsageError
from compare.report.diff import DEFAULT_MIN_CHANGE
from compare.run.appdata import OWN_DATABASE_FLAG, SOURCES
from compare.run.userproject import UserProject, find_project
from compare.settings import DATABASE_URL, DJANGO_DATA_DIR, Variable
from compare.system import leftovers
from compare.system.ports import HIGHEST_PORT
from project.profiles import APP_PROFILES

DEFAULT_SEED_ROWS = 1_000_000  # serve and ui; bench seeds what its largest export needs
# Options that would migrate, seed or log a user in: never on a user's project.
DATA_OPTIONS = {
    "source": "--source (a user's project serves its own data)",
    "app": "--app (the app profiles are this harness's project; a user's project is its own)",
    "seed_rows": "--seed-rows (the harness never writes to a user's databases)",
}
GIVEN = "given_options"


class _Given(argparse.Action):
    """Store the value and note that the command line named the option (not its default)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, values)
        given = set(getattr(namespace, GIVEN, set()))
        setattr(namespace, GIVEN, given | {self.dest})


T = TypeVar("T", str, str | None)


class FromEnvironment(str):
    """A flag's default that an environment variable set (argparse keeps a default as given)."""

    variable: str


def env_default(variable: Variable[T]) -> T | FromEnvironment:
    """The variable's value as a flag's default, marked when the environment set it."""
    value = variable.value()
    if not variable.is_set() or value is None:
        return value
    marked = FromEnvironment(value)
    marked.variable = variable.name
    return marked


@contextmanager
def blamed(value: object) -> Iterator[None]:
    """Errors checking ``value`` name its environment variable, where that is what set it."""
    try:
        yield
    except CompareError as error:
        if isinstance(value, FromEnvironment):
            error.args = (f"${value.variable}={str(value)!r}: {error}",)
        raise


def stop_leftovers() -> None:
    """Before bench, serve or ui starts anything: stop what a killed harness left, and say so."""
    for line in leftovers.sweep():
        print(line, file=sys.stderr, flush=True)


def port_number(text: str) -> int:
    """An argparse type: a TCP port, 0 to 65535 (argparse says what is wrong, exit 2)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 0 <= port <= HIGHEST_PORT:
        raise argparse.ArgumentTypeError(f"{port} is not a port: give 0 to {HIGHEST_PORT}")
    return port


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
        action=_Given,
        choices=SOURCES,
        default="synthetic",
        help=f"row source: synthetic (no database), db (the project's database, seeded first: "
        f"{_database_here()}), postgres (a PostgreSQL server the harness starts, seeds and "
        "stops), static (the synthetic export encoded once per server process and kept: what "
        "serving costs apart from building the rows) (default %(default)s)",
    )
    app_help = (
        "Django app profile: minimal (one native middleware) or startproject (a new "
        "project's middleware and apps, requests from a logged-in user)"
    )
    if several_apps:
        parser.add_argument(
            "--app",
            action=_Given,
            default="minimal",
            help=app_help + "; minimal,startproject runs every stack under both, as "
            "STACK@minimal and STACK@startproject, so the report shows what the middleware costs "
            "each (default %(default)s)",
        )
    else:
        parser.add_argument(
            "--app",
            action=_Given,
            choices=APP_PROFILES,
            default="minimal",
            help=app_help + " (default %(default)s)",
        )
    parser.add_argument(
        OWN_DATABASE_FLAG,
        dest="own_database",
        action="store_true",
        help=f"let --source db and --app startproject use ${DATABASE_URL.name}: the run migrates "
        "that database, deletes every row of its export table, seeds its own, and logs a user "
        "named 'bench' in (an existing one is reused); without this flag a database the "
        "harness did not create is refused",
    )
    if seed_rows:
        parser.add_argument(
            "--seed-rows",
            action=_Given,
            type=int,
            default=DEFAULT_SEED_ROWS,
            help="rows to seed the database with, for --source db or postgres "
            "(default %(default)s)",
        )


def add_min_change(parser: argparse.ArgumentParser) -> None:
    """``--min-change PERCENT``, the same for diff and history."""
    parser.add_argument(
        "--min-change",
        type=float,
        default=DEFAULT_MIN_CHANGE * 100,
        metavar="PERCENT",
        help="smallest change (in %%) that counts as a regression or improvement "
        "(default %(default)g)",
    )


def min_change(args: argparse.Namespace) -> float:
    """``--min-change`` as a share, refused when negative."""
    if not args.min_change >= 0:  # NaN too
        raise UsageError(f"--min-change must not be negative, got {args.min_change:g}")
    return float(args.min_change) / 100


def add_project_arguments(parser: argparse.ArgumentParser, *, urls_help: str) -> None:
    """The options naming a user's project: folder, settings, URLs, applications."""
    group = parser.add_argument_group("your own Django project (docs/own-project.md)")
    group.add_argument(
        "--project",
        metavar="DIR",
        help="the folder holding your manage.py: every stack serves your code with your "
        "settings, through a thin wrapper; nothing of yours is migrated, seeded or written",
    )
    group.add_argument("--settings", metavar="MODULE", help="your settings module (with --project)")
    group.add_argument("--url", metavar="PATH", action="append", default=[], help=urls_help)
    group.add_argument(
        "--wsgi-app",
        metavar="MODULE:NAME",
        help="your WSGI application (default: WSGI_APPLICATION, else PKG.wsgi:application)",
    )
    group.add_argument(
        "--asgi-app",
        metavar="MODULE:NAME",
        help="your ASGI application (default: ASGI_APPLICATION, else PKG.asgi:application)",
    )


def project_target(args: argparse.Namespace, *, urls_needed: bool) -> UserProject | None:
    """The user's project the arguments name (None: this harness's own); UsageError if unusable."""
    named = [f"--{name.replace('_', '-')}" for name in ("settings", "wsgi_app", "asgi_app")]
    given = [flag for flag in named if getattr(args, flag[2:].replace("-", "_"), None)]
    if args.url:
        given.append("--url")
    if args.project is None:
        if given:
            raise UsageError(f"{', '.join(given)} need --project DIR (your project's folder)")
        return None
    refused = sorted(getattr(args, GIVEN, set()) & set(DATA_OPTIONS))
    if refused:
        raise UsageError(f"not with --project: {DATA_OPTIONS[refused[0]]}")
    if getattr(args, "own_database", False):
        raise UsageError(
            f"not with --project: {OWN_DATABASE_FLAG} (the harness never writes to a "
            "user's databases)"
        )
    if not args.settings:
        raise UsageError("--project needs --settings MODULE (your settings module)")
    if urls_needed and not args.url:
        raise UsageError("--project needs at least one --url PATH to measure")
    bad = [url for url in args.url if not url.startswith("/")]
    if bad:
        raise UsageError(f"--url takes a path starting with '/', got {bad[0]!r}")
    apps = find_project(Path(args.project), args.settings, args.wsgi_app, args.asgi_app)
    return UserProject(apps, tuple(args.url))


def refuse_profiles(names: Sequence[str], own: UserProject | None) -> None:
    """A user's project has no app profiles: ``STACK@PROFILE`` is this harness's project only."""
    profiled = [name for name in names if "@" in name]
    if own is not None and profiled:
        raise UsageError(
            f"not with --project: {profiled[0]} (the app profiles are this "
            "harness's project; yours runs as it is)"
        )
