"""The report's tables as rows of text, shared by the HTML and Markdown renderers."""

from __future__ import annotations

from dataclasses import dataclass, field

from compare.report.figuredefs import FIGURES
from compare.report.metrics import SweepFigures
from compare.report.model import Group, Model
from compare.report.stats import Spread, spread
from compare.report.text import MISSING, plural, span
from compare.servers.stacks import stack_parts
from loadtests.catalog import PING


@dataclass(frozen=True)
class Value:
    """A table entry: the figure, and its range over repetitions (shown smaller in HTML)."""

    main: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.main} ({self.detail})" if self.detail else self.main


Entry = str | Value


@dataclass(frozen=True)
class Table:
    """A header and rows; a row's mark (failed, bound, missing, warn) flags it for the reader."""

    header: tuple[str, ...]
    rows: list[tuple[Entry, ...]] = field(default_factory=list)
    marks: list[str] = field(default_factory=list)

    def add(self, *cells: Entry, mark: str = "") -> None:
        """Append a row."""
        self.rows.append(cells)
        self.marks.append(mark)


def figure(s: Spread | None, fmt: str) -> Entry:
    """A median with its range, or a dash."""
    if s is None:
        return MISSING
    low, high = fmt.format(s.low), fmt.format(s.high)
    if s.n < 2 or low == high:
        return fmt.format(s.median)
    return Value(fmt.format(s.median), span(low, high))


def _marked(entry: Entry, mark: str) -> Entry:
    if isinstance(entry, Value):
        return Value(f"{mark}{entry.main}", entry.detail)
    return f"{mark}{entry}"


def key_figure(group: Group, key: str) -> Entry:
    """A figure of a group, in its own format (compare.report.figuredefs); '>=' before a
    latency that censored requests make a lower bound in any cell."""
    entry = figure(group.spread(key), FIGURES[key].fmt)
    if entry != MISSING and any(c.lower_bound(key) for c in group.ok):
        return _marked(entry, ">=")
    return entry


def percentile_figure(group: Group, key: str, fmt: str = "{:.0f}") -> Entry:
    """A percentile with its range; 'max' when, in any cell, too few samples made it the max;
    '>=' when censored requests make it a lower bound."""
    cell = figure(group.spread(key), fmt)
    if cell == MISSING:
        return cell
    if any(c.lower_bound(key) for c in group.ok):
        return _marked(cell, ">=")
    if any(c.is_max(key) for c in group.ok):
        return _marked(cell, "max ")
    return cell


def sample_count(group: Group, key: str) -> Entry:
    """How many samples a percentile came from in each cell: '42' or '40-45'."""
    counts = [n for c in group.ok if (n := c.n(key)) is not None]
    if not counts:
        return MISSING
    low, high = min(counts), max(counts)
    return f"{low}" if low == high else f"{low}-{high}"


def _mark(group: Group) -> str:
    if len(group.ok) < len(group.cells):
        return "failed"
    if any(c.client_bound or "machine-bound" in c.flags for c in group.cells):
        return "bound"
    if group.caveats:
        return "warn"
    return ""


def short_notes(group: Group) -> str:
    """Terse flags for a table row; the verdict spells them out."""
    notes = []
    if len(group.ok) < len(group.cells):
        notes.append(f"{len(group.cells) - len(group.ok)}/{len(group.cells)} cells failed")
    flags = {k: v for k, v in group.flag_counts().items() if k not in ("failures", "unserved")}
    notes += [f"{flag} {n}/{len(group.cells)}" for flag, n in flags.items()]
    if group.no_download_finished:
        notes.append("no download finished")
    if group.starved:
        notes.append(f"{plural(group.starved, 'user')} unserved")
    if any(c.warnings for c in group.cells):
        notes.append("Django warning")
    return "; ".join(notes)


def _requests(group: Group) -> str:
    requests = sum(c.requests for c in group.cells)
    return f"{sum(c.failures for c in group.cells)}/{requests}" if requests else MISSING


def _users(group: Group) -> str:
    users = sorted({c.users for c in group.cells})
    return "/".join(str(u) for u in users) or MISSING


def overview(model: Model) -> Table:
    """One row per scenario and stack: the figures the verdict talks about."""
    table = Table(
        (
            "scenario",
            "stack",
            "users",
            "MB/s",
            "TTFB p50 ms",
            "last byte p50 ms",
            "probe p99 ms",
            "peak mem +MB",
            "failed req",
            "notes",
        )
    )
    for scenario in model.scenarios:
        for stack in model.stacks:
            group = model.group(scenario, stack)
            if group is None:
                table.add(scenario, stack, *[MISSING] * 7, "not measured", mark="missing")
                continue
            table.add(
                scenario,
                stack,
                _users(group),
                key_figure(group, "mb_per_s"),
                key_figure(group, "ttfb_p50_ms"),
                key_figure(group, "ttlb_p50_ms"),
                percentile_figure(group, "ping_p99_ms"),
                key_figure(group, "peak_pss_increase_mb"),
                _requests(group),
                short_notes(group),
                mark=_mark(group),
            )
    return table


def throughput(model: Model) -> Table:
    """MB/s (bytes received in the window), rows/s and downloads/s per scenario and stack."""
    table = Table(
        (
            "scenario",
            "users",
            "stack",
            "cells ok",
            "window s",
            "MB/s",
            "rows/s",
            "downloads/s",
            "complete",
            "notes",
        )
    )
    for g in model.measured():
        table.add(
            g.scenario,
            _users(g),
            g.stack,
            f"{len(g.ok)}/{len(g.cells)}",
            key_figure(g, "window_s"),
            key_figure(g, "mb_per_s"),
            key_figure(g, "rows_per_s"),
            key_figure(g, "downloads_per_s"),
            key_figure(g, "n_downloads"),
            short_notes(g),
            mark=_mark(g),
        )
    return table


def latency(model: Model) -> Table:
    """TTFB and time-to-last-byte percentiles (ms) per scenario and stack, with sample counts."""
    table = Table(
        (
            "scenario",
            "stack",
            "TTFB n",
            "TTFB p50",
            "TTFB p90",
            "TTFB p99",
            "last n",
            "last p50",
            "last p90",
            "last p99",
            "notes",
        )
    )
    for g in model.measured():
        row: list[Entry] = [g.scenario, g.stack]
        for kind in ("ttfb", "ttlb"):
            row.append(sample_count(g, f"{kind}_p50_ms"))
            row += [percentile_figure(g, f"{kind}_p{q}_ms") for q in (50, 90, 99)]
        table.add(*row, short_notes(g), mark=_mark(g))
    return table


def memory(model: Model) -> Table:
    """Server memory per scenario and stack: idle, warm-up cost, peak, its increase (the larger
    of the sampled one and the kernel's marks over the window), kernel peak."""
    groups = model.measured()
    # A run against the harness's PostgreSQL: the database is in the tree, and shown apart.
    database = any(c["database_increase_mb"] is not None for g in groups for c in g.cells)
    header = [
        "scenario",
        "stack",
        "idle PSS MB",
        "warm-up cost MB",
        "peak PSS MB",
        "increase MB",
        "sampled +MB",
        "kernel peak +MB",
        "largest process USS MB",
    ]
    if database:
        header += ["of which database +MB", "database CPU s"]
    table = Table(tuple(header))
    for g in groups:
        names = [
            "baseline_mb",
            "warmup_cost_mb",
            "peak_mb",
            "peak_pss_increase_mb",
            "peak_sampled_increase_mb",
            "peak_hwm_increase_mb",
            "peak_process_uss_mb",
        ]
        names += ["database_increase_mb", "database_cpu_s"] if database else []
        row: list[Entry] = [g.scenario, g.stack, *(key_figure(g, name) for name in names)]
        table.add(*row, mark=_mark(g))
    return table


def cost(model: Model) -> Table:
    """What serving costs: CPU per GB, and the peak memory at the downloads held at once (memory
    per download is a curve's slope: the capacity section's knee table)."""
    table = Table(
        (
            "scenario",
            "stack",
            "served MB",
            "server CPU s",
            "CPU s/GB",
            "peak mem +MB",
            "downloads held (most)",
        )
    )
    for g in model.measured():
        table.add(
            g.scenario,
            g.stack,
            key_figure(g, "served_mb"),
            key_figure(g, "server_cpu_s"),
            key_figure(g, "server_cpu_s_per_gb"),
            key_figure(g, "peak_pss_increase_mb"),
            key_figure(g, "downloads_held_max"),
            mark=_mark(g),
        )
    return table


def head_of_line(model: Model) -> Table:
    """The probe's latency while exports stream, for the scenarios that probe."""
    table = Table(("scenario", "stack", "probes n", "p50 ms", "p90 ms", "p99 ms", "max ms", "MB/s"))
    for g in model.measured():
        if PING not in g.info.request_types:
            continue
        table.add(
            g.scenario,
            g.stack,
            key_figure(g, "n_pings"),
            *(percentile_figure(g, f"ping_{q}_ms") for q in ("p50", "p90", "p99")),
            key_figure(g, "ping_max_ms"),
            key_figure(g, "mb_per_s"),
            mark=_mark(g),
        )
    return table


def slow_clients(model: Model) -> Table:
    """How many users got a first byte, and how long they waited, where users went unserved."""
    table = Table(
        (
            "scenario",
            "stack",
            "users",
            "got a first byte",
            "unserved at end",
            "served at once",
            "complete",
            "TTFB p50 ms",
            "longest wait ms",
        )
    )
    for scenario in model.scenarios:
        groups = model.scenario_groups(scenario)
        if not any(g.served_matters for g in groups):
            continue
        for g in groups:
            table.add(
                g.scenario,
                g.stack,
                "/".join(str(n) for n in sorted({c.downloaders for c in g.cells})) or MISSING,
                key_figure(g, "users_served"),
                figure(spread([c.starved for c in g.ok]) if g.ok else None, "{:.0f}"),
                key_figure(g, "served_at_once"),
                key_figure(g, "n_downloads"),
                key_figure(g, "ttfb_p50_ms"),
                key_figure(g, "ttfb_max_ms"),
                mark="warn" if g.starved else _mark(g),
            )
    return table


def sweep(model: Model) -> Table:
    """The size sweep: body TTFB, total time and peak memory by size, variant and stack."""
    table = Table(
        (
            "rows",
            "variant",
            "stack",
            "TTFB ms",
            "total s",
            "peak mem +MB",
            "kernel peak +MB",
            "chunked",
            "status",
        )
    )
    points: dict[tuple[int, str, str], list[SweepFigures]] = {}
    for f in model.results.sweep:
        points.setdefault((f.rows, f.variant, f.stack), []).append(f)
    variants = ("stream", "buffered", "mismatch")

    def order(key: tuple[int, str, str]) -> tuple[int, int, int, str]:
        rows, variant, stack = key
        v = variants.index(variant) if variant in variants else len(variants)
        s = model.stacks.index(stack) if stack in model.stacks else len(model.stacks)
        return (rows, v, s, variant + stack)

    for (rows, variant, stack), group in sorted(points.items(), key=lambda kv: order(kv[0])):
        ok = [p for p in group if p.ok]

        def pick(values: list[float | None]) -> Spread | None:
            present = [v for v in values if v is not None]
            return spread(present) if present else None

        failed = [p for p in group if not p.ok]
        status = "ok" if not failed else f"{len(failed)} failed: {failed[0].error}"
        flags = sorted({flag for p in ok for flag in p.flags})
        if flags:
            status += " (" + ", ".join(flags) + ")"
        chunked = sorted({str(p.chunked).lower() for p in ok if p.chunked is not None})
        table.add(
            f"{rows:,}",
            variant,
            stack,
            figure(pick([p.ttfb_ms for p in ok]), "{:.1f}"),
            figure(pick([p.total_s for p in ok]), "{:.2f}"),
            figure(pick([p.peak_pss_increase_mb for p in ok]), "{:.1f}"),
            figure(pick([p.peak_hwm_increase_mb for p in ok]), "{:.1f}"),
            "/".join(chunked) or MISSING,
            status,
            mark="failed" if failed else ("warn" if flags else ""),
        )
    return table


def cells(model: Model) -> Table:
    """Every cell as run: status, window, requests, failures, CPU of client and machine, flags."""
    table = Table(
        (
            "rep",
            "scenario",
            "stack",
            "status",
            "window s",
            "requests",
            "failed",
            "client CPU",
            "machine busy",
            "worker CPU s",
            "flags",
            "error",
        )
    )
    for f in model.results.cells:
        client = f"{f.client_cpu_pct:.0f}%" if f.client_cpu_pct is not None else MISSING
        machine = f"{f.machine_busy_pct:.0f}%" if f.machine_busy_pct is not None else MISSING
        bound = f.client_bound or "machine-bound" in f.flags
        table.add(
            str(f.repetition + 1),
            f.scenario,
            f.stack,
            "ok" if f.ok else "failed",
            f"{f.window_s:.2f}" if f.window_s is not None else MISSING,
            str(f.requests),
            str(f.failures),
            client,
            machine,
            " / ".join(f"{c:.2f}" for c in f.worker_cpu_s) or MISSING,
            ", ".join(f.flags),
            str(f.error or ""),
            mark="" if f.ok and not bound else ("failed" if not f.ok else "bound"),
        )
    return table


APP_FIGURES = ("ping_p50_ms", "pings_per_s", "ttfb_p50_ms", "peak_pss_increase_mb")


def app_profiles(model: Model) -> Table:
    """What a richer app profile costs each server: STACK against STACK@profile, per figure."""
    from compare.report.comparisons import compare_groups  # the comparisons build on tables

    table = Table(("scenario", "server", "figure", "minimal", "startproject", "change", "verdict"))
    for scenario in model.scenarios:
        groups = {g.stack: g for g in model.scenario_groups(scenario)}
        for name, plain in groups.items():
            base, app, copy = stack_parts(name)
            rich = groups.get(f"{base}@startproject" + (f"#{copy}" if copy else ""))
            if app != "minimal" or rich is None:
                continue
            for key in APP_FIGURES:
                found = compare_groups(scenario, rich, plain, key)
                if found is None:
                    continue
                h, j = found.figure, found.judgement
                change = "-"
                if j.estimate is not None:
                    change = (
                        f"{(j.estimate - 1):+.0%}"
                        if j.kind == "ratio"
                        else f"{j.estimate:+.1f} {h.unit}"
                    )
                table.add(
                    scenario,
                    base,
                    f"{h.label} ({h.unit})",
                    key_figure(plain, key),
                    key_figure(rich, key),
                    change,
                    j.conclusion,
                    mark="warn" if j.conclusion == "clear" else "",
                )
    return table
