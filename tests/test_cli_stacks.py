"""``python -m compare stacks`` and ``serve`` as subprocesses, the way a person runs them."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

import psutil
import pytest

from compare import REPO_ROOT
from compare.servers.stacks import STACKS
from compare.system.download import download
from tests.helpers import (
    REPORT_FIXTURE,
    assert_gone,
    no_new_children,
    run_compare,
    start_compare,
)


def test_stacks_lists_every_stack_with_its_command_line() -> None:
    done = run_compare("stacks")
    assert done.returncode == 0, done.stderr
    for name, spec in STACKS.items():
        assert f"{name}  [{spec.interface}]" in done.stdout
    assert "--no-control-socket" in done.stdout
    assert "-m uvicorn" in done.stdout and "--loop uvloop" in done.stdout


def test_stacks_json_is_machine_readable() -> None:
    done = run_compare("stacks", "--json")
    assert done.returncode == 0, done.stderr
    stacks = {entry["name"]: entry for entry in json.loads(done.stdout)}
    assert set(stacks) == set(STACKS)
    assert stacks["gunicorn-sync"]["timeout"] == STACKS["gunicorn-sync"].timeout
    assert stacks["uvicorn"]["argv"][1:3] == ["-m", "uvicorn"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["serve", "nginx-magic"], "unknown stack 'nginx-magic'; valid stacks: gunicorn-sync"),
        (
            ["serve", "gunicorn-sync", "--threads", "4"],
            "gunicorn-sync: gunicorn's sync worker has no thread setting",
        ),
        (["serve", "uvicorn", "--workers", "0"], "workers must be at least 1"),
        (["encode-bench", "--rows", "0"], "--rows must be at least 1, got 0"),
        (["encode-bench", "--repeat", "0"], "--repeat must be at least 1, got 0"),
        (["measure-once", "--rows", "-5"], "--rows must not be negative, got -5"),
        (["encode-bench", "--stacks", "tomcat"], "unknown stack 'tomcat'; valid: all"),
        (["measure-once", "--repeat", "0"], "--repeat must be at least 1"),
        (["measure-once", "uvicorn,tomcat"], "unknown stack 'tomcat'; valid: all"),
    ],
)
def test_bad_input_is_one_line_and_nonzero(args: list[str], expected: str) -> None:
    done = run_compare(*args)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("compare: error: ")
    assert expected in done.stderr


@pytest.mark.parametrize(
    ("variable", "args", "expected"),
    [
        ("DSC_STACKS", ["encode-bench"], "$DSC_STACKS='tomcat': unknown stack 'tomcat'"),
        ("DSC_STACKS", ["ui"], "$DSC_STACKS='tomcat': unknown stack 'tomcat'"),
        ("DSC_STACKS", ["bench"], "$DSC_STACKS='tomcat': unknown stack 'tomcat'"),
        ("DSC_SCENARIOS", ["bench"], "$DSC_SCENARIOS='tomcat': unknown scenario 'tomcat'"),
        ("DSC_PLACEMENT", ["measure-once"], "$DSC_PLACEMENT='tomcat': unknown placement"),
        # The flag given wins, and its error is the flag's.
        ("DSC_STACKS", ["encode-bench", "--stacks", "jetty"], "error: unknown stack 'jetty'"),
    ],
)
def test_a_bad_environment_variable_is_named(
    tmp_path: Path, variable: str, args: list[str], expected: str
) -> None:
    out = ["--out", str(tmp_path)] if args == ["bench"] else []
    done = run_compare(*args, *out, env={variable: "tomcat"})
    # bench's refused options are usage errors (2), never its "a cell failed" (1).
    assert done.returncode == (2 if args == ["bench"] else 1)
    assert done.stderr.count("\n") == 1, done.stderr
    assert expected in done.stderr
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("raised", "shown"),
    [
        ("ValueError('percentile of no values')", "ValueError: percentile of no values"),
        # A server's socket closing under a write is not the terminal's reader leaving.
        ("BrokenPipeError(32, 'Broken pipe')", "BrokenPipeError: [Errno 32] Broken pipe"),
    ],
    ids=["ValueError", "BrokenPipeError"],
)
def test_a_bug_is_a_traceback_not_a_one_line_error(raised: str, shown: str) -> None:
    # An error deep in the report is a bug: its traceback must reach the terminal.
    code = (
        "import sys; from compare import cli; from compare.commands import figures\n"
        f"def broken(args): raise {raised}\n"
        "figures.run = broken\n"
        f"sys.exit(cli.main(['figures', {str(REPORT_FIXTURE)!r}]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert "Traceback" in done.stderr and shown in done.stderr
    assert "compare: error" not in done.stderr


@pytest.mark.parametrize(
    "args", [["stacks"], ["figures", str(REPORT_FIXTURE)]], ids=["stacks", "figures"]
)
def test_a_reader_that_went_away_ends_it_quietly(args: list[str]) -> None:
    # `compare stacks | head`: the pipe's reader is gone before the command writes.
    read_end, write_end = os.pipe()
    os.close(read_end)
    with os.fdopen(write_end, "wb") as stdout:
        done = subprocess.run(
            [sys.executable, "-m", "compare", *args],
            cwd=REPO_ROOT,
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    assert done.stderr == ""
    assert done.returncode == 141  # as a command killed by SIGPIPE


def test_elsewhere_than_linux_the_command_line_is_one_line() -> None:
    code = "import runpy, sys; sys.platform = 'darwin'; runpy.run_module('compare', alter_sys=True)"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert done.stderr == (
        "compare: error: the harness needs Linux (/proc, CPU pinning); this is darwin\n"
    )


def _pump(stream: IO[str], lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line)


@pytest.mark.server
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_serve_runs_until_signalled_and_leaves_nothing(sig: signal.Signals) -> None:
    lines: queue.Queue[str] = queue.Queue()
    with no_new_children():
        proc = start_compare(
            "serve",
            "gunicorn-gthread",
            "--port",
            "0",
            merge_stderr=True,
            # As a terminal would: Ctrl-C is a SIGINT that Python turns into KeyboardInterrupt.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.default_int_handler),
        )
        try:
            assert proc.stdout is not None
            threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True).start()
            url = ""
            while not url:
                line = lines.get(timeout=30)
                if " serving at " in line:
                    url = line.split(" serving at ")[1].split("/ ")[0]
            assert download(f"{url}/healthz").status == 200
            pids = {c.pid for c in psutil.Process(proc.pid).children(recursive=True)}
            assert len(pids) >= 3  # gunicorn master and two workers
            os.kill(proc.pid, sig)
            assert proc.wait(timeout=20) == 0
        finally:
            proc.kill()
            proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        assert_gone(pids)


def test_serve_on_a_taken_port_is_one_line() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        done = run_compare("serve", "uvicorn", "--port", str(port))
    assert done.returncode == 1
    assert done.stderr == f"compare: error: uvicorn: port {port} on 127.0.0.1 is in use\n"
