"""Charts as inline SVG drawn by matplotlib's SVG backend (no pyplot, no GUI, no network)."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from compare.report.curves import Curve, Level
from compare.report.metrics import CellFigures, SweepFigures
from compare.report.model import Group, Model
from compare.report.stats import Spread, spread
from compare.results import MB

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from compare.report.capacity import CurveSet

# matplotlib is imported when a chart is drawn, not with this module: every `python -m compare`
# command imports the report package, and matplotlib takes most of a second to import.

MEMORY_FLOOR_MB = 0.1  # log axes cannot show zero; smaller increases are drawn at this floor
# Line and marker per sweep variant; the colour says the stack.
VARIANT_STYLE: dict[str, tuple[str, str]] = {
    "stream": ("-", "o"),
    "buffered": ("--", "s"),
    "mismatch": (":", "^"),
}


@contextmanager
def chart_style(name: str) -> Iterator[None]:
    """Chart styling; a fixed salt per chart makes SVG ids deterministic and distinct."""
    import matplotlib

    with matplotlib.rc_context(
        {
            "font.size": 8.5,
            "axes.titlesize": 9.5,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "legend.frameon": False,
            "svg.fonttype": "none",  # text stays text: small, searchable, selectable
            # Labels are stack names from the document: a '$' in one is text, not mathtext
            # (which raised and lost both reports).
            "text.parse_math": False,
            "svg.hashsalt": f"dsc-{name}",
            "svg.id": f"chart-{name}",
        }
    ):
        yield


def new_figure(figsize: tuple[float, float]) -> Figure:
    """An empty figure laid out to fit its labels."""
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained")


def to_svg(figure: Figure) -> str:
    """The figure as inline SVG, without a date (the same data give the same bytes)."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def color(model: Model, stack: str) -> str:
    """A stack's colour, the same in every chart."""
    index = model.stacks.index(stack) if stack in model.stacks else len(model.stacks)
    return f"C{index % 10}"


def _bars(
    ax: Axes,
    model: Model,
    groups: list[Group],
    value: Callable[[Group], Spread | None],
    title: str,
    log: bool = False,
) -> bool:
    """Grouped bars: scenarios along x, one bar per stack, whiskers over the repetitions' range."""
    scenarios = list(dict.fromkeys(g.scenario for g in groups if value(g) is not None))
    if not scenarios:
        return False
    width = 0.8 / max(len(model.stacks), 1)
    for i, stack in enumerate(model.stacks):
        xs, heights, low, high = [], [], [], []
        for x, scenario in enumerate(scenarios):
            group = model.group(scenario, stack)
            s = value(group) if group is not None else None
            if s is None:
                continue
            xs.append(x + (i - (len(model.stacks) - 1) / 2) * width)
            heights.append(s.median)
            low.append(s.median - s.low)
            high.append(s.high - s.median)
        if xs:
            ax.bar(xs, heights, width * 0.9, color=color(model, stack), label=stack)
            if any(low) or any(high):
                ax.errorbar(xs, heights, yerr=[low, high], fmt="none", ecolor="black", lw=0.8)
    ax.set_xticks(range(len(scenarios)), scenarios)
    ax.set_title(title)
    if log:
        _plain_log(ax)
    ax.grid(axis="x", visible=False)
    return True


def _plain_log(ax: Axes, axis: str = "y") -> None:
    """Log scale with ticks as plain numbers (0.01, 20, 1000), not powers of ten."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    target = ax.yaxis if axis == "y" else ax.xaxis
    (ax.set_yscale if axis == "y" else ax.set_xscale)("log")
    target.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 3.0, 5.0)))
    target.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.10g}"))
    target.set_minor_formatter(NullFormatter())


def _short_count(n: int) -> str:
    """10000 -> 10k, 5000000 -> 5M."""
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if n >= size and n % (size // 10) == 0:
            return f"{n / size:g}{suffix}"
    return f"{n:,}"


def _null_locator() -> Any:
    from matplotlib.ticker import NullLocator

    return NullLocator()


def _finish(figure: Figure, axes: list[Axes], model: Model) -> None:
    handles, labels = [], []
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    # Three to a row at most: a wider legend is clipped at the figure's edge.
    figure.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 3))


def bar_chart(
    name: str,
    model: Model,
    panels: list[tuple[str, Callable[[Group], Spread | None], bool]],
    groups: list[Group] | None = None,
) -> str | None:
    """A row of grouped-bar panels, one per (title, figure, log axis); None if nothing to draw."""
    groups = model.measured() if groups is None else groups
    with chart_style(name):
        figure = new_figure(figsize=(3.6 * len(panels), 3.0))
        axes = list(figure.subplots(1, len(panels), squeeze=False)[0])
        drawn = [
            _bars(ax, model, groups, value, title, log)
            for ax, (title, value, log) in zip(axes, panels, strict=True)
        ]
        if not any(drawn):
            return None
        for ax, ok in zip(axes, drawn, strict=True):
            if not ok:
                ax.set_axis_off()
                ax.text(0.5, 0.5, "not measured", ha="center", transform=ax.transAxes)
            else:
                ax.tick_params(axis="x", labelrotation=20)
        _finish(figure, axes, model)
        return to_svg(figure)


def spread_of(key: str) -> Callable[[Group], Spread | None]:
    """The picker of one figure (compare.report.figuredefs) over a group's repetitions."""
    return lambda g: g.spread(key)


def throughput_chart(model: Model) -> str | None:
    """MB/s, TTFB p50 and time-to-last-byte p50 per scenario and stack."""
    return bar_chart(
        "throughput",
        model,
        [
            ("throughput, MB/s (higher is better)", spread_of("mb_per_s"), False),
            ("TTFB p50, ms (log; lower is better)", spread_of("ttfb_p50_ms"), True),
            ("last byte p50, ms (log; lower is better)", spread_of("ttlb_p50_ms"), True),
        ],
    )


def cost_chart(model: Model) -> str | None:
    """Server CPU seconds per GB and the peak memory increase (at the downloads it held)."""
    return bar_chart(
        "cost",
        model,
        [
            ("server CPU s per GB served", spread_of("server_cpu_s_per_gb"), False),
            ("peak memory increase, MB", spread_of("peak_pss_increase_mb"), False),
        ],
    )


def probe_chart(model: Model, scenario: str) -> str | None:
    """The head-of-line probe's p50, p90, p99 and max per stack."""
    groups = model.scenario_groups(scenario)
    with chart_style(f"probe-{scenario}"):
        figure = new_figure(figsize=(5.5, 3.0))
        ax = figure.subplots()
        quantiles = ("p50", "p90", "p99", "max")
        width = 0.8 / max(len(groups), 1)
        drawn = False
        for i, g in enumerate(groups):
            spreads = [g.spread(f"ping_{q}_ms") for q in quantiles]
            points = [(x, s) for x, s in enumerate(spreads) if s is not None]
            if not points:
                continue
            drawn = True
            xs = [x + (i - (len(groups) - 1) / 2) * width for x, _ in points]
            heights = [s.median for _, s in points]
            ax.bar(xs, heights, width * 0.9, color=color(model, g.stack), label=g.stack)
            yerr = [[s.median - s.low for _, s in points], [s.high - s.median for _, s in points]]
            ax.errorbar(xs, heights, yerr=yerr, fmt="none", ecolor="black", lw=0.8)
        if not drawn:
            return None
        ax.set_xticks(range(len(quantiles)), quantiles)
        _plain_log(ax)
        ax.set_ylabel("probe response time, ms (log)")
        ax.set_title(f"/ping while exports stream ({scenario})")
        ax.grid(axis="x", visible=False)
        _finish(figure, [ax], model)
        return to_svg(figure)


def _sweep_series(model: Model) -> dict[tuple[str, str], dict[int, list[SweepFigures]]]:
    series: dict[tuple[str, str], dict[int, list[SweepFigures]]] = {}
    for f in model.results.sweep:
        if not f.ok or f.ttfb_ms is None or f.peak_pss_increase_mb is None:
            continue
        series.setdefault((f.stack, f.variant), {}).setdefault(f.rows, []).append(f)
    return series


def sweep_chart(model: Model) -> str | None:
    """Body TTFB and peak memory increase against export size, log axes, per stack and variant."""
    series = _sweep_series(model)
    if not series:
        return None
    with chart_style("sweep"):
        figure = new_figure(figsize=(9.0, 3.6))
        ttfb_ax, memory_ax = figure.subplots(1, 2)
        floored = False
        for (stack, variant), by_rows in sorted(series.items()):
            sizes = sorted(by_rows)
            ttfb = [
                spread([p.ttfb_ms / 1000 for p in by_rows[n] if p.ttfb_ms]).median for n in sizes
            ]
            memory = [
                spread([p.peak_pss_increase_mb or 0.0 for p in by_rows[n]]).median for n in sizes
            ]
            floored = floored or any(m < MEMORY_FLOOR_MB for m in memory)
            memory = [max(m, MEMORY_FLOOR_MB) for m in memory]
            line, marker = VARIANT_STYLE.get(variant, ("-.", "x"))
            style = {"color": color(model, stack), "linestyle": line, "marker": marker}
            ttfb_ax.plot(sizes, ttfb, label=f"{stack} {variant}", **style)
            memory_ax.plot(sizes, memory, label=f"{stack} {variant}", **style)
        measured_sizes = sorted({n for by_rows in series.values() for n in by_rows})
        for ax in (ttfb_ax, memory_ax):
            _plain_log(ax, "x")
            _plain_log(ax, "y")
            # Ticks at the sizes measured, short: log ticks at 2, 3 and 5 run into each other.
            ax.set_xticks(measured_sizes, [_short_count(n) for n in measured_sizes])
            ax.xaxis.set_minor_locator(_null_locator())
            ax.set_xlabel("rows in the export (log)")
        ttfb_ax.set_ylabel("seconds to the first body byte (log)")
        ttfb_ax.set_title("body TTFB by export size")
        memory_ax.set_ylabel("peak server memory increase, MB (log)")
        title = "peak memory (PSS of the tree) over idle"
        if floored:
            title += f"\n(values below {MEMORY_FLOOR_MB} MB drawn at {MEMORY_FLOOR_MB})"
        memory_ax.set_title(title)
        _finish(figure, [ttfb_ax], model)
        return to_svg(figure)


def timeline_chart(model: Model, scenario: str) -> str | None:
    """Server memory (PSS of the tree) over each cell of a scenario, one panel per stack."""
    groups = [g for g in model.scenario_groups(scenario) if _timelines(g)]
    if not groups:
        return None
    with chart_style(f"timeline-{scenario}"):
        figure = new_figure(figsize=(min(4.2 * len(groups), 10.0), 2.8))
        axes = list(figure.subplots(1, len(groups), sharey=True, squeeze=False)[0])
        for ax, group in zip(axes, groups, strict=True):
            for rep, cell in enumerate(_timelines(group)):
                alpha = 1.0 if rep == 0 else 0.55
                ax.plot(
                    [s["t"] for s in cell.timeline],
                    [s["pss"] / MB for s in cell.timeline],
                    color=color(model, group.stack),
                    alpha=alpha,
                    lw=1.2,
                    label=f"repetition {cell.repetition + 1}",
                )
                baseline = cell.memory.get("baseline_pss")
                if baseline is not None:
                    ax.axhline(baseline / MB, color="grey", ls="--", lw=0.8)
                window = cell.window
                if rep == 0 and window is not None:
                    ax.axvspan(
                        window.start,
                        window.end,
                        color=color(model, group.stack),
                        alpha=0.08,
                        lw=0,
                    )
                    ax.text(
                        window.start,
                        0.98,
                        " window",
                        transform=ax.get_xaxis_transform(),
                        va="top",
                        fontsize=7,
                        color="dimgrey",
                    )
            ax.set_title(f"{group.stack}")
            ax.set_xlabel("seconds since the load generator started")
        # The level over time is what this shows, not a ratio: the axis is zoomed, and says so.
        axes[0].set_ylabel("server memory, PSS MB (axis not from 0)")
        return to_svg(figure)


def _timelines(group: Group) -> list[CellFigures]:
    return [c for c in group.cells if c.timeline]


CAPACITY_PANELS: tuple[tuple[str, str, bool], ...] = (
    ("ttfb", "TTFB, ms (log): p50 solid, p99 dashed", True),
    ("mb_per_s", "throughput, MB/s", False),
    ("peak_pss_increase_mb", "peak memory increase, MB", False),
)


def _level_series(
    curve: Curve, key: str
) -> tuple[list[float], list[float], list[float], list[float]]:
    """(levels, medians, lows, highs) of one figure along a curve, levels without it skipped."""
    xs, mids, lows, highs = [], [], [], []
    for level in curve.levels:
        values = [v for v in level.per_repetition.get(key) or [] if v is not None]
        if not values:
            continue
        xs.append(level.level)
        mids.append(level.medians[key])
        lows.append(level.medians[key] - min(values))
        highs.append(max(values) - level.medians[key])
    return xs, mids, lows, highs


def capacity_chart(model: Model, found: CurveSet, slo_ms: float) -> str | None:
    """A swept scenario: TTFB, throughput and memory against the load, a line per stack."""
    with chart_style(f"capacity-{found.scenario}-{found.kind}"):
        figure = new_figure(figsize=(10.0, 3.3))
        axes = list(figure.subplots(1, 3))
        drawn = False
        for curve in found.curves:
            style = {"color": color(model, curve.stack), "marker": "o", "ms": 3.5}
            for ax, (key, _, _) in zip(axes, CAPACITY_PANELS, strict=True):
                keys = ("ttfb_p50_ms", "ttfb_p99_ms") if key == "ttfb" else (key,)
                for which, series_key in enumerate(keys):
                    xs, mids, lows, highs = _level_series(curve, series_key)
                    if not xs:
                        continue
                    drawn = True
                    label = curve.stack if which == 0 else None
                    ax.errorbar(
                        xs, mids, yerr=[lows, highs], capsize=2, lw=1.3,
                        ls="--" if which else "-", label=label, **style,
                    )  # fmt: skip
            knee = curve.knee
            if knee is not None:
                at: Level = next(lv for lv in curve.levels if lv.level == knee)
                if at.medians.get("ttfb_p99_ms") is not None:
                    axes[0].plot(
                        [knee], [at.medians["ttfb_p99_ms"]], marker="*", ms=13, ls="none",
                        color=color(model, curve.stack), markeredgecolor="black",
                    )  # fmt: skip
        if not drawn:
            return None
        axes[0].axhline(slo_ms, color="firebrick", ls=":", lw=1)
        axes[0].text(
            0.02, slo_ms, f" service level {slo_ms:g} ms", color="firebrick", fontsize=7,
            va="bottom", transform=axes[0].get_yaxis_transform(),
        )  # fmt: skip
        unit = "exports started per second" if found.kind == "rate" else "concurrent users"
        for ax, (_, title, log) in zip(axes, CAPACITY_PANELS, strict=True):
            _plain_log(ax, "x")
            ax.set_xticks(found.levels, [f"{v:g}" for v in found.levels])
            ax.xaxis.set_minor_locator(_null_locator())
            if log:
                _plain_log(ax)
            else:  # throughput and memory are read as ratios between stacks: bars from zero
                ax.set_ylim(bottom=0)
            ax.set_xlabel(f"{unit} (log)")
            ax.set_title(title)
        # Load pushes TTFB up to the right: the lower right corner stays clear of the lines.
        axes[0].legend(fontsize=7.5, loc="lower right")
        figure.suptitle(
            f"{found.title}  (star: the knee, the highest level within the service level)"
        )
        return to_svg(figure)
