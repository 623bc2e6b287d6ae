"""The figures document: every figure the reports show, as JSON under stable names.

``python -m compare figures RUN_DIR`` prints it; CI and other tools read this, never the reports'
text. Names are a contract: later versions add keys, they never rename or remove one.
"""

from __future__ import annotations

from typing import Any

from compare.report.comparisons import comparisons
from compare.report.figure_rows import sweep_point
from compare.report.metrics import PERCENTILE_METHOD
from compare.report.model import build
from compare.report.runresults import RunResults
from compare.results import MB

FIGURES_SCHEMA = "django-stream-compare/figures"
FIGURES_VERSION = 1


def figures_document(results: RunResults) -> dict[str, Any]:
    """The whole figures document of a run."""
    config = results.config
    return {
        "schema": FIGURES_SCHEMA,
        "version": FIGURES_VERSION,
        "units": {"MB": MB, "time": "ms unless the name ends in _s"},
        "percentiles": PERCENTILE_METHOD,
        "run": {
            "status": results.status,
            "started": results.started,
            "finished": results.finished,
            "stacks": config.get("stacks"),
            "scenarios": config.get("scenarios"),
            "repeat": config.get("repeat"),
            "placement": results.environment.get("placement"),
            "load_kind": config.get("load_kind", "concurrency"),
            "levels": config.get("levels") or [],
            "arrivals": config.get("arrivals"),
            "max_in_flight": config.get("max_in_flight"),
            "slo_ttfb_ms": results.slo_ttfb_ms,
            "locust_workers": config.get("locust_workers", 0),
            # Which rule gave each stack its worker count, and why (compare.run.workers).
            "workers": {name: s.workers_rule for name, s in results.stacks.items()},
            # The run as a whole: crosscheck-disagrees when its self-check found a figure out
            # of tolerance.
            "flags": list(results.run_flags),
            # What the self-check cost (None: skipped), from starting its stacks to stopping them.
            "crosscheck_s": _cost(results),
        },
        "cells": results.rows,
        "sweep": [sweep_point(p) for p in results.sweep],
        # Exactly what the report's verdict sentences say: one object per scenario, figure and
        # pair of stacks (estimate a / b for ratios, a - b for differences, 95% interval).
        "comparisons": [c.as_dict() for c in comparisons(build(results))],
        # Per stack and scenario: each load level's figures (medians and every repetition's),
        # the knee (highest level meeting the service level) and MB per download in progress.
        "curves": [curve.as_dict() for curve in results.curves],
        # The run's self-check (compare.report.crosscheck): per stack and figure, the bench's
        # value, the independent client's, their difference and whether it is within tolerance.
        "crosscheck": [item.as_dict() for item in results.crosscheck],
    }


def _cost(results: RunResults) -> float | None:
    runs = results.crosscheck_runs
    return round(sum(r.get("seconds") or 0.0 for r in runs), 1) if runs else None
