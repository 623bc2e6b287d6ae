"""The scenarios' custom locust options, as data; registered on locust's parser by the locustfile.

Every option also reads ``LOCUST_<DEST>`` from the environment (e.g. ``LOCUST_READ_KBPS``) and a
``locust.conf`` key, like locust's own, and shows in the web UI's start form.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Any, Literal, Protocol, cast

from loadtests.body import OwnUrl, Verify

Mode = Literal["stream", "buffered"]
IteratorKind = Literal["auto", "sync", "async"]
Source = Literal["synthetic", "db", "postgres", "static"]
Arrivals = Literal["constant", "poisson"]


@dataclass(frozen=True)
class OptionSpec:
    """One custom command-line option."""

    dest: str
    default: int | float | str
    help: str
    choices: tuple[str, ...] | None = None
    web_ui: bool = True  # shown in the web UI's start form (harness plumbing is not)

    @property
    def flag(self) -> str:
        """The command-line spelling, e.g. ``--read-kbps``."""
        return "--" + self.dest.replace("_", "-")

    @property
    def env_var(self) -> str:
        """The environment variable locust reads it from, e.g. ``LOCUST_READ_KBPS``."""
        return "LOCUST_" + self.dest.upper()


OPTIONS: Mapping[str, OptionSpec] = MappingProxyType(
    {
        spec.dest: spec
        for spec in (
            OptionSpec("rows", 100_000, "Data rows per export (every downloading scenario)."),
            OptionSpec("chunk_kb", 64, "Server-side piece size in KiB (0: one row per piece)."),
            OptionSpec(
                "mode",
                "stream",
                "Response mode for download, slow-client, head-of-line, upstream-latency "
                "(buffered forces buffered).",
                ("stream", "buffered"),
            ),
            OptionSpec(
                "iterator",
                "auto",
                "Iterator kind for the same scenarios (mismatch forces the other kind).",
                ("auto", "sync", "async"),
            ),
            OptionSpec(
                "source",
                "synthetic",
                "Row source (db: the server's database; postgres: the same, which must be "
                "PostgreSQL; static: the synthetic rows encoded once and kept, so a server's own "
                "cost shows).",
                ("synthetic", "db", "postgres", "static"),
            ),
            OptionSpec("delay_ms", 5, "upstream-latency: server-side wait per piece, in ms."),
            OptionSpec("read_kbps", 768, "slow-client: reading rate per user, in KiB/s."),
            OptionSpec("ping_rate", 10.0, "head-of-line: /ping requests per second of the probe."),
            OptionSpec("first_byte_rows", 5_000_000, "first-byte: rows of the export hung up on."),
            OptionSpec(
                "stop_after_spawn",
                0.0,
                "Stop the load this many seconds after every user was spawned (harness use; 0: "
                "only --run-time stops it).",
                web_ui=False,
            ),
            OptionSpec(
                "window_settle",
                0.0,
                "With --min-window-requests: the window opens this long after spawning.",
                web_ui=False,
            ),
            OptionSpec(
                "min_window_requests",
                0,
                "Keep the load on past --stop-after-spawn until this many requests started in the "
                "window (slow downloads would otherwise leave it without a latency sample), but "
                "not past --max-load-seconds after spawning.",
                web_ui=False,
            ),
            OptionSpec(
                "open_after_ends",
                0,
                "The window opens once this many requests ended after spawning (a window_open "
                "event; within --max-load-seconds), and --stop-after-spawn counts from then "
                "(0: from spawning).",
                web_ui=False,
            ),
            OptionSpec(
                "drain_first_bytes",
                0,
                "1: the drain (--stop-timeout) ends once every request that began before the "
                "stop has its first body byte; downloads still running are then stopped.",
                web_ui=False,
            ),
            OptionSpec(
                "max_load_seconds",
                0.0,
                "The longest the load runs after spawning (0: --stop-after-spawn).",
                web_ui=False,
            ),
            OptionSpec(
                "record_dir",
                "",
                "Directory for the raw request records the harness reads (empty: keep none).",
                web_ui=False,
            ),
            OptionSpec(
                "network_timeout",
                300.0,
                "Seconds a read may wait for data (buffered 5M rows take tens of seconds).",
            ),
            OptionSpec(
                "arrival_rate",
                1.0,
                "Arrival-rate users (DownloadArrivals ...): exports started per second, all "
                "streams together, whatever the server does (an open loop).",
            ),
            OptionSpec(
                "arrivals",
                "constant",
                "Arrival-rate users: evenly spaced (constant) or Poisson arrivals.",
                ("constant", "poisson"),
            ),
            OptionSpec(
                "max_in_flight",
                64,
                "Arrival-rate users: requests in flight at most, all streams together; an "
                "arrival past it is not started (and counted as such), protecting the machine.",
            ),
            OptionSpec(
                "arrival_streams",
                1,
                "Arrival-rate users spawned in all (one per locust worker): each offers its share.",
                web_ui=False,
            ),
            OptionSpec(
                "arrival_seed", 1, "Arrival-rate users: seed of the Poisson arrivals.", web_ui=False
            ),
            OptionSpec(
                "step_levels",
                "1,2,4,8,16",
                "ConcurrencySteps shape: downloading users at each step (the probe comes on top).",
            ),
            OptionSpec("step_seconds", 20.0, "ConcurrencySteps shape: seconds at each step."),
            OptionSpec(
                "url",
                "",
                "A path of your own project to fetch instead of this project's /export.csv "
                "(compare bench --project sets it; the export's options then do not apply).",
            ),
            OptionSpec(
                "verify",
                "body",
                "With --url: body (the same length and SHA-256 as --body-bytes, --body-sha256) "
                "or status (any 2xx with a whole HTTP message).",
                ("body", "status"),
            ),
            OptionSpec(
                "body_bytes",
                -1,
                "With --url and --verify body: the reference body's length.",
                web_ui=False,
            ),
            OptionSpec(
                "body_sha256",
                "",
                "With --url and --verify body: the reference body's SHA-256 (hex).",
                web_ui=False,
            ),
            OptionSpec(
                "session",
                "",
                "A Django session key sent as the sessionid cookie: the requests of a logged-in "
                "user (compare --app startproject seeds one and sets it).",
                # A live login: never in the page (locust puts form defaults into it).
                web_ui=False,
            ),
        )
    }
)


class ArgumentParserLike(Protocol):
    """The part of locust's parser (configargparse, plus ``include_in_web_ui``) that we use."""

    def add_argument(self, *args: Any, **kwargs: Any) -> Any: ...


def add_arguments(parser: ArgumentParserLike) -> None:
    """Register every option on locust's parser (directly: only there do they reach the web UI)."""
    for spec in OPTIONS.values():
        parser.add_argument(
            spec.flag,
            dest=spec.dest,
            type=type(spec.default),
            default=spec.default,
            choices=spec.choices,
            env_var=spec.env_var,
            help=f"{spec.help} Default: {spec.default}.",
            include_in_web_ui=spec.web_ui,
        )


@dataclass(frozen=True)
class LoadOptions:
    """The validated option values one run uses."""

    rows: int = cast(int, OPTIONS["rows"].default)
    chunk_kb: int = cast(int, OPTIONS["chunk_kb"].default)
    mode: Mode = "stream"
    iterator: IteratorKind = "auto"
    source: Source = "synthetic"
    delay_ms: int = cast(int, OPTIONS["delay_ms"].default)
    read_kbps: int = cast(int, OPTIONS["read_kbps"].default)
    ping_rate: float = cast(float, OPTIONS["ping_rate"].default)
    first_byte_rows: int = cast(int, OPTIONS["first_byte_rows"].default)
    network_timeout: float = cast(float, OPTIONS["network_timeout"].default)
    stop_after_spawn: float = 0.0
    window_settle: float = 0.0
    min_window_requests: int = 0
    open_after_ends: int = 0
    drain_first_bytes: int = 0
    max_load_seconds: float = 0.0
    record_dir: str = ""
    session: str = ""
    url: str = ""
    verify: Verify = "body"
    body_bytes: int = -1
    body_sha256: str = ""
    arrival_rate: float = cast(float, OPTIONS["arrival_rate"].default)
    arrivals: Arrivals = "constant"
    max_in_flight: int = cast(int, OPTIONS["max_in_flight"].default)
    arrival_streams: int = 1
    arrival_seed: int = 1
    step_levels: str = cast(str, OPTIONS["step_levels"].default)
    step_seconds: float = cast(float, OPTIONS["step_seconds"].default)

    def __post_init__(self) -> None:
        problems = [
            f"{OPTIONS[name].flag} must be at least {low}, got {getattr(self, name)}"
            for name, low in (
                ("rows", 0),
                ("chunk_kb", 0),
                ("delay_ms", 0),
                ("first_byte_rows", 1),
                ("max_in_flight", 1),
                ("arrival_streams", 1),
                ("stop_after_spawn", 0),
                ("window_settle", 0),
                ("min_window_requests", 0),
                ("open_after_ends", 0),
                ("drain_first_bytes", 0),
                ("max_load_seconds", 0),
            )
            if getattr(self, name) < low
        ]
        problems += [
            f"{OPTIONS[name].flag} must be positive, got {getattr(self, name)}"
            for name in (
                "read_kbps",
                "ping_rate",
                "network_timeout",
                "arrival_rate",
                "step_seconds",
            )
            if not getattr(self, name) > 0
        ]
        try:
            self.levels()
        except ValueError as error:
            problems.append(str(error))
        if self.url and not self.url.startswith("/"):
            problems.append(f"--url must be a path starting with '/', got {self.url!r}")
        if self.url and self.verify == "body" and (self.body_bytes < 0 or not self.body_sha256):
            problems.append("--url with --verify body needs --body-bytes and --body-sha256")
        for name in ("mode", "iterator", "source", "arrivals", "verify"):
            choices = OPTIONS[name].choices or ()
            if getattr(self, name) not in choices:
                problems.append(
                    f"{OPTIONS[name].flag} must be one of {', '.join(choices)}, "
                    f"got {getattr(self, name)!r}"
                )
        if problems:
            raise ValueError("; ".join(problems))

    @classmethod
    def from_namespace(cls, namespace: object | None) -> LoadOptions:
        """Read the options from locust's parsed options (None or missing ones: the defaults)."""
        values = {
            f.name: getattr(namespace, f.name) for f in fields(cls) if hasattr(namespace, f.name)
        }
        return cls(**values)

    def levels(self) -> tuple[int, ...]:
        """The ConcurrencySteps shape's levels, parsed (ValueError when malformed)."""
        try:
            levels = tuple(int(v) for v in self.step_levels.split(",") if v.strip())
        except ValueError:
            levels = ()
        if not levels or min(levels) < 1:
            raise ValueError(
                f"--step-levels must be comma-separated whole numbers of at least 1, "
                f"got {self.step_levels!r}"
            )
        return levels

    def own_url(self) -> OwnUrl | None:
        """The user's URL and its check, or None: this project's export."""
        if not self.url:
            return None
        return OwnUrl(self.url, self.verify, self.body_bytes, self.body_sha256)

    def request_headers(self) -> dict[str, str]:
        """Headers every request sends: the session cookie, when there is one."""
        return {"Cookie": f"sessionid={self.session}"} if self.session else {}

    def export_query(self, **overrides: int | str) -> dict[str, int | str]:
        """The export's query parameters with these options, then ``overrides``."""
        query: dict[str, int | str] = {
            "rows": self.rows,
            "chunk_kb": self.chunk_kb,
            "mode": self.mode,
            "iterator": self.iterator,
            "source": self.source,
            "delay_ms": 0,
        }
        query.update(overrides)
        return query
