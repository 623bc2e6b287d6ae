"""nginx in front of a stack: the one configuration template (local bench and docker), the binary.

The local stacks ``nginx-buffered+STACK`` / ``nginx-unbuffered+STACK`` and the docker ``nginx``
service render their configuration here, from the same blocks: only the listen address, the
upstream addresses and the path prefixes differ. The docker files are renderings checked in:
``python -m compare.servers.nginx docker`` rewrites them, ``--check`` fails when they are stale.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from compare import REPO_ROOT
from compare.settings import DSC_NGINX

NGINX_WORKERS = 1
UPSTREAM_KEEPALIVE = 16
# Below every stack's own 5 s keep-alive: nginx drops an idle upstream connection before the
# server does, so it never reuses one the server is closing (a spurious 502).
UPSTREAM_KEEPALIVE_TIMEOUT_S = 4
CLIENT_KEEPALIVE_TIMEOUT_S = 5  # the stacks' own idle timeout, so the front changes nothing there
CONF_NAME = "nginx.conf"
INSTALL_HINT = "sudo apt-get install nginx (Debian/Ubuntu; 'make system-packages' does it)"
# Where Debian and source builds put the binary, often outside a normal user's PATH.
_SEARCH = ("/usr/sbin", "/usr/local/sbin", "/usr/local/nginx/sbin", "/usr/bin")
_VERSION = re.compile(r"nginx/(\d+)\.(\d+)\.(\d+)")
# "-e stderr" (the error log before the configuration is read) arrived in nginx 1.19.5.
_ERROR_LOG_FLAG_SINCE = (1, 19, 5)

# The docker compose services: every one listens on this port inside its own container.
DOCKER_APP_PORT = 8000
DOCKER_NGINX_PORT = 8080
DOCKER_DEFAULT_STACKS = ("gunicorn-sync", "uvicorn")
DOCKER_MORE_STACKS = (
    "gunicorn-gthread",
    "gunicorn-uvicorn",
    "gunicorn-asgi",
    "granian-wsgi",
    "granian-asgi",
    "gunicorn-gevent",
    "daphne",
)
DOCKER_DIR = REPO_ROOT / "docker"
DOCKER_CONFS = {
    "nginx.conf": DOCKER_DEFAULT_STACKS,
    "nginx-more.conf": DOCKER_DEFAULT_STACKS + DOCKER_MORE_STACKS,
}


@dataclass(frozen=True)
class Upstream:
    """An upstream block: a name and the one server it holds."""

    name: str
    address: str  # host:port


@dataclass(frozen=True)
class Route:
    """A proxied location: requests under ``prefix`` go to ``upstream``, with the prefix cut."""

    prefix: str
    upstream: str
    buffering: bool


def upstream_name(stack: str) -> str:
    """The upstream block's name for a stack (never a resolvable host name)."""
    return f"stack-{stack}"


def _upstream(upstream: Upstream) -> list[str]:
    return [
        f"upstream {upstream.name} {{",
        f"    server {upstream.address};",
        f"    keepalive {UPSTREAM_KEEPALIVE};",
        f"    keepalive_timeout {UPSTREAM_KEEPALIVE_TIMEOUT_S}s;",
        "}",
    ]


def _location(route: Route) -> list[str]:
    lines = [
        f"location {route.prefix} {{",
        # The URI part "/" replaces the matched prefix, so the stack sees its own paths.
        f"    proxy_pass http://{route.upstream}/;",
        # The default 1.0 cannot carry a chunked response from the upstream, nor keep-alive.
        "    proxy_http_version 1.1;",
        '    proxy_set_header Connection "";',
        "    proxy_set_header Host $host;",
        f"    proxy_buffering {'on' if route.buffering else 'off'};",
    ]
    if route.buffering:
        # The export sends "X-Accel-Buffering: no"; honouring it would turn buffering off again.
        lines.append("    proxy_ignore_headers X-Accel-Buffering;")
    return [*lines, "}"]


def _indent(lines: list[str], depth: int) -> list[str]:
    return [("    " * depth + line) if line else "" for line in lines]


def render(
    listen: str,
    upstreams: Sequence[Upstream],
    routes: Sequence[Route],
    *,
    user: str | None = None,
    header: str = "",
    index: str | None = None,
) -> str:
    """The whole configuration; paths are relative to the prefix given with ``nginx -p``."""
    server = [f"listen {listen};"]
    if index is not None:
        server += [
            "location = / {",
            "    default_type text/plain;",
            f'    return 200 "{index}";',
            "}",
        ]
    for route in routes:
        server += _location(route)
    http = [
        "access_log off;",
        f"keepalive_timeout {CLIENT_KEEPALIVE_TIMEOUT_S}s;",
        "client_body_temp_path client_body_temp;",
        # Where a buffered response goes once the in-memory buffers are full.
        "proxy_temp_path proxy_temp;",
        "fastcgi_temp_path fastcgi_temp;",
        "uwsgi_temp_path uwsgi_temp;",
        "scgi_temp_path scgi_temp;",
    ]
    for upstream in upstreams:
        http += ["", *_upstream(upstream)]
    http += ["", "server {", *_indent(server, 1), "}"]
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    if user is not None:
        lines.append(f"user {user};")
    lines += [
        f"worker_processes {NGINX_WORKERS};",
        "pid nginx.pid;",
        "error_log stderr warn;",
        "",
        "events {",
        "    worker_connections 1024;",
        "}",
        "",
        "http {",
        *_indent(http, 1),
        "}",
    ]
    return "\n".join(lines) + "\n"


def _listen(host: str, port: int) -> str:
    host = host.strip("[]")
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _worker_user() -> str | None:
    """As root, run the worker as root too: it writes temp files inside the bench's run dir."""
    if os.geteuid() != 0:
        return None  # nginx cannot switch users anyway; a user directive would only warn
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name


def render_local(host: str, port: int, upstream_port: int, buffering: bool) -> str:
    """The configuration of a local front: ``host:port`` proxying to 127.0.0.1:upstream_port."""
    name = upstream_name("app")
    return render(
        _listen(host, port),
        [Upstream(name, f"127.0.0.1:{upstream_port}")],
        [Route("/", name, buffering)],
        user=_worker_user(),
        header="Rendered by compare.servers.proxy (compare/servers/nginx.py) for a local front.",
    )


def docker_route_prefix(stack: str, buffering: bool) -> str:
    """The path under which the docker nginx serves a stack, e.g. /unbuffered/uvicorn/."""
    return f"/{'buffered' if buffering else 'unbuffered'}/{stack}/"


def render_docker(stacks: Sequence[str]) -> str:
    """The docker nginx configuration: each compose stack service, buffered and unbuffered."""
    upstreams = [Upstream(upstream_name(s), f"{s}:{DOCKER_APP_PORT}") for s in stacks]
    routes = [
        Route(docker_route_prefix(stack, buffering), upstream_name(stack), buffering)
        for stack in stacks
        for buffering in (False, True)
    ]
    index = "".join(f"{route.prefix}\\n" for route in routes)
    return render(
        str(DOCKER_NGINX_PORT),
        upstreams,
        routes,
        header=(
            "Generated by 'python -m compare.servers.nginx docker' from compare/servers/nginx.py:\n"
            "edit that, not this file. The same blocks serve the local nginx-*+STACK stacks."
        ),
        index=index,
    )


def find_nginx() -> str | None:
    """The nginx binary: $DSC_NGINX if set, else nginx on PATH or in the usual sbin dirs."""
    override = DSC_NGINX.value()
    if override:
        return override if os.access(override, os.X_OK) else None
    path = os.pathsep.join([os.environ.get("PATH", ""), *_SEARCH])
    return shutil.which("nginx", path=path)


def nginx_version(binary: str) -> tuple[int, int, int] | None:
    """The version ``nginx -v`` reports, or None when it cannot be run."""
    try:
        done = subprocess.run([binary, "-v"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = _VERSION.search(done.stderr + done.stdout)
    if match is None:
        return None
    major, minor, patch = (int(part) for part in match.groups())
    return (major, minor, patch)


def nginx_argv(binary: str, prefix: Path, conf: Path, *, test: bool = False) -> list[str]:
    """Run nginx in the foreground with everything it writes under ``prefix``."""
    argv = [binary, "-p", f"{prefix}/", "-c", str(conf)]
    version = nginx_version(binary)
    if version is None or version >= _ERROR_LOG_FLAG_SINCE:
        argv += ["-e", "stderr"]  # else it opens /var/log/nginx/error.log before the config
    return [*argv, "-t"] if test else [*argv, "-g", "daemon off;"]


def check_config(binary: str, conf: Path, prefix: Path) -> subprocess.CompletedProcess[str]:
    """Run ``nginx -t`` on a configuration; its temp dirs and pid file go under ``prefix``."""
    prefix.mkdir(parents=True, exist_ok=True)
    argv = nginx_argv(binary, prefix, conf, test=True)
    return subprocess.run(argv, capture_output=True, text=True, timeout=30)


def _docker(args: argparse.Namespace) -> int:
    stale = []
    for name, stacks in DOCKER_CONFS.items():
        path = args.dir / "nginx" / name
        text = render_docker(stacks)
        current = path.read_text() if path.exists() else None
        if current == text:
            continue
        if args.check:
            stale.append(str(path))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path}")
    if stale:
        print(
            f"stale: {', '.join(stale)}; run 'python -m compare.servers.nginx docker'",
            file=sys.stderr,
        )
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m compare.servers.nginx docker [--check]``: write (or check) the docker configs."""
    parser = argparse.ArgumentParser(
        prog="python -m compare.servers.nginx", description=main.__doc__
    )
    sub = parser.add_subparsers(dest="command", required=True)
    docker = sub.add_parser("docker", help="render docker/nginx/*.conf from this module")
    docker.add_argument("--check", action="store_true", help="fail if a file is out of date")
    docker.add_argument("--dir", type=Path, default=DOCKER_DIR, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    return _docker(args)


if __name__ == "__main__":
    sys.exit(main())
