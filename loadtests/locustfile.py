"""django-stream-compare load scenarios: the single ``-f`` entry point.

Scenarios (loadtests.catalog.SCENARIOS) and their user classes, made from the catalog by
loadtests.scenarios: pass the class names as positional arguments to pick one (``locust -f
loadtests/locustfile.py --list`` prints them); in the web UI use ``--class-picker``. Each
scenario has a closed-loop class (``DownloadUser`` ...; head-of-line: ``HeadOfLineDownloadUser``
with its probe ``PingProbeUser``, which needs ``-u`` of 2 or more) and, where its catalog entry
allows an arrival rate, an open-loop one (``DownloadArrivals`` ...): one scheduler user per
process starting --arrival-rate exports per second, whatever the server does; latency counts
from each request's intended start (loadtests.arrivals).

Request types (stats rows read "<type> <scenario>"): TTFB (request sent -> first body byte),
DOWNLOAD (request sent -> last byte of a verified body; its content size is the body's bytes),
PING (the probe), HEALTHZ (failures only: mismatch could not learn the interface).

Custom options (also LOCUST_<NAME> environment variables and locust.conf keys; ``locust -f
loadtests/locustfile.py --help`` lists them, through loadtests.helphook, which says why it must):

    --rows N              data rows per export (100000)
    --chunk-kb N          server piece size, KiB (64)
    --mode M              stream|buffered (stream; buffered forces buffered)
    --iterator I          auto|sync|async (auto; mismatch forces the other kind)
    --source S            synthetic|db|postgres|static (synthetic)
    --delay-ms N          upstream-latency: delay per piece (5)
    --read-kbps N         slow-client: read rate per user, KiB/s (768)
    --ping-rate R         head-of-line: probe requests per second (10)
    --first-byte-rows N   first-byte: rows of the export hung up on (5000000)
    --network-timeout S   longest wait for data on a socket, seconds (300)
    --arrival-rate R      arrival-rate classes: exports started per second, all streams (1)
    --arrivals A          constant|poisson (constant)
    --max-in-flight N     arrival-rate classes: requests in flight at most; past it an arrival
                          is not started, and recorded so (64)
    --step-levels L       ConcurrencySteps shape (loadtests/shapes.py): users per step (1,2,4,8,16)
    --step-seconds S      ConcurrencySteps shape: seconds per step (20)
    --record-dir DIR      write raw request records there (what the harness measures from)
    --stop-after-spawn S  stop the load S seconds after every user was spawned (the harness),
                          or later: until --min-window-requests started after --window-settle,
                          at most --max-load-seconds; with --open-after-ends N, S seconds after
                          N requests ended (a cycled window, opened by a window_open event);
                          --drain-first-bytes 1 ends the drain once every request of the window
                          has its first byte

Example: locust -f loadtests/locustfile.py --headless -H http://127.0.0.1:8000 -u 4 -r 4 -t 30s
--csv out/download --only-summary --rows 100000 DownloadUser

Web UI: ``python -m compare ui`` starts the stacks and this file with ``--class-picker``; the
process with the web UI (the master in distributed mode) gets a "Server" tab showing each
stack's memory and CPU (loadtests.servertab, fed by $DSC_SERVER_FEED_URL).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# locust imports this file by path; make the package importable from any working directory.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import gevent  # noqa: E402
from locust import events  # noqa: E402
from locust.runners import MasterRunner, WorkerRunner  # noqa: E402

from loadtests import recorder  # noqa: E402
from loadtests.options import LoadOptions, add_arguments  # noqa: E402
from loadtests.record import BIN_S, EVENTS  # noqa: E402
from loadtests.scenarios import locust_classes  # noqa: E402

# Locust runs the user classes it finds in this module's namespace: the catalog's, made there.
CLASSES = locust_classes()
globals().update(CLASSES)
__all__ = sorted(CLASSES)


@events.init_command_line_parser.add_listener
def _add_options(parser: Any, **_kwargs: Any) -> None:
    add_arguments(parser)


@events.init.add_listener
def _check_options(environment: Any, **_kwargs: Any) -> None:
    # Fail at start-up with a plain message, not in every spawned user.
    try:
        LoadOptions.from_namespace(environment.parsed_options)
    except ValueError as exc:
        raise SystemExit(f"locust: error: {exc}") from None


@events.test_start.add_listener
def _start_recording(environment: Any, **_kwargs: Any) -> None:
    # Each process (headless, master, worker) writes its own records file into --record-dir.
    # Not at init: a worker learns the master's options only when a test starts.
    options = LoadOptions.from_namespace(environment.parsed_options)
    recorder.install(Path(options.record_dir) if options.record_dir else None)


@events.spawning_complete.add_listener
def _schedule_stop(**_kwargs: Any) -> None:
    # The window is timed from spawning, not from locust's --run-time clock, which starts before
    # the users do (a start-up slowed by a busy machine would eat into the window). The only
    # process, or a distributed master, stops the run: stop() tells the workers and waits for
    # their drain (--stop-timeout), which a --run-time quit() would cut.
    # One process also waits, within a bound, until enough requests started in the window:
    # where a download outlasts the window, none would (a distributed master cannot count its
    # workers' requests, so it keeps the fixed time).
    environment = _ENVIRONMENT.get("current")
    if environment is None or environment.runner is None:
        return
    runner = environment.runner
    # Only the harness sets it; the web UI's runs (shapes spawn at every step) never get here.
    if not getattr(environment.parsed_options, "stop_after_spawn", 0) or isinstance(
        runner, WorkerRunner
    ):
        return
    options = LoadOptions.from_namespace(environment.parsed_options)
    spawned = time.monotonic()
    latest = spawned + max(options.max_load_seconds, options.stop_after_spawn)
    master = isinstance(runner, MasterRunner)
    wanted = 0 if master else options.min_window_requests
    cycled = 0 if master else options.open_after_ends
    kept = recorder.current_recorder()

    def wait_until(done: Callable[[], bool]) -> None:
        while not done() and time.monotonic() < latest:
            gevent.sleep(0.1)

    def stop_when_measured() -> None:
        counted_from = spawned
        if options.open_after_ends:
            # A cycled window: it opens once the first downloads ended, and is timed from then.
            wait_until(lambda: kept.finished_since(spawned) >= cycled)
            kept.event("window_open")
            counted_from = time.monotonic()
        # The window's ends fall on byte-count bins (compare.run.records.measurement_window):
        # count starts from its first bin boundary, and stop a bin after the last one wanted,
        # so every start counted here lies in the window.
        opens = math.ceil((counted_from + options.window_settle) / BIN_S) * BIN_S
        gevent.sleep(max(0.0, counted_from + options.stop_after_spawn - time.monotonic()))
        if wanted:
            wait_until(lambda: kept.started_since(opens) >= wanted)
            gevent.sleep(BIN_S)
        if options.drain_first_bytes and not master:
            drain_to_first_bytes()
        runner.stop()
        runner.quit()

    def drain_to_first_bytes() -> None:
        # Slow readers: what the window's requests still owe is their first byte (their wait);
        # the rest of each body only takes the reader's time. Stop the users once each has it.
        closed = time.monotonic()
        stopping = gevent.spawn(runner.stop)  # users finish their requests (--stop-timeout)
        while not stopping.ready() and kept.awaiting_first_byte(closed):
            gevent.sleep(0.05)
        runner.user_greenlets.kill(block=True)  # each request still running records as stopped
        stopping.join()

    gevent.spawn(stop_when_measured)


_ENVIRONMENT: dict[str, Any] = {}


@events.init.add_listener
def _remember(environment: Any, **_kwargs: Any) -> None:
    _ENVIRONMENT["current"] = environment


def _note(name: str) -> Any:
    return lambda *_args, **_kwargs: recorder.current_recorder().event(name)


for _event in EVENTS:
    getattr(events, _event).add_listener(_note(_event))
events.quitting.add_listener(lambda **_kwargs: recorder.current_recorder().close())


@events.init.add_listener
def _add_server_tab(environment: Any, **_kwargs: Any) -> None:
    # Only the process serving the web UI has one (not headless runs, not workers).
    if environment.web_ui is not None:
        from loadtests import picker, servertab, startform  # Flask is only needed here

        servertab.install(environment.web_ui)
        picker.install(environment.web_ui.app, lambda: environment.available_user_classes or ())
        startform.install(environment.web_ui)
