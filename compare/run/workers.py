"""How many workers each stack runs: the same number for all, or each server's own recommendation.

A comparison at one worker count favours whichever server that count suits: two sync workers queue a
third download, while two event loops take any number. ``--workers auto`` gives every server what
its own documentation recommends for the CPUs the servers are pinned to (compare.system.placement;
on 2 cores with the default split they get 1), so each stack is configured the way its users are
told to configure it. The rule, its source and the resulting counts are recorded with each stack in
the results.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from compare.config import BenchConfig
from compare.servers.stacks import StackSpec
from compare.system.placement import available_cpus

GUNICORN_DESIGN = "https://gunicorn.org/design/#how-many-workers"
GUNICORN_THREADS = "https://gunicorn.org/reference/settings/#threads"
GRANIAN_README = "https://github.com/emmett-framework/granian#processes-and-threads"

Rule = Literal["fixed", "sync", "gthread", "event-loop"]


@dataclass(frozen=True)
class WorkerChoice:
    """A stack's worker (and thread) count and why it has it."""

    stack: str
    rule: Rule
    cpus: int  # the CPUs the rule was applied to
    workers: int
    threads: int | None
    concurrency: int | None  # requests one stack serves at once, where the count sets it
    reason: str
    source: str | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, for the results document."""
        return asdict(self)


def server_cpus(config: BenchConfig) -> int:
    """How many CPUs the servers run on: the pinned set, or every CPU we may use."""
    return len(config.server_cpus) if config.server_cpus else len(available_cpus())


def choose(spec: StackSpec, config: BenchConfig) -> WorkerChoice:
    """The worker count ``config`` gives ``spec`` (the server behind a front, for fronted ones)."""
    cores = server_cpus(config)
    server = spec.upstream()
    if config.workers != "auto":
        n = config.workers
        concurrency = n if server.worker_class == "sync" else None
        if server.worker_class == "gthread" and server.threads:
            concurrency = n * server.threads
        return WorkerChoice(
            spec.name, "fixed", cores, n, server.threads, concurrency,
            f"--workers {n}: every stack the same number of worker processes", None,
        )  # fmt: skip
    if server.worker_class == "sync":
        # Gunicorn's design page ("How many workers?"): start with (2 x num_cores) + 1; a sync
        # worker serves one request at a time, and while one waits on the network another
        # computes.
        n = 2 * cores + 1
        return WorkerChoice(
            spec.name, "sync", cores, n, None, n,
            f"gunicorn sync: (2 x {cores} cores) + 1 = {n} workers, one request each "
            "(gunicorn's documented starting point)",
            GUNICORN_DESIGN,
        )  # fmt: skip
    if server.worker_class == "gthread":
        # The same (2 x num_cores) + 1 processes, each with --threads from the documented
        # "2-4 x $(NUM_CORES)" range of that setting (its low end: the processes multiply it).
        # gthread serves workers x threads requests at once.
        n, threads = 2 * cores + 1, 2 * cores
        return WorkerChoice(
            spec.name, "gthread", cores, n, threads, n * threads,
            f"gunicorn gthread: (2 x {cores} cores) + 1 = {n} workers x {threads} threads "
            f"(2 x cores, the low end of --threads' documented 2-4 x cores) = {n * threads} "
            "requests at once",
            f"{GUNICORN_DESIGN} and {GUNICORN_THREADS}",
        )  # fmt: skip
    # Event loops (uvicorn, gunicorn's gevent, uvicorn and asgi workers, granian, daphne): one
    # process runs Python on one core at a time and serves many requests from its loop, so one
    # per core. Granian's README: "matching the amount of CPU cores for the workers is generally
    # the best starting point"; granian-wsgi keeps its blocking threads (the README's default
    # advice), which set how many WSGI requests a worker serves at once.
    blocking = server.threads if server.server == "granian" else None
    return WorkerChoice(
        spec.name, "event-loop", cores, cores, blocking, None,
        f"{server.server} ({server.worker_class}): one event-loop worker per core = {cores}",
        GRANIAN_README if server.server == "granian" else None,
    )  # fmt: skip


def sized(spec: StackSpec, config: BenchConfig) -> StackSpec:
    """``spec`` with the worker and thread counts ``config`` gives it."""
    choice = choose(spec, config)
    threads = choice.threads if spec.threads is not None else None
    return spec.with_options(workers=choice.workers, threads=threads)
