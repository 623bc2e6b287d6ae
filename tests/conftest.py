"""Fixtures shared by the test modules; plain helpers are in tests/helpers.py."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from compare.results import load_results
from compare.servers.server import ServerProcess
from compare.servers.stacks import get_stack
from tests.exports import DEBUG_LOG
from tests.helpers import REPORT_FIXTURE, stack_params


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """One worker more than this process may use CPUs (make test's ``--numprocesses auto``)."""
    # The shared pass's server tests wait on sockets, deadlines and slow readers more than they
    # compute: with 2 workers on 2 cores it took 358 s, with 3 it took 278 s at 80% of both
    # cores. Its bounds hold on a machine 3x slower; the measuring tests run alone, after it.
    return len(os.sched_getaffinity(0)) + 1


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run each test that takes ``server`` once per stack in its module's ``SERVER_STACKS``."""
    names = getattr(metafunc.module, "SERVER_STACKS", None)
    if names is not None and "server" in metafunc.fixturenames:
        metafunc.parametrize("server", stack_params(names), indirect=True, scope="module")


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    """A stack on a free loopback port, shared by the module's tests that take it.

    Its log has a line for each export's end, complete or stopped (tests/exports.py).
    """
    with ServerProcess(get_stack(request.param), env=DEBUG_LOG) as running:
        yield running


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    """The committed results document of a real quick run: the reports' fixed input."""
    return load_results(REPORT_FIXTURE)


@pytest.fixture(autouse=True)
def _runtime_dir_of_its_own(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Each test's harness keeps its registry and bench lock apart: under xdist two tests' benches
    run at once, and one machine-wide lock refused the second ('another bench is running')."""
    monkeypatch.setenv("DSC_RUNTIME_DIR", str(tmp_path / "dsc-runtime"))
