"""The report's tables as rows of text, shared by the HTML and Markdown renderers."""

from __future__ import annotations

from dataclasses import dataclass, field

from compare.metrics import HEADLINE, PING, request_types
from compare.report.model import Group, Model
from compare.report.text import MISSING
from compare.stats import Spread, spread


@dataclass(frozen=True)
class Value:
    """A table cell: the figure, and its range over repetitions (shown smaller in HTML)."""

    main: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.main} ({self.detail})" if self.detail else self.main


Cell = str | Value


@dataclass(frozen=True)
class Table:
    """A header and rows; a row's mark (failed, bound, missing, warn) flags it for the reader."""

    header: tuple[str, ...]
    rows: list[tuple[Cell, ...]] = field(default_factory=list)
    marks: list[str] = field(default_factory=list)

    def add(self, *cells: Cell, mark: str = "") -> None:
        """Append a row."""
        self.rows.append(cells)
        self.marks.append(mark)


def figure(s: Spread | None, fmt: str) -> Cell:
    """A median with its range, or a dash."""
    if s is None:
        return MISSING
    low, high = fmt.format(s.low), fmt.format(s.high)
    if s.n < 2 or low == high:
        return fmt.format(s.median)
    return Value(fmt.format(s.median), f"{low}-{high}")


def key_figure(group: Group, key: str) -> Cell:
    """A headline figure of a group, in its own format."""
    return figure(group.spread(key), HEADLINE[key].fmt)


def _mark(group: Group) -> str:
    if len(group.ok) < len(group.cells):
        return "failed"
    if any(c.client_bound for c in group.cells):
        return "bound"
    if group.caveats:
        return "warn"
    return ""


def short_notes(group: Group) -> str:
    """Terse flags for a table row; the verdict spells them out."""
    notes = []
    if len(group.ok) < len(group.cells):
        notes.append(f"{len(group.cells) - len(group.ok)}/{len(group.cells)} cells failed")
    bound = sum(c.client_bound for c in group.cells)
    if bound:
        notes.append(f"client-bound {bound}/{len(group.cells)}")
    ok = group.ok
    if ok and ok[0].expects_downloads and not any(c.downloads for c in ok):
        notes.append("no download finished")
    if group.starved:
        notes.append(f"{group.starved} users unserved")
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
                *(
                    key_figure(group, k)
                    for k in (
                        "mb_per_s",
                        "ttfb_p50_ms",
                        "ttlb_p50_ms",
                        "ping_p99_ms",
                        "peak_pss_increase_mb",
                    )
                ),
                _requests(group),
                short_notes(group),
                mark=_mark(group),
            )
    return table


def _measured(model: Model) -> list[Group]:
    return [g for sc in model.scenarios for g in model.scenario_groups(sc)]


def throughput(model: Model) -> Table:
    """MB/s, rows/s and downloads/s per scenario and stack."""
    table = Table(
        ("scenario", "users", "stack", "cells ok", "MB/s", "rows/s", "downloads/s", "complete")
    )
    for g in _measured(model):
        table.add(
            g.scenario,
            _users(g),
            g.stack,
            f"{len(g.ok)}/{len(g.cells)}",
            key_figure(g, "mb_per_s"),
            key_figure(g, "rows_per_s"),
            key_figure(g, "requests_per_s"),
            figure(g.spread("downloads"), "{:.0f}"),
            mark=_mark(g),
        )
    return table


def latency(model: Model) -> Table:
    """TTFB and time-to-last-byte percentiles (ms) per scenario and stack."""
    table = Table(
        (
            "scenario",
            "stack",
            "TTFB p50",
            "TTFB p90",
            "TTFB p99",
            "last p50",
            "last p90",
            "last p99",
        )
    )
    for g in _measured(model):
        table.add(
            g.scenario,
            g.stack,
            *(
                figure(g.spread(f"{kind}_p{q}_ms"), "{:.0f}")
                for kind in ("ttfb", "ttlb")
                for q in (50, 90, 99)
            ),
            mark=_mark(g),
        )
    return table


def memory(model: Model) -> Table:
    """Server memory per scenario and stack: idle, peak, the increase, the largest process."""
    table = Table(
        ("scenario", "stack", "idle PSS MB", "peak PSS MB", "increase MB", "largest process USS MB")
    )
    for g in _measured(model):
        table.add(
            g.scenario,
            g.stack,
            figure(g.spread("baseline_mb"), "{:.1f}"),
            figure(g.spread("peak_mb"), "{:.1f}"),
            key_figure(g, "peak_pss_increase_mb"),
            figure(g.spread("peak_process_uss_mb"), "{:.1f}"),
            mark=_mark(g),
        )
    return table


def cost(model: Model) -> Table:
    """What serving costs: CPU per GB, memory in all and per concurrent download."""
    table = Table(
        (
            "scenario",
            "stack",
            "served MB",
            "server CPU s",
            "CPU s/GB",
            "peak mem +MB",
            "downloading users",
            "MB per download",
        )
    )
    for g in _measured(model):
        table.add(
            g.scenario,
            g.stack,
            figure(g.spread("served_mb"), "{:.0f}"),
            figure(g.spread("server_cpu_s"), "{:.2f}"),
            key_figure(g, "server_cpu_s_per_gb"),
            key_figure(g, "peak_pss_increase_mb"),
            "/".join(str(n) for n in sorted({c.downloaders for c in g.cells})) or MISSING,
            key_figure(g, "peak_mb_per_download"),
            mark=_mark(g),
        )
    return table


def head_of_line(model: Model) -> Table:
    """The probe's latency while exports stream, for the scenarios that probe."""
    table = Table(("scenario", "stack", "probes", "p50 ms", "p90 ms", "p99 ms", "max ms", "MB/s"))
    for g in _measured(model):
        if PING not in request_types(g.scenario):
            continue
        table.add(
            g.scenario,
            g.stack,
            figure(g.spread("pings"), "{:.0f}"),
            *(figure(g.spread(f"ping_{q}_ms"), "{:.0f}") for q in ("p50", "p90", "p99", "max")),
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
            "complete",
            "TTFB p50 ms",
            "longest wait ms",
        )
    )
    for scenario in model.scenarios:
        groups = model.scenario_groups(scenario)
        if not (scenario == "slow-client" or any(g.starved for g in groups)):
            continue
        for g in groups:
            table.add(
                g.scenario,
                g.stack,
                "/".join(str(n) for n in sorted({c.downloaders for c in g.cells})) or MISSING,
                figure(g.spread("first_bytes"), "{:.0f}"),
                figure(spread([c.starved for c in g.ok]) if g.ok else None, "{:.0f}"),
                figure(g.spread("downloads"), "{:.0f}"),
                key_figure(g, "ttfb_p50_ms"),
                figure(g.spread("ttfb_max_ms"), "{:.0f}"),
                mark="warn" if g.starved else _mark(g),
            )
    return table


def sweep(model: Model) -> Table:
    """The size sweep: body TTFB, total time and peak memory by size, variant and stack."""
    table = Table(
        ("rows", "variant", "stack", "TTFB s", "total s", "peak mem +MB", "chunked", "status")
    )
    points: dict[tuple[int, str, str], list[dict[str, object]]] = {}
    for p in model.document.get("sweep") or []:
        points.setdefault((int(p["rows"]), str(p["variant"]), str(p["stack"])), []).append(p)
    variants = ("stream", "buffered", "mismatch")

    def order(key: tuple[int, str, str]) -> tuple[int, int, int, str]:
        rows, variant, stack = key
        v = variants.index(variant) if variant in variants else len(variants)
        s = model.stacks.index(stack) if stack in model.stacks else len(model.stacks)
        return (rows, v, s, variant + stack)

    for (rows, variant, stack), group in sorted(points.items(), key=lambda kv: order(kv[0])):
        ok = [p for p in group if p.get("status") == "ok"]

        def pick(key: str, scale: float = 1.0, ok: list[dict[str, object]] = ok) -> Spread | None:
            values = [float(v) / scale for p in ok if isinstance(v := p.get(key), int | float)]
            return spread(values) if values else None

        failed = [p for p in group if p.get("status") != "ok"]
        status = "ok" if not failed else f"{len(failed)} failed: {failed[0].get('error')}"
        chunked = sorted({str(p.get("chunked")).lower() for p in ok if "chunked" in p})
        table.add(
            f"{rows:,}",
            variant,
            stack,
            figure(pick("ttfb_s"), "{:.3f}"),
            figure(pick("total_s"), "{:.2f}"),
            figure(pick("peak_pss_increase", 1e6), "{:.1f}"),
            "/".join(chunked) or MISSING,
            status,
            mark="failed" if failed else "",
        )
    return table


def cells(model: Model) -> Table:
    """Every cell as run, with its status and the load generator's CPU."""
    table = Table(
        ("rep", "scenario", "stack", "status", "requests", "failed", "client CPU", "error")
    )
    for cell in model.document.get("cells") or []:
        client = cell.get("client") or {}
        stats = [r for r in cell.get("stats") or [] if r.get("Name") == "Aggregated"]
        agg = stats[0] if stats else {}
        cpu = client.get("mean_cpu_pct")
        bound = " (bound)" if client.get("bound") else ""
        ok = cell.get("status") == "ok"
        table.add(
            str(int(cell.get("repetition", 0)) + 1),
            str(cell.get("scenario")),
            str(cell.get("stack")),
            str(cell.get("status")),
            str(agg.get("Request Count", MISSING)),
            str(agg.get("Failure Count", MISSING)),
            (f"{cpu:.0f}%" if isinstance(cpu, int | float) else MISSING) + bound,
            str(cell.get("error") or ""),
            mark="" if ok and not bound else ("failed" if not ok else "bound"),
        )
    return table
