"""The self-check's arithmetic on hand-made re-measurements: tolerances and the client's figures."""

from __future__ import annotations

import pytest

from compare.report.crosscheck import CrosscheckItem, caveat, independent_figures, tolerance


@pytest.mark.parametrize(
    ("unit", "bench", "allowed"),
    [
        ("ms", 10.0, 3.0),  # 10% is 1 ms: the 3 ms floor
        ("ms", 300.0, 30.0),
        ("MB", 5.0, 2.0),  # 10% is 0.5 MB: the 2 MB floor
        ("MB", 120.0, 12.0),
        ("MB/s", 50.0, 5.0),  # a rate has no floor
        ("MB/s", None, 0.0),
    ],
)
def test_tolerance_is_the_larger_of_ten_percent_and_the_units_floor(
    unit: str, bench: float | None, allowed: float
) -> None:
    assert tolerance(unit, bench) == pytest.approx(allowed)  # type: ignore[arg-type]


def test_an_item_agrees_up_to_its_tolerance_and_no_further() -> None:
    def item(independent: float | None) -> CrosscheckItem:
        return CrosscheckItem.measure("s", "ttlb_p50_ms", "cell", 100.0, independent, 10.0)

    assert item(109.9).within_tolerance is True
    assert item(90.1).within_tolerance is True
    assert item(110.1).within_tolerance is False
    assert item(None).within_tolerance is None
    assert item(110.1).as_dict()["difference"] == pytest.approx(10.1)
    failed = {"kind": "sweep", "stack": "s", "status": "failed", "error": "HTTP 500"}
    assert caveat([failed, {**failed, "status": "ok"}]) == (
        "The self-check could not re-measure s sweep: HTTP 500."
    )


def test_a_cells_figures_count_the_downloads_and_bytes_of_its_window_only() -> None:
    download = {"body_bytes": 6_000_000, "problem": None}
    entry = {
        "kind": "cell",
        "window": {"start": 1.0, "end": 3.0},
        "window_bytes": 20_000_000,
        "downloads": [
            {**download, "start": 0.5, "ttfb_s": 0.500, "ttlb_s": 0.9},  # before the window
            {**download, "start": 1.2, "ttfb_s": 0.010, "ttlb_s": 0.3},
            {**download, "start": 1.6, "ttfb_s": 0.020, "ttlb_s": 0.4},
            {**download, "start": 2.1, "ttfb_s": 0.030, "ttlb_s": 0.5},
            {**download, "start": 2.4, "ttfb_s": None, "ttlb_s": None, "problem": "HTTP 500"},
        ],
        "baseline_pss": 50_000_000,
        "peak_pss": 53_000_000,
        "hwm_increase": 4_000_000,
    }
    figures = independent_figures(entry)
    assert figures["ttfb_p50_ms"] == pytest.approx(20.0)
    assert figures["ttlb_p50_ms"] == pytest.approx(400.0)
    assert figures["mb_per_s"] == pytest.approx(10.0)
    assert figures["peak_pss_increase_mb"] == pytest.approx(4.0)  # the kernel's, the larger
