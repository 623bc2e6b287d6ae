"""The answer block and the verdict matrix on hand-made documents: a clear winner, no difference,
an inconclusive case, a starved stack, a sweep's knees, the self-check's disagreement."""

from __future__ import annotations

import copy
from typing import Any

from compare.report import render_html, render_markdown
from compare.report.answer import Answer, answer, lines
from compare.report.figures import figures_document
from compare.report.matrix import matrix
from compare.report.model import build
from compare.report.runresults import RunResults
from compare.report.summary import terminal_verdict
from tests.cells import document, scaled_cell
from tests.test_diff import starved
from tests.test_report_capacity import sweep_document


def scaled(scales: dict[str, list[float]]) -> dict[str, Any]:
    """Download cells whose times (and inverse throughput) are each stack's scale by repetition."""
    cells = [
        scaled_cell(stack, repetition, scale)
        for stack, by_repetition in scales.items()
        for repetition, scale in enumerate(by_repetition)
    ]
    made = document(repetitions=len(next(iter(scales.values()))), stacks=tuple(scales))
    made["cells"] = cells
    return made


def answered(made: dict[str, Any]) -> Answer:
    return answer(build(RunResults.from_document(made)))


def test_a_clear_winner_is_named_with_its_interval() -> None:
    # uvicorn's every time twice gunicorn-sync's, 6 repetitions: clear on every figure.
    found = answered(document(repetitions=6))
    (download_answer,) = found.scenarios
    assert len(download_answer.differences) == 2  # the two that matter most, the rest counted
    first = download_answer.differences[0]
    assert "gunicorn-sync" in first and "than uvicorn" in first and "95% interval" in first
    # Memory is the same on both (the cells' fixed 8 MB peak): no meaningful difference.
    assert download_answer.rest == (
        "The other 3 comparisons: 1 no meaningful difference, 2 clear, not named here."
    )
    stacks = {s.stack: s for s in download_answer.stacks}
    assert stacks["uvicorn"].memory == "+8.0 MB peak memory"
    assert stacks["gunicorn-sync"].flags == ()


def test_no_difference_says_so_and_counts_the_figures() -> None:
    same = [1.0, 1.01, 0.99, 1.0, 1.01, 0.99]
    found = answered(scaled({"gunicorn-sync": same, "uvicorn": same}))
    (download_answer,) = found.scenarios
    assert download_answer.differences == (
        "No difference between the stacks was clear in this run.",
    )
    assert "no meaningful difference" in download_answer.rest


def test_an_inconclusive_case_is_not_called_a_difference() -> None:
    # uvicorn 8% slower on average, with repetitions spread 20%: neither clear nor within 5%.
    spread_out = [1.0, 1.2, 0.85, 1.15, 0.9, 1.1]
    found = answered(
        scaled({"gunicorn-sync": spread_out, "uvicorn": [v * 1.08 for v in spread_out[::-1]]})
    )
    (download_answer,) = found.scenarios
    assert "inconclusive" in download_answer.rest
    assert not any("95% interval" in d for d in download_answer.differences)
    made = scaled({"a": spread_out, "b": [v * 1.08 for v in spread_out[::-1]]})
    found_matrix = matrix(build(RunResults.from_document(made)))
    tones = {c.tone for row in found_matrix.rows for c in row.cells if c is not None}
    assert "inconclusive" in tones


def test_a_starved_stack_is_flagged_beside_its_figures() -> None:
    made = starved(document(repetitions=5), 3, 0.02)
    found = answered(made)
    (slow,) = found.scenarios
    gunicorn = next(s for s in slow.stacks if s.stack == "gunicorn-sync")
    assert "3 of them served" in gunicorn.load
    assert "unserved 5/5" in gunicorn.flags and "censored 5/5" in gunicorn.flags


def test_a_sweep_answers_with_each_stacks_knee() -> None:
    found = answered(sweep_document())
    (download_answer,) = found.scenarios
    loads = {s.stack: s.load for s in download_answer.stacks}
    assert loads["uvicorn"] == "up to 4 users within the service level"
    assert loads["gunicorn-sync"] == "up to 2 users within the service level (the highest it met)"
    assert download_answer.service.startswith("TTFB p99 within 1000 ms")
    # At 4 users uvicorn's first byte is 60x sooner: the biggest difference, named with its level.
    assert download_answer.differences[0].startswith("at 4 users: uvicorn")
    assert "MB per download in progress" in download_answer.stacks[0].memory


def with_crosscheck(made: dict[str, Any], agree: bool) -> dict[str, Any]:
    made = copy.deepcopy(made)
    made["crosscheck"] = [
        {
            "stack": "uvicorn",
            "what": "ttfb_p50_ms",
            "bench": 12.0,
            "independent": 12.4 if agree else 30.0,
            "difference": 0.4 if agree else 18.0,
            "within_tolerance": agree,
        },
        {
            "stack": "gunicorn-sync",
            "what": "peak_rss_mb",
            "bench": 80.0,
            "independent": 81.0,
            "difference": 1.0,
            "within_tolerance": True,
        },
    ]
    if not agree:
        made["flags"] = ["crosscheck-disagrees"]
    return made


def test_the_self_check_is_a_line_of_the_answer_and_a_disagreement_is_loud() -> None:
    assert answered(document()).selfcheck is None  # no self-check in the run: no line
    good = answered(with_crosscheck(document(), agree=True))
    assert good.selfcheck_agrees and good.selfcheck is not None
    assert "2 figures re-measured" in good.selfcheck
    bad_document = with_crosscheck(document(), agree=False)
    bad = answered(bad_document)
    assert not bad.selfcheck_agrees and bad.selfcheck is not None
    assert "uvicorn ttfb_p50_ms: bench 12, independent 30 (difference 18)" in bad.selfcheck
    assert lines(bad)[0] == ("disagrees", bad.selfcheck)
    flags = {s.stack: s.flags for s in bad.scenarios[0].stacks}
    assert flags == {"gunicorn-sync": (), "uvicorn": ("crosscheck disagrees on ttfb_p50_ms",)}
    results = RunResults.from_document(bad_document)
    page = render_html(results)
    assert '<p class="selfcheck disagrees">' in page
    # The list itself, figure by figure, the disagreeing row marked.
    assert '<tr class="failed"><td>uvicorn</td><td>ttfb_p50_ms</td><td>12</td><td>30</td>' in page
    assert "| gunicorn-sync | peak_rss_mb | 80 | 81 | 1 | yes |" in render_markdown(results)
    assert f"**{bad.selfcheck}**" in render_markdown(results)
    assert "!! Self-check: an independent client disagrees" in terminal_verdict(results)


def test_the_self_check_table_says_what_was_re_measured_and_its_tolerance_when_stored() -> None:
    made = with_crosscheck(document(), agree=False)
    made["crosscheck"][0] |= {"measured": "cell download 1 users", "tolerance": 3.0}
    results = RunResults.from_document(made)
    markdown = render_markdown(results)
    assert "| figure | measured | bench | independent | difference | tolerance |" in markdown
    assert "| uvicorn | ttfb_p50_ms | cell download 1 users | 12 | 30 | 18 | 3 | NO |" in markdown
    # The item that does not say shows dashes; the figures document keeps what was stored.
    assert "| gunicorn-sync | peak_rss_mb | - | 80 | 81 | 1 | - | yes |" in markdown
    first, second = figures_document(results)["crosscheck"]
    assert (first["measured"], first["tolerance"]) == ("cell download 1 users", 3.0)
    assert "measured" not in second and "tolerance" not in second


def test_every_report_opens_with_the_answer() -> None:
    results = RunResults.from_document(document(repetitions=6))
    page = render_html(results)
    assert page.index('id="answer"') < page.index('id="capacity"') < page.index('id="verdict"')
    markdown = render_markdown(results)
    assert markdown.index("## The answer") < markdown.index("## Capacity")
    terminal = terminal_verdict(results)
    assert terminal.index("ANSWER") < terminal.index("figure ")


def test_the_matrix_has_one_cell_per_comparison() -> None:
    model = build(RunResults.from_document(document(repetitions=6)))
    found = matrix(model)
    assert found.columns == ("download",) and not found.several_pairs
    throughput = next(r for r in found.rows if r.figure == "throughput")
    (only,) = throughput.cells
    assert only is not None and only.tone == "clear"
    assert only.text.startswith("gunicorn-sync 2.0") and only.text.endswith("x higher")
    assert only.sentence.startswith("Throughput: gunicorn-sync")
    # Nothing judged with one repetition: every cell says so, none is coloured as a winner.
    single = matrix(build(RunResults.from_document(document(repetitions=1))))
    assert {c.tone for r in single.rows for c in r.cells if c} == {"not-judged"}


def test_with_three_stacks_each_row_names_its_pair() -> None:
    made = document(repetitions=6, stacks=("gunicorn-sync", "uvicorn", "granian"))
    found = matrix(build(RunResults.from_document(made)))
    assert found.several_pairs
    pairs = {r.pair for r in found.rows if r.figure == "throughput"}
    assert pairs == {"gunicorn-sync vs uvicorn", "gunicorn-sync vs granian", "uvicorn vs granian"}
    assert "<th>stacks</th>" in render_html(RunResults.from_document(made))
