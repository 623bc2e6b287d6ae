"""``history``'s HTML page: one chart per figure and stack, runs along x, a line per scenario
(and level), broken where the options changed, regressions marked. Pure and self-contained."""

from __future__ import annotations

from html import escape

from compare.report.charts import chart_style, new_figure, to_svg
from compare.report.history import History, RunInfo, Series
from compare.report.page import CSS

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def segments(found: History, series: Series) -> list[list[tuple[int, float, float, float]]]:
    """The series' points split where the options changed: a line never crosses a break."""
    parts: list[list[tuple[int, float, float, float]]] = []
    segment = None
    for p in series.points:
        run = found.runs[p.run]
        if run.segment != segment:
            parts.append([])
            segment = run.segment
        parts[-1].append((p.run, p.value, p.value - p.low, p.high - p.value))
    return parts


def chart(found: History, figure_name: str, stack: str) -> str | None:
    """One figure on one stack over the runs; None when no run measured it."""
    chosen = [s for s in found.series if s.figure.name == figure_name and s.stack == stack]
    if not chosen:
        return None
    figure_def = chosen[0].figure
    with chart_style(f"history-{figure_name}-{stack}"):
        fig = new_figure(figsize=(min(2.0 + 0.9 * len(found.runs), 10.0), 3.2))
        ax = fig.subplots()
        for colour, series in zip(PALETTE * 4, chosen, strict=False):
            for n, part in enumerate(segments(found, series)):
                xs, ys, lows, highs = zip(*part, strict=True)
                ax.errorbar(
                    xs, ys, yerr=[lows, highs], color=colour, marker="o", ms=3.5, capsize=2,
                    lw=1.3, label=series.scenario if n == 0 else None,
                )  # fmt: skip
            bad = series.regressions
            if bad:
                ax.plot(
                    [p.run for p in bad], [p.value for p in bad], ls="none", marker="X", ms=11,
                    color="firebrick", label="regression" if series is chosen[0] else None,
                )  # fmt: skip
        for i, run in enumerate(found.runs):
            if run.changed:  # the visible break between runs of different options
                ax.axvline(i - 0.5, color="grey", ls="--", lw=1)
                ax.text(i - 0.45, 0.98, "options changed", transform=ax.get_xaxis_transform(),
                        va="top", fontsize=7, color="dimgrey")  # fmt: skip
        ax.set_xticks(
            range(len(found.runs)), [r.label.replace(" ", "\n") for r in found.runs], fontsize=7
        )
        ax.set_xlim(-0.5, len(found.runs) - 0.5)
        ax.set_ylim(bottom=0)  # runs are read against each other: a ratio, from zero
        ax.set_ylabel(f"{figure_def.label}, {figure_def.unit}")
        ax.set_title(f"{figure_def.label} on {stack}")
        ax.legend(fontsize=7, loc="lower left")
        return to_svg(fig)


def _run_item(run: RunInfo) -> str:
    changed = "; ".join(run.changed)
    flag = f' <span class="flag">options changed: {_e(changed)}</span>' if changed else ""
    return (
        f"<li>{_e(run.label)}: <code>{_e(run.source)}</code> "
        f'<span class="users">{_e(run.summary)}</span>{flag}</li>'
    )


def render_history_html(found: History) -> str:
    """The page: the runs listed, then a chart per figure and stack (pure)."""
    runs = "".join(_run_item(r) for r in found.runs)
    count = len(found.regressions)
    parts = [
        f"<p>{len(found.runs)} runs, oldest first. Each point is the figure's centre over a "
        "run's repetitions (whiskers: their range); a red cross marks a regression against the "
        "run before with the same options, judged by <code>compare diff</code>'s test. A dashed "
        f"line marks a change of options: no line is drawn across it. {count} "
        f"regression{'s' if count != 1 else ''}.</p><ol>{runs}</ol>"
    ]
    stacks = list(dict.fromkeys(s.stack for s in found.series))
    for name in dict.fromkeys(s.figure.name for s in found.series):
        for stack in stacks:
            svg = chart(found, name, stack)
            if svg is not None:
                parts.append(
                    f'<figure role="img" aria-label="{_e(name)} on {_e(stack)}">{svg}</figure>'
                )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>Figures across runs</title>"
        f"<style>{CSS}</style></head><body><main><h1>Figures across runs</h1>"
        f"{''.join(parts)}</main></body></html>\n"
    )
