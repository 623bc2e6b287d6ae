"""What each server honours (event loop, HTTP parser, threads, timeouts), the arguments that
choose it, and the check that a stack asks its server only for that."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from compare.errors import CompareError

if TYPE_CHECKING:
    from compare.servers.stacks import StackSpec

Interface = Literal["wsgi", "asgi"]
Server = Literal["gunicorn", "uvicorn", "granian", "daphne"]
# An event loop as its server's command line names it; gevent is the gevent worker's hub.
Loop = Literal["asyncio", "uvloop", "rloop", "gevent"]
# An HTTP/1 parser. "gunicorn" is gunicorn's own as gunicorn picks it (its C extension
# gunicorn_h1c when installed, else pure Python); "gunicorn-python" and "gunicorn-h1c" force one.
HttpParser = Literal[
    "h11", "httptools", "gunicorn", "gunicorn-python", "gunicorn-h1c", "hyper", "twisted"
]
Args = tuple[str, ...]


@dataclass(frozen=True)
class Accepts:
    """What one server (one gunicorn worker class) honours; each choice with the arguments
    that make it, () where the server has no other."""

    loops: Mapping[Loop | None, Args]  # None: no event loop (a thread or process per request)
    parsers: Mapping[HttpParser, Args]
    threads: bool = False  # a threads-per-worker setting
    connection_cap: bool = False  # a per-worker cap on connections (StackSpec.limit_concurrency)
    worker_timeout: bool = False
    keepalive_idle: bool = False  # an idle keep-alive timeout
    keepalive: bool = True  # False: closes the connection after every response
    backpressure: bool = True
    pythonpath_flag: str | None = None  # adds a directory to its import path; None: it cannot
    modules: tuple[str, ...] = ()  # what it imports beyond the server's own package


# The module each choice imports, to be installed (StackSpec.missing).
CHOICE_MODULES: Mapping[str, str] = {
    "uvloop": "uvloop",
    "rloop": "rloop",
    "gevent": "gevent",
    "h11": "h11",
    "httptools": "httptools",
    "gunicorn-h1c": "gunicorn_h1c",
}

_GUNICORN_PARSERS: Mapping[HttpParser, Args] = {
    "gunicorn": (),
    "gunicorn-python": ("--http-parser", "python"),
    "gunicorn-h1c": ("--http-parser", "fast"),
}
_NO_LOOP: Mapping[Loop | None, Args] = {None: ()}
_GUNICORN_PATH = "--pythonpath"

# Keyed by (server, worker class, interface); a stack whose key is not here is refused.
ACCEPTS: Mapping[tuple[Server, str, Interface], Accepts] = {
    ("gunicorn", "sync", "wsgi"): Accepts(
        _NO_LOOP,
        _GUNICORN_PARSERS,
        worker_timeout=True,
        keepalive=False,
        pythonpath_flag=_GUNICORN_PATH,
    ),
    ("gunicorn", "gthread", "wsgi"): Accepts(
        _NO_LOOP,
        _GUNICORN_PARSERS,
        threads=True,
        connection_cap=True,
        worker_timeout=True,
        keepalive_idle=True,
        pythonpath_flag=_GUNICORN_PATH,
    ),
    ("gunicorn", "gevent", "wsgi"): Accepts(
        {"gevent": ()},
        _GUNICORN_PARSERS,
        connection_cap=True,
        worker_timeout=True,
        keepalive_idle=True,
        pythonpath_flag=_GUNICORN_PATH,
    ),
    # gunicorn's own asyncio worker; it ignores --worker-connections.
    ("gunicorn", "asgi", "asgi"): Accepts(
        {"asyncio": ("--asgi-loop", "asyncio"), "uvloop": ("--asgi-loop", "uvloop")},
        _GUNICORN_PARSERS,
        worker_timeout=True,
        keepalive_idle=True,
        pythonpath_flag=_GUNICORN_PATH,
    ),
    # uvicorn's workers for gunicorn fix their loop and parser by class ("auto" picks uvloop and
    # httptools, which StackSpec.missing then requires) and take no --worker-connections.
    ("gunicorn", "uvicorn_worker.UvicornWorker", "asgi"): Accepts(
        {"uvloop": ()},
        {"httptools": ()},
        worker_timeout=True,
        keepalive_idle=True,
        pythonpath_flag=_GUNICORN_PATH,
        modules=("uvicorn_worker",),
    ),
    ("gunicorn", "uvicorn_worker.UvicornH11Worker", "asgi"): Accepts(
        {"asyncio": ()},
        {"h11": ()},
        worker_timeout=True,
        keepalive_idle=True,
        pythonpath_flag=_GUNICORN_PATH,
        modules=("uvicorn_worker",),
    ),
    # Its supervisor SIGKILLs a worker whose health-check thread has not answered in time.
    ("uvicorn", "uvicorn", "asgi"): Accepts(
        {"asyncio": ("--loop", "asyncio"), "uvloop": ("--loop", "uvloop")},
        {"h11": ("--http", "h11"), "httptools": ("--http", "httptools")},
        connection_cap=True,
        worker_timeout=True,
        keepalive_idle=True,
        pythonpath_flag="--app-dir",
    ),
    ("granian", "granian", "wsgi"): Accepts(
        _NO_LOOP, {"hyper": ()}, threads=True, pythonpath_flag="--working-dir"
    ),
    # granian refuses more than one blocking thread for ASGI.
    ("granian", "granian", "asgi"): Accepts(
        {loop: ("--loop", loop) for loop in ("asyncio", "uvloop", "rloop")},
        {"hyper": ()},
        pythonpath_flag="--working-dir",
    ),
    # Twisted's asyncio reactor on a plain asyncio loop; daphne imports from its working
    # directory and takes no other on its command line.
    ("daphne", "daphne", "asgi"): Accepts({"asyncio": ()}, {"twisted": ()}, backpressure=False),
}


class InvalidStackError(CompareError, ValueError):
    """A stack that asks its server for something the server cannot do."""

    def __init__(self, name: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{name}: {'; '.join(problems)}")


def accepts(spec: StackSpec) -> Accepts | None:
    """What ``spec``'s server honours, or None for a server the harness does not know."""
    return ACCEPTS.get((spec.server, spec.worker_class, spec.interface))


def choice_args(spec: StackSpec) -> Args:
    """The arguments that choose ``spec``'s event loop and HTTP parser."""
    known = accepts(spec)
    if known is None:
        return ()
    return (*known.loops.get(spec.loop, ()), *known.parsers.get(spec.http_parser, ()))


def modules(spec: StackSpec) -> tuple[str, ...]:
    """Every module ``spec`` imports: its ``requires`` and what its server and choices need."""
    known = accepts(spec)
    implied = [spec.server, *(known.modules if known else ())]
    chosen = [spec.http_parser] if spec.loop is None else [spec.loop, spec.http_parser]
    implied += [CHOICE_MODULES[c] for c in chosen if c in CHOICE_MODULES]
    return tuple(dict.fromkeys([*spec.requires, *implied]))


def _subject(spec: StackSpec) -> str:
    if spec.server == "gunicorn":
        return f"gunicorn's {spec.worker_class} worker"
    return f"{spec.server} ({spec.interface})" if spec.server == "granian" else spec.server


def _choose(subject: str, what: str, value: object, choices: Collection[object]) -> list[str]:
    if value in choices:
        return []
    named = ", ".join("none" if c is None else str(c) for c in choices)
    return [f"{subject} cannot run {what} {value!r} (it runs: {named})"]


def _stated(who: str, field: str, value: object, has: bool, setting: str) -> list[str]:
    """A setting the server has is stated (its default would be a label nobody wrote); one it
    lacks is None."""
    if (value is not None) == has:
        return []
    if has:
        return [f"{who} has a {setting}: {field} must say how long"]
    return [f"{who} has no {setting} ({field} must be None)"]


def problems(spec: StackSpec) -> list[str]:
    """What ``spec`` asks that its server cannot honour; empty when it can run as labelled."""
    known = accepts(spec)
    if known is None:
        return [
            f"the harness knows no {spec.server} with worker class {spec.worker_class!r} "
            f"serving {spec.interface} (compare.servers.options.ACCEPTS lists those it knows)"
        ]
    who = _subject(spec)
    found = _choose(who, "event loop", spec.loop, known.loops)
    found += _choose(who, "HTTP parser", spec.http_parser, known.parsers)
    if spec.workers < 1:
        found.append(f"workers must be at least 1, not {spec.workers}")
    if spec.threads is not None and not known.threads:
        found.append(f"{who} has no thread setting (threads must be None)")
    elif known.threads and (spec.threads is None or spec.threads < 1):
        found.append(f"threads must be at least 1, not {spec.threads}")
    if spec.limit_concurrency is not None and not known.connection_cap:
        found.append(f"{who} has no connection cap (limit_concurrency must be None)")
    found += _stated(who, "timeout", spec.timeout, known.worker_timeout, "worker timeout")
    if spec.keepalive != known.keepalive:
        does = "keeps connections alive" if known.keepalive else "closes after every response"
        found.append(f"{who} {does} (keepalive must be {known.keepalive})")
    idle = spec.keepalive_timeout
    found += _stated(
        who, "keepalive_timeout", idle, known.keepalive_idle, "keep-alive idle timeout"
    )
    if spec.backpressure != known.backpressure:
        waits = "waits for" if known.backpressure else "does not wait for"
        found.append(f"{who} {waits} the client (backpressure must be {known.backpressure})")
    return found
