"""The run object: each child's environment as a value, the placement it owns, its locust."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import psutil
import pytest

from compare.run import encode
from compare.run.appdata import RunData
from compare.run.locust import LocustProcess
from compare.run.run import Run
from compare.servers.stacks import STACKS, get_stack
from compare.system.placement import Placement, available_cpus, choose
from tests.helpers import assert_gone, no_new_children

SPLIT = pytest.mark.skipif(len(available_cpus()) < 2, reason="placement needs two CPUs")
# A parent that forks a child; the child then frees itself of any pin and sleeps (what a worker
# forked before its parent was pinned would look like).
FORKS = (
    "import os, sys, time\n"
    "if os.fork() == 0:\n"
    "    os.sched_setaffinity(0, range(os.cpu_count()))\n"
    "    open(sys.argv[1], 'w').close()\n"
    "time.sleep(60)\n"
)


def _quiet(line: str) -> None:
    pass


def test_children_get_their_environment_as_a_value_and_ours_stays_as_it_was(
    tmp_path: Path,
) -> None:
    ours = dict(os.environ)
    environ = {"PATH": os.environ["PATH"], "ONLY_IN_THIS_RUN": "1", "DJANGO_DEBUG": "1"}
    environ["DSC_ALLOWED_HOSTS"] = "stack.example"
    # The startproject profile: a migrated database and a logged-in user's session.
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    data = RunData("synthetic", "startproject", 0, _quiet, database_url=url, own_database=True)
    with Run(data, environ=environ) as run:
        stack = run.server(STACKS["uvicorn"]).env
        locust = run.locust_environment({"DSC_SERVER_FEED_URL": "http://feed"})
        assert dict(os.environ) == ours
    assert stack["ONLY_IN_THIS_RUN"] == "1" and "DJANGO_DEBUG" not in stack
    assert stack["DJANGO_SECRET_KEY"] == data.secret_key  # the session verifies on it
    assert stack["DJANGO_APP_PROFILE"] == "startproject"
    assert stack["DATABASE_URL"] == url
    assert stack["DJANGO_ALLOWED_HOSTS"].split(",")[-1] == "stack.example"
    assert data.session and locust["LOCUST_SESSION"] == data.session
    assert locust["ONLY_IN_THIS_RUN"] == "1" and locust["DSC_SERVER_FEED_URL"] == "http://feed"
    assert not {"DJANGO_SECRET_KEY", "DATABASE_URL", "DJANGO_APP_PROFILE"} & set(locust)
    assert dict(os.environ) == ours


def test_a_stack_of_its_own_profile_keeps_it_over_the_runs() -> None:
    run = Run(RunData("synthetic", "minimal", 0, _quiet), environ={})
    spec = get_stack("uvicorn@startproject")
    assert run.server(spec).env["DJANGO_APP_PROFILE"] == "startproject"


@SPLIT
def test_the_run_pins_the_harness_while_it_runs_and_gives_its_cpus_back() -> None:
    cpus = available_cpus()
    before = os.sched_getaffinity(0)
    placement = Placement("custom", cpus[:1], cpus[-1:])
    with Run(RunData("synthetic", "minimal", 0, _quiet), placement=placement):
        assert os.sched_getaffinity(0) == {cpus[-1]}
    assert os.sched_getaffinity(0) == before


@SPLIT
def test_locust_is_pinned_with_every_process_it_forks_and_stopped_with_them(
    tmp_path: Path,
) -> None:
    client = available_cpus()[-1:]
    forked = tmp_path / "forked"
    argv = [sys.executable, "-c", FORKS, str(forked)]
    process = LocustProcess(argv, dict(os.environ), log=tmp_path / "log", cpus=client).start()
    try:
        deadline = time.monotonic() + 10  # a fork and a file: generous on a slow machine
        while not forked.exists():
            assert time.monotonic() < deadline, (tmp_path / "log").read_text()
            time.sleep(0.05)
        assert process.poll() is None
        tree = psutil.Process(process.pid)
        everyone = [tree, *tree.children(recursive=True)]
        assert len(everyone) == 2
        assert [p.cpu_affinity() for p in everyone] == [list(client)] * 2
    finally:
        process.stop(grace_s=1)
    assert_gone([p.pid for p in everyone])


@pytest.mark.server
def test_encode_bench_measures_through_the_run_and_leaves_nothing() -> None:
    with no_new_children():
        results = encode.measure(2000, 1, ("uvicorn",), (0, 64), choose("split"))
    paths = [(m.label, m.chunk_kb) for m in results]
    assert paths == [
        (label, kb)
        for kb in (0, 64)
        for label in ("in-process sync", "in-process async", "uvicorn")
    ]
    assert all(m.rows_per_s > 0 for m in results)
