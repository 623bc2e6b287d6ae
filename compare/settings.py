"""Every setting in one place: each environment variable read anywhere, and the shared defaults.

A variable is declared once here with its default and meaning, whoever reads it: the harness
(``DSC_*``, read through ``Variable.value`` and nowhere else), the project (project/settings.py),
locust (loadtests/) or the docker image. The project and locust cannot import this module, so
tests hold what they read against these declarations, and the configuration table in the docs
is ``table()`` (tests/test_settings.py).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

from compare.errors import CompareError
from loadtests.options import OPTIONS

T = TypeVar("T")
Reader = Literal["project", "harness", "locust", "docker", "tests"]

# Defaults that several commands share.
DEFAULT_STACKS: tuple[str, ...] = ("gunicorn-sync", "uvicorn")
# The service level of a capacity curve's knee: p99 TTFB within this many milliseconds.
SLO_TTFB_MS = 1000.0
# The load generator declares these (loadtests cannot import compare); the harness uses its.
MAX_IN_FLIGHT = int(OPTIONS["max_in_flight"].default)
EXPORT_ROWS = int(OPTIONS["rows"].default)
# The run's self-check (compare.run.crosscheck, compare.report.crosscheck): the largest sweep
# point it re-measures and how many times (their median: one download met a 5 ms hiccup the
# bench's did not; a third cost 2.4 s a stack with 1M rows on the busy 2-core machine, where the
# whole check took 27.6 s of a --quick run with three), how often its own reader samples the
# tree's PSS (as the size sweep's sampler), and how far the two measurements may differ: the
# larger of a share of the bench's value and an absolute amount, as docs/measuring.md says.
CROSSCHECK_MAX_ROWS = 1_000_000
CROSSCHECK_SWEEP_DOWNLOADS = 2
CROSSCHECK_SAMPLE_S = 0.02
CROSSCHECK_SHARE = 0.10
CROSSCHECK_TIME_MS = 3.0
CROSSCHECK_MEMORY_MB = 2.0


def _text(raw: str) -> str:
    return raw.strip()


def _names(raw: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in raw.split(",") if name.strip())


def _flag(raw: str) -> bool:
    return raw.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Variable(Generic[T]):
    """One environment variable: its name, default, how its text reads, and what it means."""

    name: str
    default: T
    parse: Callable[[str], T]
    shown_default: str  # the default as the table states it
    meaning: str
    read_by: Reader = "harness"

    def value(self, environ: Mapping[str, str] | None = None) -> T:
        """Its value in ``environ`` (default: ours); unset or empty: the default."""
        raw = (os.environ if environ is None else environ).get(self.name, "")
        if not raw.strip():
            return self.default
        try:
            return self.parse(raw)
        except ValueError as error:
            raise CompareError(f"${self.name}={raw!r}: {error}") from None

    def is_set(self, environ: Mapping[str, str] | None = None) -> bool:
        """Whether ``environ`` (default: ours) gives it a value rather than leaving the default."""
        return bool((os.environ if environ is None else environ).get(self.name, "").strip())


# --- the project (project/settings.py reads these; the harness sets some for its stacks) ---------
DJANGO_SECRET_KEY = Variable(
    "DJANGO_SECRET_KEY",
    "",
    _text,
    "none (required unless `DJANGO_DEBUG=1`)",
    "the harness generates a random one per run; `python -m project` run from a terminal uses a "
    "throwaway one",
    "project",
)
DJANGO_DEBUG = Variable(
    "DJANGO_DEBUG",
    False,
    _flag,
    "off",
    "`1`: Django's debug mode (the harness removes it from every stack's environment)",
    "project",
)
DJANGO_ALLOWED_HOSTS = Variable(
    "DJANGO_ALLOWED_HOSTS",
    "127.0.0.1,localhost,[::1]",
    _text,
    "`127.0.0.1,localhost,[::1]`",
    "comma-separated",
    "project",
)
DJANGO_SECURE_HSTS_SECONDS = Variable(
    "DJANGO_SECURE_HSTS_SECONDS",
    0,
    int,
    "0 (no HSTS)",
    "the `Strict-Transport-Security` max-age, once the site is served over HTTPS (TLS ends at "
    "the proxy in front)",
    "project",
)
DATABASE_URL = Variable(
    "DATABASE_URL",
    "",
    _text,
    "SQLite at `project/data/db.sqlite3`",
    "`sqlite:///path`, `postgres://...`, `mysql://...` (dj-database-url)",
    "project",
)
DJANGO_DATA_DIR = Variable(
    "DJANGO_DATA_DIR",
    "project/data",
    _text,
    "`project/data`",
    "where the default SQLite database lives",
    "project",
)
DJANGO_APP_PROFILE = Variable(
    "DJANGO_APP_PROFILE",
    "minimal",
    _text,
    "`minimal`",
    "`minimal` or `startproject` (what `--app` sets for the stacks)",
    "project",
)
EXPORT_MAX_ROWS = Variable(
    "EXPORT_MAX_ROWS", 50_000_000, int, "50000000", "the largest `rows` accepted", "project"
)
EXPORT_MAX_BUFFERED_ROWS = Variable(
    "EXPORT_MAX_BUFFERED_ROWS",
    5_000_000,
    int,
    "5000000",
    "the largest `rows` of a body held in memory (`mode=buffered`, a mismatched `iterator`); half "
    "with `chunk_kb=0`",
    "project",
)
EXPORT_LOG_LEVEL = Variable(
    "EXPORT_LOG_LEVEL",
    "INFO",
    _text,
    "`INFO`",
    "the export logs one line per export cut short by the client (`DEBUG`: every export)",
    "project",
)

# --- the harness (python -m compare) ----------------------------------------------------------
DSC_STACKS = Variable(
    "DSC_STACKS",
    ",".join(DEFAULT_STACKS),
    _text,
    f"`{','.join(DEFAULT_STACKS)}`",
    "the default `--stacks` of `bench`, `ui` and `encode-bench`",
)
DSC_SCENARIOS: Variable[str | None] = Variable(
    "DSC_SCENARIOS", None, _text, "the run profile's", "the default `--scenarios` of `bench`"
)
DSC_PLACEMENT = Variable(
    "DSC_PLACEMENT",
    "split",
    _text,
    "`split`",
    "the default `--placement` of `bench`, `measure-once` and `encode-bench`",
)
DSC_OUT = Variable(
    "DSC_OUT",
    "results",
    _text,
    "`results`",
    "where `bench` writes runs, and where `report`, `figures` and `make report` look for `latest`",
)
DSC_RUNTIME_DIR = Variable(
    "DSC_RUNTIME_DIR",
    str(Path(tempfile.gettempdir()) / f"dsc-runtime-{os.getuid()}"),
    _text,
    "`/tmp/dsc-runtime-UID`",
    "where each harness process lists what it started (the next `bench`, `serve` or `ui` stops "
    "what a killed one left behind) and where the bench's lock is",
)
DSC_ALLOWED_HOSTS: Variable[tuple[str, ...]] = Variable(
    "DSC_ALLOWED_HOSTS",
    (),
    _names,
    "none",
    "extra hosts the harness's servers accept (docker service names)",
)
DSC_NGINX: Variable[str | None] = Variable(
    "DSC_NGINX",
    None,
    _text,
    "`nginx` on `PATH` or `/usr/sbin`",
    "the nginx binary for the nginx-fronted stacks",
)
DSC_POSTGRES_BIN: Variable[str | None] = Variable(
    "DSC_POSTGRES_BIN",
    None,
    _text,
    "`initdb` on `PATH`, else the newest `/usr/lib/postgresql/*/bin`",
    "where `--source postgres` finds `initdb` and `postgres`",
)
DSC_POSTGRES_USER: Variable[str | None] = Variable(
    "DSC_POSTGRES_USER",
    None,
    _text,
    "`postgres` (then `nobody`)",
    "the account PostgreSQL runs as when the harness runs as root",
)

DSC_APP_WSGI = Variable(
    "DSC_APP_WSGI",
    "",
    _text,
    "none (set with `--project`)",
    "the user's WSGI application (`module:attribute`) that the harness's thin wrapper "
    "(`compare.servers.wrapwsgi`) loads and serves",
)
DSC_APP_ASGI = Variable(
    "DSC_APP_ASGI",
    "",
    _text,
    "none (set with `--project`)",
    "the user's ASGI application (`module:attribute`) that `compare.servers.wrapasgi` loads "
    "and serves",
)

# --- locust (the harness sets these for it; loadtests/ reads them) -------------------------------
DSC_SERVER_FEED_URL: Variable[str | None] = Variable(
    "DSC_SERVER_FEED_URL",
    None,
    _text,
    "none (set by `compare ui`)",
    "where the locustfile's Server tab reads the stacks' samples",
    "locust",
)
LOCUST_SESSION = Variable(
    OPTIONS["session"].env_var,
    "",
    _text,
    "none",
    "a session key locust sends as the `sessionid` cookie (`--app startproject` sets it)",
    "locust",
)
LOCUST_OPTION = Variable(
    "LOCUST_<OPTION>",
    "",
    _text,
    "the option's default",
    "every custom locust option (`--rows` is `LOCUST_ROWS`, `--read-kbps` is "
    "`LOCUST_READ_KBPS`; `loadtests/options.py` declares them, `locust -f "
    "loadtests/locustfile.py --help` lists them), as locust reads its own",
    "locust",
)

# --- the docker image and the tests ------------------------------------------------------------
DSC_PORT = Variable(
    "DSC_PORT",
    8000,
    int,
    "`8000`",
    "the port the docker image's stacks listen on and its healthcheck asks",
    "docker",
)
UPDATE_GOLDEN = Variable(
    "UPDATE_GOLDEN",
    False,
    _flag,
    "off",
    "`1`: `pytest tests/test_report.py` rewrites the golden Markdown report",
    "tests",
)

VARIABLES: tuple[Variable[Any], ...] = (
    DJANGO_SECRET_KEY,
    DJANGO_DEBUG,
    DJANGO_ALLOWED_HOSTS,
    DJANGO_SECURE_HSTS_SECONDS,
    DATABASE_URL,
    DJANGO_DATA_DIR,
    DJANGO_APP_PROFILE,
    EXPORT_MAX_ROWS,
    EXPORT_MAX_BUFFERED_ROWS,
    EXPORT_LOG_LEVEL,
    DSC_STACKS,
    DSC_SCENARIOS,
    DSC_PLACEMENT,
    DSC_OUT,
    DSC_RUNTIME_DIR,
    DSC_ALLOWED_HOSTS,
    DSC_NGINX,
    DSC_POSTGRES_BIN,
    DSC_POSTGRES_USER,
    DSC_APP_WSGI,
    DSC_APP_ASGI,
    DSC_SERVER_FEED_URL,
    LOCUST_SESSION,
    LOCUST_OPTION,
    DSC_PORT,
    UPDATE_GOLDEN,
)


def table() -> str:
    """The configuration table of the docs, one row per variable, in declaration order."""
    lines = ["| variable | default | meaning |", "| --- | --- | --- |"]
    lines += [f"| `{v.name}` | {v.shown_default} | {v.meaning} |" for v in VARIABLES]
    return "\n".join(lines)
