"""The scenario catalog: each scenario one ``Scenario``, plain data the runner and the report
import without locust (no gevent patching).

A scenario says what its users do (its ``Step``: the export's query and how the body is read),
its window kind, whether a /ping probe runs beside it and whether it has an arrival-rate load;
everything else is made from that: the locust user classes (loadtests.scenarios makes them, named
here), the request types it reports (the stats rows read "<type> <scenario>", e.g. "TTFB
download"), the parameters the runner uses unless told otherwise, and how its report reads.
Adding a scenario is adding one entry to SCENARIOS.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from loadtests.options import OPTIONS, LoadOptions
from loadtests.record import Kind

# Request types fired by the scenarios (the "Type" column of locust's stats).
TTFB = "TTFB"  # request sent -> first byte of the body (not of the headers); no bytes counted
DOWNLOAD = "DOWNLOAD"  # request sent -> last byte of a verified body; response_length = body bytes
PING = "PING"  # a /ping request: request sent -> whole "pong" response
HEALTHZ = "HEALTHZ"  # only as a failure: the mismatch scenario could not learn the interface

LOCUSTFILE = Path(__file__).resolve().with_name("locustfile.py")
# Load shapes for the web UI only (a shape in LOCUSTFILE would take over headless runs too).
SHAPES_FILE = Path(__file__).resolve().with_name("shapes.py")
LoadKind = Literal["concurrency", "rate"]
# How a step reads its response: whole (download and verify the export), first-byte (hang up at
# the first body byte), throttled (the whole export at --read-kbps), ping (GET /ping, no export).
Read = Literal["whole", "first-byte", "throttled", "ping"]
# steady: the window opens a settling time after every user was spawned; cycled: it opens once
# as many downloads ended as there are users (each user's first, on average), where one download
# outlasts any settling time and the first arrivals' queue must drain before the state is steady.
# Either way requests still running when it closes are waited for.
WindowKind = Literal["steady", "cycled"]
_RECORD_KIND: Mapping[Read, Kind] = {
    "whole": "download",
    "first-byte": "first-byte",
    "throttled": "download",
    "ping": "ping",
}
_REPORTS: Mapping[Read, tuple[str, ...]] = {
    "whole": (TTFB, DOWNLOAD),
    "first-byte": (TTFB,),
    "throttled": (TTFB, DOWNLOAD),
    "ping": (PING,),
}


@dataclass(frozen=True)
class Step:
    """One request of a scenario: the export's query (the options', then these) and its reading."""

    read: Read = "whole"
    # Query parameters the scenario fixes, e.g. mode=buffered.
    fixed: Mapping[str, int | str] = field(default_factory=dict)
    # Query parameters taken from another option than the export's own: parameter -> option.
    from_options: Mapping[str, str] = field(default_factory=dict)
    # The iterator forced to the other kind than the server's interface, which each user asks
    # /healthz once: what Django does with a mismatched iterator.
    mismatched: bool = False

    @property
    def kind(self) -> Kind:
        """The raw record's kind of this request."""
        return _RECORD_KIND[self.read]

    @property
    def request_types(self) -> tuple[str, ...]:
        """What this request reports: its stats rows' types."""
        return _REPORTS[self.read]

    @property
    def built_first(self) -> bool:
        """Whether the server holds the whole body before its first byte: a buffered response,
        or a mismatched iterator Django reads to the end first."""
        return self.fixed.get("mode") == "buffered" or self.mismatched

    @property
    def rows_option(self) -> str:
        """The option that says how many rows each export has."""
        return self.from_options.get("rows", "rows")

    def query(self, options: LoadOptions, iterator: str | None = None) -> dict[str, int | str]:
        """The export's query parameters (``iterator``: the mismatched kind, once learnt)."""
        taken = {param: getattr(options, option) for param, option in self.from_options.items()}
        query = options.export_query(**{**taken, **self.fixed})
        if iterator is not None:
            query["iterator"] = iterator
        return query


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))


@dataclass(frozen=True)
class Scenario:
    """One scenario: what its users do, how it is measured and run, and how its report reads."""

    name: str
    description: str
    step: Step = Step()
    window: WindowKind = "steady"
    # Custom locust options (dest names of loadtests.options.OPTIONS) the runner should pass.
    params: Mapping[str, int | float | str] = field(default_factory=dict)
    users: int = 4  # a sensible default concurrency
    min_users: int = 1  # fewer and the scenario does not do what it says
    # A user beside the others probing /ping at --ping-rate (locust's fixed_count = 1), by the
    # name of its class; empty: none.
    probe_class: str = ""
    # Whether it has an arrival-rate (open-loop) class (loadtests.arrivals).
    open_loop: bool = True
    # Its report always says how many users got a first byte within the cell (slow readers
    # hold workers), not only when some went without.
    report_served: bool = False
    # Whether it runs at every level of a run's curve; False: at its own users only (what it
    # measures needs more users than workers, and a climb of slow readers only takes time).
    curve: bool = True
    user_class: str = ""  # its closed-loop class; empty: the name in CamelCase + "User"
    # What it asks of this project's export beyond fetching a URL; empty: it only fetches one,
    # so it runs on a user's URL too (bench --project).
    needs: str = ""

    @property
    def steady(self) -> bool:
        """Its window opens a settling time after spawning (see WindowKind)."""
        return self.window == "steady"

    @property
    def request_types(self) -> tuple[str, ...]:
        """What it reports: its requests' types, then the probe's."""
        return self.step.request_types + ((PING,) if self.probe_class else ())

    @property
    def closed_class(self) -> str:
        """The name of its closed-loop (concurrency) user class."""
        return self.user_class or _camel(self.name) + "User"

    @property
    def arrival_class(self) -> str | None:
        """The name of its open-loop (arrival-rate) user class; None: it has none."""
        return _camel(self.name) + "Arrivals" if self.open_loop else None

    @property
    def arrival_classes(self) -> tuple[str, ...]:
        """The classes of an arrival-rate load (the probe beside them); empty: not offered."""
        return self.classes("rate")

    def classes(self, kind: LoadKind = "concurrency") -> tuple[str, ...]:
        """The user classes for a closed-loop (concurrency) or open-loop (rate) load."""
        main = self.closed_class if kind == "concurrency" else self.arrival_class
        if main is None:
            return ()
        return (main, self.probe_class) if self.probe_class else (main,)


_STREAM = {"mode": "stream"}
# slow-client's body sizes: about twice the kernel's socket buffers (3.4 MB here), and under
# them; fixed by the scenario, since that is what it is about (--rows does not change them).
SLOW_ROWS = 120_000
SLOW_SMALL_ROWS = 47_000

SCENARIOS: Mapping[str, Scenario] = MappingProxyType(
    {
        scenario.name: scenario
        for scenario in (
            Scenario(
                "download",
                "Download a large export in full, back to back: throughput, TTFB, last byte.",
            ),
            Scenario(
                "transport",
                "download with source=static, the same CSV encoded once and kept: each "
                "stack's own CPU per GB and how fast it can send (its transport ceiling).",
                Step(fixed={"source": "static"}),
                needs="the export's source=static",
            ),
            Scenario(
                "first-byte",
                "Request a huge export, read the first body byte, hang up: TTFB whatever the size.",
                Step(
                    "first-byte",
                    fixed={**_STREAM, "iterator": "auto"},
                    from_options={"rows": "first_byte_rows"},
                ),
            ),
            Scenario(
                "slow-client",
                "More users than workers, each reading a body well above the kernel's socket "
                "buffers at --read-kbps: readers served at once, the others' wait for a first "
                "byte.",
                # On loopback the kernel takes about 3.4 MB of a body (the server's send buffer
                # grows to net.ipv4.tcp_wmem's 4 MB; the reader's receive buffer stays ~0.13 MB)
                # before the server's write blocks: a sync worker is held until the rest fits,
                # and gunicorn's then lingers until the reader closes, up to 2 s. 120k rows
                # (~7 MB, ~8.9 s at 768 KiB/s) hold one for about 6 s of each download.
                Step("throttled", fixed={"rows": SLOW_ROWS}),
                window="cycled",
                users=6,
                report_served=True,
                curve=False,
            ),
            Scenario(
                "slow-client-small",
                "slow-client with bodies under the kernel's socket buffers: a sync worker "
                "writes one into them at once and is free when its reader is done or 2 s "
                "later (gunicorn's lingering close), however slow the reader.",
                Step("throttled", fixed={"rows": SLOW_SMALL_ROWS}),  # ~2.7 MB, ~3.5 s
                window="cycled",
                users=6,
                report_served=True,
                curve=False,
            ),
            Scenario(
                "head-of-line",
                "Background downloads plus one probe user on /ping at --ping-rate: probe p50/p99.",
                users=5,
                min_users=2,  # the probe is one user; the rest download
                probe_class="PingProbeUser",
                user_class="HeadOfLineDownloadUser",
                needs="a /ping view beside the downloads (your project has none of ours)",
            ),
            Scenario(
                "upstream-latency",
                "Downloads with --delay-ms of server-side wait per piece: the I/O-bound case.",
                Step(from_options={"delay_ms": "delay_ms"}),
                needs="the export's delay_ms",
            ),
            Scenario(
                "buffered",
                "download with mode=buffered (Content-Length): the baseline, TTFB grows with size.",
                Step(fixed={"mode": "buffered"}),
                needs="the export's mode=buffered",
            ),
            Scenario(
                "mismatch",
                "download with the iterator forced to the other kind than the server's interface.",
                Step(fixed=_STREAM, mismatched=True),
                # Each connection would first have to learn the server's interface, which is
                # not one timed request.
                open_loop=False,
                needs="the export's iterator= and /healthz",
            ),
            Scenario(
                "ping",
                "Tiny requests on /ping back to back, no export: the per-request cost of the "
                "stack and its middleware (compare --app minimal,startproject).",
                Step("ping"),
                # A stack's cost per request at full speed: a closed loop by nature.
                open_loop=False,
                needs="this project's /ping view",
            ),
        )
    }
)


def export_rows(scenario: Scenario, params: Mapping[str, int | float | str]) -> int:
    """Rows per export that a scenario's users request: its fixed rows, else ``params`` over
    its own over locust's."""
    if "rows" in scenario.step.fixed:
        return int(scenario.step.fixed["rows"])
    option = scenario.step.rows_option
    merged = {option: OPTIONS[option].default, **scenario.params, **params}
    return int(merged[option])


def user_classes(scenarios: Sequence[str], kind: LoadKind = "concurrency") -> list[str]:
    """Return the user class names that make up ``scenarios``, in order, without repeats."""
    names: list[str] = []
    for scenario in scenarios:
        try:
            found = SCENARIOS[scenario]
        except KeyError:
            raise KeyError(
                f"unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)}"
            ) from None
        if not found.classes(kind):
            raise KeyError(f"scenario {scenario!r} has no {kind} load")
        names += [name for name in found.classes(kind) if name not in names]
    return names
