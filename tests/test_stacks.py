"""Stacks as data: the registry and the command lines, without starting anything."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from compare.commands.bench import with_apps
from compare.config import numbered
from compare.errors import CompareError
from compare.report.comparisons import comparable
from compare.servers.nginx import find_nginx
from compare.servers.options import InvalidStackError
from compare.servers.prefork import LISTEN_FD
from compare.servers.stacks import (
    DEFAULT_WORKERS,
    FRONTS,
    HEARTBEAT_TIMEOUT,
    PROJECT_APP,
    STACKS,
    WORKER_CONNECTIONS,
    AppTarget,
    StackSpec,
    UnknownStackError,
    get_stack,
    stack_names,
    stack_parts,
)

RUN_DIR = Path("/tmp/dsc-run")
REQUIRED = {
    "gunicorn-sync",
    "gunicorn-gthread",
    "uvicorn",
    "gunicorn-uvicorn",
    "gunicorn-asgi",
    "granian-wsgi",
    "granian-asgi",
    "gunicorn-gevent",
    "daphne",
}


# The servers themselves; their nginx-fronted variants are tested in test_nginx.py.
BASE = sorted(name for name, spec in STACKS.items() if spec.front is None)


def argv(name: str, host: str = "127.0.0.1", port: int = 8123) -> list[str]:
    return STACKS[name].argv(host, port, RUN_DIR, python="py")


def option(args: list[str], flag: str) -> str:
    """The value after ``flag`` in an argv."""
    assert flag in args, f"{flag} missing from {args}"
    return args[args.index(flag) + 1]


def test_registry_has_every_required_stack() -> None:
    assert set(BASE) >= REQUIRED
    assert {f"{front}+{name}" for name in REQUIRED for front in FRONTS} <= set(STACKS)
    assert all(name == spec.name for name, spec in STACKS.items())


@pytest.mark.parametrize("name", BASE)
def test_same_worker_count_and_app_per_interface(name: str) -> None:
    spec = STACKS[name]
    assert spec.workers == DEFAULT_WORKERS
    args = argv(name)
    if spec.server == "daphne":  # one daphne per worker, on a socket compare.servers.prefork shares
        assert args[:3] == ["py", "-m", "compare.servers.prefork"]
        assert args[args.index("--") + 1 :][:3] == ["py", "-m", "daphne"]
    else:
        assert args[:3] == ["py", "-m", spec.server]
    assert args[-1] == f"project.{spec.interface}:application" == PROJECT_APP.entry(spec.interface)
    assert option(args, "--workers") == str(DEFAULT_WORKERS)


@pytest.mark.parametrize("name", BASE)
def test_binds_the_given_port_and_logs_no_access(name: str) -> None:
    args = argv(name)
    assert "--access-logfile" not in args  # gunicorn logs no access without it
    if STACKS[name].server == "gunicorn":
        assert option(args, "--bind") == "127.0.0.1:8123"
    else:
        assert option(args, "--host") == "127.0.0.1"
        assert option(args, "--port") == "8123"
    if STACKS[name].server == "daphne":
        assert option(args, "--verbosity") == "0"  # the only way to turn its access log off
    elif STACKS[name].server != "gunicorn":
        assert "--no-access-log" in args


@pytest.mark.parametrize("name", [n for n in BASE if STACKS[n].server == "gunicorn"])
def test_gunicorn_instances_do_not_share_a_control_socket_or_tmp_dir(name: str) -> None:
    args = argv(name)
    assert "--no-control-socket" in args
    assert option(args, "--worker-tmp-dir") == str(RUN_DIR)
    assert option(args, "--worker-class") == STACKS[name].worker_class


def test_sync_worker_timeout_is_long_and_recorded() -> None:
    spec = STACKS["gunicorn-sync"]
    assert spec.timeout is not None and spec.timeout >= 300
    assert option(argv("gunicorn-sync"), "--timeout") == str(spec.timeout)
    assert not spec.keepalive
    assert any("timeout" in note for note in spec.notes)


def test_uvicorn_names_uvloop_and_httptools() -> None:
    args = argv("uvicorn")
    assert option(args, "--loop") == "uvloop"
    assert option(args, "--http") == "httptools"
    assert option(args, "--timeout-keep-alive") == str(STACKS["uvicorn"].keepalive_timeout)
    # The supervisor's 5 s default killed a worker busy streaming 2M rows, mid-download.
    assert option(args, "--timeout-worker-healthcheck") == str(HEARTBEAT_TIMEOUT)


def test_asgi_workers() -> None:
    assert option(argv("gunicorn-uvicorn"), "--worker-class") == "uvicorn_worker.UvicornWorker"
    args = argv("gunicorn-asgi")
    assert option(args, "--worker-class") == "asgi"
    assert option(args, "--asgi-loop") == "uvloop"


def test_granian_interfaces_and_threads() -> None:
    assert option(argv("granian-wsgi"), "--interface") == "wsgi"
    assert option(argv("granian-wsgi"), "--blocking-threads") == "4"
    # ASGI without lifespan: Django does not speak it (uvicorn runs --lifespan off).
    assert option(argv("granian-asgi"), "--interface") == "asginl"
    assert "--blocking-threads" not in argv("granian-asgi")


def test_gevent_worker_is_capped_and_heartbeats() -> None:
    args = argv("gunicorn-gevent")
    assert option(args, "--worker-class") == "gevent"
    assert option(args, "--worker-connections") == str(WORKER_CONNECTIONS)
    assert option(args, "--timeout") == str(HEARTBEAT_TIMEOUT)
    assert STACKS["gunicorn-gevent"].interface == "wsgi"


def test_daphne_shares_one_socket_and_has_no_http_timeout() -> None:
    spec = STACKS["daphne"].with_options(workers=3)
    args = spec.argv("127.0.0.1", 8123, RUN_DIR, python="py")
    assert option(args, "--workers") == "3"
    daphne = args[args.index("--") + 1 :]
    assert option(daphne, "--fd") == str(LISTEN_FD)
    assert "--http-timeout" not in daphne and "-t" not in daphne  # it would cut long exports
    assert spec.child_processes() == 3  # the bash supervisor's daphne children
    assert not spec.backpressure
    assert all(STACKS[n].backpressure for n in BASE if n != "daphne")


def test_ipv6_host_is_bracketed_for_gunicorn_only() -> None:
    assert option(argv("gunicorn-sync", host="::1"), "--bind") == "[::1]:8123"
    assert option(argv("uvicorn", host="::1"), "--host") == "::1"


def test_with_options_changes_counts_where_they_exist() -> None:
    spec = STACKS["gunicorn-gthread"].with_options(workers=3, threads=8)
    assert (spec.workers, spec.threads) == (3, 8)
    args = spec.argv("127.0.0.1", 1, RUN_DIR)
    assert option(args, "--workers") == "3"
    assert option(args, "--threads") == "8"
    assert STACKS["gunicorn-gthread"].threads == 4  # the registry entry is untouched


def test_with_options_refuses_threads_on_unthreaded_workers() -> None:
    # gunicorn quietly turns sync workers into gthread ones when given threads.
    with pytest.raises(CompareError, match="no thread setting"):
        STACKS["gunicorn-sync"].with_options(threads=2)
    with pytest.raises(CompareError, match="at least 1"):
        STACKS["uvicorn"].with_options(workers=0)


# Every stack's command line as main built it at 8f34f56, before loop and parser became data, and
# since uvicorn's --timeout-worker-healthcheck
# (argv("127.0.0.1", 8123, RUN_DIR, python="py", upstream_port=8124); nginx's path as NGINX).
BEFORE = Path(__file__).parent / "fixtures" / "stacks" / "argv-before.json"


def test_command_lines_are_those_of_before_the_options_became_data() -> None:
    before = json.loads(BEFORE.read_text())
    nginx = find_nginx() or "nginx"
    now = {
        name: [
            "NGINX" if arg == nginx else arg
            for arg in spec.argv("127.0.0.1", 8123, RUN_DIR, python="py", upstream_port=8124)
        ]
        for name, spec in STACKS.items()
    }
    assert now == before


# A registry stack, what a new stack changes in it, and what the error says.
CANNOT: list[tuple[str, dict[str, Any], str]] = [
    (
        "uvicorn",
        {"loop": "gevent"},
        "uvicorn cannot run event loop 'gevent' (it runs: asyncio, uvloop)",
    ),
    ("daphne", {"loop": "uvloop"}, "daphne cannot run event loop 'uvloop' (it runs: asyncio)"),
    (
        "granian-wsgi",
        {"loop": "uvloop"},
        "granian (wsgi) cannot run event loop 'uvloop' (it runs: none)",
    ),
    # uvicorn's worker class for gunicorn fixes its loop and parser.
    (
        "gunicorn-uvicorn",
        {"loop": "asyncio"},
        "UvicornWorker worker cannot run event loop 'asyncio'",
    ),
    (
        "gunicorn-uvicorn",
        {"http_parser": "h11"},
        "UvicornWorker worker cannot run HTTP parser 'h11'",
    ),
    (
        "gunicorn-sync",
        {"http_parser": "httptools"},
        "sync worker cannot run HTTP parser 'httptools'",
    ),
    ("uvicorn", {"threads": 4}, "uvicorn has no thread setting"),
    ("granian-asgi", {"threads": 2}, "granian (asgi) has no thread setting"),
    ("gunicorn-asgi", {"limit_concurrency": 100}, "asgi worker has no connection cap"),
    ("gunicorn-gthread", {"threads": None}, "threads must be at least 1, not None"),
    ("gunicorn-gevent", {"timeout": None}, "gevent worker has a worker timeout: timeout must say"),
    ("granian-asgi", {"timeout": 30}, "granian (asgi) has no worker timeout"),
    ("gunicorn-sync", {"keepalive": True}, "sync worker closes after every response"),
    ("gunicorn-sync", {"keepalive_timeout": 5}, "sync worker has no keep-alive idle timeout"),
    ("uvicorn", {"keepalive_timeout": None}, "keepalive_timeout must say how long"),
    ("daphne", {"backpressure": True}, "daphne does not wait for the client"),
    ("gunicorn-gthread", {"worker_class": "eventlet"}, "no gunicorn with worker class 'eventlet'"),
    ("uvicorn", {"interface": "wsgi"}, "no uvicorn with worker class 'uvicorn' serving wsgi"),
    ("gunicorn-sync", {"interface": "asgi"}, "no gunicorn with worker class 'sync' serving asgi"),
]


@pytest.mark.parametrize(("name", "changes", "message"), CANNOT)
def test_what_its_server_cannot_honour_fails_when_the_spec_is_built(
    name: str, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidStackError) as info:
        dataclasses.replace(STACKS[name], name="new", **changes)
    assert str(info.value).startswith("new: ") and message in str(info.value)
    assert isinstance(info.value, CompareError)  # the command line prints it on one line


def test_every_choice_a_server_offers_reaches_its_command_line() -> None:
    def args(name: str, **changes: Any) -> list[str]:
        return dataclasses.replace(STACKS[name], **changes).argv("127.0.0.1", 1, RUN_DIR, "py")

    assert option(args("granian-asgi", loop="asyncio"), "--loop") == "asyncio"
    assert option(args("gunicorn-gthread", http_parser="gunicorn-python"), "--http-parser") == (
        "python"
    )
    assert option(args("gunicorn-asgi", http_parser="gunicorn-h1c"), "--http-parser") == "fast"
    h11_worker = args(
        "gunicorn-uvicorn",
        worker_class="uvicorn_worker.UvicornH11Worker",
        loop="asyncio",
        http_parser="h11",
    )
    assert option(h11_worker, "--worker-class") == "uvicorn_worker.UvicornH11Worker"


def test_modules_a_choice_imports_are_required() -> None:
    # Neither rloop nor gunicorn_h1c is a dependency here: stacks choosing them are unavailable.
    rloop = dataclasses.replace(STACKS["granian-asgi"], loop="rloop", requires=("granian",))
    assert rloop.missing() == "rloop is not installed: pip install -e ."
    h1c = dataclasses.replace(STACKS["gunicorn-sync"], http_parser="gunicorn-h1c")
    assert h1c.missing() == "gunicorn_h1c is not installed: pip install -e ."


# Another Django project than this one: the seam a later issue serves users' projects through.
ELSEWHERE = AppTarget(
    wsgi="shop.wsgi:application", asgi="shop.asgi:application", pythonpath=Path("/srv/shop")
)
IMPORT_PATH_FLAG = {"gunicorn": "--pythonpath", "uvicorn": "--app-dir", "granian": "--working-dir"}


@pytest.mark.parametrize("name", BASE)
def test_the_application_is_a_value_the_command_line_takes(name: str) -> None:
    spec = STACKS[name]
    own = argv(name)
    if spec.server == "daphne":  # no flag: ServerProcess puts the directory on its PYTHONPATH
        args = spec.argv("127.0.0.1", 8123, RUN_DIR, python="py", app=ELSEWHERE)
        assert args == [*own[:-1], "shop.asgi:application"]
        return
    args = spec.argv("127.0.0.1", 8123, RUN_DIR, python="py", app=ELSEWHERE)
    flag = IMPORT_PATH_FLAG[spec.server]
    assert args == [*own[:-1], flag, "/srv/shop", f"shop.{spec.interface}:application"]


def test_a_fronted_stack_passes_the_application_on() -> None:
    args = STACKS["nginx-buffered+uvicorn"].argv("127.0.0.1", 8123, RUN_DIR, "py", app=ELSEWHERE)
    assert args[-3:] == ["--app-dir", "/srv/shop", "shop.asgi:application"]
    with pytest.raises(InvalidStackError, match="gunicorn cannot import from /srv/a,b"):
        at_comma = dataclasses.replace(ELSEWHERE, pythonpath=Path("/srv/a,b"))
        STACKS["gunicorn-sync"].argv("127.0.0.1", 8123, RUN_DIR, "py", app=at_comma)


def test_unknown_stack_lists_the_valid_ones() -> None:
    with pytest.raises(UnknownStackError) as info:
        get_stack("nginx-magic")
    message = str(info.value)
    assert "nginx-magic" in message and "\n" not in message
    assert all(name in message for name in STACKS)


def test_every_server_comes_with_the_project_dependencies() -> None:
    # --stacks all on a fresh machine: pip install -e . (make bench's own setup) is enough.
    assert {name: STACKS[name].missing() for name in BASE} == dict.fromkeys(BASE)


def test_missing_module_says_what_to_install() -> None:
    spec: StackSpec = dataclasses.replace(
        STACKS["granian-wsgi"], requires=("dsc_not_installed_module",)
    )
    assert not spec.available()
    reason = spec.missing()
    assert reason is not None
    assert "dsc_not_installed_module" in reason and "pip install" in reason
    assert STACKS["gunicorn-sync"].missing() is None


def test_child_processes_expected() -> None:
    assert STACKS["uvicorn"].child_processes() == DEFAULT_WORKERS
    assert STACKS["uvicorn"].with_options(workers=1).child_processes() == 0
    assert STACKS["gunicorn-sync"].with_options(workers=1).child_processes() == 1


def test_stack_names_mean_the_same_in_every_command() -> None:
    # ui and bench alike: repeats dropped (bench numbers them), aliases expanded.
    assert stack_names("uvicorn, gunicorn-sync,uvicorn") == ("uvicorn", "gunicorn-sync")
    assert stack_names("uvicorn,uvicorn", repeats=True) == ("uvicorn#1", "uvicorn#2")
    every_server = stack_names("all")
    assert len(every_server) > 2 and all(STACKS[name].front is None for name in every_server)
    assert set(stack_names("everything")) == set(STACKS)
    with pytest.raises(CompareError, match="unknown stack 'nope'; valid: all, nginx"):
        stack_names("gunicorn-sync,nope")
    with pytest.raises(CompareError, match="no stack"):
        stack_names(" , ")


def test_copies_and_app_profiles_are_stacks_of_their_own() -> None:
    # An A/A calibration: the same server twice, numbered.
    assert numbered(["uvicorn", "uvicorn", "gunicorn-sync"]) == (
        "uvicorn#1",
        "uvicorn#2",
        "gunicorn-sync",
    )
    copy = get_stack("uvicorn#2")
    assert copy.name == "uvicorn#2" and copy.argv("127.0.0.1", 1, Path("/x")) == get_stack(
        "uvicorn"
    ).argv("127.0.0.1", 1, Path("/x"))
    # One server under an app profile of its own, whatever the run's --app.
    rich = get_stack("gunicorn-sync@startproject#1")
    assert rich.app_profile == "startproject" and rich.server == "gunicorn"
    assert stack_parts(rich.name) == ("gunicorn-sync", "startproject", "1")
    assert with_apps(("uvicorn", "uvicorn#2"), ("minimal", "startproject")) == (
        "uvicorn@minimal",
        "uvicorn@startproject",
        "uvicorn@minimal#2",
        "uvicorn@startproject#2",
    )
    assert with_apps(("uvicorn",), ("startproject",)) == ("uvicorn",)  # the run's profile
    for bad in ("uvicorn#x", "uvicorn@enterprise", "nope#1"):
        with pytest.raises(UnknownStackError):
            get_stack(bad)
    assert comparable("uvicorn@minimal", "uvicorn@startproject")
    assert comparable("uvicorn@minimal", "gunicorn-sync@minimal")
    assert not comparable("uvicorn@minimal", "gunicorn-sync@startproject")
