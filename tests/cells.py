"""Hand-made version-2 cells for the pure tests: raw records in, figures checked by hand."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from compare.results import Cell
from compare.run.records import RECORD_FIELDS

BIN_S = 0.05


@dataclass(frozen=True)
class Req:
    """One raw record, times relative to the cell's start."""

    kind: str
    start: float
    end: float
    first_byte: float | None = None
    bytes: int = 0
    outcome: str = "ok"
    user: int = 1
    worker: int | None = 11
    new_connection: bool = False
    scenario: str = "download"
    intended: float | None = None
    server_start: float | None = None


def columns(requests: list[Req]) -> dict[str, list[Any]]:
    """The records as the results document stores them."""
    return {name: [getattr(r, name) for r in requests] for name in RECORD_FIELDS}


def cell(
    requests: list[Req],
    *,
    scenario: str = "download",
    stack: str = "uvicorn",
    repetition: int = 0,
    users: int = 4,
    window: tuple[float, float] = (1.0, 5.0),
    bytes_per_bin: int = 0,
    span: tuple[float, float] = (0.0, 6.0),
    **extra: Any,
) -> Cell:
    """A finished cell: ``bytes_per_bin`` body bytes arrived in every 50 ms bin over ``span``."""
    bins = round((span[1] - span[0]) / BIN_S)
    document: dict[str, Any] = {
        "stack": stack,
        "scenario": scenario,
        "repetition": repetition,
        "users": users,
        "status": "ok",
        "error": None,
        "t0": 1000.0,
        "export_rows": 100_000,
        "window": {"start": window[0], "end": window[1]},
        "requests": columns(requests),
        "body_bytes": {"bin_s": BIN_S, "start": span[0], "counts": [bytes_per_bin] * bins},
        "server_cpu_s": 1.0,
        "workers": [{"pid": 11, "cpu_s": 0.5}, {"pid": 12, "cpu_s": 0.5}],
        "machine": {"busy_pct": 50.0, "per_cpu_busy_pct": [60.0, 40.0]},
        "client": {"window_max_pct": 20.0, "window_pct": [20.0], "processes": 1},
        "memory": {
            "cold_pss": 70_000_000,
            "baseline_pss": 80_000_000,
            "warmup_pss_increase": 10_000_000,
            "peak_pss": 88_000_000,
            "peak_pss_increase": 8_000_000,
            "peak_uss": 60_000_000,
            "peak_process_uss": 30_000_000,
            "hwm_increase": 8_100_000,
            "sample_interval_s": 0.1,
            "sample_gap_median_s": 0.1,
            "samples": 40,
        },
        "timeline": [],
        "warnings": [],
    }
    document.update(extra)
    return cast(Cell, document)


def download(start: float, ttfb: float, total: float, size: int = 5_700_000, **kw: Any) -> Req:
    """A verified download: first body byte ``ttfb`` s and last byte ``total`` s after start."""
    return Req("download", start, start + total, start + ttfb, size, **kw)


def scaled_cell(stack: str, repetition: int, scale: float) -> Cell:
    """A download cell whose times (and CPU) are ``scale`` times, its throughput 1/``scale``."""
    reqs = [download(1.0 + 0.4 * i, 0.02 * scale, 0.8 * scale, user=1 + i % 4) for i in range(8)]
    return cell(
        reqs,
        stack=stack,
        repetition=repetition,
        bytes_per_bin=int(250_000 / scale),
        server_cpu_s=1.0 * scale,
    )


def document(
    repetitions: int = 5,
    stacks: tuple[str, ...] = ("gunicorn-sync", "uvicorn"),
    seed: int = 1,
    jitter: float = 0.03,
) -> dict[str, Any]:
    """A whole results document of ``download`` cells whose figures vary by about ``jitter``."""
    import random

    rng = random.Random(seed)
    cells = []
    for repetition in range(repetitions):
        for index, stack in enumerate(stacks):
            scale = (1 + index) * (1 + rng.uniform(-jitter, jitter))
            cells.append(scaled_cell(stack, repetition, scale))
    return {
        "schema": "django-stream-compare/results",
        "schema_version": 2,
        "status": "complete",
        "config": {"stacks": list(stacks), "scenarios": ["download"], "repeat": repetitions},
        "environment": {},
        "stacks": {},
        "cells": cells,
        "sweep": [],
        "events": [],
    }
