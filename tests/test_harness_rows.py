"""What the harness asks the export for stays within the view's limits: no run meets a 400.

The view refuses a buffered or mismatched body above EXPORT_MAX_BUFFERED_ROWS, a delay above its
total cap and a database export of more rows than were seeded; the bench's profiles, locust's
defaults and the rows a run seeds must follow.
"""

from __future__ import annotations

from typing import get_args

import pytest
from django.conf import settings
from django.http import QueryDict

from compare.cli import build_parser
from compare.commands.bench import build_config
from compare.config import RUN_PROFILES, SweepVariant
from compare.run.bench import rows_to_seed
from compare.run.sweep import sweep_query
from compare.servers.stacks import STACKS
from loadtests.catalog import SCENARIOS, SLOW_ROWS
from loadtests.options import LoadOptions
from project.export.params import (
    Interface,
    IteratorKind,
    Mode,
    check_buffered_rows,
    parse_export_params,
)


def _allowed(query: QueryDict, interface: Interface) -> None:
    """Raise BadParameter, as the view would answer 400, unless the export is allowed."""
    params = parse_export_params(query, settings.EXPORT_MAX_ROWS)
    check_buffered_rows(params, interface, settings.EXPORT_MAX_BUFFERED_ROWS)


@pytest.mark.parametrize("profile", sorted(RUN_PROFILES))
@pytest.mark.parametrize("stack", ["gunicorn-sync", "uvicorn"])
@pytest.mark.parametrize("variant", ["stream", "buffered", "mismatch"])
def test_every_sweep_point_of_every_profile_is_allowed(
    profile: str, stack: str, variant: SweepVariant
) -> None:
    spec = STACKS[stack]
    for rows in RUN_PROFILES[profile].sweep_sizes:
        _allowed(QueryDict(sweep_query(variant, rows, spec, "synthetic")), spec.interface)


@pytest.mark.parametrize("scenario", ["download", "first-byte", "slow-client", "upstream-latency"])
@pytest.mark.parametrize("iterator", ["auto", "sync", "async"])  # mismatch forces one of these
@pytest.mark.parametrize("mode", ["stream", "buffered"])  # the buffered scenario forces this
def test_every_scenario_asks_for_an_allowed_export_by_default(
    scenario: str, iterator: IteratorKind, mode: Mode
) -> None:
    query = QueryDict(mutable=True)
    options = LoadOptions(iterator=iterator, mode=mode)
    query.update({k: str(v) for k, v in SCENARIOS[scenario].step.query(options, None).items()})
    for interface in get_args(Interface):
        _allowed(query, interface)


@pytest.mark.parametrize(
    ("args", "seeded"),
    [
        ([], 1_000_000),  # the sweep's largest size
        (["--sweep-sizes", "", "--scenarios", "download"], 100_000),  # --rows' default
        (["--sweep-sizes", "", "--scenarios", "download,first-byte"], 5_000_000),
        # slow-client's body size is its own, whatever --rows says.
        (["--sweep-sizes", "", "--scenarios", "slow-client", "--rows", "0"], SLOW_ROWS),
        (["--full"], 5_000_000),
        # The warm-up's export (compare.run.lifecycle.WARMUP_ROWS) is the largest here.
        (["--sweep-sizes", "10000", "--scenarios", "download", "--rows", "5000"], 20_000),
    ],
)
def test_a_database_run_seeds_what_its_largest_export_asks_for(
    args: list[str], seeded: int
) -> None:
    config = build_config(build_parser().parse_args(["bench", "--source", "db", *args]))
    assert rows_to_seed(config) == seeded
