"""The size sweep: one client, export sizes from small to huge, stream vs buffered vs mismatch."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from compare.config import BenchConfig, SweepVariant
from compare.errors import CompareError
from compare.results import SweepPoint
from compare.run.lifecycle import MeasuredServer, django_warnings
from compare.servers.stacks import StackSpec
from compare.system.download import download

logger = logging.getLogger(__name__)


def sweep_query(variant: SweepVariant, rows: int, spec: StackSpec, source: str) -> str:
    """The export query for one sweep point (mismatch forces the other iterator kind)."""
    query = f"rows={rows}&source={source}"
    if variant == "buffered":
        query += "&mode=buffered"
    elif variant == "mismatch":
        query += "&iterator=" + ("async" if spec.interface == "wsgi" else "sync")
    return query


def measure_point(
    config: BenchConfig,
    spec: StackSpec,
    variant: SweepVariant,
    rows: int,
    repetition: int,
    run_dir: Path,
    server_env: dict[str, str] | None = None,
) -> SweepPoint:
    """Start the stack fresh, warm it up, take its idle baseline, download once, describe it.

    The window is the download itself, from sending the request to its last byte; the tree is
    sampled faster than in load cells, and the kernel's high-water marks check the peak.
    """
    point: SweepPoint = {
        "stack": spec.name,
        "variant": variant,
        "rows": rows,
        "repetition": repetition,
        "status": "failed",
        "error": None,
    }
    try:
        with MeasuredServer(
            config, spec, run_dir, server_env, sample_interval_s=config.sweep_sample_interval_s
        ) as measured:
            point = {**point, **measured.describe()}
            query = sweep_query(variant, rows, spec, config.source)
            point["url"] = f"{measured.server.base_url}/export.csv?{query}"
            measured.reset_peaks()
            t0 = time.monotonic()
            result = download(point["url"], timeout=max(120.0, rows / 20_000))
            t1 = time.monotonic()
            measured.settle_after(t1)
            point["memory"] = measured.memory(t0, t1)
            point = {
                **point,
                **measured.cpu(t0, t1),
                "http_status": result.status,
                "ttfb_s": result.ttfb,
                "total_s": result.total,
                "body_bytes": result.body_bytes,
                "body_rows": max(result.lines - 1, 0),
                "chunked": result.chunked,
            }
            point["warnings"] = django_warnings(measured.server.log_path)
            point["error"] = result.problem(expected_rows=rows)
            if point["error"] is None:
                point["status"] = "ok"
    except (CompareError, OSError) as error:
        point["error"] = str(error)
    return point


def run_sweep(
    config: BenchConfig,
    specs: list[StackSpec],
    out_dir: Path,
    record: Callable[[SweepPoint], None],
    progress: Callable[[str], None] = lambda _: None,
) -> None:
    """Run every sweep point, interleaving stacks innermost so machine drift hits all alike."""
    for repetition in range(config.sweep_repeat):
        for rows in config.sweep_sizes:
            for variant in config.sweep_variants:
                for spec in specs:
                    label = f"sweep r{repetition + 1} {spec.name} {variant} {rows:,} rows"
                    progress(label)
                    run_dir = out_dir / "sweep" / f"r{repetition + 1}-{spec.name}-{variant}-{rows}"
                    point = measure_point(config, spec, variant, rows, repetition, run_dir)
                    if point["status"] != "ok":
                        logger.warning("%s failed: %s", label, point["error"])
                    record(point)
