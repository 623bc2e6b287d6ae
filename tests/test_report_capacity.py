"""The report's capacity section on hand-made sweeps: levels, knees, sentences, charts."""

from __future__ import annotations

import re
from typing import Any

from compare.report import charts, render_html, render_markdown
from compare.report.capacity import curve_sets, knee_table, sentences
from compare.report.figures import figures_document
from compare.report.model import Model
from compare.report.model import build as build_model
from compare.report.runresults import RunResults
from compare.report.summary import terminal_verdict
from compare.report.tables import slow_clients
from compare.report.verdict import verdicts
from compare.results import Cell
from tests.cells import cell, download


def build(document: dict[str, Any]) -> Model:
    """A document read, then grouped for the report."""
    return build_model(RunResults.from_document(document))


def sweep_document(levels: tuple[int, ...] = (1, 2, 4), repetitions: int = 4) -> dict[str, Any]:
    """Two stacks at rising concurrency; the slow one's first bytes queue from 4 users up."""
    cells = []
    for repetition in range(repetitions):
        for level in levels:
            for stack, wait in (("gunicorn-sync", 0.6), ("uvicorn", 0.02)):
                ttfb = 0.02 if level < 4 or stack == "uvicorn" else wait * level
                reqs = [
                    download(1.0 + 0.3 * i, ttfb * (1 + 0.01 * repetition), 0.5 + ttfb, user=u)
                    for i, u in enumerate(range(level))
                ]
                doc = cell(
                    reqs,
                    stack=stack,
                    repetition=repetition,
                    users=level,
                    bytes_per_bin=100_000 * min(level, 2 if stack == "gunicorn-sync" else level),
                    load={"kind": "concurrency", "level": level},
                )
                doc["memory"]["peak_pss"] = 80_000_000 + level * 1_500_000
                cells.append(doc)
    return {
        "schema": "django-stream-compare/results",
        "schema_version": 2,
        "status": "complete",
        "config": {
            "stacks": ["gunicorn-sync", "uvicorn"],
            "scenarios": ["download"],
            "repeat": repetitions,
            "slo_ttfb_ms": 1000,
        },
        "environment": {},
        "stacks": {},
        "cells": cells,
        "sweep": [],
        "events": [],
    }


def test_levels_become_their_own_rows_and_judgements() -> None:
    model = build(sweep_document())
    assert model.scenarios == (
        "download at 1 user",
        "download at 2 users",
        "download at 4 users",
    )
    # Repetitions of one level are judged against each other, never across levels.
    data = figures_document(RunResults.from_document(sweep_document()))
    at4 = [c for c in data["comparisons"] if c["level"] == "4 users"]
    ttfb = next(c for c in at4 if c["figure"] == "ttfb_p50_ms")
    assert ttfb["scenario"] == "download" and ttfb["verdict"] == "clear"
    assert ttfb["n_a"] == ttfb["n_b"] == 4


def test_slow_clients_say_who_was_served_at_every_level() -> None:
    # gunicorn's two workers give a first byte to two users of four; the level's own verdict and
    # the served table say so, as they do for slow-client run at its own users.
    document = sweep_document(levels=(2, 4), repetitions=1)
    for c in document["cells"]:
        c["scenario"] = "slow-client"
        if c["stack"] == "gunicorn-sync" and c["users"] == 4:
            served = [u for u in c["requests"]["user"]][:2]
            keep = [i for i, u in enumerate(c["requests"]["user"]) if u in served]
            c["requests"] = {k: [v[i] for i in keep] for k, v in c["requests"].items()}
    document["config"]["scenarios"] = ["slow-client"]
    model = build(document)
    found = {v.scenario: v.findings for v in verdicts(model)}
    assert "Users served a first byte: gunicorn-sync 2 of 2" in found["slow-client at 2 users"][0]
    at4 = found["slow-client at 4 users"][0]
    assert "gunicorn-sync 2 of 4, 0.2 being sent at once on average (up to 2 still" in at4
    assert "uvicorn 4 of 4" in at4
    assert {row[0] for row in slow_clients(model).rows} == {
        "slow-client at 2 users",
        "slow-client at 4 users",
    }


def test_knees_sentences_and_table() -> None:
    model = build(sweep_document())
    (found,) = curve_sets(model)
    knees = {c.stack: c.knee for c in found.curves}
    assert knees == {"gunicorn-sync": 2, "uvicorn": 4}
    line, memory = sentences(model)
    assert line.startswith("download, 1-4 users: uvicorn met the service level")
    # Both grow 1.5 MB per download held, the same in every repetition: no meaningful difference.
    assert memory.startswith("download: No meaningful difference") and "memory per" in memory
    assert "at every level" in line and "gunicorn-sync up to 2 users (at 4: TTFB p99" in line
    table = knee_table(model)
    assert [row[2] for row in table.rows] == ["gunicorn-sync", "uvicorn"]
    assert found.curves[1].memory.mb_per_download is not None


def test_capacity_leads_every_report() -> None:
    document = RunResults.from_document(sweep_document())
    page = render_html(document)
    assert page.index('id="capacity"') < page.index('id="verdict"')
    assert page.count("<svg") >= 1 and "Knees and memory per download" in page
    markdown = render_markdown(document)
    assert markdown.index("## Capacity") < markdown.index("## Verdict")
    assert "uvicorn met the service level" in markdown
    assert terminal_verdict(document).startswith("Django streaming export")
    assert "capacity\n  - download, 1-4 users" in terminal_verdict(document)


def memory_document(cap: int, per_download: float, seed: int) -> list[Cell]:
    """uvicorn's cells at 1, 2, 4 and 8 users against a stack that holds at most ``cap``
    downloads at once and grows ``per_download`` MB for each (6 MB fixed, noise 0.2 MB)."""
    import random

    rng = random.Random(seed)
    cells = []
    for repetition in range(6):
        for level in (1, 2, 4, 8):
            for stack, most, grows in (("gunicorn-sync", cap, per_download), ("uvicorn", 8, 0.8)):
                held = min(level, most)
                reqs = [download(1.0, 0.01, 4.5, user=u) for u in range(held)]
                doc = cell(
                    reqs,
                    stack=stack,
                    repetition=repetition,
                    users=level,
                    bytes_per_bin=100_000,
                    load={"kind": "concurrency", "level": level},
                )
                increase = 6 + grows * held + rng.gauss(0, 0.2)
                doc["memory"]["peak_pss"] = doc["memory"]["baseline_pss"] + int(increase * 1e6)
                cells.append(doc)
    return cells


def test_memory_per_download_is_one_slope_compared_by_repetition() -> None:
    # Review [3] (repro r4): both stacks cost 6 MB + 0.8 MB per download, one holds at most 3
    # downloads at once. The quotient (peak / downloads) called the capped one 1.2 MB heavier,
    # "clear"; the slope over load levels, one per repetition, finds no difference that matters.
    document = sweep_document()
    document["cells"] = memory_document(cap=3, per_download=0.8, seed=1)
    document["config"]["repeat"] = 6
    read = RunResults.from_document(document)
    data = figures_document(read)
    (memory,) = [c for c in data["comparisons"] if c["figure"] == "mb_per_download"]
    assert memory["level"] is None and memory["design"] == "paired" and memory["n_a"] == 6
    assert memory["conclusion"] in ("no-meaningful-difference", "inconclusive")
    assert abs(memory["estimate"]) < 0.2
    assert memory["load_note"] == "gunicorn-sync held at most 3 downloads at once, uvicorn 8"
    assert not any(c["figure"] == "peak_mb_per_download" for c in data["comparisons"])
    # A stack whose workers hold nothing per download, against uvicorn's 0.8 MB: clear.
    document["cells"] = memory_document(cap=3, per_download=0.0, seed=2)
    model = build(document)
    (line,) = [s for s in sentences(model) if "memory per download" in s.lower()]
    assert line.startswith("download: Memory per download in progress (slope over load levels):")
    assert re.search(r": gunicorn-sync 0\.\d\d MB lower than uvicorn \(95% interval", line)


def test_capacity_charts_read_as_ratios_start_at_zero() -> None:
    # Throughput (0.2-0.8 MB/s here) and memory (1.5-6 MB) are compared between stacks by the
    # eye as ratios: both axes start at 0 (a tick labelled 0 in each); TTFB is on a log axis.
    model = build(sweep_document())
    (found,) = curve_sets(model)
    svg = charts.capacity_chart(model, found, 1000)
    assert svg is not None
    zeros = re.findall(r"<text[^>]*>0(?:\.0+)?</text>", svg)
    assert len(zeros) >= 2, zeros
    # Memory over time is a level, zoomed: its axis says it does not start at zero.
    document = sweep_document()
    document["cells"][0]["timeline"] = [{"t": 0.0, "pss": 80e6}, {"t": 1.0, "pss": 82e6}]
    timeline = charts.timeline_chart(build(document), "download at 1 user")
    assert timeline is not None and "axis not from 0" in timeline
