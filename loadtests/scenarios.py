"""The locust user classes, made from the scenario catalog (loadtests.catalog.SCENARIOS).

A scenario's closed-loop users are ``ExportUser``s doing its step back to back, its open-loop
class an ``ArrivalUser`` (loadtests.arrivals), its probe a ``PingProbe``; ``locust_classes()``
names them as the catalog says, and the locustfile puts them where locust looks.
"""

from __future__ import annotations

from typing import ClassVar
from urllib.parse import urlsplit

import gevent
from gevent.pool import Group
from locust import constant, task
from locust.contrib.fasthttp import FastHttpUser
from locust.env import Environment
from locust.user.users import User

from loadtests.arrivals import ArrivalUser
from loadtests.catalog import SCENARIOS, Scenario
from loadtests.measure import Meter
from loadtests.options import LoadOptions
from loadtests.recorder import current_recorder
from loadtests.schedule import Schedule
from loadtests.steps import one_request

# A mismatched step asks for the other kind of iterator than the server's interface.
OTHER_KIND = {"wsgi": "async", "asgi": "sync"}
# Probes unanswered at once, at most (a stall of this many probe intervals fills it).
PROBE_MAX_IN_FLIGHT = 32


class ExportUser(FastHttpUser):
    """Base: one connection per user, a Meter on it, tasks back to back."""

    abstract = True
    scenario: ClassVar[Scenario]
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
            http, environment.events.request.fire, self.scenario.name, base_path, current_recorder()
        )
        self.iterator: str | None = None  # a mismatched step's, once learnt

    # The one task, defined here only: locust copies a base class's task functions into every
    # subclass, so a @task overridden in a subclass would run beside the base's, not instead.
    @task
    def scenario_step(self) -> None:
        """One step of the scenario."""
        self.step()

    def step(self) -> None:
        """What the scenario does, once (a mismatched step first asks the server's interface)."""
        if self.scenario.step.mismatched and self.iterator is None:
            interface = self.meter.interface()
            if interface is None:
                gevent.sleep(1.0)  # reported as a HEALTHZ failure; do not spin on a dead server
                return
            self.iterator = OTHER_KIND[interface]
        one_request(self.scenario, self.meter, self.options, iterator=self.iterator)


class PingProbe(ArrivalUser):
    """Base of a scenario's probe: /ping at --ping-rate requests per second, an open loop.

    Each probe is sent at its instant on an idle connection (or a new one), whatever the probes
    before it met, and timed from that instant: a stall of S seconds shows in the S x rate probes
    it delayed, not only in the one a closed loop would have had waiting (coordinated omission).
    With PROBE_MAX_IN_FLIGHT probes unanswered the next ones wait for one of them and go late,
    still timed from their instants (wrk2's correction), so none is left out.
    """

    abstract = True
    fixed_count = 1

    def _stream(self) -> tuple[Schedule, int]:
        return Schedule(self.options.ping_rate), PROBE_MAX_IN_FLIGHT

    def _connect(self) -> Meter:
        meter = super()._connect()
        meter.counted = False  # probes are not the requests a window waits for
        return meter

    def _request(self, meter: Meter, intended: float) -> None:
        meter.ping(intended=intended)

    def _admit(self, in_flight: Group) -> bool:
        gevent.wait(list(in_flight), count=1)
        return True


def _made(name: str, base: type[User], scenario: Scenario, doc: str) -> type[User]:
    """A runnable class of ``scenario`` named ``name`` for locust and its web UI's picker."""
    namespace = {"scenario": scenario, "abstract": False, "__doc__": doc, "__module__": __name__}
    return type(name, (base,), namespace)


def locust_classes() -> dict[str, type[User]]:
    """Every scenario's classes by name: closed-loop, open-loop (if any) and probe (if any)."""
    classes: dict[str, type[User]] = {}
    for scenario in SCENARIOS.values():
        name = scenario.name
        made: list[tuple[str, type[User], str]] = [
            (scenario.closed_class, ExportUser, f"{name}: {scenario.description}")
        ]
        if scenario.arrival_class is not None:
            doc = f"{name} at --arrival-rate requests per second, whatever the server does."
            made.append((scenario.arrival_class, ArrivalUser, doc))
        if scenario.probe_class:
            doc = f"{name}: one probe on /ping at --ping-rate requests per second."
            made.append((scenario.probe_class, PingProbe, doc))
        classes.update({cls: _made(cls, base, scenario, doc) for cls, base, doc in made})
    return classes
