"""The scenario catalog as plain data: importable by the runner without locust (no gevent patching).

Each scenario names the locust user classes that make it up (pass them as positional arguments to
``locust``), the request types it reports (the stats rows read "<type> <scenario>", e.g.
"TTFB download") and the parameters the runner should use unless told otherwise.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from loadtests.options import OPTIONS

# Request types fired by the scenarios (the "Type" column of locust's stats).
TTFB = "TTFB"  # request sent -> first byte of the body (not of the headers); no bytes counted
DOWNLOAD = "DOWNLOAD"  # request sent -> last byte of a verified body; response_length = body bytes
PING = "PING"  # the head-of-line probe: request sent -> whole "pong" response
HEALTHZ = "HEALTHZ"  # only as a failure: the mismatch scenario could not learn the interface

LOCUSTFILE = Path(__file__).resolve().with_name("locustfile.py")
# Load shapes for the web UI only (a shape in LOCUSTFILE would take over headless runs too).
SHAPES_FILE = Path(__file__).resolve().with_name("shapes.py")
LoadKind = Literal["concurrency", "rate"]


@dataclass(frozen=True)
class ScenarioInfo:
    """One scenario: its user classes, what it reports and the parameters it runs with."""

    name: str
    user_classes: tuple[str, ...]
    description: str
    request_types: tuple[str, ...]
    # Custom locust options (dest names of loadtests.options.OPTIONS) the runner should pass.
    params: Mapping[str, int | float | str] = field(default_factory=dict)
    users: int = 4  # a sensible default concurrency
    min_users: int = 1  # fewer and the scenario does not do what it says
    # Measured in a steady state: the window opens a settling time after every user was
    # spawned, and requests still running when it closes are waited for (their latency counts).
    # False where one download outlasts any cell (slow clients): the window opens with the
    # first request, because their arrival and the queueing it causes is what is measured.
    steady: bool = True
    # The open-loop classes (loadtests.arrivals) for an arrival-rate load; none: not offered.
    arrival_classes: tuple[str, ...] = ()

    def classes(self, kind: LoadKind = "concurrency") -> tuple[str, ...]:
        """The user classes for a closed-loop (concurrency) or open-loop (rate) load."""
        return self.user_classes if kind == "concurrency" else self.arrival_classes


_BODY = (TTFB, DOWNLOAD)

SCENARIOS: Mapping[str, ScenarioInfo] = MappingProxyType(
    {
        info.name: info
        for info in (
            ScenarioInfo(
                "download",
                ("DownloadUser",),
                "Download a large export in full, back to back: throughput, TTFB, last byte.",
                _BODY,
                arrival_classes=("DownloadArrivals",),
            ),
            ScenarioInfo(
                "first-byte",
                ("FirstByteUser",),
                "Request a huge export, read the first body byte, hang up: TTFB whatever the size.",
                (TTFB,),
                arrival_classes=("FirstByteArrivals",),
            ),
            ScenarioInfo(
                "slow-client",
                ("SlowClientUser",),
                "More users than workers, reading at --read-kbps: worker occupancy, backpressure.",
                _BODY,
                # On loopback the kernel absorbs about 3.7 MB per connection (the server's send
                # buffer grows to ~3.5 MB, the client's receive buffer ~0.2 MB) before the
                # server's write blocks: 100k rows (~5.9 MB, ~23 s at 256 KiB/s) hold a worker
                # for about 9 s of each download.
                params={"rows": 100_000},
                users=8,
                steady=False,
                arrival_classes=("SlowClientArrivals",),
            ),
            ScenarioInfo(
                "head-of-line",
                ("HeadOfLineDownloadUser", "PingProbeUser"),
                "Background downloads plus one probe user on /ping at --ping-rate: probe p50/p99.",
                (*_BODY, PING),
                users=5,
                min_users=2,  # the probe is one user (fixed_count = 1); the rest download
                arrival_classes=("HeadOfLineArrivals", "PingProbeUser"),
            ),
            ScenarioInfo(
                "upstream-latency",
                ("UpstreamLatencyUser",),
                "Downloads with --delay-ms of server-side wait per piece: the I/O-bound case.",
                _BODY,
                arrival_classes=("UpstreamLatencyArrivals",),
            ),
            ScenarioInfo(
                "buffered",
                ("BufferedUser",),
                "download with mode=buffered (Content-Length): the baseline, TTFB grows with size.",
                _BODY,
                arrival_classes=("BufferedArrivals",),
            ),
            ScenarioInfo(
                "mismatch",
                ("MismatchUser",),
                "download with the iterator forced to the other kind than the server's interface.",
                _BODY,
            ),
            ScenarioInfo(
                "ping",
                ("PingUser",),
                "Tiny requests on /ping back to back, no export: the per-request cost of the "
                "stack and its middleware (compare --app minimal,startproject).",
                (PING,),
            ),
        )
    }
)


def user_classes(scenarios: Sequence[str], kind: LoadKind = "concurrency") -> list[str]:
    """Return the user class names that make up ``scenarios``, in order, without repeats."""
    names: list[str] = []
    for scenario in scenarios:
        try:
            info = SCENARIOS[scenario]
        except KeyError:
            raise KeyError(
                f"unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)}"
            ) from None
        if not info.classes(kind):
            raise KeyError(f"scenario {scenario!r} has no {kind} load")
        names += [name for name in info.classes(kind) if name not in names]
    return names


def option_args(params: Mapping[str, int | float | str]) -> list[str]:
    """Turn custom option values (by dest name, e.g. ``read_kbps``) into command-line arguments."""
    args: list[str] = []
    for dest, value in params.items():
        if dest not in OPTIONS:
            raise KeyError(f"unknown loadtest option {dest!r}; known: {', '.join(OPTIONS)}")
        args += [OPTIONS[dest].flag, str(value)]
    return args


def locust_command(
    scenarios: Sequence[str],
    *,
    host: str,
    users: int,
    run_time_s: float,
    csv_prefix: str | Path | None = None,
    spawn_rate: float | None = None,
    stop_timeout_s: float = 0,
    params: Mapping[str, int | float | str] | None = None,
    python: str = sys.executable,
    kind: LoadKind = "concurrency",
    processes: int = 0,
    master_port: int | None = None,
) -> list[str]:
    """Build the headless locust command line for ``scenarios`` (catalog params, then ours).

    ``processes``: locust's distributed mode on this machine, a master and that many forked
    workers talking on loopback ``master_port``. ``run_time_s`` is locust's --run-time; the
    harness passes a backstop there and stops the load itself (--stop-after-spawn), which
    also waits for a distributed run's workers to drain.
    """
    merged: dict[str, int | float | str] = {}
    for scenario in scenarios:
        merged.update(SCENARIOS[scenario].params)
    merged.update(params or {})
    argv = [python, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", host]
    argv += ["--users", str(users), "--spawn-rate", f"{spawn_rate or users:g}"]
    if processes:
        if master_port is None:
            raise ValueError("a distributed run needs a master port")
        argv += ["--processes", str(processes), "--expect-workers-max-wait", "60"]
        argv += ["--master-bind-host", "127.0.0.1", "--master-bind-port", str(master_port)]
        argv += ["--master-host", "127.0.0.1", "--master-port", str(master_port)]
    argv += ["--run-time", f"{max(1, round(run_time_s))}s", "--only-summary"]
    # At the stop, each user finishes the request it is in (up to this long), then stops ...
    argv += ["--stop-timeout", f"{stop_timeout_s:g}"]
    # ... and a run with failures still exits 1 by default: the caller reads the records instead.
    argv += ["--exit-code-on-error", "0"]
    if csv_prefix is not None:
        argv += ["--csv", str(csv_prefix)]
    argv += option_args(merged)
    return [*argv, *user_classes(scenarios, kind)]
