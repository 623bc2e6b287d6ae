"""Open-loop users: one scheduler per stream starts each export on time, whatever the server does.

A locust user is a closed loop (its next request waits for the last one), so a LoadTestShape
alone cannot offer a rate: a slow server slows the load down and hides its own queueing. Here
one ``ArrivalUser`` per locust process is only a scheduler: at each instant of its
``loadtests.schedule.Schedule`` it spawns a greenlet that takes a keep-alive connection (opened on
demand, like a browser tab) and runs one request recorded with that instant as ``intended``.
With ``--max-in-flight`` requests already running, the arrival is not started and recorded as
``not-started`` instead (k6's dropped iterations): the bound protects the machine, and the
record says when it was reached.

When locust stops (``--stop-timeout``) the scheduler starts nothing more and waits for the
requests in flight, which is the cell's drain; locust kills it after the timeout, and every
request still running is then recorded as stopped.
"""

from __future__ import annotations

import logging
import time
from typing import ClassVar
from urllib.parse import urlsplit

import gevent
from gevent.pool import Group
from geventhttpclient.client import HTTPClient
from locust import User, constant, task
from locust.env import Environment
from locust.user.task import LOCUST_STATE_STOPPING

from loadtests.catalog import Scenario
from loadtests.measure import Meter
from loadtests.options import LoadOptions
from loadtests.record import NOT_STARTED, RequestRecord
from loadtests.recorder import current_recorder
from loadtests.schedule import Connections, Schedule, anchor
from loadtests.steps import one_request

logger = logging.getLogger(__name__)


class ArrivalUser(User):
    """Base: a scheduler starting ``scenario``'s request at ``--arrival-rate`` per second."""

    abstract = True
    scenario: ClassVar[Scenario]
    wait_time = constant(0)
    # Users of this class in this process so far: with several per process (an uneven
    # distribution over workers) each still gets its own stream.
    _spawned: ClassVar[int] = 0

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self.options = LoadOptions.from_namespace(environment.parsed_options)
        if not self.host:
            raise ValueError("an arrival-rate user needs a host (--host)")
        self.recorder = current_recorder()
        self.schedule, self.limit = self._stream()
        self.connections: Connections[Meter] = Connections(self._connect)
        self.not_started = 0

    def _stream(self) -> tuple[Schedule, int]:
        """This user's share of the arrivals, and of the in-flight bound."""
        options = self.options
        streams = options.arrival_streams
        worker = getattr(self.environment.runner, "worker_index", 0) or 0
        ArrivalUser._spawned += 1
        index = worker + (ArrivalUser._spawned - 1) * streams
        schedule = Schedule(
            options.arrival_rate, options.arrivals, streams, index, options.arrival_seed
        )
        # The bound is the whole load's: each stream keeps its share of it.
        return schedule, max(1, -(-options.max_in_flight // streams))

    def _connect(self) -> Meter:
        assert self.host is not None
        http = HTTPClient.from_url(
            self.host,
            concurrency=1,  # one request at a time per connection, like ExportUser
            connection_timeout=min(30.0, self.options.network_timeout),
            network_timeout=self.options.network_timeout,
            headers=self.options.request_headers(),
        )
        fire = self.environment.events.request.fire
        return Meter(http, fire, self.scenario.name, urlsplit(self.host).path, self.recorder)

    def _request(self, meter: Meter, intended: float) -> None:
        """The request of one arrival, recorded with its intended start."""
        one_request(self.scenario, meter, self.options, intended)

    def _one(self, intended: float) -> None:
        meter = self.connections.take()
        try:
            self._request(meter, intended)
        finally:
            self.connections.give(meter)

    def _admit(self, in_flight: Group) -> bool:
        """At the bound: whether this arrival still starts (once it can) or is refused."""
        return False

    def _refuse(self, intended: float) -> None:
        if not self.not_started:
            logger.warning(
                "%s: %d requests in flight: arrivals are not started until some finish",
                self.scenario.name,
                self.limit,
            )
        self.not_started += 1
        detail = f"--max-in-flight {self.options.max_in_flight} reached"
        self.recorder.request(
            RequestRecord(
                self.scenario.step.kind,  # what the arrival would have been
                self.scenario.name,
                0,
                intended,
                intended,
                outcome=NOT_STARTED,
                detail=detail,
                intended=intended,
            )
        )

    @task
    def arrive(self) -> None:
        """Start requests on schedule until locust stops this user, then let them finish."""
        in_flight = Group()
        try:
            for due in self.schedule.times(anchor(time.monotonic(), time.time())):
                wait = due - time.monotonic()
                if wait > 0:
                    gevent.sleep(wait)
                # Checked after the wait: nothing starts once the stop was asked for.
                if self._state == LOCUST_STATE_STOPPING:
                    break
                if len(in_flight) >= self.limit and not self._admit(in_flight):
                    self._refuse(due)
                else:
                    in_flight.spawn(self._one, due)
            # The drain: locust's --stop-timeout bounds it by killing this greenlet.
            in_flight.join()
        finally:
            in_flight.kill(block=True)  # each records itself as stopped
            for meter in self.connections.idle:
                meter.http.close()
