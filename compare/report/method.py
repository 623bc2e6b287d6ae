"""Environment and method: what ran, where, how, and what happened along the way."""

from __future__ import annotations

import shlex
from typing import Any

from compare.report.metrics import (
    CLIENT_BOUND_PCT,
    MACHINE_BOUND_PCT,
    PERCENTILE_METHOD,
    SERVER_CPU_SHARED_PCT,
)
from compare.report.model import Model
from compare.report.stats import ALPHA, DEFAULT_MIN_RELATIVE, MIN_PAIRS
from compare.report.tables import Table

AUTOGROUP = {
    "1": "on (CPU is shared between sessions first: work in other terminals competes)",
    "0": "off",
}


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value) or "-"
    return str(value)


def _gb(value: Any) -> str:
    return f"{value / 2**30:.1f} GiB" if isinstance(value, int | float) else "-"


def environment(model: Model) -> list[tuple[str, str]]:
    """Where and with what the run was made, one (label, value) pair per line."""
    results = model.results
    env = results.environment
    git = env.get("git") or {}
    placement = env.get("placement") or {}
    packages = env.get("packages") or {}
    commit = _text(git.get("commit"))
    if git.get("dirty"):
        commit += " (with uncommitted changes)"
    rows = [
        ("status", _text(results.status)),
        ("started / finished (UTC)", f"{_text(results.started)} / {_text(results.finished)}"),
        ("Python", f"{_text(env.get('python'))} ({_text(env.get('python_implementation'))})"),
        ("platform", _text(env.get("platform"))),
        ("CPU", f"{_text(env.get('cpu_model'))}, {_text(env.get('cpu_count'))} logical CPUs"),
        ("CPUs available to the run", _text(env.get("cpu_affinity"))),
        ("memory", _gb(env.get("memory_total"))),
        (
            "placement",
            f"{_text(placement.get('mode') or 'as given')}: "
            f"servers on CPUs {_text(placement.get('server_cpus') or 'any')}, "
            f"load generator and harness on CPUs {_text(placement.get('client_cpus') or 'any')}",
        ),
        ("git commit", commit),
        (
            "other load at the start",
            f"load average {_text(env.get('load_average'))}; kernel autogroup "
            + AUTOGROUP.get(str(env.get("sched_autogroup")), "unknown"),
        ),
    ]
    installed = [f"{name} {version}" for name, version in packages.items() if version]
    absent = [name for name, version in packages.items() if not version]
    rows.append(("packages", ", ".join(installed) or "-"))
    if absent:
        rows.append(("not installed", ", ".join(absent)))
    return rows


def method(model: Model) -> list[tuple[str, str]]:
    """How the run measured: repetitions, durations, sizes, sampling."""
    c = model.results.config

    def get(key: str) -> str:
        return _text(c.get(key))

    users = c.get("users") or "each scenario's own"
    rows = c.get("rows") or "each scenario's own"
    return [
        ("stacks", get("stacks")),
        ("scenarios", get("scenarios")),
        ("repetitions", f"{get('repeat')} (stacks alternate within each, to spread drift)"),
        (
            "load per cell",
            f"a window of about {get('duration_s')} s that opens {get('settle_s')} s after every "
            f"user was spawned; requests started in it get up to {get('drain_s')} s to finish",
        ),
        (
            "warm-up",
            f"at least {get('warmup_s')} s of exports and pings until every worker answered, "
            f"before each cell and sweep point; idle baselines ({get('idle_s')} s) before and "
            "after it",
        ),
        ("users per cell", _text(users)),
        ("rows per export", f"{rows:,}" if isinstance(rows, int) else rows),
        ("workers per stack", get("workers")),
        ("row source", get("source")),
        (
            "size sweep",
            f"{get('sweep_sizes')} rows; {get('sweep_variants')}; x{get('sweep_repeat')}",
        ),
        (
            "memory sampling",
            f"tree PSS every {get('sample_interval_s')} s in load cells, every "
            f"{get('sweep_sample_interval_s')} s in the size sweep; the kernel's per-process "
            "high-water marks (VmHWM) as a check on the peak",
        ),
        ("percentiles", PERCENTILE_METHOD),
        (
            "verdicts",
            f"each repetition gives one value per figure (logarithms for ratios, MB differences "
            f"for memory); the two stacks of a repetition ran back to back, so with at least "
            f"{MIN_PAIRS} repetitions an exact sign-flip test on the within-pair differences "
            f"(drift between repetitions cancels), else a two-sample permutation test, decides; "
            f"the 95% interval inverts the same test. Clear: it rejects 'no difference' at "
            f"{ALPHA:g} and the estimate is at least the minimum effect "
            f"({DEFAULT_MIN_RELATIVE:.0%} and the figure's floor: 2 ms, 2 MB, 0.1 MB/s); "
            "no meaningful difference: the whole interval lies within it; inconclusive: "
            f"anything else. At most {ALPHA:.0%} of the figures of an A/A run (a stack against "
            f"itself) are called clear. Sizes whose smallest p-value is above {ALPHA:g} (3 + 3 "
            "repetitions, 5 pairs): shown, not judged. Values beside a factor are geometric "
            "means (ratios) or means (differences)",
        ),
        (
            "service level",
            "a load level meets it when every repetition does (p99 TTFB within the SLO, no "
            "failure, every user served, nothing still waiting when the cell ended; rates: 95% "
            "of the offered rate, nothing refused); repetitions where the load generator was "
            "the limit do not count, and a level with nothing else stops the climb",
        ),
        (
            "flags",
            f"client-bound: a load-generator process >= {CLIENT_BOUND_PCT:g}% of a core; "
            f"machine-bound: all CPUs >= {MACHINE_BOUND_PCT:g}% busy; server-cpu-shared: other "
            f"processes than the server's used >= {SERVER_CPU_SHARED_PCT:g}% of the servers' "
            "CPUs (their busy time in /proc/stat less the server tree's CPU; all over the "
            "window)",
        ),
    ]


def stacks(model: Model) -> Table:
    """Each stack's settings as stored in the document."""
    table = Table(("stack", "interface", "server", "worker", "loop / parser", "workers", "notes"))
    for name, spec in model.results.stacks.items():
        version = spec.server_version
        server = f"{_text(spec.server)} {version}" if version else _text(spec.server)
        worker = _text(spec.worker_class)
        if spec.threads:
            worker += f", {spec.threads} threads"
        if spec.timeout:
            worker += f", timeout {spec.timeout} s"
        notes = list(spec.notes)
        if not spec.available:
            notes.insert(0, f"UNAVAILABLE: {spec.missing}")
        table.add(
            name,
            _text(spec.interface),
            server,
            worker,
            f"{_text(spec.loop)} / {_text(spec.http_parser)}",
            _text(spec.workers),
            "; ".join(notes),
            mark="failed" if not spec.available else "",
        )
    return table


def command_lines(model: Model) -> list[tuple[str, str]]:
    """The exact command lines: the run itself, each stack, one locust line per scenario."""
    results = model.results
    lines: list[tuple[str, str]] = []
    if results.command:
        lines.append(("this run", shlex.join(results.command)))
    for name, spec in results.stacks.items():
        if spec.argv_example:
            lines.append((name, shlex.join(spec.argv_example)))
    seen: set[str] = set()
    for cell in results.cells:
        if cell.scenario not in seen and cell.locust_argv:
            seen.add(cell.scenario)
            lines.append((f"locust, {cell.scenario}", shlex.join(cell.locust_argv)))
    return lines


def events(model: Model) -> list[str]:
    """What happened to the run (interruptions, skipped stacks), with times."""
    return [f"{_text(e.at)}: {_text(e.message)}" for e in model.results.events]


def warnings(model: Model) -> list[str]:
    """Every distinct warning a server logged, and where it appeared."""
    where: dict[str, list[str]] = {}
    for cell in model.results.cells:
        for text in cell.warnings:
            where.setdefault(text, []).append(f"{cell.scenario} on {cell.stack}")
    for point in model.results.sweep:
        for text in point.warnings:
            where.setdefault(text, []).append(f"sweep {point.variant} on {point.stack}")
    return [
        f"\u201c{text}\u201d ({', '.join(dict.fromkeys(places))})" for text, places in where.items()
    ]
