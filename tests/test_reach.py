"""Stacks on a wildcard address: ready, reachable on every admitted address, and from elsewhere.

A stack bound to 0.0.0.0 (or ::) is probed through loopback with a Host it accepts, and then
answers on each local address that $DSC_ALLOWED_HOSTS admits. The multi-machine recipe of the
README runs for real without a second machine: locust workers in a network namespace of their
own, joined to this one by a veth pair, drive a stack through the master of ``compare ui``; the
Server tab and the workers' records see their load, and the kernel's byte count on the veth
says it crossed.

The namespace test changes the machine's network state (a namespace, a veth pair). It needs root
and ``ip``, skips saying so otherwise, and removes both even when it fails.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil
import pytest
from django.http.request import validate_host

from compare import REPO_ROOT
from compare.dev.liveui import LiveUI
from compare.dev.wait import wait_until
from compare.servers.server import PROBE_HOST_HEADER, ServerProcess, allowed_hosts, probe_address
from compare.servers.stacks import STACKS
from compare.settings import DSC_ALLOWED_HOSTS
from compare.system.ports import free_port
from loadtests.catalog import LOCUSTFILE
from tests.helpers import assert_gone, no_new_children, stack_params, tree_pids

# One of each way a stack binds: uvicorn's supervisor, gunicorn's arbiter, the prefork socket
# daphne shares, granian's Rust listener, and nginx in front (it alone binds the wildcard).
WILDCARD_STACKS = ["uvicorn", "gunicorn-sync", "daphne", "granian-wsgi", "nginx-unbuffered+uvicorn"]
# daphne adopts IPv4 descriptors only: compare.servers.prefork refuses '::' in one line.
IPV4_ONLY = {"daphne"}
NOT_ADMITTED = "not-admitted.example"


# --- the probe's address and Host, without servers ---------------------------------------------


@pytest.mark.parametrize(
    ("bound", "reached"),
    [
        ("0.0.0.0", "127.0.0.1"),
        ("", "127.0.0.1"),
        ("::", "::1"),
        ("[::]", "::1"),
        ("127.0.0.1", "127.0.0.1"),
        ("[::1]", "::1"),
        ("192.0.2.7", "192.0.2.7"),
    ],
)
def test_a_wildcard_bind_is_probed_through_loopback(bound: str, reached: str) -> None:
    assert probe_address(bound) == reached


@pytest.mark.parametrize("extra", ["", "10.0.0.5", "nginx,uvicorn"])
def test_the_probes_host_is_admitted_whatever_else_is(
    extra: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DSC_ALLOWED_HOSTS.name, extra)
    assert validate_host(PROBE_HOST_HEADER, allowed_hosts().split(","))
    # What the probe sent before: the bound address, which Django refuses.
    assert not validate_host("0.0.0.0", allowed_hosts().split(","))


# --- real stacks on a wildcard address ---------------------------------------------------------


def own_address(family: socket.AddressFamily) -> str | None:
    """One of this machine's own addresses that is neither loopback nor link-local."""
    for addresses in psutil.net_if_addrs().values():
        for entry in addresses:
            if entry.family != family:
                continue
            address = ipaddress.ip_address(entry.address.split("%")[0])
            if not (address.is_loopback or address.is_link_local):
                return str(address)
    return None


def other_local_address(wildcard: str) -> str:
    """An address of this machine other than loopback's own, in the wildcard's family."""
    if ":" not in wildcard:
        # The machine's own address; else another loopback one (Linux routes 127/8 to lo).
        return own_address(socket.AF_INET) or "127.0.0.2"
    found = own_address(socket.AF_INET6)
    if found is None:
        pytest.skip("this machine has no IPv6 address besides ::1 and link-local ones")
    return found


def url_host(address: str) -> str:
    """An address as it appears in a URL or a Host header (IPv6 in brackets)."""
    return f"[{address}]" if ":" in address else address


def healthz_status(address: str, port: int, host: str | None = None) -> int:
    """GET /healthz from ``address``:``port``; the Host header is the address unless given."""
    conn = http.client.HTTPConnection(address, port, timeout=10)
    try:
        headers = {"Host": host} if host else {}
        conn.request("GET", "/healthz", headers=headers)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def wildcard_params() -> list[Any]:
    """(stack, wildcard) for every stack on 0.0.0.0 and each that can bind :: on it."""
    params = []
    for param in stack_params(WILDCARD_STACKS):
        (name,) = param.values
        for wildcard, family in (("0.0.0.0", "ipv4"), ("::", "ipv6")):
            marks = list(param.marks)
            if family == "ipv6" and name in IPV4_ONLY:
                marks.append(pytest.mark.skip(reason=f"{name} binds IPv4 addresses only"))
            params.append(pytest.param(name, wildcard, id=f"{name}-{family}", marks=marks))
    return params


@pytest.mark.server
@pytest.mark.parametrize(("name", "wildcard"), wildcard_params())
def test_a_stack_on_a_wildcard_address_is_ready_and_answers_on_each_admitted_address(
    name: str, wildcard: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = other_local_address(wildcard)
    monkeypatch.setenv(DSC_ALLOWED_HOSTS.name, url_host(other))
    with no_new_children(), ServerProcess(STACKS[name], host=wildcard) as server:
        assert healthz_status(probe_address(wildcard), server.port) == 200
        # Another of the machine's addresses, with the Host a client there would send.
        assert healthz_status(other, server.port) == 200
        # Admission is what lets it through: the same address under a Host not admitted.
        assert healthz_status(other, server.port, NOT_ADMITTED) == 400


# --- locust workers in another network namespace -----------------------------------------------


@dataclass(frozen=True)
class Veth:
    """A network namespace joined to this one by a veth pair, one address at each end."""

    namespace: str
    host_interface: str
    host_address: str
    namespace_address: str

    def command(self, argv: list[str]) -> list[str]:
        """``argv`` run inside the namespace."""
        return ["ip", "netns", "exec", self.namespace, *argv]

    def sent_bytes(self) -> int:
        """Bytes this side of the pair sent into the namespace (the kernel's count)."""
        path = Path("/sys/class/net") / self.host_interface / "statistics" / "tx_bytes"
        return int(path.read_text())


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=False)


def _checked_ip(*args: str) -> str:
    done = _ip(*args)
    assert done.returncode == 0, f"ip {' '.join(args)}: {done.stderr.strip()}"
    return done.stdout


def free_subnet() -> ipaddress.IPv4Network:
    """A private /30 that no route of this machine covers."""
    routes = json.loads(_checked_ip("-j", "-4", "route", "show", "table", "all") or "[]")
    taken = [
        ipaddress.IPv4Network(route["dst"], strict=False)
        for route in routes
        if route.get("dst", "default") != "default"
    ]
    pool = list(ipaddress.IPv4Network("10.213.0.0/16").subnets(new_prefix=30))
    first = os.getpid() % len(pool)  # concurrent runs start apart
    for subnet in pool[first:] + pool[:first]:
        if not any(subnet.overlaps(route) for route in taken):
            return subnet
    pytest.skip("no free /30 in 10.213.0.0/16")


@pytest.fixture
def veth() -> Iterator[Veth]:
    """A namespace and a veth pair for the test, removed afterwards whatever happened."""
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    if shutil.which("ip") is None:
        pytest.skip("no ip command (iproute2)")
    suffix = str(os.getpid() % 100_000)
    namespace, host_if, inner_if = f"dsc-reach-{suffix}", f"dscr{suffix}h", f"dscr{suffix}n"
    added = _ip("netns", "add", namespace)
    if added.returncode != 0:
        pytest.skip(f"cannot add a network namespace here: {added.stderr.strip()}")
    try:
        host_address, inner_address = (str(a) for a in free_subnet().hosts())
        _checked_ip("link", "add", host_if, "type", "veth", "peer", "name", inner_if)
        _checked_ip("link", "set", inner_if, "netns", namespace)
        _checked_ip("addr", "add", f"{host_address}/30", "dev", host_if)
        _checked_ip("link", "set", host_if, "up")
        _checked_ip("-n", namespace, "addr", "add", f"{inner_address}/30", "dev", inner_if)
        _checked_ip("-n", namespace, "link", "set", inner_if, "up")
        _checked_ip("-n", namespace, "link", "set", "lo", "up")
        yield Veth(namespace, host_if, host_address, inner_address)
    finally:
        _remove_namespace(namespace, host_if)


def _remove_namespace(namespace: str, host_if: str) -> None:
    # Whatever the test left running in there is ours; the pair goes with either end.
    pids = [int(pid) for pid in _ip("netns", "pids", namespace).stdout.split()]
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            psutil.Process(pid).kill()
    assert_gone(pids)
    _ip("link", "del", host_if)
    _ip("netns", "del", namespace)
    # The kernel tears a namespace down asynchronously.
    wait_until(lambda: _ip("link", "show", host_if).returncode != 0, 10, f"{host_if} removed")
    assert namespace not in _ip("netns", "list").stdout.split()


def net_namespace(pid: int) -> str:
    return os.readlink(f"/proc/{pid}/ns/net")


def read_requests(path: Path) -> list[dict[str, Any]]:
    """The request records of one records file."""
    if not path.exists():
        return []
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [line["request"] for line in lines if "request" in line]


def cpu_rate(samples: list[list[float]], start: float, end: float) -> float:
    """Mean CPU use (cores) of the Server tab's samples [t, pss_mb, cpu_percent] in [start, end]."""
    inside = [s for s in samples if start <= s[0] <= end]
    pairs = itertools.pairwise(inside)
    seconds = sum(after[2] / 100 * (after[0] - before[0]) for before, after in pairs)
    elapsed = inside[-1][0] - inside[0][0] if len(inside) > 1 else 0.0
    return seconds / elapsed if elapsed else 0.0


WORKERS = 2
DOWNLOADS = 10  # the load: downloads of ROWS rows, at least this many, within LOAD_S
ROWS = 20_000  # about 1.2 MB a body
LOAD_S = 60.0


@pytest.mark.server
@pytest.mark.serial  # compares the stack's CPU under load with its idle CPU: measured alone
def test_locust_workers_in_another_network_namespace_load_a_stack_through_the_master(
    veth: Veth, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server machine's side, as the README says: the stack, the web UI and the master on
    # every address, the address the workers use admitted; a free master port, records kept.
    monkeypatch.setenv(DSC_ALLOWED_HOSTS.name, veth.host_address)
    master_port = free_port("0.0.0.0")
    records = tmp_path / "records"
    ui = LiveUI(
        "uvicorn",
        free_port("0.0.0.0"),
        tmp_path / "ui.log",
        *("--stack-host", "0.0.0.0", "--web-host", "0.0.0.0", "--sample-interval", "0.2"),
        *("--", "--master", "--master-bind-host", "0.0.0.0"),
        *("--master-bind-port", str(master_port), "--record-dir", str(records)),
    )
    workers: list[subprocess.Popen[bytes]] = []
    try:
        ui.wait_ready()
        stack = ui.json("/server-data")["stacks"][0]
        port = urlsplit(stack["url"]).port
        assert port is not None
        # The load machine's side: the README's worker command, run inside the namespace.
        locust = str(Path(sys.executable).with_name("locust"))
        argv = [locust, "-f", str(LOCUSTFILE.relative_to(REPO_ROOT)), "--worker"]
        argv += ["--master-host", veth.host_address, "--master-port", str(master_port)]
        for index in range(WORKERS):
            with (tmp_path / f"worker-{index}.log").open("wb") as log:
                workers.append(
                    subprocess.Popen(
                        veth.command(argv),
                        cwd=REPO_ROOT,
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
        wait_until(
            lambda: len(ui.json("/stats/requests")["workers"]) == WORKERS, 30, "workers connected"
        )
        assert all(net_namespace(w.pid) != net_namespace(os.getpid()) for w in workers)
        sent_before = veth.sent_bytes()
        swarm_start = ui.json("/server-data")["now"]

        target = f"http://{veth.host_address}:{port}"
        ui.swarm(target, WORKERS, "DownloadUser", rows=ROWS)
        try:
            stack_pids = tree_pids(stack["pid"])

            def from_the_namespace() -> bool:
                # The stack's side of a connection whose other end is in the namespace.
                return any(
                    c.raddr and c.raddr.ip == veth.namespace_address and c.pid in stack_pids
                    for c in psutil.net_connections("tcp4")
                )

            wait_until(from_the_namespace, 30, "a connection from the namespace")

            def downloaded() -> bool:
                rows = ui.rows()
                done: int = rows.get(("DOWNLOAD", "download"), {}).get("num_requests", 0)
                return done >= DOWNLOADS

            wait_until(downloaded, LOAD_S, f"{DOWNLOADS} downloads")
        finally:
            ui.stop_swarm()
        swarm_end = ui.json("/server-data")["now"]
        sent = veth.sent_bytes() - sent_before

        # Locust's own statistics (the master runs no user: every row came from the workers).
        rows = ui.rows()
        assert rows[("DOWNLOAD", "download")]["num_failures"] == 0, rows

        # The records: each worker in the namespace wrote its own file, every request to the
        # stack's address, answered by the stack's processes.
        def recorded() -> list[dict[str, Any]]:
            found = [r for w in workers for r in read_requests(records / f"records-{w.pid}.jsonl")]
            ok = [r for r in found if r["kind"] == "download" and r["outcome"] == "ok"]
            return found if len(ok) >= DOWNLOADS else []

        requests = wait_until(recorded, 10, f"{DOWNLOADS} recorded downloads")
        ok = [r for r in requests if r["kind"] == "download" and r["outcome"] == "ok"]
        assert {r["worker"] for r in ok} <= stack_pids
        assert all(r["bytes"] > ROWS * 50 for r in ok)  # about 58 bytes a row
        # The kernel counted at least every body byte leaving through the veth pair.
        assert sent >= sum(r["bytes"] for r in requests)

        # The Server tab's feed saw the stack work: its CPU under the load against idle before.
        samples = ui.json("/server-data")["stacks"][0]["samples"]
        idle = cpu_rate(samples, samples[0][0], swarm_start)
        busy = cpu_rate(samples, swarm_start, swarm_end)
        print(f"veth bytes {sent}, recorded body bytes {sum(r['bytes'] for r in requests)}")
        print(f"stack CPU: idle {idle:.3f} cores, under load {busy:.3f} cores")
        # Both rates are measured here; a twentieth of a core is a floor for an idle stack's noise
        # (a stack generating CSV for two users back to back uses far more, on any machine).
        assert busy > 2 * idle + 0.05
    finally:
        ui.interrupt()
        for worker in workers:
            try:
                worker.wait(timeout=15)  # the master's quit ends them
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait(timeout=5)
                pytest.fail(f"a worker outlived the master:\n{ui.output()}")
        assert_gone(ui.pids, timeout=10)
