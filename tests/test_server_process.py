"""ServerProcess on real stacks: start, stream, stop, and fail clearly, leaving nothing behind."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import signal
import socket
import time
from typing import Any

import psutil
import pytest

from compare.servers.server import ServerProcess, ServerStartError
from compare.servers.stacks import STACKS
from compare.system.download import download
from compare.system.interrupts import stop_signals_interrupt
from compare.system.proctree import ProcessTree, spawn
from tests.helpers import (
    MB,
    BackgroundDownload,
    assert_gone,
    no_new_children,
    stack_params,
    tree_pids,
)
from tests.timed_stack import timed_stack

pytestmark = pytest.mark.server

ROWS = 5000  # about 300 KB: several 64 KiB chunks
# The servers themselves; their nginx-fronted variants have tests/test_nginx_stacks.py.
BASE = [name for name, spec in STACKS.items() if spec.front is None]


@pytest.mark.parametrize("name", stack_params(BASE))
def test_stack_streams_a_chunked_export_and_stops_clean(name: str) -> None:
    spec = STACKS[name]
    with no_new_children(), ServerProcess(spec) as server:
        pids = tree_pids(server.pid)
        assert len(pids) >= spec.workers + 1
        run_dir = server.run_dir
        result = download(f"{server.base_url}/export.csv?rows={ROWS}")
        assert result.status == 200
        assert result.chunked, result.headers
        assert result.headers["x-export-rows"] == str(ROWS)
        assert result.lines == ROWS + 1
        assert result.complete_last_line
        assert 0 < result.ttfb <= result.total
    assert_gone(pids)
    assert not run_dir.exists()


def test_two_gunicorn_stacks_run_at_once() -> None:
    # Ports, run dirs and gunicorn 27's control socket must not collide.
    with (
        no_new_children(),
        ServerProcess(STACKS["gunicorn-sync"]) as one,
        ServerProcess(STACKS["gunicorn-asgi"]) as two,
    ):
        assert one.port != two.port and one.run_dir != two.run_dir
        for server in (one, two):
            assert download(f"{server.base_url}/ping").status == 200
            assert "control socket" not in server.log_tail(200).lower()


@pytest.mark.parametrize("name", stack_params(["gunicorn-sync", "uvicorn"]))
def test_stop_during_a_download_leaves_nothing(name: str) -> None:
    with no_new_children():
        server = ServerProcess(STACKS[name], stop_grace=1.0).start()
        try:
            pids = tree_pids(server.pid)
            fetch = BackgroundDownload(server.host, server.port, "/export.csv?rows=2000000")
            fetch.start().wait_for_bytes(2 * MB, timeout=30)
            started = time.monotonic()
        finally:
            server.stop()
        # A busy sync worker ignores SIGTERM until its response ends: SIGKILL must follow.
        assert time.monotonic() - started < 1.0 + 4
        assert_gone(pids)
        assert fetch.finished.wait(10)
        assert fetch.received < 150 * MB


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, RuntimeError])
def test_exception_in_the_caller_stops_the_stack(exc_type: type[BaseException]) -> None:
    pids: set[int] = set()
    with (
        no_new_children(),
        pytest.raises(exc_type),
        ServerProcess(STACKS["gunicorn-sync"]) as server,
    ):
        pids = tree_pids(server.pid)
        raise exc_type("interrupted")
    assert pids
    assert_gone(pids)


def test_a_stop_signal_while_the_stack_is_spawned_stops_it(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[int] = []

    def spawn_then_signal(*args: Any, **kwargs: Any) -> ProcessTree:
        tree = spawn(*args, **kwargs)
        started.append(tree.proc.pid)
        # As `kill` or Ctrl-C landing after the fork, before the stack's owner holds the tree.
        os.kill(os.getpid(), signal.SIGTERM)
        return tree

    monkeypatch.setattr("compare.servers.server.spawn", spawn_then_signal)
    with no_new_children(), pytest.raises(KeyboardInterrupt), stop_signals_interrupt():
        ServerProcess(STACKS["gunicorn-sync"]).start()
    assert started
    assert_gone(_group(started[0]))


def _group(pgid: int) -> list[int]:
    """The pids in a process group."""
    members = []
    for proc in psutil.process_iter():
        with contextlib.suppress(OSError, psutil.Error):
            if os.getpgid(proc.pid) == pgid:
                members.append(proc.pid)
    return members


def _one_line(error: ServerStartError, name: str) -> str:
    message = str(error)
    assert "\n" not in message
    assert message.startswith(f"{name}: ")
    return message


def test_port_in_use_is_refused_up_front() -> None:
    with socket.socket() as sock, no_new_children():
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(ServerStartError) as info:
            ServerProcess(STACKS["uvicorn"], port=port).start()
    assert f"port {port}" in _one_line(info.value, "uvicorn")
    assert "in use" in str(info.value)


@pytest.mark.parametrize("name", stack_params(BASE))
def test_app_that_fails_to_import_gives_the_log_tail(name: str) -> None:
    # Settings that do not exist: importing the application fails, on every server.
    broken = {"DJANGO_SETTINGS_MODULE": "dsc_no_such_module"}
    with no_new_children(), pytest.raises(ServerStartError) as info:
        # A deadline far away: the failure must be seen, whether the root exits or a
        # supervisor keeps restarting workers that cannot import (uvicorn's does).
        ServerProcess(STACKS[name], env=broken, start_timeout=300).start()
    error = info.value
    try:
        message = _one_line(error, name)
        assert "not ready after" not in message
        assert "log tail:" in message
        assert "dsc_no_such_module" in message  # the cause, picked out of the log
        assert error.log_path is not None and error.log_path.exists()
        assert "dsc_no_such_module" in error.log_tail
    finally:
        if error.log_path is not None:
            shutil.rmtree(error.log_path.parent)


def test_missing_server_is_one_line_without_starting_anything() -> None:
    absent = dataclasses.replace(
        STACKS["granian-asgi"], requires=("dsc_not_installed",), install_hint="pip install x"
    )
    with no_new_children(), pytest.raises(ServerStartError) as info:
        ServerProcess(absent).start()
    message = _one_line(info.value, "granian-asgi")
    assert "dsc_not_installed" in message and "pip install x" in message


def test_wrong_interface_and_deadline_fail_clearly() -> None:
    # A server's stack labelled with an interface it does not serve fails when built
    # (InvalidStackError); the timed test double, which takes no server's options, does not.
    liar = dataclasses.replace(timed_stack(), interface="asgi")
    with no_new_children(), pytest.raises(ServerStartError, match="interface 'wsgi'") as info:
        ServerProcess(liar).start()
    assert info.value.log_path is not None
    shutil.rmtree(info.value.log_path.parent)
    with no_new_children(), pytest.raises(ServerStartError, match="not ready after 0 s") as info:
        ServerProcess(STACKS["gunicorn-sync"], start_timeout=0).start()
    assert info.value.log_path is not None
    shutil.rmtree(info.value.log_path.parent)


@pytest.mark.parametrize("name", stack_params(["uvicorn", "gunicorn-asgi"]))
def test_one_worker(name: str) -> None:
    # uvicorn with one worker has no supervisor: the root process is the worker.
    spec = STACKS[name].with_options(workers=1)
    with no_new_children(), ServerProcess(spec, start_timeout=10) as server:
        pids = tree_pids(server.pid)
        assert len(pids) == 1 + spec.child_processes()
        assert download(f"{server.base_url}/ping").status == 200
    assert_gone(pids)
