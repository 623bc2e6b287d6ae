"""One request of each scenario, shared by the closed-loop users and the open-loop schedulers."""

from __future__ import annotations

from loadtests.measure import Meter
from loadtests.options import LoadOptions


def export_query(scenario: str, options: LoadOptions) -> dict[str, int | str]:
    """The export's query parameters for one scenario's download."""
    if scenario == "upstream-latency":
        return options.export_query(delay_ms=options.delay_ms)
    if scenario == "buffered":
        return options.export_query(mode="buffered")
    if scenario == "first-byte":
        return options.export_query(rows=options.first_byte_rows, mode="stream", iterator="auto")
    return options.export_query()


def one_request(
    scenario: str, meter: Meter, options: LoadOptions, intended: float | None = None
) -> None:
    """Make, time and record one request of ``scenario`` on ``meter``'s connection."""
    query = export_query(scenario, options)
    if scenario == "first-byte":
        meter.first_byte(query, intended=intended)
    elif scenario == "slow-client":
        meter.download(query, read_kbps=options.read_kbps, intended=intended)
    else:
        meter.download(query, intended=intended)
