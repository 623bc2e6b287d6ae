"""The figures document: every figure the reports show, as JSON under stable names.

``python -m compare figures RUN_DIR`` prints it; CI and other tools read this, never the reports'
text. Names are a contract: later versions add keys, they never rename or remove one.
"""

from __future__ import annotations

from typing import Any

from compare.report.comparisons import comparisons
from compare.report.curves import DEFAULT_SLO_TTFB_MS, curves
from compare.report.figure_rows import cell_figures, sweep_point
from compare.report.metrics import MB, PERCENTILE_METHOD, figures, sweep_figures
from compare.report.model import build
from compare.results import Document

FIGURES_SCHEMA = "django-stream-compare/figures"
FIGURES_VERSION = 1


def figures_document(document: Document) -> dict[str, Any]:
    """The whole figures document of a run."""
    config = document.get("config") or {}
    environment = document.get("environment") or {}
    cells = [cell_figures(figures(cell)) for cell in document.get("cells") or []]
    slo = float(config.get("slo_ttfb_ms") or DEFAULT_SLO_TTFB_MS)
    stacks = document.get("stacks") or {}
    return {
        "schema": FIGURES_SCHEMA,
        "version": FIGURES_VERSION,
        "units": {"MB": MB, "time": "ms unless the name ends in _s"},
        "percentiles": PERCENTILE_METHOD,
        "run": {
            "status": document.get("status"),
            "started": document.get("started"),
            "finished": document.get("finished"),
            "stacks": config.get("stacks"),
            "scenarios": config.get("scenarios"),
            "repeat": config.get("repeat"),
            "placement": environment.get("placement"),
            "load_kind": config.get("load_kind", "concurrency"),
            "levels": config.get("levels") or [],
            "arrivals": config.get("arrivals"),
            "max_in_flight": config.get("max_in_flight"),
            "slo_ttfb_ms": slo,
            "locust_workers": config.get("locust_workers", 0),
            # Which rule gave each stack its worker count, and why (compare.run.workers).
            "workers": {name: (s or {}).get("workers_rule") for name, s in stacks.items()},
        },
        "cells": cells,
        "sweep": [sweep_point(sweep_figures(p)) for p in document.get("sweep") or []],
        # Exactly what the report's verdict sentences say: one object per scenario, figure and
        # pair of stacks (estimate a / b for ratios, a - b for differences, 95% interval).
        "comparisons": [c.as_dict() for c in comparisons(build(document))],
        # Per stack and scenario: each load level's figures (medians and every repetition's),
        # the knee (highest level meeting the service level) and MB per download in progress.
        "curves": curves(cells, slo),
    }
