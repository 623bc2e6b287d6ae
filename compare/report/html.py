"""The HTML report: one self-contained page (inline CSS, inline SVG charts, no scripts)."""

from __future__ import annotations

from html import escape

from compare.report import capacity, charts, method, tables
from compare.report.answer import Answer, answer, selfcheck_table
from compare.report.matrix import Matrix, matrix
from compare.report.model import Model, build
from compare.report.page import CSS, DEFINITIONS, SECTIONS, started_line, title
from compare.report.runresults import RunResults
from compare.report.tables import Table, Value
from compare.report.verdict import ScenarioVerdict, verdicts

THROUGHPUT_CAPTION = "Throughput: body bytes received in each window (partial downloads count)"
# Columns of prose, allowed to wrap (figures never wrap).
WRAPPED = ("notes", "error", "status")


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def table_html(table: Table, caption: str = "") -> str:
    """A table with flagged rows marked by class; ranges shown small beside the median."""
    if not table.rows:
        return '<p class="empty">Nothing measured.</p>'
    head = "".join(f"<th>{_e(h)}</th>" for h in table.header)
    body = []
    for row, mark in zip(table.rows, table.marks, strict=True):
        cells = []
        for name, cell in zip(table.header, row, strict=True):
            if isinstance(cell, Value):
                cells.append(f"<td>{_e(cell.main)} <small>{_e(cell.detail)}</small></td>")
            elif name in WRAPPED:
                cells.append(f'<td class="wrap">{_e(cell)}</td>')
            else:
                cells.append(f"<td>{_e(cell)}</td>")
        attr = f' class="{_e(mark)}"' if mark else ""
        body.append(f"<tr{attr}>{''.join(cells)}</tr>")
    cap = f"<caption>{_e(caption)}</caption>" if caption else ""
    return (
        f'<div class="scroll"><table>{cap}<thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _chart(svg: str | None, label: str) -> str:
    if svg is None:
        return f'<p class="empty">No data for this chart: {_e(label)}.</p>'
    return f'<figure role="img" aria-label="{_e(label)}">{svg}</figure>'


def _pairs(rows: list[tuple[str, str]]) -> str:
    items = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in rows)
    return f"<dl>{items}</dl>"


def _list(items: list[str], css: str = "") -> str:
    if not items:
        return ""
    attr = f' class="{css}"' if css else ""
    return f"<ul{attr}>" + "".join(f"<li>{_e(i)}</li>" for i in items) + "</ul>"


def _verdict_card(v: ScenarioVerdict) -> str:
    users = f' <span class="users">{v.users} users</span>' if v.users else ""
    css = "card missing" if not v.findings and v.caveats else "card"
    return (
        f'<article class="{css}"><h3>{_e(v.scenario)}{users}</h3>'
        f'<p class="what">{_e(v.description)}</p>'
        f"{_list(list(v.findings))}{_list(list(v.caveats), 'caveats')}</article>"
    )


def answer_html(found: Answer) -> str:
    """The answer block: per scenario the stacks' lines, flags marked, then the differences."""
    parts = [f'<p class="target">Measured: {_e(found.target)}.</p>']
    if found.selfcheck is not None:
        css = "selfcheck" if found.selfcheck_agrees else "selfcheck disagrees"
        parts.append(f'<p class="{css}">{_e(found.selfcheck)}</p>')
        if found.checks:
            parts.append(
                "<details><summary>The self-check, figure by figure</summary>"
                f"{table_html(selfcheck_table(found.checks))}</details>"
            )
    for s in found.scenarios:
        service = f' <span class="users">service level: {_e(s.service)}</span>' if s.service else ""
        stacks = []
        for st in s.stacks:
            costs = "; ".join(_e(p) for p in (st.load, st.memory, st.cpu) if p)
            flags = "".join(f' <span class="flag">{_e(f)}</span>' for f in st.flags)
            stacks.append(f"<li><strong>{_e(st.stack)}</strong>: {costs}{flags}</li>")
        rest = f'<p class="rest">{_e(s.rest)}</p>' if s.rest else ""
        parts.append(
            f'<h3>{_e(s.scenario)}{service}</h3><ul class="stacks">{"".join(stacks)}</ul>'
            f"{_list(list(s.differences), 'differences')}{rest}"
        )
    return f'<div class="answer">{"".join(parts)}</div>'


def matrix_html(found: Matrix) -> str:
    """The verdicts as a table: colour and a word per comparison, its sentence on hover."""
    if not found.rows:
        return '<p class="empty">No two stacks were compared in this run.</p>'
    pair = "<th>stacks</th>" if found.several_pairs else ""
    head = f"<th>figure</th>{pair}" + "".join(f"<th>{_e(c)}</th>" for c in found.columns)
    body = []
    for row in found.rows:
        cells = [f'<th scope="row">{_e(row.figure)}</th>']
        if found.several_pairs:
            cells.append(f"<td>{_e(row.pair)}</td>")
        for c in row.cells:
            if c is None:
                cells.append('<td class="v-none">-</td>')
            else:
                cells.append(f'<td class="v-{c.tone}" title="{_e(c.sentence)}">{_e(c.text)}</td>')
        body.append(f"<tr>{''.join(cells)}</tr>")
    legend = (
        "<p>One cell per comparison (hover for its sentence): green, the stack named is ahead "
        "clearly, by the factor or amount shown; grey, no meaningful difference (the whole 95% "
        "interval within the minimum effect that matters); yellow, inconclusive (more "
        "repetitions would tell); white, not judged (too few repetitions, or a figure that "
        "would flatter a stack that starved users).</p>"
    )
    return (
        f'{legend}<div class="scroll"><table class="matrix"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _answer(model: Model) -> str:
    return answer_html(answer(model))


def _verdict(model: Model) -> str:
    found = verdicts(model)
    noted = "".join(
        f"<h3>{_e(v.scenario)}</h3>"
        + _list(list(v.observations))
        + _list(list(v.caveats), "caveats")
        for v in found
        if v.observations or v.caveats
    )
    cards = "".join(_verdict_card(v) for v in found)
    return (
        f"{matrix_html(matrix(model))}{noted}"
        f"<details><summary>Every comparison in words</summary>{cards}</details>"
        "<h3>All scenarios at a glance</h3>"
        "<p>Medians over the repetitions, their range in small type. "
        "Red rows: a cell failed; amber: the load generator was saturated; "
        "yellow: see the notes.</p>"
        f"{table_html(tables.overview(model))}"
    )


def _capacity(model: Model) -> str:
    sets = capacity.curve_sets(model)
    if not sets:
        return (
            '<p class="empty">No capacity sweep in this run: every scenario ran at one load '
            "level (<code>--concurrency 1,2,4,8</code> or <code>--rate 1,2,5</code> sweep "
            "them).</p>"
        )
    slo = model.results.slo_ttfb_ms
    parts = [
        "<p>Each scenario at rising load, every stack on the same CPUs. A level meets the "
        f"service level when every repetition does: its TTFB p99 within {slo:g} ms (the red "
        "line), no request failed, every user served and nothing still waiting when the cell "
        "ended (under an arrival rate, also 95% of the offered rate); the knee (star) is the "
        "highest level met from the lowest one on. Points are medians over repetitions, "
        "whiskers their range. A level where the load generator was the limit stops the "
        "climb: above it the server was not measured.</p>",
        _list(capacity.sentences(model)),
    ]
    for found in sets:
        parts.append(f"<h3>{_e(found.title)}</h3>")
        parts.append(_chart(charts.capacity_chart(model, found, slo), found.title))
    parts.append(table_html(capacity.knee_table(model), "Knees and memory per download"))
    return "".join(parts)


def _sweep(model: Model) -> str:
    return (
        "<p>One client downloads one export at a time from a freshly started stack, at each size: "
        "streamed, buffered (plain HttpResponse) and with the iterator kind mismatched to the "
        "interface, which makes Django buffer the whole body.</p>"
        f"{_chart(charts.sweep_chart(model), 'size sweep')}"
        f"{table_html(tables.sweep(model))}"
    )


def _throughput(model: Model) -> str:
    return (
        f"{_chart(charts.throughput_chart(model), 'throughput and latency')}"
        f"{table_html(tables.throughput(model), THROUGHPUT_CAPTION)}"
        f"{table_html(tables.latency(model), 'Latency percentiles, ms')}" + _app_profiles(model)
    )


def _app_profiles(model: Model) -> str:
    found = tables.app_profiles(model)
    if not found.rows:
        return ""
    return (
        "<h3>What the startproject profile costs</h3><p>Each server under the minimal profile "
        "(<code>STACK@minimal</code>: one native middleware) and under a new "
        "<code>startproject</code>'s middleware and apps with a logged-in user "
        "(<code>STACK@startproject</code>); under ASGI every hook of those "
        "sync middleware runs through <code>sync_to_async</code>. Change: startproject against "
        "minimal; verdict from the same test as the rest of the report.</p>" + table_html(found)
    )


def _memory(model: Model) -> str:
    parts = [
        "<p>PSS of the whole server process tree, sampled during each cell, against seconds "
        "since the load generator started (before zero: the warm-up and the idle baselines). "
        "The tinted band is the measurement window; the dashed line the idle baseline taken "
        "after the warm-up, which every increase is measured from. Later repetitions are drawn "
        "lighter.</p>"
    ]
    for scenario in model.scenarios:
        parts.append(f"<h3>{_e(scenario)}</h3>")
        parts.append(_chart(charts.timeline_chart(model, scenario), f"memory during {scenario}"))
    parts.append(table_html(tables.memory(model), "Server memory (medians over repetitions)"))
    return "".join(parts)


def _cost(model: Model) -> str:
    return f"{_chart(charts.cost_chart(model), 'cost')}{table_html(tables.cost(model))}"


def _head_of_line(model: Model) -> str:
    parts = []
    probed = tables.head_of_line(model)
    for scenario in dict.fromkeys(str(row[0]) for row in probed.rows):
        parts.append(_chart(charts.probe_chart(model, scenario), f"probe latency, {scenario}"))
    parts.append(table_html(probed, "Probe (/ping) latency while exports stream"))
    slow = tables.slow_clients(model)
    parts.append(table_html(slow, "Users served a first byte within the cell"))
    return "".join(parts)


def _environment(model: Model) -> str:
    commands = "".join(
        f"<dt>{_e(label)}</dt><dd><pre>{_e(line)}</pre></dd>"
        for label, line in method.command_lines(model)
    )
    events = method.events(model)
    warnings = method.warnings(model)
    return (
        f"<h3>Machine and software</h3>{_pairs(method.environment(model))}"
        f"<h3>Method</h3>{_pairs(method.method(model))}{_list(list(DEFINITIONS))}"
        f"<h3>Stacks</h3>{table_html(method.stacks(model))}"
        f'<h3>Command lines</h3><dl class="commands">{commands}</dl>'
        f"<h3>Events</h3>{_list(events) or '<p>None: the run went as planned.</p>'}"
        f"<h3>Warnings logged by the servers</h3>{_list(warnings) or '<p>None.</p>'}"
        f"<h3>Every cell</h3>{table_html(tables.cells(model))}"
    )


BODIES = {
    "answer": _answer,
    "capacity": _capacity,
    "verdict": _verdict,
    "size-sweep": _sweep,
    "throughput": _throughput,
    "memory": _memory,
    "cost": _cost,
    "head-of-line": _head_of_line,
    "environment": _environment,
}


def render_html(results: RunResults) -> str:
    """The whole report as one HTML page (pure: the same results give the same bytes)."""
    model = build(results)
    heading = title(model)
    nav = "".join(f'<a href="#{key}">{_e(name)}</a>' for key, name in SECTIONS)
    notes = _list(list(model.notes), "run-notes")
    sections = "".join(
        f'<section id="{key}"><h2>{_e(name)}</h2>{BODIES[key](model)}</section>'
        for key, name in SECTIONS
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(heading)}</title><style>{CSS}</style></head><body><main>"
        f'<header><h1>{_e(heading)}</h1><p class="meta">{_e(_meta(model))}</p>{notes}'
        f"<nav>{nav}</nav></header>{sections}</main></body></html>\n"
    )


def _meta(model: Model) -> str:
    return started_line(model.results)
