"""Stacks added as data only, as a new user would: their command lines, and what the running
server itself shows it runs (the workers it reports in its log, the extensions mapped into them,
how it frames a reply to an HTTP/1.0 client)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from compare.servers.server import ServerProcess
from compare.servers.stacks import (
    HEARTBEAT_TIMEOUT,
    STACKS,
    WORKER_CONNECTIONS,
    StackSpec,
    fronted,
)
from tests.helpers import expected_body
from tests.http_raw import raw_request

# uvicorn on plain asyncio with the pure-Python h11 parser: both differ from the registry's
# uvicorn, which runs uvloop and httptools.
UVICORN_H11 = StackSpec(
    name="uvicorn-h11",
    interface="asgi",
    server="uvicorn",
    worker_class="uvicorn",
    loop="asyncio",
    http_parser="h11",
    limit_concurrency=WORKER_CONNECTIONS,
    timeout=HEARTBEAT_TIMEOUT,
    requires=("uvicorn",),
    notes=("uvicorn on asyncio with h11",),
)
# gunicorn's asgi worker on plain asyncio (the registry's gunicorn-asgi runs uvloop).
GUNICORN_ASGI_ASYNCIO = StackSpec(
    name="gunicorn-asgi-asyncio",
    interface="asgi",
    server="gunicorn",
    worker_class="asgi",
    loop="asyncio",
    http_parser="gunicorn",
    timeout=HEARTBEAT_TIMEOUT,
    requires=("gunicorn",),
)
# Each data-only stack with the registry stack it differs from in loop (and parser).
PAIRS = {UVICORN_H11: STACKS["uvicorn"], GUNICORN_ASGI_ASYNCIO: STACKS["gunicorn-asgi"]}
# What uvicorn and gunicorn log for each worker they start.
_WORKER_LINE = re.compile(r"(?:Started server process \[|Booting worker with pid: )(\d+)")
_EXTENSION = re.compile(r"/site-packages/(\w+)/\S*\.so$")
LOG_WAIT_S = 10.0  # the workers answered /healthz already; their first log line is due


def option(args: list[str], flag: str) -> str:
    """The value after ``flag`` in an argv."""
    assert flag in args, f"{flag} missing from {args}"
    return args[args.index(flag) + 1]


def test_uvicorn_h11_command_line_names_its_loop_and_parser() -> None:
    args = UVICORN_H11.argv("127.0.0.1", 8123, Path("/tmp/dsc-run"), python="py")
    assert option(args, "--loop") == "asyncio"
    assert option(args, "--http") == "h11"
    assert "uvloop" not in args and "httptools" not in args
    assert UVICORN_H11.missing() is None  # h11 comes with uvicorn
    behind = fronted(UVICORN_H11, "nginx-unbuffered").argv("127.0.0.1", 8123, Path("/x"), "py")
    assert option(behind[behind.index("--") :], "--loop") == "asyncio"


def test_gunicorn_asgi_command_line_names_its_loop() -> None:
    args = GUNICORN_ASGI_ASYNCIO.argv("127.0.0.1", 8123, Path("/tmp/dsc-run"), python="py")
    assert option(args, "--asgi-loop") == "asyncio"
    assert "uvloop" not in args


def _worker_pids(server: ServerProcess) -> list[int]:
    """The worker pids the server's own log reports, once it reports every one."""
    deadline = time.monotonic() + LOG_WAIT_S
    while True:
        pids = [int(pid) for pid in _WORKER_LINE.findall(server.log_path.read_text())]
        if len(pids) >= server.spec.workers or time.monotonic() > deadline:
            assert len(pids) == server.spec.workers, server.log_tail()
            return pids
        time.sleep(0.05)


def _extensions(pid: int) -> set[str]:
    """The site-packages whose compiled extensions are mapped into process ``pid``."""
    lines = Path(f"/proc/{pid}/maps").read_text().splitlines()
    return {match.group(1) for line in lines if (match := _EXTENSION.search(line))}


@pytest.fixture(scope="module", params=list(PAIRS), ids=lambda spec: spec.name)
def pair(request: pytest.FixtureRequest) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """A data-only stack and its registry counterpart, both running."""
    with ServerProcess(request.param) as added, ServerProcess(PAIRS[request.param]) as registry:
        yield added, registry


@pytest.mark.server
def test_workers_run_the_loop_and_parser_the_data_names(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    # uvloop and httptools are C extensions: a worker that runs one has its .so mapped. The
    # registry counterpart, started alongside, shows the check sees them when they run.
    for server in pair:
        spec = server.spec
        native = {spec.loop, spec.http_parser} & {"uvloop", "httptools"}
        for pid in _worker_pids(server):
            loaded = _extensions(pid) & {"uvloop", "httptools"}
            assert loaded == native, f"{spec.name} worker {pid} maps {loaded}, not {native}"


@pytest.mark.server
def test_http_10_framing_is_the_parser_s(pair: tuple[ServerProcess, ServerProcess]) -> None:
    # uvicorn's httptools protocol answers an HTTP/1.0 client with a chunked body; h11 ends the
    # body by closing, as gunicorn's own parser does.
    for server in pair:
        reply = raw_request(server.host, server.port, "/export.csv?rows=500", version="HTTP/1.0")
        assert reply.status == 200
        chunked = reply.headers.get("transfer-encoding") == "chunked"
        assert chunked is (server.spec.http_parser == "httptools"), server.spec.name
        if not chunked:
            assert reply.raw_body == expected_body(500)
