"""The nginx front without a server: the template, the fronted stacks as data, the supervisor."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from compare.servers import nginx
from compare.servers.proxy import supervisor_argv
from compare.servers.stacks import FRONTS, STACKS, fronted
from compare.servers.supervisor import tick_pipe
from tests.helpers import alive, assert_gone

RUN_DIR = Path("/tmp/dsc-run")
NGINX = nginx.find_nginx()
needs_nginx = pytest.mark.skipif(
    NGINX is None, reason=f"nginx is not installed: {nginx.INSTALL_HINT}"
)
BASES = [name for name, spec in STACKS.items() if spec.front is None]


def location(conf: str, prefix: str) -> str:
    """The body of ``location PREFIX { ... }`` in a rendered configuration."""
    start = conf.index(f"location {prefix} {{")
    return conf[start : conf.index("}", start)]


# --- the template ---------------------------------------------------------------------------


@pytest.mark.parametrize("buffering", [False, True], ids=["unbuffered", "buffered"])
def test_local_config_streams_correctly(buffering: bool) -> None:
    conf = nginx.render_local("127.0.0.1", 8123, 8124, buffering)
    assert "listen 127.0.0.1:8123;" in conf
    assert "server 127.0.0.1:8124;" in conf
    assert f"keepalive {nginx.UPSTREAM_KEEPALIVE};" in conf
    body = location(conf, "/")
    assert "proxy_http_version 1.1;" in body  # 1.0 cannot carry chunked bodies nor keep-alive
    assert 'proxy_set_header Connection "";' in body
    assert f"proxy_buffering {'on' if buffering else 'off'};" in body
    # The export asks for no buffering; the buffered front must not listen, or it measures nothing.
    assert ("proxy_ignore_headers X-Accel-Buffering;" in body) is buffering
    for line in ("access_log off;", "worker_processes 1;", "pid nginx.pid;", "error_log stderr"):
        assert line in conf
    # Every path relative to the prefix (nginx -p RUN_DIR/nginx/): nothing outside the run dir.
    assert "/var/" not in conf and "/etc/" not in conf


def test_local_config_brackets_ipv6_and_runs_workers_as_us() -> None:
    conf = nginx.render_local("::1", 8123, 8124, False)
    assert "listen [::1]:8123;" in conf
    assert ("user " in conf) is (os.geteuid() == 0)


def test_docker_config_has_both_routes_per_stack() -> None:
    conf = nginx.render_docker(("gunicorn-sync", "uvicorn"))
    for stack in ("gunicorn-sync", "uvicorn"):
        assert f"server {stack}:{nginx.DOCKER_APP_PORT};" in conf
        for buffering in (False, True):
            body = location(conf, nginx.docker_route_prefix(stack, buffering))
            assert f"proxy_pass http://{nginx.upstream_name(stack)}/;" in body
            assert ("proxy_ignore_headers X-Accel-Buffering;" in body) is buffering
    assert f"listen {nginx.DOCKER_NGINX_PORT};" in conf
    assert "user " not in conf  # the image's own default user


def test_docker_configs_are_current(tmp_path: Path) -> None:
    for name, stacks in nginx.DOCKER_CONFS.items():
        committed = (nginx.DOCKER_DIR / "nginx" / name).read_text()
        assert committed == nginx.render_docker(stacks), (
            f"docker/nginx/{name} is stale: run 'python -m compare.servers.nginx docker'"
        )
    assert nginx.main(["docker", "--check"]) == 0
    assert nginx.main(["docker", "--check", "--dir", str(tmp_path)]) == 1
    assert nginx.main(["docker", "--dir", str(tmp_path)]) == 0
    assert nginx.main(["docker", "--check", "--dir", str(tmp_path)]) == 0


def test_find_nginx_honours_dsc_nginx(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DSC_NGINX", "/nonexistent/nginx")
    assert nginx.find_nginx() is None
    monkeypatch.setenv("DSC_NGINX", sys.executable)
    assert nginx.find_nginx() == sys.executable
    assert nginx.nginx_version(sys.executable) is None


@needs_nginx
@pytest.mark.parametrize("buffering", [False, True], ids=["unbuffered", "buffered"])
def test_nginx_accepts_the_local_config(buffering: bool, tmp_path: Path) -> None:
    assert NGINX is not None
    conf = tmp_path / "nginx.conf"
    conf.write_text(nginx.render_local("127.0.0.1", 8123, 8124, buffering))
    done = nginx.check_config(NGINX, conf, tmp_path / "prefix")
    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr


# --- the fronted stacks as data -------------------------------------------------------------


def test_every_stack_has_both_fronts() -> None:
    for base in BASES:
        for front in FRONTS:
            spec = STACKS[f"{front}+{base}"]
            assert spec.front == front
            assert spec.upstream() == STACKS[base]
            assert (spec.interface, spec.server, spec.workers) == (
                STACKS[base].interface,
                STACKS[base].server,
                STACKS[base].workers,
            )
    assert len(STACKS) == len(BASES) * (1 + len(FRONTS))
    with pytest.raises(ValueError, match="already has a front"):
        fronted(STACKS["nginx-buffered+uvicorn"], "nginx-unbuffered")


@pytest.mark.parametrize("front", FRONTS)
def test_fronted_argv_runs_the_proxy_then_the_server_on_loopback(front: str) -> None:
    spec = STACKS[f"{front}+gunicorn-gthread"].with_options(workers=3, threads=2)
    args = spec.argv("0.0.0.0", 8123, RUN_DIR, python="py", upstream_port=9000)
    head, inner = args[: args.index("--")], args[args.index("--") + 1 :]
    assert head[:3] == ["py", "-m", "compare.servers.proxy"]
    assert head[head.index("--host") + 1] == "0.0.0.0"
    assert head[head.index("--port") + 1] == "8123"
    assert head[head.index("--upstream-port") + 1] == "9000"
    assert head[head.index("--buffering") + 1] == ("on" if front == "nginx-buffered" else "off")
    assert head[head.index("--prefix") + 1] == str(RUN_DIR / "nginx")
    # The server itself: its own command line, on 127.0.0.1 whatever address nginx listens on.
    assert inner == STACKS["gunicorn-gthread"].with_options(workers=3, threads=2).argv(
        "127.0.0.1", 9000, RUN_DIR, python="py"
    )
    # Without a port (the listing's example) the server gets the next one.
    example = spec.argv("127.0.0.1", 8000, RUN_DIR)
    assert "--bind" in example and "127.0.0.1:8001" in example


def test_fronted_child_processes_count_nginx() -> None:
    # servers.proxy's children: the server's root and its workers, nginx's master and worker.
    assert STACKS["nginx-buffered+gunicorn-sync"].child_processes() == 1 + 2 + 2
    one = STACKS["nginx-unbuffered+uvicorn"].with_options(workers=1)
    assert one.child_processes() == 1 + 0 + 2


def test_missing_nginx_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DSC_NGINX", "/nonexistent/nginx")
    reason = STACKS["nginx-unbuffered+uvicorn"].missing()
    assert reason is not None and "nginx is not installed" in reason
    assert "apt-get install nginx" in reason
    assert STACKS["uvicorn"].missing() is None
    assert STACKS["nginx-unbuffered+uvicorn"].front_version() is None
    # A missing server module still comes first: that is what to install first.
    absent = dataclasses.replace(STACKS["nginx-buffered+uvicorn"], requires=("dsc_absent",))
    assert "dsc_absent" in (absent.missing() or "")


@needs_nginx
def test_front_version_is_nginx_s() -> None:
    version = STACKS["nginx-buffered+uvicorn"].front_version()
    assert version is not None and version.count(".") == 2
    assert STACKS["uvicorn"].front_version() is None


# --- the supervisor, with stand-ins for nginx and the server -------------------------------

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def _supervise(front: list[str], server: list[str]) -> subprocess.Popen[bytes]:
    tick = tick_pipe()
    try:
        return subprocess.Popen(
            supervisor_argv("bash", tick, front, server),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
            pass_fds=tick,
            # SIGINT as a terminal's shell would leave it: bash cannot trap a signal ignored at
            # its start, and a test run started in the background (make test from a script's
            # '&', some CI runners) ignores SIGINT.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
    finally:
        for fd in tick:
            os.close(fd)


def _children(pid: int, count: int) -> list[int]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        kids = [child.pid for child in psutil.Process(pid).children()]
        if len(kids) >= count:
            return kids
        time.sleep(0.02)
    raise AssertionError(f"pid {pid} has not started {count} children")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_supervisor_stops_both_on_a_signal_to_it_alone(sig: signal.Signals) -> None:
    proc = _supervise(SLEEPER, SLEEPER)
    try:
        kids = _children(proc.pid, 2)
        os.kill(proc.pid, sig)  # not the group: the supervisor must pass it on
        assert proc.wait(timeout=10) == 0
        assert_gone(kids)
    finally:
        proc.kill()
        proc.wait()
        assert proc.stderr is not None
        proc.stderr.close()


@pytest.mark.parametrize("which", ["server", "front"])
def test_supervisor_stops_the_other_when_one_exits(which: str) -> None:
    quitter = [sys.executable, "-c", "import time; time.sleep(0.5); raise SystemExit(3)"]
    front, server = (SLEEPER, quitter) if which == "server" else (quitter, SLEEPER)
    proc = _supervise(front, server)
    try:
        kids = _children(proc.pid, 2)
        assert proc.wait(timeout=10) == 3
        assert_gone(kids)
        assert proc.stderr is not None
        said = proc.stderr.read().decode()
        name = "the server" if which == "server" else "nginx"
        assert f"compare.servers.proxy: {name} (pid " in said and "exited with code 3" in said
    finally:
        proc.kill()
        proc.wait()
        assert proc.stderr is not None
        proc.stderr.close()


@pytest.mark.parametrize("which", ["server", "front"])
def test_supervisor_sees_a_child_that_exits_at_once(which: str) -> None:
    # As nginx does on a bad config: gone before the supervisor starts watching.
    front, server = (SLEEPER, ["false"]) if which == "server" else (["false"], SLEEPER)
    proc = _supervise(front, server)
    try:
        assert proc.wait(timeout=10) == 1
    finally:
        proc.kill()
        proc.wait()
        assert proc.stderr is not None
        proc.stderr.close()


def test_supervisor_exits_non_zero_even_when_a_child_exits_zero() -> None:
    proc = _supervise([sys.executable, "-c", "pass"], SLEEPER)
    try:
        assert proc.wait(timeout=10) == 1
    finally:
        proc.kill()
        proc.wait()
        assert proc.stderr is not None
        proc.stderr.close()
    assert not alive([proc.pid])
