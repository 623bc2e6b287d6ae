"""Capacity curves from hand-made cells: levels, knee, memory slope, and the sweep's plumbing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from compare.report import curves as made
from compare.report.curves import fit_line, knee
from compare.report.figures import figures_document
from compare.report.runresults import RunResults
from compare.results import Cell
from compare.run.loadcell import cell_load
from compare.run.runner import cell_name, load_order
from compare.run.workers import choose, sized
from compare.servers.stacks import get_stack
from tests import cells as made_cells
from tests.cells import document
from tests.timed_stack import short_config


def fig(
    level: float,
    p99: float | None = 100.0,
    *,
    stack: str = "uvicorn",
    kind: str = "concurrency",
    repetition: int = 0,
    status: str = "ok",
    failures: int = 0,
    flags: tuple[str, ...] = (),
    **extra: Any,
) -> dict[str, Any]:
    """One cell of a figures document, only the keys the curves read (plus a figure or two)."""
    return {
        "stack": stack,
        "scenario": "download",
        "repetition": repetition,
        "status": status,
        "load": {"kind": kind, "level": level},
        "ttfb_p99_ms": p99,
        "failures": failures,
        "flags": list(flags),
        "mb_per_s": 10.0 * level,
        **extra,
    }


def curves(cells: list[dict[str, Any]], slo_ttfb_ms: float = 1000.0) -> list[dict[str, Any]]:
    """The curves of these rows as the figures document states them."""
    return [curve.as_dict() for curve in made.curves(cells, slo_ttfb_ms)]


def levels_of(curve: dict[str, Any]) -> list[tuple[float, bool | None, bool]]:
    return [(lv["level"], lv["meets_slo"], lv["excluded"]) for lv in curve["levels"]]


def test_the_knee_is_the_last_level_met_from_the_lowest_on() -> None:
    cells = [fig(n, p99) for n, p99 in ((1, 80), (2, 150), (4, 900), (8, 1500), (16, 200))]
    (curve,) = curves(cells, slo_ttfb_ms=1000)
    assert levels_of(curve) == [
        (1, True, False),
        (2, True, False),
        (4, True, False),
        (8, False, False),
        (16, True, False),  # a lucky level above a broken one does not move the knee
    ]
    assert curve["knee"] == 4
    assert curve["knee_reason"] == "at 8: TTFB p99 1500 ms > 1000 ms"
    assert curve["kind"] == "concurrency" and curve["slo"]["ttfb_p99_ms"] == 1000


def test_a_client_bound_level_stops_the_climb_and_says_so() -> None:
    # Review [7]: a level between two good ones was skipped, and levels above the knee that the
    # load generator limited gave "every measured level met the service level".
    cells = [fig(1), fig(2, flags=("client-bound",)), fig(4), fig(8, 2000)]
    (curve,) = curves(cells)
    assert levels_of(curve) == [
        (1, True, False),
        (2, None, True),
        (4, True, False),
        (8, False, False),
    ]
    assert "client-bound" in curve["levels"][1]["reasons"][0]
    assert (curve["knee"], curve["knee_stop"]) == (1, "load-generator")
    assert curve["knee_reason"] == "the load generator was the limit at 2"
    (curve,) = curves(
        [fig(1), fig(2), fig(4, flags=("client-bound",)), fig(8, flags=("client-bound",))]
    )
    assert (curve["knee"], curve["knee_reason"]) == (2, "the load generator was the limit at 4")
    # At the lowest level already: no knee, and not for want of the server.
    (curve,) = curves([fig(1, flags=("client-bound",)), fig(2, 2000)])
    assert (curve["knee"], curve["knee_stop"]) == (None, "load-generator")


def test_a_level_meets_the_service_level_only_when_every_repetition_does() -> None:
    def level(*cells: dict[str, Any]) -> dict[str, Any]:
        (curve,) = curves([{**c, "repetition": r} for r, c in enumerate(cells)])
        found: dict[str, Any]
        (found,) = curve["levels"]
        return found

    # Review [5]: two of five repetitions at 5 s passed on the median p99.
    stalled = level(fig(4, 5000), fig(4, 5200), fig(4, 300), fig(4, 310), fig(4, 290))
    assert stalled["meets_slo"] is False
    assert stalled["reasons"] == ["TTFB p99 up to 5200 ms > 1000 ms in 2 of 5"]
    # One client-bound repetition no longer hides four that broke it ...
    broken = level(*[fig(4, 3000)] * 4, fig(4, 800, flags=("client-bound",)))
    assert (broken["meets_slo"], broken["excluded"]) == (False, False)
    # ... and where the others met it, the level is the load generator's limit.
    limited = level(*[fig(4, 300)] * 4, fig(4, 800, flags=("client-bound",)))
    assert (limited["meets_slo"], limited["excluded"]) == (None, True)
    # A request still waiting for its first byte when the cell ended fails it (review [5]).
    waiting = level(fig(4, 200, flags=("waiting-at-end",)), fig(4, 200))
    assert waiting["meets_slo"] is False
    assert waiting["reasons"] == [
        "requests still waited for a first byte when the cell ended in 1 of 2"
    ]
    cut = level(fig(4, 200, flags=("unfinished-at-end",)))
    assert cut["reasons"] == ["downloads still unfinished when the drain ended"]


def test_failures_unserved_users_and_failed_repetitions_break_the_service_level() -> None:
    cells = [
        fig(1),
        fig(2, failures=3),
        fig(4, flags=("unserved",)),
        fig(8, repetition=0),
        fig(8, repetition=1, status="failed"),
    ]
    (curve,) = curves(cells)
    reasons = {lv["level"]: lv["reasons"] for lv in curve["levels"]}
    assert reasons[2] == ["3 requests failed"]
    assert reasons[4] == ["users were left without a first byte"]
    assert reasons[8] == ["1 of 2 repetitions failed"]
    assert curve["knee"] == 1
    (curve,) = curves([fig(1, None)])
    assert curve["knee"] is None and curve["levels"][0]["reasons"] == [
        "no first body byte in the window"
    ]


def test_rate_levels_need_the_offered_rate_served_and_nothing_refused() -> None:
    def rate(level: float, achieved: float, not_started: int = 0) -> dict[str, Any]:
        return fig(
            level,
            kind="rate",
            offered_rate_per_s=level,
            achieved_rate_per_s=achieved,
            not_started=not_started,
        )

    (curve,) = curves([rate(1, 0.97), rate(2, 1.95), rate(5, 4.9, not_started=2), rate(10, 8.0)])
    assert levels_of(curve) == [
        (1, True, False),
        (2, True, False),
        (5, False, False),
        (10, False, False),
    ]
    assert curve["levels"][2]["reasons"] == [
        "2 arrivals not started (the in-flight bound was reached)"
    ]
    assert curve["levels"][3]["reasons"] == ["served 80% of the offered rate (< 95%)"]
    assert curve["knee"] == 2 and curve["kind"] == "rate"


def test_levels_hold_medians_and_every_repetitions_value() -> None:
    cells = [
        fig(4, p99, repetition=r, mb_per_s=mb)
        for r, p99, mb in ((0, 100, 5), (1, 300, 9), (2, 200, 7))
    ]
    cells.append(fig(4, 5000, repetition=3, status="failed", mb_per_s=None))
    (curve,) = curves(cells, slo_ttfb_ms=10_000)
    (level,) = curve["levels"]
    # Medians over the completed repetitions; the failed one fails the level all the same.
    assert (level["ttfb_p99_ms"], level["mb_per_s"]) == (200, 7)
    assert level["per_repetition"]["ttfb_p99_ms"] == [100, 300, 200]
    assert (level["repetitions"], level["ok_repetitions"]) == (4, 3)
    assert level["meets_slo"] is False


def test_curves_are_per_stack_scenario_and_kind() -> None:
    cells = [fig(1, stack="a"), fig(1, stack="b"), fig(2, stack="a"), fig(3, kind="rate")]
    found = [(c["stack"], c["kind"], [lv["level"] for lv in c["levels"]]) for c in curves(cells)]
    assert found == [
        ("a", "concurrency", [1, 2]),
        ("b", "concurrency", [1]),
        ("uvicorn", "rate", [3]),
    ]


def test_fit_line_and_memory_per_download_in_progress() -> None:
    line = fit_line([(1, 7), (2, 9), (4, 13), (8, 21)])
    assert line is not None
    assert (line.slope, line.intercept, line.r2, line.points) == pytest.approx((2, 5, 1, 4))
    noisy = fit_line([(1, 7), (2, 10), (4, 12), (8, 22)])
    assert noisy is not None and 0.9 < noisy.r2 < 1  # type: ignore[operator]
    assert fit_line([(1, 1), (2, 2)]) is None  # too few points
    assert fit_line([(3, 1), (3, 2), (3, 4)]) is None  # one x: no slope
    flat = fit_line([(1, 5), (2, 5), (3, 5)])
    assert flat is not None and flat.slope == 0 and flat.r2 is None
    cells = [
        fig(n, repetition=r, downloads_held_max=n, peak_pss_increase_mb=10 + (1.5 + r) * n)
        for n in (1, 2, 4)
        for r in (0, 1)
    ]
    cells.append(fig(8, status="failed", downloads_held_max=8, peak_pss_increase_mb=99))
    memory = made.memory_fit(cells)
    assert (memory.mb_per_download, memory.intercept_mb, memory.points) == (2, 10, 6)
    assert memory.per_repetition == {0: 1.5, 1: 2.5}  # each repetition's own slope
    assert memory.most_in_progress == 4  # the failed cell is left out
    (curve,) = curves(cells)
    assert curve["memory"]["mb_per_download"] == 2
    assert curve["memory"]["per_repetition"] == [1.5, 2.5]
    assert curve["memory"]["x"] == "downloads_held_max"


def test_knee_of_no_levels_and_of_all_met() -> None:
    assert knee([]) == (None, "every measured level met the service level", "every-level")


def test_the_figures_document_has_curves_and_load_keys() -> None:
    doc = document(repetitions=2)
    for c in doc["cells"]:
        c["load"] = {"kind": "concurrency", "level": 4}
    figs = figures_document(RunResults.from_document(doc))
    assert all(c["load"] == {"kind": "concurrency", "level": 4} for c in figs["cells"])
    assert {c["stack"] for c in figs["curves"]} == {"gunicorn-sync", "uvicorn"}
    assert all(c["knee"] == 4 and len(c["levels"]) == 1 for c in figs["curves"])
    assert figs["run"]["slo_ttfb_ms"] == 1000
    # Cells of a document from before the curves: a closed loop at its downloading users.
    del doc["cells"][0]["load"]
    read = RunResults.from_document(doc)
    assert figures_document(read)["cells"][0]["load"] == {"kind": "concurrency", "level": 4}


def test_load_order_climbs_each_curve_with_stacks_alternating(tmp_path: Path) -> None:
    specs = [get_stack("gunicorn-sync"), get_stack("uvicorn")]
    config = short_config(
        tmp_path,
        repeat=2,
        levels=(1.0, 4.0),
        scenarios=("download", "slow-client"),
        stacks=("gunicorn-sync", "uvicorn"),
    )
    order = [(r, s, lv, spec.name[0]) for r, s, lv, spec in load_order(config, specs)]
    assert order[:6] == [
        (0, "download", 1.0, "g"), (0, "download", 1.0, "u"),
        (0, "download", 4.0, "u"), (0, "download", 4.0, "g"),
        # slow-client is no curve: it runs at its own users (more than workers) once a stack.
        (0, "slow-client", None, "g"), (0, "slow-client", None, "u"),
    ]  # fmt: skip
    assert order[6] == (1, "download", 1.0, "u") and len(order) == 12 == config.load_cells
    assert cell_name(config, 0, "download", 4.0) == "r1-download-c4"
    assert cell_name(config, 1, "download", None) == "r2-download"
    plain = short_config(tmp_path)
    assert [(s, lv) for _, s, lv, _ in load_order(plain, specs[:1])] == [("download", None)]


def test_cell_load_counts_downloaders_and_puts_the_probe_on_top(tmp_path: Path) -> None:
    sweep = short_config(tmp_path, levels=(4.0,))
    assert (
        cell_load(sweep, "head-of-line", 4.0).users,
        cell_load(sweep, "download", 4.0).users,
    ) == (5, 4)
    default = cell_load(short_config(tmp_path, users=0), "head-of-line", None)
    assert (default.kind, default.level, default.users) == ("concurrency", 4, 5)
    rate = cell_load(short_config(tmp_path, load_kind="rate", locust_workers=2), "download", 2.5)
    assert rate.describe() == {"kind": "rate", "level": 2.5}
    assert rate.users == 2 and rate.params["arrival_streams"] == 2
    assert rate.params["arrival_rate"] == 2.5 and rate.params["max_in_flight"] == 64


@pytest.mark.parametrize(
    ("stack", "cpus", "rule", "workers", "threads"),
    [
        ("gunicorn-sync", (0,), "sync", 3, None),
        ("gunicorn-sync", (0, 1), "sync", 5, None),
        ("gunicorn-gthread", (0,), "gthread", 3, 2),
        ("uvicorn", (0,), "event-loop", 1, None),
        ("uvicorn", (0, 1), "event-loop", 2, None),
        ("gunicorn-gevent", (0,), "event-loop", 1, None),
        ("granian-wsgi", (0,), "event-loop", 1, 4),
        ("daphne", (0, 1), "event-loop", 2, None),
        ("nginx-buffered+gunicorn-sync", (0,), "sync", 3, None),
    ],
)
def test_auto_workers_follow_each_servers_documented_rule(
    tmp_path: Path, stack: str, cpus: tuple[int, ...], rule: str, workers: int, threads: int | None
) -> None:
    config = short_config(tmp_path, workers="auto", server_cpus=cpus)
    choice = choose(get_stack(stack), config)
    assert (choice.rule, choice.cpus, choice.workers, choice.threads) == (
        rule,
        len(cpus),
        workers,
        threads,
    )
    assert choice.reason and (rule == "event-loop" or choice.source)
    spec = sized(get_stack(stack), config)
    assert (spec.workers, spec.threads) == (workers, threads)


def test_a_fixed_worker_count_is_the_same_for_every_stack(tmp_path: Path) -> None:
    config = short_config(tmp_path, workers=3)
    for name in ("gunicorn-sync", "uvicorn", "gunicorn-gthread"):
        choice = choose(get_stack(name), config)
        assert (choice.rule, choice.workers) == ("fixed", 3)
    assert choose(get_stack("gunicorn-gthread"), config).concurrency == 12  # 3 x 4 threads
    assert sized(get_stack("gunicorn-gthread"), config).threads == 4  # the stack's own


def test_requests_still_waiting_at_the_end_enter_the_tail_and_fail_the_level() -> None:
    # Review [5] (repro r2): 5 repetitions of 28 quick downloads (TTFB 200 ms); in 2 of them
    # 3 requests sent in the window had no first byte when the drain ended, 12 s later.
    def repetition(r: int, stalled: int) -> Cell:
        reqs = [made_cells.download(1.0 + 0.14 * k, 0.2, 0.5, user=k % 4) for k in range(28)]
        reqs += [
            made_cells.Req("download", 4.5 + 0.1 * k, 16.5, outcome="stopped", user=k)
            for k in range(stalled)
        ]
        return made_cells.cell(reqs, repetition=r, load={"kind": "concurrency", "level": 4})

    doc = made_cells.document(repetitions=1)
    doc["cells"] = [repetition(r, 3 if r < 2 else 0) for r in range(5)]
    read = RunResults.from_document(doc)
    rows = read.rows
    assert rows[0]["ttfb_p99_ms"] == pytest.approx(12_000, abs=1)  # at least: still waiting
    # p90 reads the 28th of 31 values: still a served one; p99 (the maximum of 31) is not.
    assert rows[0]["ttfb_p90_ms"] == pytest.approx(200)
    assert rows[0]["lower_bounds"] == ["ttfb_p99_ms", "ttfb_max_ms", "ttlb_p99_ms"]
    assert "waiting-at-end" in rows[0]["flags"] and rows[4]["lower_bounds"] == []
    (curve,) = read.curves
    (level,) = curve.levels
    assert level.meets_slo is False
    assert level.reasons == (
        "TTFB p99 up to 12000 ms > 1000 ms in 2 of 5",
        "requests still waited for a first byte when the cell ended in 2 of 5",
        "downloads still unfinished when the drain ended in 2 of 5",
    )
