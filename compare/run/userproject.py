"""A team's own Django project as a run's target: their code, their settings, their data untouched.

Given the folder with their ``manage.py`` and their settings module, it finds their WSGI and ASGI
applications (``WSGI_APPLICATION``/``ASGI_APPLICATION``, else ``PKG.wsgi``/``PKG.asgi`` next to the
settings, or as named) and serves each through the harness's thin wrapper
(compare.servers.appwrap). It starts, migrates, seeds and logs in nothing: their databases are
only ever read by their own views.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from compare import REPO_ROOT
from compare.errors import UsageError
from compare.servers.appwrap import READY_PATH
from compare.servers.stacks import AppTarget
from compare.settings import DSC_APP_ASGI, DSC_APP_WSGI
from compare.system.startstop import StartStop
from loadtests.body import Verify

FIND_TIMEOUT_S = 60.0
# Run in a child with their settings: importing them here would run their code in the harness.
_FIND_APPS = """
import importlib, json, sys
settings = importlib.import_module(sys.argv[1])
print(json.dumps([getattr(settings, "WSGI_APPLICATION", None),
                  getattr(settings, "ASGI_APPLICATION", None)]))
"""
WRAPPED = AppTarget(
    wsgi="compare.servers.wrapwsgi:application",
    asgi="compare.servers.wrapasgi:application",
    ready_path=READY_PATH,
)


def entry_point(dotted: str) -> str:
    """Django's ``pkg.wsgi.application`` as ``pkg.wsgi:application``; a ``:`` one as it is."""
    if ":" in dotted:
        return dotted
    module, _, attribute = dotted.rpartition(".")
    if not module:
        raise UsageError(f"{dotted!r} is no module:attribute nor module.attribute")
    return f"{module}:{attribute}"


@dataclass(frozen=True)
class ProjectApps:
    """Where a user's project is and which applications it serves."""

    directory: Path
    settings: str
    wsgi: str
    asgi: str


def find_project(
    directory: Path, settings: str, wsgi: str | None = None, asgi: str | None = None
) -> ProjectApps:
    """Check the folder and settings and find both applications; UsageError says what is wrong."""
    directory = directory.expanduser().resolve()
    if not (directory / "manage.py").is_file():
        raise UsageError(f"--project {directory}: no manage.py there (give the folder holding it)")
    if directory == REPO_ROOT:
        raise UsageError("--project: that is this harness's own project; leave it out")
    named = _settings_apps(directory, settings)
    package = settings.rpartition(".")[0] or settings
    found_wsgi = wsgi or named[0] or f"{package}.wsgi.application"
    found_asgi = asgi or named[1] or f"{package}.asgi.application"
    return ProjectApps(directory, settings, entry_point(found_wsgi), entry_point(found_asgi))


def _settings_apps(directory: Path, settings: str) -> tuple[str | None, str | None]:
    """WSGI_APPLICATION and ASGI_APPLICATION from their settings, imported in a child."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", _FIND_APPS, settings],
            cwd=directory,
            env={**_child_env(directory), "DJANGO_SETTINGS_MODULE": settings},
            capture_output=True,
            text=True,
            timeout=FIND_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise UsageError(
            f"--settings {settings}: importing it took over {FIND_TIMEOUT_S:g} s"
        ) from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise UsageError(f"--settings {settings} does not import from {directory}: {last}")
    wsgi, asgi = json.loads(done.stdout.strip().splitlines()[-1])
    return wsgi, asgi


def _child_env(directory: Path) -> dict[str, str]:
    paths = [str(directory), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


class UserProject(StartStop):
    """A user's project as a run's target (compare.run.target): nothing to start or seed."""

    def __init__(self, apps: ProjectApps, urls: tuple[str, ...], verify: Verify = "body") -> None:
        self.apps = apps
        self.urls = urls
        self.verify = verify
        # The first URL's reference download (compare.run.reference), once the bench took it:
        # every cell's bodies must match it when ``verify`` is "body".
        self.reference: dict[str, Any] | None = None

    def start(self) -> Self:
        """Nothing to prepare: their data is theirs."""
        return self

    def stop(self) -> None:
        """Nothing was started."""

    @property
    def app_target(self) -> AppTarget:
        """The wrapper, importing from their folder."""
        return AppTarget(WRAPPED.wsgi, WRAPPED.asgi, self.apps.directory, WRAPPED.ready_path)

    @property
    def database_pid(self) -> int | None:
        """No database of ours."""
        return None

    def stack_variables(self) -> dict[str, str]:
        """Their settings module and their two applications, for the wrapper."""
        return {
            "DJANGO_SETTINGS_MODULE": self.apps.settings,
            DSC_APP_WSGI.name: self.apps.wsgi,
            DSC_APP_ASGI.name: self.apps.asgi,
        }

    def locust_variables(self) -> dict[str, str]:
        """No session: the harness logs nobody in."""
        return {}

    @property
    def warm_paths(self) -> tuple[str, ...]:
        """Their URLs: a stack's warm-up fetches what the cells will."""
        return self.urls

    @property
    def counts_rows(self) -> bool:
        """No: their URL decides its body, and the run knows its bytes, not its rows."""
        return False

    def locust_options(self) -> dict[str, int | float | str]:
        """The first URL to fetch, and how each body is checked (against the reference)."""
        options: dict[str, int | float | str] = {"url": self.urls[0], "verify": self.verify}
        if self.reference is not None:
            options["body_bytes"] = self.reference["size"]
            options["body_sha256"] = self.reference["sha256"]
        return options

    def describe(self) -> dict[str, Any]:
        """The project, settings, URLs and each interface's application."""
        return {
            "project": str(self.apps.directory),
            "settings": self.apps.settings,
            "urls": list(self.urls),
            "wsgi_app": self.apps.wsgi,
            "asgi_app": self.apps.asgi,
            "verify": self.verify,
            "reference": self.reference,
        }
