"""What a run ran on: versions, CPU, git commit. Stored once per results document."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil

from compare import REPO_ROOT

PACKAGES = (
    "Django",
    "asgiref",
    "gunicorn",
    "uvicorn",
    "uvicorn-worker",
    "uvloop",
    "httptools",
    "granian",
    "locust",
    "geventhttpclient",
    "psutil",
)


def package_versions() -> dict[str, str | None]:
    """Installed version of each package that shapes the figures (None when absent)."""
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (or the platform's guess)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_state() -> dict[str, Any]:
    """The commit the harness ran from, and whether the tree had uncommitted changes."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    status = git("status", "--porcelain", "--untracked-files=no")
    return {
        "commit": git("rev-parse", "HEAD"),
        "dirty": bool(status) if status is not None else None,
    }


def describe() -> dict[str, Any]:
    """Everything about this machine and software that a reader needs to trust the figures."""
    return {
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "executable": sys.executable,
        "platform": platform.platform(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": sorted(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else None,
        "memory_total": _memory_total(),
        # With autogroup on, the kernel shares CPU between sessions before processes: a niced
        # process in another terminal still takes half a busy CPU from the benchmark.
        "sched_autogroup": _read_int("/proc/sys/kernel/sched_autogroup_enabled"),
        "load_average": _load_average(),
        "packages": package_versions(),
        "git": git_state(),
    }


def _read_int(path: str) -> int | None:
    try:
        return int(Path(path).read_text().strip())
    except (OSError, ValueError):
        return None


def _load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages when the run started (other work on the machine)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def _memory_total() -> int:
    return int(psutil.virtual_memory().total)
