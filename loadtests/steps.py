"""One request of a scenario, as its Step says: shared by the closed-loop users and the open-loop
schedulers."""

from __future__ import annotations

from loadtests.catalog import Scenario
from loadtests.measure import Meter
from loadtests.options import LoadOptions


def one_request(
    scenario: Scenario,
    meter: Meter,
    options: LoadOptions,
    intended: float | None = None,
    iterator: str | None = None,
) -> None:
    """Make, time and record one request of ``scenario`` on ``meter``'s connection.

    ``iterator``: the iterator kind a mismatched step forces, once its user learnt it.
    """
    step = scenario.step
    own = options.own_url()
    if step.read == "ping":
        meter.ping(intended=intended)
    elif step.read == "first-byte":
        meter.first_byte(step.query(options, iterator), intended=intended, own=own)
    else:
        read_kbps = options.read_kbps if step.read == "throttled" else None
        query = step.query(options, iterator)
        meter.download(query, read_kbps=read_kbps, intended=intended, own=own)
