"""The Markdown report: the verdict and the main tables, to paste into a pull request or issue."""

from __future__ import annotations

import re

from compare.report import capacity, method, tables
from compare.report.answer import Answer, answer, selfcheck_table
from compare.report.matrix import Matrix, matrix
from compare.report.model import Model, build
from compare.report.page import DEFINITIONS, SECTIONS, started_line, title
from compare.report.runresults import RunResults
from compare.report.tables import Table
from compare.report.verdict import verdicts

NAMES = dict(SECTIONS)


def plain(value: object) -> str:
    """Text from a results document, inert in Markdown: no raw HTML, no code span opened, no
    image fetched from elsewhere (a link stays a link)."""
    text = str(value).replace("&", "&amp;").replace("<", "&lt;")
    return text.replace("\\", "\\\\").replace("`", "\\`").replace("![", "!\\[")


def code(text: str) -> str:
    """A code span that holds any text: its fence is longer than any backtick run inside."""
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text.replace(chr(10), ' ')}{pad}{fence}"


def _cell(value: object) -> str:
    return plain(value).replace("|", "\\|").replace("\n", " ") or " "


def table_markdown(table: Table, caption: str = "") -> str:
    """A GitHub-flavoured Markdown table (rows flagged in the reader's words, not colours)."""
    if not table.rows:
        return "_Nothing measured._\n"
    lines = [f"**{plain(caption)}**\n"] if caption else []
    lines.append("| " + " | ".join(_cell(h) for h in table.header) + " |")
    lines.append("|" + "|".join("---" for _ in table.header) + "|")
    for row in table.rows:
        lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
    return "\n".join(lines) + "\n"


def answer_markdown(found: Answer) -> list[str]:
    """The answer block: a bullet per stack and per difference, flags in bold."""
    out = [f"Measured: {plain(found.target)}.\n"]
    if found.selfcheck is not None:
        check = plain(found.selfcheck)
        out.append((check if found.selfcheck_agrees else f"**{check}**") + "\n")
        if found.checks:
            out.append(table_markdown(selfcheck_table(found.checks), "The self-check"))
    for s in found.scenarios:
        service = f" _(service level: {plain(s.service)})_" if s.service else ""
        out.append(f"**{plain(s.scenario)}**{service}\n")
        for st in s.stacks:
            costs = "; ".join(plain(p) for p in (st.load, st.memory, st.cpu) if p)
            flags = f" **[flagged: {plain(', '.join(st.flags))}]**" if st.flags else ""
            out.append(f"- {plain(st.stack)}: {costs}{flags}")
        out += [f"- **{plain(d)}**" for d in s.differences]
        if s.rest:
            out.append(f"- {plain(s.rest)}")
        out.append("")
    return out


def matrix_markdown(found: Matrix) -> str:
    """The verdicts as a table: who is ahead in bold, the words as they are."""
    if not found.rows:
        return "_No two stacks were compared in this run._\n"
    header = ["figure", *(["stacks"] if found.several_pairs else []), *found.columns]
    table = Table(tuple(header))
    for row in found.rows:
        words = [
            "-" if c is None else (f"**{c.text}**" if c.tone == "clear" else c.text)
            for c in row.cells
        ]
        table.add(row.figure, *([row.pair] if found.several_pairs else []), *words)
    return table_markdown(table)


def _verdict(model: Model) -> list[str]:
    out = [matrix_markdown(matrix(model))]
    found = verdicts(model)
    for v in found:
        if v.observations or v.caveats:
            out.append(f"**{plain(v.scenario)}**\n")
            out += [f"- {plain(line)}" for line in v.observations]
            out += [f"- **Caveat:** {plain(line)}" for line in v.caveats]
            out.append("")
    out.append("<details><summary>Every comparison in words</summary>\n")
    for v in found:
        users = f" ({v.users} users)" if v.users else ""
        out.append(f"#### {plain(v.scenario)}{users}\n\n_{plain(v.description)}_\n")
        out += [f"- {plain(line)}" for line in v.findings]
        out.append("")
    out.append("</details>\n")
    out.append(
        table_markdown(tables.overview(model), "All scenarios (median, range over repetitions)")
    )
    return out


def _sections(model: Model) -> dict[str, list[str]]:
    slow = tables.slow_clients(model)
    commands = [f"- {plain(label)}: {code(line)}" for label, line in method.command_lines(model)]
    warnings = method.warnings(model)
    events = method.events(model)
    knees = capacity.knee_table(model)
    apps = tables.app_profiles(model)
    return {
        "answer": answer_markdown(answer(model)),
        "capacity": [
            *(f"- {plain(line)}" for line in capacity.sentences(model)),
            "",
            table_markdown(knees, "Knees and memory per download")
            if knees.rows
            else "_No capacity sweep in this run (`--concurrency` or `--rate`)._\n",
        ],
        "verdict": _verdict(model),
        "size-sweep": [table_markdown(tables.sweep(model))],
        "throughput": [
            table_markdown(
                tables.throughput(model),
                "Throughput: body bytes received in each window (partial downloads count)",
            ),
            table_markdown(tables.latency(model), "Latency percentiles, ms"),
            table_markdown(
                apps, "What the startproject profile costs (STACK@startproject vs @minimal)"
            )
            if apps.rows
            else "",
        ],
        "memory": [
            table_markdown(tables.memory(model), "Server memory (timelines: see report.html)")
        ],
        "cost": [table_markdown(tables.cost(model))],
        "head-of-line": [
            table_markdown(
                tables.head_of_line(model), "Probe (/ping) latency while exports stream"
            ),
            table_markdown(slow, "Users served a first byte within the cell") if slow.rows else "",
        ],
        "environment": [
            *(f"- {plain(k)}: {plain(v)}" for k, v in method.environment(model)),
            *(f"- {plain(k)}: {plain(v)}" for k, v in method.method(model)),
            "",
            table_markdown(method.stacks(model)),
            "Command lines:\n",
            *commands,
            "",
            "Events: " + ("; ".join(map(plain, events)) if events else "none") + "\n",
            "Warnings logged by the servers:\n",
            *([f"- {plain(w)}" for w in warnings] or ["- none"]),
            "",
            "Definitions:\n",
            *(f"- {d}" for d in DEFINITIONS),
        ],
    }


def render_markdown(results: RunResults) -> str:
    """The report as Markdown (pure: the same results give the same text)."""
    model = build(results)
    lines = [f"# {plain(title(model))}", ""]
    lines.append(plain(started_line(results)) + "\n")
    for note in model.notes:  # one quote each: consecutive quoted lines would run together
        lines += [f"> **Note:** {plain(note)}", ""]
    for key, body in _sections(model).items():
        lines.append(f"## {NAMES[key]}\n")
        lines += body
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
