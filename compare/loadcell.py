"""One load-test cell: a fresh stack, a warm-up, locust headless, the sampler, all recorded."""

from __future__ import annotations

import contextlib
import csv
import logging
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from compare.config import BenchConfig
from compare.download import download
from compare.errors import CompareError
from compare.lifecycle import MeasuredServer, django_warnings, pin
from compare.server import REPO_ROOT
from compare.stacks import StackSpec
from loadtests.catalog import SCENARIOS, locust_command
from loadtests.options import OPTIONS

logger = logging.getLogger(__name__)

CLIENT_POLL_S = 0.25
# Locust spends its first second or so importing gevent and starting users: not load.
CLIENT_STARTUP_S = 1.5
LOCUST_GRACE_S = 30.0


@dataclass(frozen=True)
class ClientLoad:
    """The load generator's own CPU use: a saturated client makes every figure suspect."""

    mean_pct: float
    max_pct: float
    samples: list[tuple[float, float]]  # (seconds since start, CPU % of one core)


def _poll_client(proc: subprocess.Popen[bytes], deadline: float) -> ClientLoad:
    """Wait for locust to exit (killing it at the deadline) while sampling its CPU."""
    watched = psutil.Process(proc.pid)
    started = time.monotonic()
    last_t, last_cpu = started, 0.0
    samples: list[tuple[float, float]] = []
    while proc.poll() is None:
        if time.monotonic() > deadline:
            _kill_group(proc)
            raise CompareError(f"locust did not finish within {deadline - started:.0f} s")
        time.sleep(CLIENT_POLL_S)
        with contextlib.suppress(psutil.Error):
            times = watched.cpu_times()
            now, cpu = time.monotonic(), times.user + times.system
            samples.append((now - started, 100 * (cpu - last_cpu) / (now - last_t)))
            last_t, last_cpu = now, cpu
    busy = [pct for t, pct in samples if t > CLIENT_STARTUP_S] or [pct for _, pct in samples]
    mean = sum(busy) / len(busy) if busy else 0.0
    return ClientLoad(mean, max(busy, default=0.0), samples)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


def read_locust_csv(path: Path) -> list[dict[str, str]]:
    """Rows of one of locust's CSV files (empty when locust did not write it)."""
    try:
        with path.open(newline="") as handle:
            return list(csv.DictReader(handle))
    except OSError:
        return []


def warm_up(base_url: str, config: BenchConfig) -> None:
    """A few requests so that lazy imports and first-request costs fall outside the window."""
    deadline = time.monotonic() + config.warmup_s
    while True:
        result = download(f"{base_url}/export.csv?rows=20000&source={config.source}", timeout=60)
        if result.status != 200:
            raise CompareError(f"warm-up request failed with HTTP {result.status}")
        download(f"{base_url}/ping", timeout=10)
        if time.monotonic() >= deadline:
            return


def run_load_cell(
    config: BenchConfig,
    spec: StackSpec,
    scenario: str,
    repetition: int,
    cell_dir: Path,
) -> dict[str, Any]:
    """Run one scenario against a fresh stack; the cell records failure instead of raising."""
    info = SCENARIOS[scenario]
    users = max(config.users or info.users, info.min_users)
    cell: dict[str, Any] = {
        "stack": spec.name,
        "scenario": scenario,
        "repetition": repetition,
        "users": users,
        "duration_s": config.duration_s,
        "status": "failed",
        "error": None,
        "dir": str(cell_dir),
    }
    try:
        with MeasuredServer(config, spec, cell_dir) as measured:
            server = measured.server
            cell["server_argv"] = server.argv
            warm_up(server.base_url, config)
            params: dict[str, int | float | str] = {"source": config.source}
            if config.rows:
                params["rows"] = config.rows
            cell["export_rows"] = export_rows(scenario, params)
            argv = locust_command(
                [scenario],
                host=server.base_url,
                users=users,
                run_time_s=config.duration_s,
                csv_prefix=cell_dir / "locust",
                params=params,
            )
            cell["locust_argv"] = argv
            t0 = time.monotonic()
            with (cell_dir / "locust.log").open("wb") as log:
                proc = subprocess.Popen(
                    argv,
                    cwd=REPO_ROOT,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
                try:
                    pin(proc.pid, config.client_cpus)
                    client = _poll_client(proc, t0 + config.duration_s + LOCUST_GRACE_S)
                finally:
                    if proc.poll() is None:
                        _kill_group(proc)
            t1 = time.monotonic()
            measured.settle_after(t1)
            cell.update(measured.memory_and_cpu(t0, t1))
            cell["timeline"] = [
                {
                    "t": s.t - t0,
                    "pss": s.pss,
                    "uss": s.uss,
                    "cpu": s.cpu,
                    "processes": len(s.processes),
                }
                for s in measured.samples()
            ]
            cell["baseline_window"] = [w - t0 for w in measured.baseline_window]
            cell["client"] = {
                "mean_cpu_pct": client.mean_pct,
                "max_cpu_pct": client.max_pct,
                "samples": client.samples,
                "bound": client.mean_pct >= config.client_bound_pct,
            }
            cell["locust_exit_code"] = proc.returncode
            cell["stats"] = read_locust_csv(cell_dir / "locust_stats.csv")
            cell["failures"] = read_locust_csv(cell_dir / "locust_failures.csv")
            cell["exceptions"] = read_locust_csv(cell_dir / "locust_exceptions.csv")
            cell["warnings"] = django_warnings(server.log_path)
            cell["server_survived"] = server.running()
            cell["processes_died"] = measured.vanished(t0)
            cell["status"], cell["error"] = _verdict(cell)
    except (CompareError, OSError, psutil.Error) as error:
        cell["error"] = str(error)
    return cell


def export_rows(scenario: str, params: dict[str, int | float | str]) -> int:
    """Rows per export that a scenario's users request: ours over the catalog's over locust's."""
    if scenario == "first-byte":
        return int(OPTIONS["first_byte_rows"].default)
    merged = {"rows": OPTIONS["rows"].default, **SCENARIOS[scenario].params, **params}
    return int(merged["rows"])


def _verdict(cell: dict[str, Any]) -> tuple[str, str | None]:
    if not cell["server_survived"]:
        return "failed", "the server exited during the cell"
    if cell["processes_died"]:
        pids = ", ".join(map(str, cell["processes_died"]))
        return "failed", f"server processes died during the cell (pid {pids}); figures unreliable"
    if cell["locust_exit_code"] not in (0, None):
        return "failed", f"locust exited with code {cell['locust_exit_code']}"
    aggregated = [row for row in cell["stats"] if row.get("Name") == "Aggregated"]
    if not aggregated or int(aggregated[0].get("Request Count") or 0) == 0:
        return "failed", "no request completed"
    return "ok", None
