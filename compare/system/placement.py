"""Where servers and the load generator run: CPU sets, decided once per run and recorded.

On a small machine the load generator and the server compete for the same cores, and where each
lands changes a single download's time by up to 40% (measured on a 2-core machine). The default,
``split``, gives the servers (and nginx or a database in their stack) the first CPUs and the
load generator and the harness itself the rest (a quarter, at least one), so cells are
repeatable and a saturated client shows as its own CPUs being busy. ``shared`` pins nothing.
Every pin the harness makes is made here, for the run that owns the placement (compare.run.run).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from compare.errors import CompareError

Mode = Literal["split", "shared"]
MODES: tuple[Mode, ...] = ("split", "shared")


@dataclass(frozen=True)
class Placement:
    """CPU sets for the servers and for the load generator (None: not pinned)."""

    mode: Mode | Literal["custom"]
    server_cpus: tuple[int, ...] | None
    client_cpus: tuple[int, ...] | None

    def describe(self) -> str:
        """One line for reports and logs."""
        server = ",".join(map(str, self.server_cpus)) if self.server_cpus else "any"
        client = ",".join(map(str, self.client_cpus)) if self.client_cpus else "any"
        return f"{self.mode}: servers on CPUs {server}, load generator on CPUs {client}"


NOT_PINNED = Placement("shared", None, None)


def available_cpus() -> tuple[int, ...]:
    """The CPUs this process may run on (Linux only, like every measurement here)."""
    if not hasattr(os, "sched_getaffinity"):
        raise CompareError("CPU placement needs Linux (os.sched_getaffinity is missing)")
    return tuple(sorted(os.sched_getaffinity(0)))


def choose(
    mode: Mode,
    server_cpus: tuple[int, ...] | None = None,
    client_cpus: tuple[int, ...] | None = None,
) -> Placement:
    """The run's placement: explicit CPU sets win over the mode."""
    if mode not in MODES:  # $DSC_PLACEMENT reaches here unchecked by argparse's choices
        raise CompareError(f"unknown placement {mode!r}; valid: {', '.join(MODES)}")
    cpus = available_cpus()
    for wanted, flag in ((server_cpus, "--server-cpus"), (client_cpus, "--client-cpus")):
        if wanted and not set(wanted) <= set(cpus):
            raise CompareError(
                f"{flag} {list(wanted)} is not within this machine's CPUs {list(cpus)}"
            )
    if server_cpus or client_cpus:
        return Placement("custom", server_cpus or None, client_cpus or None)
    if mode == "shared" or len(cpus) < 2:
        return Placement("shared", None, None)
    clients = max(1, len(cpus) // 4)
    return Placement("split", cpus[:-clients], cpus[-clients:])


@contextlib.contextmanager
def started_on(cpus: tuple[int, ...] | None) -> Iterator[None]:
    """Children this thread starts inside run on ``cpus`` (None: wherever it runs) from fork on.

    The CPUs are set in the child before exec, so every thread and process it ever starts has
    them: pinning a running server by its pid moved only its main thread, and the threads
    granian and gunicorn's gthread workers start early kept every CPU. Only the calling thread
    changes (sched_setaffinity on 0), and it gets its own CPUs back at the end.
    """
    if not cpus:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def pin_self(cpus: tuple[int, ...] | None) -> frozenset[int]:
    """Run this process (the harness: samplers, the sweep's client) on ``cpus``, if any; return
    the CPUs it ran on before, for ``unpin_self``."""
    before = frozenset(os.sched_getaffinity(0))
    if cpus:
        os.sched_setaffinity(0, cpus)
    return before


def unpin_self(cpus: frozenset[int]) -> None:
    """Run this process on ``cpus`` again (what ``pin_self`` returned)."""
    os.sched_setaffinity(0, cpus)
