"""``ui``: the stacks, their memory and CPU feed, and locust's web UI, until Ctrl-C or SIGTERM.

This process (no gevent) starts each stack and a ProcessTreeSampler on it, serves the samples on
a loopback port (compare.run.serverfeed), then runs locust's web UI as a child with the feed's URL
in its environment; the locustfile adds the "Server" tab that draws them. Stopping it stops
locust, the stacks and the feed, leaving no process behind.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import logging
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

from compare.commands.arguments import (
    add_data_arguments,
    add_project_arguments,
    blamed,
    env_default,
    port_number,
    project_target,
    refuse_profiles,
    stop_leftovers,
)
from compare.errors import CompareError, UsageError
from compare.run.appdata import RunData
from compare.run.locust import LocustProcess, web_ui_argv, worker_argv
from compare.run.reference import fetch_reference
from compare.run.run import Run
from compare.run.serverfeed import BASELINE_SAMPLES, KEPT_SAMPLES, FeedStack, ServerFeed
from compare.run.userproject import UserProject
from compare.servers.server import ServerProcess
from compare.servers.stacks import STACK_ALIASES, StackSpec, get_stack, stack_names
from compare.settings import DSC_SERVER_FEED_URL, DSC_STACKS
from compare.system.interrupts import ignore_stop_signals, stop_signals_interrupt
from compare.system.ports import LOOPBACK, free_port, port_in_use
from compare.system.sampler import ProcessTreeSampler

logger = logging.getLogger(__name__)

DEFAULT_PORT = 8089
DEFAULT_INTERVAL = 0.25  # the runner samples faster; a person watching needs no more than this
DEFAULT_USERS = 4  # what the start form proposes (the catalog's usual concurrency)
READY_TIMEOUT_S = 60.0
POLL_S = 0.2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``ui`` options."""
    parser.add_argument(
        "--stacks",
        default=env_default(DSC_STACKS),
        help="comma-separated stack names or aliases, as bench takes them: all (every server), "
        "nginx, everything (default %(default)s); the first is the default host",
    )
    parser.add_argument(
        "--port", type=port_number, default=DEFAULT_PORT, help="web UI port (default %(default)s)"
    )
    parser.add_argument(
        "--web-host", default=LOOPBACK, help="web UI address to bind (default %(default)s)"
    )
    parser.add_argument(
        "--stack-host",
        default=LOOPBACK,
        help="address the stacks listen on (default %(default)s; 0.0.0.0 lets locust workers on "
        "other machines reach them, with their address in $DSC_ALLOWED_HOSTS)",
    )
    parser.add_argument("--workers", type=int, help="worker processes per stack (default: 2)")
    parser.add_argument(
        "--locust-workers",
        type=int,
        default=0,
        help="run locust distributed: a master with the UI plus this many workers (default 0)",
    )
    parser.add_argument(
        "--sample-interval",
        type=float,
        default=DEFAULT_INTERVAL,
        help="seconds between memory and CPU samples (default %(default)s)",
    )
    add_data_arguments(parser, seed_rows=True)
    add_project_arguments(
        parser, urls_help="the path locust fetches, e.g. /orders/export.csv (one per run)"
    )
    parser.add_argument(
        "locust_args",
        nargs="*",
        metavar="-- LOCUST_ARGS",
        help="passed to locust after '--', e.g. -- --rows 1000000 --mode buffered",
    )


def register(subparsers: Any) -> None:
    """Add the ``ui`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "ui", help="start stacks and the locust web UI with a live Server tab, until Ctrl-C"
    )
    add_arguments(parser)
    parser.set_defaults(handler=run)


def installed(specs: Sequence[StackSpec], *, every: bool) -> list[StackSpec]:
    """The stacks that can run; asked for 'all', skip the others, else refuse before starting."""
    usable = []
    for spec in specs:
        missing = spec.missing()
        if missing is None:
            usable.append(spec)
        elif every:
            print(f"skipping {spec.name}: {missing}", file=sys.stderr)
        else:
            raise CompareError(f"{spec.name}: {missing}")
    if not usable:
        raise CompareError("none of the stacks can run here")
    return usable


def probe_host(web_host: str) -> str:
    """The address to reach a UI bound to ``web_host`` from this machine."""
    if web_host in ("", "0.0.0.0", "*"):
        return LOOPBACK
    if web_host.strip("[]") == "::":
        return "[::1]"
    return f"[{web_host.strip('[]')}]" if ":" in web_host else web_host


def exposure_warning(web_host: str, locust_args: Sequence[str]) -> str | None:
    """What to say when the UI would answer other machines without a login, or None."""
    host = web_host.strip("[]")
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name: it may resolve anywhere
        loopback = False
    if loopback or "--web-login" in locust_args:
        return None
    return (
        f"warning: the locust web UI on {web_host or '0.0.0.0'} answers other machines without a "
        "login: anyone who reaches it can start a load against any host. Keep --web-host on "
        "loopback behind a reverse proxy with authentication (or an SSH tunnel), or pass "
        "`-- --web-login` with a login handler; docs/locust-ui.md says how"
    )


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=2) as resp:
        return json.loads(resp.read())


def wait_for_ui(ui_url: str, children: Sequence[LocustProcess], workers: int) -> None:
    """Return once the UI answers (and sees every worker); raise CompareError if locust exits."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    problem = "no answer yet"
    while time.monotonic() < deadline:
        for child in children:
            code = child.poll()
            if code is not None:
                raise CompareError(f"locust exited with code {code} while starting (see above)")
        try:
            if workers:
                count = _get_json(ui_url + "worker-count").get("worker_count", 0)
                problem = f"{count} of {workers} locust workers connected"
                if count >= workers:
                    return
            else:
                with urllib.request.urlopen(ui_url, timeout=2) as resp:
                    resp.read()
                return
        except (OSError, ValueError) as exc:
            problem = f"{exc.__class__.__name__}: {exc}"
        time.sleep(POLL_S)
    raise CompareError(
        f"locust web UI at {ui_url} not ready after {READY_TIMEOUT_S:g} s ({problem})"
    )


def _describe(server: ServerProcess) -> str:
    return f"{server.spec.name:<22} {server.base_url}  ({server.interface}, pid {server.pid})"


def serve_ui(
    args: argparse.Namespace, specs: Sequence[StackSpec], own: UserProject | None = None
) -> int:
    """Run everything until locust exits or we are interrupted; return locust's exit code."""
    t0 = time.monotonic()
    with contextlib.ExitStack() as stack:
        try:
            return _serve(stack, args, specs, t0, own)
        except KeyboardInterrupt:
            ignore_stop_signals()  # the ExitStack's clean-up, next, runs to its end
            print("\nstopping locust and the stacks ...", file=sys.stderr, flush=True)
            raise
    return 1  # unreachable: the with block returns or raises (mypy cannot tell)


def _serve(
    stack: contextlib.ExitStack,
    args: argparse.Namespace,
    specs: Sequence[StackSpec],
    t0: float,
    own: UserProject | None,
) -> int:
    servers = []
    feed_stacks = []
    samplers = []
    data = RunData(args.source, args.app, args.seed_rows, own_database=args.own_database)
    run = stack.enter_context(Run(own or data))
    for spec in specs:
        server = stack.enter_context(run.server(spec, host=args.stack_host))
        sampler = stack.enter_context(
            ProcessTreeSampler(server.pid, args.sample_interval, keep=KEPT_SAMPLES)
        )
        servers.append(server)
        samplers.append(sampler)
        feed_stacks.append(
            FeedStack(spec.name, server.base_url, spec.interface, server.pid, sampler)
        )
        print(f"started {_describe(server)}", flush=True)
    for sampler in samplers:  # the first samples are the idle baseline: taken before any load
        sampler.wait_for(BASELINE_SAMPLES, timeout=BASELINE_SAMPLES * 5 + 5)
    if own is not None:  # every body locust reads is held to this one, as in bench --project
        reference = fetch_reference(servers[0].base_url, own.urls[0], servers[0].spec.name)
        own.reference = reference.as_dict()
        print(f"reference: {own.urls[0]}: {reference.size} bytes, SHA-256 {reference.sha256}")
    feed = stack.enter_context(
        ServerFeed(feed_stacks, interval=args.sample_interval, t0=t0, host=LOOPBACK)
    )
    feed_env = {DSC_SERVER_FEED_URL.name: feed.url}
    master_port = free_port(LOOPBACK) if args.locust_workers else None
    argv = web_ui_argv(
        host_url=servers[0].base_url,
        web_host=args.web_host,
        web_port=args.port,
        users=DEFAULT_USERS,
        master_port=master_port,
        params=run.target.locust_options(),
        extra=args.locust_args,
    )
    children: list[LocustProcess] = []
    stack.callback(_stop_all, children)  # registered first: a Ctrl-C right after Popen is covered
    workers = [worker_argv(master_port) for _ in range(args.locust_workers)] if master_port else []
    for command in (argv, *workers):
        children.append(run.locust(command, env=feed_env))
        children[-1].start()
    ui_url = f"http://{probe_host(args.web_host)}:{args.port}/"
    wait_for_ui(ui_url, children, args.locust_workers)
    print("\nStacks (paste an address into the Host field to target it):")
    for server in servers:
        print(f"  {_describe(server)}")
    print(f"\nLocust web UI: {ui_url}  (the Server tab: {ui_url}?tab=server)")
    print("Ctrl-C stops locust and every stack.", flush=True)
    return _watch(children, servers)


def _stop_all(children: Sequence[LocustProcess]) -> None:
    for child in reversed(children):  # workers first, then the master
        child.stop()


def _watch(children: Sequence[LocustProcess], servers: Sequence[ServerProcess]) -> int:
    """Wait until locust exits; say so when a stack dies meanwhile."""
    dead: set[str] = set()
    while True:
        code = children[0].poll()
        if code is not None:
            print(f"locust exited with code {code}; stopping the stacks", file=sys.stderr)
            return code
        for child in children[1:]:
            if child.poll() is not None and "worker" not in dead:
                dead.add("worker")
                print("a locust worker exited; the master goes on without it", file=sys.stderr)
        for server in servers:
            if server.spec.name not in dead and not server.running():
                dead.add(server.spec.name)
                print(
                    f"{server.spec.name} exited on its own; its log: {server.log_tail(5)}",
                    file=sys.stderr,
                )
        time.sleep(POLL_S)


def run(args: argparse.Namespace) -> int:
    """Validate, then serve until Ctrl-C or SIGTERM; stop everything on the way out."""
    with blamed(args.stacks):
        names = stack_names(args.stacks)
    own = project_target(args, urls_needed=True)
    refuse_profiles(names, own)
    if own is not None and len(own.urls) > 1:
        raise UsageError("ui --project fetches one --url per run")
    specs = [get_stack(name).with_options(workers=args.workers) for name in names]
    # Asked for by an alias (all, nginx, everything), stacks that cannot run here are skipped.
    specs = installed(specs, every=args.stacks.strip() in STACK_ALIASES)
    if args.locust_workers < 0:
        raise CompareError(f"--locust-workers must not be negative, got {args.locust_workers}")
    if not args.sample_interval > 0:
        raise CompareError(f"--sample-interval must be positive, got {args.sample_interval}")
    stop_leftovers()  # a killed ui's locust may hold this very port
    if port_in_use(args.web_host or "0.0.0.0", args.port):
        raise CompareError(f"port {args.port} on {args.web_host} is in use; pick another: --port")
    warning = exposure_warning(args.web_host, args.locust_args)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    with stop_signals_interrupt():
        try:
            return serve_ui(args, specs, own)
        except KeyboardInterrupt:
            # The context managers of serve_ui already stopped everything.
            print("stopped", file=sys.stderr)
            return 0
