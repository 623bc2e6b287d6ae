"""Server stacks as data: what each one runs and the exact command line it builds."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import importlib.util
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from compare.config import parse_names
from compare.errors import CompareError
from compare.servers import options
from compare.servers.nginx import INSTALL_HINT as NGINX_HINT
from compare.servers.nginx import NGINX_WORKERS, find_nginx, nginx_version
from compare.servers.options import HttpParser, InvalidStackError, Loop, Server
from compare.servers.options import Interface as Interface
from compare.servers.prefork import LISTEN_FD
from compare.settings import DEFAULT_STACKS
from project.profiles import APP_PROFILES

# A reverse proxy in front of the server: nginx with proxy_buffering on or off.
Front = Literal["nginx-buffered", "nginx-unbuffered"]
FRONTS: tuple[Front, ...] = ("nginx-buffered", "nginx-unbuffered")
UPSTREAM_HOST = "127.0.0.1"  # a fronted server listens here, whatever the front's address

DEFAULT_WORKERS = 2
DEFAULT_THREADS = 4
# Gunicorn's sync worker kills a request that outlives --timeout, mid-body; 2M rows over a slow
# client can take minutes, so it gets ten. Workers that heartbeat while busy keep the default 30;
# uvicorn's supervisor gets the same for its health check (its 5 s default cut a 2M-row download
# when the worker's busy main thread kept its answering thread waiting: tests/test_sampler_live).
SYNC_TIMEOUT = 600
HEARTBEAT_TIMEOUT = 30
KEEPALIVE_SECONDS = 5
# Connections a worker takes on at once: gthread's --worker-connections default, made explicit,
# and the same cap for uvicorn, whose own default is none. Past it gthread stops accepting and
# uvicorn answers 503 at once; idle and dribbling connections count too, so a slow-loris client
# gets a refusal for everyone instead of exhausting memory and file descriptors. nginx in front
# is what stops slow clients (tests/test_slowloris.py has what each stack does).
WORKER_CONNECTIONS = 1000
# The same shutdown grace everywhere, so stopping a stack mid-download costs the same on each.
GRACEFUL_TIMEOUT = 5


@dataclass(frozen=True)
class AppTarget:
    """The Django application a stack serves: its entry point per interface, and where from."""

    wsgi: str = "project.wsgi:application"
    asgi: str = "project.asgi:application"
    # A directory the server puts on its import path and runs in; None: importable as it is
    # (this project: compare.servers.server puts the checkout on PYTHONPATH).
    pythonpath: Path | None = None
    # What readiness asks: this project's /healthz, or the wrapper's own path for a user's
    # project (compare.servers.appwrap); either answers JSON naming the interface.
    ready_path: str = "/healthz"

    def entry(self, interface: Interface) -> str:
        """The ``module:attribute`` a server loads for ``interface``."""
        return self.wsgi if interface == "wsgi" else self.asgi


PROJECT_APP = AppTarget()


class UnknownStackError(CompareError, LookupError):
    """A stack name that is not in the registry."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"unknown stack {name!r}; valid stacks: {', '.join(STACKS)}")


@dataclass(frozen=True)
class StackSpec:
    """One server stack: interface, server, worker model, and the settings a report must show.

    Every field is what the stack runs: the command line comes from it, and a value its server
    cannot honour (compare.servers.options) fails here, when the spec is built.
    """

    name: str
    interface: Interface
    server: Server
    worker_class: str
    loop: Loop | None  # None: no event loop (a thread or process per request)
    http_parser: HttpParser
    workers: int = DEFAULT_WORKERS
    threads: int | None = None  # None: the server has no thread setting
    keepalive: bool = True
    keepalive_timeout: int | None = KEEPALIVE_SECONDS  # None: the server has no such setting
    timeout: int | None = None  # worker timeout in seconds; None: the server has none
    # Per-worker cap on concurrent connections; None: no cap, or the server has no such setting.
    limit_concurrency: int | None = None
    graceful_timeout: int = GRACEFUL_TIMEOUT
    # Whether a body piece waits for the client: without it a slow reader's export runs ahead
    # into the server's memory instead of pausing.
    backpressure: bool = True
    requires: tuple[str, ...] = ()
    install_hint: str = "pip install -e ."
    notes: tuple[str, ...] = ()
    front: Front | None = None  # None: clients talk to the server directly
    # The Django app profile this stack serves (project.profiles); None: the run's (--app).
    app_profile: str | None = None

    def __post_init__(self) -> None:
        found = self.problems()
        if found:
            raise InvalidStackError(self.name, found)

    def problems(self) -> list[str]:
        """What this stack asks that its server cannot honour (empty: it runs as labelled)."""
        return options.problems(self)

    def argv(
        self,
        host: str,
        port: int,
        run_dir: Path,
        python: str = sys.executable,
        upstream_port: int | None = None,
        app: AppTarget = PROJECT_APP,
    ) -> list[str]:
        """Build the exact command line that serves ``app`` with this stack on ``host:port``.

        A fronted stack runs ``compare.servers.proxy``: nginx on ``host:port`` and the server on
        127.0.0.1:``upstream_port`` (ServerProcess picks a free one; without it, an example:
        the port after ``port``, or 0 for an example with port 0).
        """
        if self.front is not None:
            if upstream_port is None:
                upstream_port = port + 1 if port else 0
            return self._front_argv(host, port, run_dir, python, upstream_port, app)
        target = [*self._app_path_args(app), app.entry(self.interface)]
        if self.server == "gunicorn":
            return [python, "-m", "gunicorn", *self._gunicorn_args(host, port, run_dir), *target]
        if self.server == "uvicorn":
            return [python, "-m", "uvicorn", *self._uvicorn_args(host, port), *target]
        if self.server == "daphne":
            return [*self._daphne_argv(host, port, python), *target]
        return [python, "-m", "granian", *self._granian_args(host, port), *target]

    def _app_path_args(self, app: AppTarget) -> list[str]:
        """The arguments that put ``app``'s directory on the server's import path."""
        if app.pythonpath is None:
            return []
        known = options.accepts(self)
        flag = None if known is None else known.pythonpath_flag
        if flag is None:
            # daphne: the server's PYTHONPATH carries it (compare.servers.server).
            return []
        if flag == "--pythonpath" and "," in str(app.pythonpath):
            # gunicorn splits its --pythonpath at commas.
            raise InvalidStackError(self.name, [f"gunicorn cannot import from {app.pythonpath}"])
        return [flag, str(app.pythonpath)]

    def _front_argv(
        self, host: str, port: int, run_dir: Path, python: str, upstream_port: int, app: AppTarget
    ) -> list[str]:
        buffering = "on" if self.front == "nginx-buffered" else "off"
        args = [
            python,
            "-m",
            "compare.servers.proxy",
            "--host",
            host.strip("[]"),
            "--port",
            str(port),
        ]
        args += ["--upstream-port", str(upstream_port), "--buffering", buffering]
        args += ["--prefix", str(run_dir / "nginx"), "--nginx", find_nginx() or "nginx"]
        inner = self.upstream().argv(UPSTREAM_HOST, upstream_port, run_dir, python, app=app)
        return [*args, "--", *inner]

    def upstream(self) -> StackSpec:
        """The server behind the front (this stack itself when it has none)."""
        if self.front is None:
            return self
        notes = tuple(note for note in self.notes if note != _FRONT_NOTES[self.front])
        return dataclasses.replace(self, name=self.name.partition("+")[2], front=None, notes=notes)

    def _gunicorn_args(self, host: str, port: int, run_dir: Path) -> list[str]:
        bind = f"[{host.strip('[]')}]:{port}" if ":" in host else f"{host}:{port}"
        args = ["--bind", bind, "--workers", str(self.workers), "--worker-class", self.worker_class]
        if self.threads is not None:
            args += ["--threads", str(self.threads)]
        if self.timeout is not None:
            args += ["--timeout", str(self.timeout)]
        if self.keepalive_timeout is not None:
            args += ["--keep-alive", str(self.keepalive_timeout)]
        if self.limit_concurrency is not None:
            args += ["--worker-connections", str(self.limit_concurrency)]
        args += ["--graceful-timeout", str(self.graceful_timeout)]
        # Gunicorn 27 opens a control socket under $XDG_RUNTIME_DIR or ~/.gunicorn by default:
        # a second instance would fight over it, and nothing here uses it.
        args += ["--no-control-socket", "--worker-tmp-dir", str(run_dir), "--log-level", "info"]
        args += options.choice_args(self)
        if self.worker_class == "asgi":
            args += ["--asgi-lifespan", "off"]
        return args

    def _uvicorn_args(self, host: str, port: int) -> list[str]:
        args = ["--host", host.strip("[]"), "--port", str(port), "--workers", str(self.workers)]
        args += [*options.choice_args(self), "--interface", "asgi3"]
        # Django does not speak the lifespan protocol; "auto" would only log that it failed.
        args += ["--lifespan", "off", "--no-access-log"]
        args += ["--timeout-keep-alive", str(self.keepalive_timeout)]
        if self.limit_concurrency is not None:
            args += ["--limit-concurrency", str(self.limit_concurrency)]
        args += ["--timeout-graceful-shutdown", str(self.graceful_timeout)]
        if self.timeout is not None:
            args += ["--timeout-worker-healthcheck", str(self.timeout)]
        return args

    def _daphne_argv(self, host: str, port: int, python: str) -> list[str]:
        # daphne has no worker processes of its own: compare.servers.prefork binds the socket and
        # runs one daphne per worker on it. Verbosity 0 is the only way to turn its access log off
        # (any verbosity above 0 writes one to stdout); it also quiets daphne's own INFO lines.
        # --http-timeout stays unset (none): a timeout would cut long exports mid-body.
        prefork = [
            python,
            "-m",
            "compare.servers.prefork",
            "--host",
            host.strip("[]"),
            "--port",
            str(port),
        ]
        prefork += ["--workers", str(self.workers), "--"]
        daphne = [python, "-m", "daphne", "--fd", str(LISTEN_FD), "--verbosity", "0"]
        daphne += ["--application-close-timeout", str(self.graceful_timeout)]
        return [*prefork, *daphne]

    def _granian_args(self, host: str, port: int) -> list[str]:
        # asginl: ASGI without the lifespan protocol, which Django does not speak (with "asgi"
        # every worker logs that lifespan failed), as uvicorn's --lifespan off.
        interface = "asginl" if self.interface == "asgi" else self.interface
        args = ["--interface", interface, "--host", host.strip("[]"), "--port", str(port)]
        args += ["--workers", str(self.workers), "--http", "1", "--no-ws", "--no-access-log"]
        args += ["--workers-kill-timeout", str(self.graceful_timeout)]
        if self.threads is not None:
            args += ["--blocking-threads", str(self.threads)]
        return [*args, *options.choice_args(self)]

    def child_processes(self) -> int:
        """How many worker processes to expect under the root once the stack is up."""
        if self.front is not None:
            # servers.proxy's children: the server's root, its workers, nginx's master and workers.
            return 1 + self.upstream().child_processes() + 1 + NGINX_WORKERS
        # uvicorn runs a single worker in its own process, with no supervisor above it.
        if self.server == "uvicorn" and self.workers == 1:
            return 0
        return self.workers

    def missing(self) -> str | None:
        """Say what to install when a module this stack needs is absent, else None."""
        absent = [mod for mod in options.modules(self) if importlib.util.find_spec(mod) is None]
        if absent:
            verb = "is" if len(absent) == 1 else "are"
            return f"{', '.join(absent)} {verb} not installed: {self.install_hint}"
        if self.front is not None and find_nginx() is None:
            return f"nginx is not installed: {NGINX_HINT}"
        return None

    def available(self) -> bool:
        """Tell whether every module this stack needs is installed."""
        return self.missing() is None

    def server_version(self) -> str | None:
        """Return the installed version of the server package, or None."""
        try:
            return importlib.metadata.version(self.server)
        except importlib.metadata.PackageNotFoundError:
            return None

    def front_version(self) -> str | None:
        """Return the version of the front's nginx, or None (no front, or nginx missing)."""
        binary = find_nginx() if self.front is not None else None
        version = nginx_version(binary) if binary is not None else None
        return None if version is None else ".".join(map(str, version))

    def with_options(self, workers: int | None = None, threads: int | None = None) -> StackSpec:
        """Return a copy with another worker or thread count; threads only where they exist."""
        return dataclasses.replace(
            self,
            workers=self.workers if workers is None else workers,
            threads=self.threads if threads is None else threads,
        )


_GUNICORN = ("gunicorn",)
_STACKS = (
    StackSpec(
        name="gunicorn-sync",
        interface="wsgi",
        server="gunicorn",
        worker_class="sync",
        loop=None,
        http_parser="gunicorn",
        keepalive=False,
        keepalive_timeout=None,
        timeout=SYNC_TIMEOUT,
        requires=_GUNICORN,
        notes=(
            "one request at a time per worker; closes the connection after every response",
            f"kills a request that outlives --timeout (set to {SYNC_TIMEOUT} s for long streams)",
        ),
    ),
    StackSpec(
        name="gunicorn-gthread",
        interface="wsgi",
        server="gunicorn",
        worker_class="gthread",
        loop=None,
        http_parser="gunicorn",
        threads=DEFAULT_THREADS,
        timeout=HEARTBEAT_TIMEOUT,
        limit_concurrency=WORKER_CONNECTIONS,
        requires=_GUNICORN,
        notes=("a thread pool per worker; the worker heartbeats while threads are busy",),
    ),
    StackSpec(
        name="gunicorn-gevent",
        interface="wsgi",
        server="gunicorn",
        worker_class="gevent",
        loop="gevent",
        http_parser="gunicorn",
        timeout=HEARTBEAT_TIMEOUT,
        limit_concurrency=WORKER_CONNECTIONS,
        requires=("gunicorn", "gevent"),
        notes=(
            "the sync view in a greenlet per request; the worker monkey-patches the standard "
            "library before it loads Django, so blocking socket I/O yields to other requests",
            "psycopg 3 (3.1.14 and later) cooperates with gevent by itself; SQLite's C calls "
            "block the worker",
            "--worker-connections caps the greenlets per worker; past it the worker stops "
            "accepting",
        ),
    ),
    StackSpec(
        name="uvicorn",
        interface="asgi",
        server="uvicorn",
        worker_class="uvicorn",
        loop="uvloop",
        http_parser="httptools",
        limit_concurrency=WORKER_CONNECTIONS,
        timeout=HEARTBEAT_TIMEOUT,
        requires=("uvicorn", "uvloop", "httptools"),
        notes=(
            "uvicorn's own supervisor spawns the workers (no copy-on-write sharing with it)",
            "its supervisor kills a worker whose health-check thread stays silent for "
            f"--timeout-worker-healthcheck (default 5 s; set to {HEARTBEAT_TIMEOUT} s: a worker "
            "streaming a large export on a busy CPU missed 5 s and its download was cut)",
        ),
    ),
    StackSpec(
        name="gunicorn-uvicorn",
        interface="asgi",
        server="gunicorn",
        worker_class="uvicorn_worker.UvicornWorker",
        loop="uvloop",
        http_parser="httptools",
        timeout=HEARTBEAT_TIMEOUT,
        requires=("gunicorn", "uvicorn_worker", "uvloop", "httptools"),
        notes=(
            "gunicorn forks uvicorn workers; its 'auto' picks uvloop and httptools when installed",
            "the worker runs lifespan 'auto' (no command-line switch for it)",
            "no connection cap: the worker does not pass --worker-connections on to uvicorn",
        ),
    ),
    StackSpec(
        name="gunicorn-asgi",
        interface="asgi",
        server="gunicorn",
        worker_class="asgi",
        loop="uvloop",
        http_parser="gunicorn",
        timeout=HEARTBEAT_TIMEOUT,
        requires=("gunicorn", "uvloop"),
        notes=(
            "gunicorn's own asyncio worker (new in 24), HTTP parsing in gunicorn (its C parser "
            "gunicorn_h1c when installed, which no dependency here is; else pure Python)",
            "no connection cap: gunicorn 27's asgi worker ignores --worker-connections",
        ),
    ),
    StackSpec(
        name="granian-wsgi",
        interface="wsgi",
        server="granian",
        worker_class="granian",
        loop=None,
        http_parser="hyper",
        threads=DEFAULT_THREADS,
        keepalive_timeout=None,
        requires=("granian",),
        notes=(
            "Rust I/O; the WSGI app runs on --blocking-threads per worker",
            "no worker timeout; no keep-alive idle setting",
        ),
    ),
    StackSpec(
        name="granian-asgi",
        interface="asgi",
        server="granian",
        worker_class="granian",
        loop="uvloop",
        http_parser="hyper",
        keepalive_timeout=None,
        requires=("granian", "uvloop"),
        notes=(
            "Rust I/O, the app on a uvloop event loop (--interface asginl: no lifespan)",
            "no worker timeout; no keep-alive idle setting",
        ),
    ),
    StackSpec(
        name="daphne",
        interface="asgi",
        server="daphne",
        worker_class="daphne",
        loop="asyncio",
        http_parser="twisted",
        keepalive_timeout=None,
        backpressure=False,
        requires=("daphne",),
        notes=(
            "one daphne process per worker on a socket that compare.servers.prefork shares "
            "(daphne --fd), "
            "as daphne's documentation deploys it",
            "Twisted's asyncio reactor on a plain asyncio loop (daphne cannot use uvloop); "
            "HTTP parsing in Twisted, pure Python",
            "no backpressure: daphne queues each body piece in Twisted's write buffer without "
            "waiting, so a slow client makes the export run ahead into server memory",
            "no worker timeout; no keep-alive idle setting; no connection cap",
        ),
    ),
)

_FRONT_NOTES: Mapping[Front, str] = {
    "nginx-buffered": (
        "nginx in front, proxy_buffering on (X-Accel-Buffering ignored): nginx reads the body "
        "as fast as the server sends it, spooling past its buffers to a temp file"
    ),
    "nginx-unbuffered": (
        "nginx in front, proxy_buffering off: each piece is passed on as it arrives"
    ),
}


def fronted(spec: StackSpec, front: Front) -> StackSpec:
    """The stack ``FRONT+NAME``: ``spec`` behind nginx on loopback (see compare.servers.proxy)."""
    if spec.front is not None:
        raise ValueError(f"{spec.name} already has a front")
    return dataclasses.replace(
        spec, name=f"{front}+{spec.name}", front=front, notes=(_FRONT_NOTES[front], *spec.notes)
    )


STACKS: Mapping[str, StackSpec] = {
    spec.name: spec
    for spec in (*_STACKS, *(fronted(base, front) for base in _STACKS for front in FRONTS))
}
# 'all' means every server stack on its own; nginx-fronted ones are asked for by name or alias.
STACK_ALIASES = {
    "all": tuple(name for name, spec in STACKS.items() if spec.front is None),
    "nginx": tuple(
        name
        for name, spec in STACKS.items()
        if spec.front and spec.upstream().name in DEFAULT_STACKS
    ),
    "everything": tuple(STACKS),
}


def stack_names(raw: str, *, repeats: bool = False) -> tuple[str, ...]:
    """A ``--stacks`` value, the same in every command: names and aliases (all, nginx,
    everything); repeats dropped, or with ``repeats`` numbered (an A/A calibration)."""
    return parse_names(raw, STACKS, "stack", STACK_ALIASES, repeats=repeats)


def get_stack(name: str) -> StackSpec:
    """Return the registered stack called ``name`` or raise UnknownStackError.

    ``uvicorn#2`` is the registry's ``uvicorn`` under that name: a stack named twice in one run
    (an A/A calibration, the stack against itself) is started and reported as two stacks.
    ``uvicorn@startproject`` serves that app profile whatever the run's ``--app``.
    """
    stem, mark, copy = name.partition("#")
    base, at, app = stem.partition("@")
    try:
        spec = STACKS[base]
    except KeyError:
        raise UnknownStackError(name) from None
    if (mark and not copy.isdigit()) or (at and app not in APP_PROFILES):
        raise UnknownStackError(name)
    if not mark and not at:
        return spec
    return dataclasses.replace(spec, name=name, app_profile=app or None)


def stack_parts(name: str) -> tuple[str, str | None, str]:
    """(registry name, app profile or None, copy number or '') of 'uvicorn@startproject#2'."""
    stem, _, copy = name.partition("#")
    base, _, app = stem.partition("@")
    return base, app or None, copy
