"""The two app profiles on real servers: minimal, and a new project's middleware and apps.

The startproject profile runs Django's seven sync middleware on every stack with sessions and
auth in the database; a request carrying the session that ``seed_session`` made is a logged-in
user's (``X-Request-User`` names it), and the export still streams through all of them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from compare.run.appdata import RunData
from compare.servers.server import ServerProcess, ServerStartError
from compare.servers.stacks import STACKS
from project.profiles import STARTPROJECT_APPS, STARTPROJECT_MIDDLEWARE, app_profile
from tests.helpers import expected_body, no_new_children, stack_params
from tests.http_raw import dechunk, raw_request

pytestmark = pytest.mark.server

BASE = [name for name, spec in STACKS.items() if spec.front is None]


def test_startproject_profile_is_django_52s_template() -> None:
    profile = app_profile("startproject")
    assert profile.middleware[0] == "project.middleware.interface_middleware"  # routes ASGI
    assert tuple(profile.middleware[1:]) == STARTPROJECT_MIDDLEWARE
    assert tuple(profile.installed_apps[:-1]) == STARTPROJECT_APPS
    assert len(STARTPROJECT_MIDDLEWARE) == 7 and len(STARTPROJECT_APPS) == 6
    assert app_profile(None).middleware == ["project.middleware.interface_middleware"]
    with pytest.raises(ValueError, match="DJANGO_APP_PROFILE must be one of minimal, startproject"):
        app_profile("enterprise")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunData]:
    """A migrated SQLite database with a logged-in user's session."""
    url = f"sqlite:///{tmp_path_factory.mktemp('profiles') / 'db.sqlite3'}"
    with RunData(
        "synthetic", "startproject", 0, lambda line: None, database_url=url, own_database=True
    ) as running:
        assert running.session
        yield running


@pytest.fixture(scope="module", params=stack_params(BASE))
def server(request: pytest.FixtureRequest, data: RunData) -> Iterator[ServerProcess]:
    with ServerProcess(STACKS[request.param], env=data.stack_variables()) as running:
        yield running


def _get(
    server: ServerProcess, path: str, session: str | None
) -> tuple[int, dict[str, str], bytes]:
    headers = {"Cookie": f"sessionid={session}"} if session else {}
    reply = raw_request(server.host, server.port, path, headers=headers)
    body = reply.raw_body
    if "chunked" in reply.headers.get("transfer-encoding", ""):
        body = dechunk(body)[0]
    return reply.status, reply.headers, body


def test_a_logged_in_users_export_streams_through_the_middleware(
    server: ServerProcess, data: RunData
) -> None:
    status, headers, body = _get(server, "/export.csv?rows=20000&chunk_kb=16", data.session)
    assert status == 200 and headers["transfer-encoding"] == "chunked"
    assert body == expected_body(20_000, chunk_kb=16)
    assert headers["x-request-user"] == "bench"
    # SessionMiddleware: the session was read; XFrameOptionsMiddleware and SecurityMiddleware.
    assert headers["vary"] == "Cookie"
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"


def test_ping_resolves_the_user_and_anonymous_stays_anonymous(
    server: ServerProcess, data: RunData
) -> None:
    assert _get(server, "/ping", data.session)[1]["x-request-user"] == "bench"
    status, headers, body = _get(server, "/ping", None)
    assert (status, headers["x-request-user"], body) == (200, "anonymous", b"pong\n")
    # A forged cookie is an anonymous user, not an error.
    assert _get(server, "/ping", "not-a-session")[1]["x-request-user"] == "anonymous"


def test_the_admin_is_there_as_in_a_new_project(server: ServerProcess) -> None:
    status, headers, _ = _get(server, "/admin/", None)
    assert status == 302 and headers["location"].startswith("/admin/login/")


@pytest.mark.parametrize("name", stack_params(["gunicorn-sync", "uvicorn"]))
def test_the_minimal_profile_has_no_session_user_or_admin(name: str) -> None:
    with no_new_children(), ServerProcess(STACKS[name]) as server:
        status, headers, _ = _get(server, "/ping", "whatever")
        assert status == 200 and "x-request-user" not in headers and "vary" not in headers
        assert _get(server, "/admin/", None)[0] == 404


def test_an_unknown_profile_fails_the_start_in_one_line(tmp_path: Path) -> None:
    spec = dataclasses.replace(STACKS["gunicorn-sync"], workers=1)
    with no_new_children(), pytest.raises(ServerStartError) as info:
        ServerProcess(spec, env={"DJANGO_APP_PROFILE": "enterprise"}, start_timeout=20).start()
    assert "DJANGO_APP_PROFILE must be one of minimal, startproject" in str(info.value)
    assert info.value.log_path is not None
