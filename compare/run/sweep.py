"""The size sweep: one client, export sizes from small to huge, stream vs buffered vs mismatch."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from compare.config import BenchConfig, SweepVariant
from compare.errors import CompareError
from compare.results import SweepPoint
from compare.run.lifecycle import django_warnings
from compare.run.run import Run
from compare.servers.stacks import DEFAULT_WORKERS, StackSpec
from compare.system.download import download
from compare.system.placement import Placement

logger = logging.getLogger(__name__)


def single_downloads(rows: int, placement: Placement, out_dir: Path) -> BenchConfig:
    """The bench's settings for downloads one at a time (measure-once, encode-bench)."""
    return BenchConfig(
        stacks=(),
        scenarios=(),
        users=1,
        duration_s=0.0,
        warmup_s=1.0,
        repeat=1,
        sweep_sizes=(rows,),
        sweep_variants=(),
        sweep_repeat=1,
        workers=DEFAULT_WORKERS,
        out_dir=out_dir,
        rows=rows,
        placement=placement.mode,
        server_cpus=placement.server_cpus,
        client_cpus=placement.client_cpus,
    )


def sweep_query(variant: SweepVariant, rows: int, spec: StackSpec, source: str) -> str:
    """The export query for one sweep point (mismatch forces the other iterator kind)."""
    query = f"rows={rows}&source={source}"
    if variant == "buffered":
        query += "&mode=buffered"
    elif variant == "mismatch":
        query += "&iterator=" + ("async" if spec.interface == "wsgi" else "sync")
    return query


def measure_point(
    run: Run, spec: StackSpec, variant: SweepVariant, rows: int, repetition: int, run_dir: Path
) -> SweepPoint:
    """Start the stack fresh, warm it up, take its idle baseline, download once, describe it.

    The window is the download itself, from sending the request to its last byte; the tree is
    sampled faster than in load cells, and the kernel's high-water marks check the peak.
    """
    config = run.config
    point: SweepPoint = {
        "stack": spec.name,
        "variant": variant,
        "rows": rows,
        "repetition": repetition,
        "status": "failed",
        "error": None,
    }
    try:
        interval = config.sweep_sample_interval_s
        static = rows if config.source == "static" else None
        with run.measured(
            spec, run_dir, sample_interval_s=interval, static_rows=static
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
    run: Run,
    specs: list[StackSpec],
    out_dir: Path,
    record: Callable[[SweepPoint], None],
    progress: Callable[[str], None] = lambda _: None,
) -> None:
    """Run every sweep point, interleaving stacks innermost so machine drift hits all alike."""
    config = run.config
    for repetition in range(config.sweep_repeat):
        for rows in config.sweep_sizes:
            for variant in config.sweep_variants:
                for spec in specs:
                    label = f"sweep r{repetition + 1} {spec.name} {variant} {rows:,} rows"
                    progress(label)
                    run_dir = out_dir / "sweep" / f"r{repetition + 1}-{spec.name}-{variant}-{rows}"
                    point = measure_point(run, spec, variant, rows, repetition, run_dir)
                    if point["status"] != "ok":
                        logger.warning("%s failed: %s", label, point["error"])
                    record(point)
