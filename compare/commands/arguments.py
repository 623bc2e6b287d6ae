"""Options several subcommands share: the run's data (``--source``, ``--app``, ``--seed-rows``)."""

from __future__ import annotations

import argparse

from compare.run.appdata import SOURCES
from compare.settings import DATABASE_URL, DJANGO_DATA_DIR
from project.profiles import APP_PROFILES

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
