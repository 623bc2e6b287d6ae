"""One locust user class per scenario (names as in loadtests.catalog.SCENARIOS)."""

from __future__ import annotations

import time
from typing import ClassVar
from urllib.parse import urlsplit

import gevent
from locust import constant, task
from locust.contrib.fasthttp import FastHttpUser
from locust.env import Environment
from locust.user.users import User

from loadtests.arrivals import ArrivalUser
from loadtests.measure import Meter
from loadtests.options import LoadOptions
from loadtests.record import Kind
from loadtests.recorder import current_recorder
from loadtests.steps import one_request


class ExportUser(FastHttpUser):
    """Base: one connection per user, a Meter on it, tasks back to back."""

    abstract = True
    scenario: ClassVar[str]
    wait_time = constant(0)
    # One connection per user, like one browser tab downloading one file; a response not
    # released would block the next request at once instead of leaking sockets quietly.
    concurrency = 1

    def __init__(self, environment: Environment) -> None:
        self.options = LoadOptions.from_namespace(environment.parsed_options)
        self.network_timeout = self.options.network_timeout
        self.connection_timeout = min(30.0, self.options.network_timeout)
        super().__init__(environment)
        assert self.host is not None  # FastHttpUser stops the test without one
        # The pool locust's FastHttpSession holds: the raw geventhttpclient client for the host.
        http = self.client.client.clientpool.get_client(self.host)
        http.default_headers.update(self.options.request_headers())  # a logged-in user's cookie
        base_path = urlsplit(self.host).path
        self.meter = Meter(
            http, environment.events.request.fire, self.scenario, base_path, current_recorder()
        )

    # The one task, defined here only: locust copies a base class's task functions into every
    # subclass, so a @task overridden in a subclass would run beside the base's, not instead.
    @task
    def scenario_step(self) -> None:
        """One step of the scenario."""
        self.step()

    def step(self) -> None:
        """What the scenario does, once; the task loop repeats it."""
        raise NotImplementedError


class DownloadUser(ExportUser):
    """download: full exports, back to back."""

    scenario = "download"

    def step(self) -> None:
        """One request of this scenario (loadtests.steps), timed and verified."""
        one_request(self.scenario, self.meter, self.options)


class FirstByteUser(DownloadUser):
    """first-byte: a huge streamed export, hung up on after its first body byte."""

    scenario = "first-byte"


class SlowClientUser(DownloadUser):
    """slow-client: full exports read at --read-kbps."""

    scenario = "slow-client"


class HeadOfLineDownloadUser(DownloadUser):
    """head-of-line: the background downloads."""

    scenario = "head-of-line"


class PingProbeUser(ExportUser):
    """head-of-line: one probe on /ping at --ping-rate requests per second."""

    scenario = "head-of-line"
    fixed_count = 1

    def on_start(self) -> None:
        """Start the schedule now."""
        self._interval = 1.0 / self.options.ping_rate
        self._due = time.monotonic()

    def wait_time(self) -> float:
        """Keep a steady rate; when a probe was late, restart the schedule (no catch-up burst)."""
        now = time.monotonic()
        self._due = max(self._due + self._interval, now)
        return self._due - now

    def step(self) -> None:
        """One probe request."""
        self.meter.ping(intended=self._due)


class PingUser(ExportUser):
    """ping: /ping back to back, no export: what a request costs the stack and its middleware."""

    scenario = "ping"

    def step(self) -> None:
        """One request."""
        self.meter.ping()


class UpstreamLatencyUser(DownloadUser):
    """upstream-latency: downloads with --delay-ms of server-side wait per piece."""

    scenario = "upstream-latency"


class BufferedUser(DownloadUser):
    """buffered: downloads of mode=buffered exports (the baseline)."""

    scenario = "buffered"


class MismatchUser(ExportUser):
    """mismatch: downloads with the iterator forced to the other kind than the interface's."""

    scenario = "mismatch"
    OTHER_KIND: ClassVar[dict[str, str]] = {"wsgi": "async", "asgi": "sync"}

    def on_start(self) -> None:
        """Nothing known yet: the first task asks /healthz."""
        self.iterator: str | None = None

    def query(self) -> dict[str, int | str]:
        """The export, streamed with the wrong kind of iterator for this server."""
        assert self.iterator is not None
        return self.options.export_query(mode="stream", iterator=self.iterator)

    def step(self) -> None:
        """Learn the server's interface once, then download like DownloadUser."""
        if self.iterator is None:
            interface = self.meter.interface()
            if interface is None:
                gevent.sleep(1.0)  # reported as a HEALTHZ failure; do not spin on a dead server
                return
            self.iterator = self.OTHER_KIND[interface]
        self.meter.download(self.query())


def _arrivals(name: str, scenario: str, kind: Kind = "download") -> type[ArrivalUser]:
    """The open-loop class of ``scenario`` (loadtests.arrivals), named for locust's picker."""
    doc = f"{scenario} at --arrival-rate requests per second, whatever the server does."
    namespace = {"scenario": scenario, "kind": kind, "__doc__": doc, "__module__": __name__}
    return type(name, (ArrivalUser,), namespace)


DownloadArrivals = _arrivals("DownloadArrivals", "download")
FirstByteArrivals = _arrivals("FirstByteArrivals", "first-byte", "first-byte")
SlowClientArrivals = _arrivals("SlowClientArrivals", "slow-client")
HeadOfLineArrivals = _arrivals("HeadOfLineArrivals", "head-of-line")  # PingProbeUser beside it
UpstreamLatencyArrivals = _arrivals("UpstreamLatencyArrivals", "upstream-latency")
BufferedArrivals = _arrivals("BufferedArrivals", "buffered")


SCENARIOS: dict[str, tuple[type[User], ...]] = {
    "download": (DownloadUser,),
    "first-byte": (FirstByteUser,),
    "slow-client": (SlowClientUser,),
    "head-of-line": (HeadOfLineDownloadUser, PingProbeUser),
    "upstream-latency": (UpstreamLatencyUser,),
    "buffered": (BufferedUser,),
    "mismatch": (MismatchUser,),
    "ping": (PingUser,),
}

# The open-loop classes per scenario (mismatch has none: each connection would first have to
# learn the server's interface, which is not one timed request; ping measures a stack's cost per
# request at full speed, a closed loop by nature).
ARRIVALS: dict[str, tuple[type[User], ...]] = {
    "download": (DownloadArrivals,),
    "first-byte": (FirstByteArrivals,),
    "slow-client": (SlowClientArrivals,),
    "head-of-line": (HeadOfLineArrivals, PingProbeUser),
    "upstream-latency": (UpstreamLatencyArrivals,),
    "buffered": (BufferedArrivals,),
}
