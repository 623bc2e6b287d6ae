"""The load generator's raw records of one cell: read, merged, windowed, stored compactly.

Each locust process writes ``records-<pid>.jsonl`` (loadtests.recorder); here they are merged
into one ``CellRecords``, archived as ``records.jsonl.gz`` next to the cell's other files, and
turned into the columns the results document keeps. Times in the document are seconds relative
to the cell's start (the locust launch), on the same monotonic clock as the server samples.
"""

from __future__ import annotations

import gzip
import json
import math
import shutil
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from compare.errors import CompareError
from compare.results import ByteBins, Window
from loadtests.catalog import WindowKind
from loadtests.record import BIN_S, RequestRecord

RECORD_FIELDS = tuple(f.name for f in fields(RequestRecord) if f.name != "detail")
ARCHIVE = "records.jsonl.gz"


@dataclass
class CellRecords:
    """Everything the load generator wrote for one cell, merged over its processes."""

    requests: list[RequestRecord] = field(default_factory=list)
    bins: dict[int, int] = field(default_factory=dict)  # bin index -> body bytes
    # Of those, the bytes of requests that then failed (cut short, wrong rows, an error).
    failed_bins: dict[int, int] = field(default_factory=dict)
    events: dict[str, list[float]] = field(default_factory=dict)  # name -> monotonic times
    bad_lines: int = 0


def read_records(directory: Path) -> CellRecords:
    """Merge every records file in ``directory`` (none: empty records)."""
    merged = CellRecords()
    for path in sorted(directory.glob("records-*.jsonl")):
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                _merge_line(merged, line)
    merged.requests.sort(key=lambda r: r.start)
    return merged


def _merge_line(merged: CellRecords, line: str) -> None:
    try:
        item = json.loads(line)
        if "request" in item:
            merged.requests.append(RequestRecord(**item["request"]))
        elif "bytes" in item or "failed_bytes" in item:
            kept = merged.bins if "bytes" in item else merged.failed_bins
            for index, count in (item.get("bytes") or item["failed_bytes"]).items():
                kept[int(index)] = kept.get(int(index), 0) + int(count)
        elif "event" in item:
            merged.events.setdefault(str(item["event"]), []).append(float(item["t"]))
    except (ValueError, TypeError, KeyError):
        # A process killed mid-write leaves half a line; the rest of its file is still good.
        merged.bad_lines += 1


def archive(directory: Path, destination: Path) -> None:
    """Concatenate the raw files into one gzip file and remove them (the full record stays)."""
    files = sorted(directory.glob("records-*.jsonl"))
    with gzip.open(destination, "wb", compresslevel=6) as out:
        for path in files:
            data = path.read_bytes()
            # A process killed mid-line leaves its file without a final line end.
            out.write(data if data.endswith(b"\n") or not data else data + b"\n")
    shutil.rmtree(directory, ignore_errors=True)


def measurement_window(
    records: CellRecords, t0: float, settle_s: float, kind: WindowKind = "steady"
) -> Window:
    """From ``settle_s`` after every user was spawned to the moment the load began to stop.

    ``cycled``: from the moment the load generator opened it (its first downloads had ended)
    instead. Both ends fall on byte-count bin boundaries, so bytes in the window are counted
    exactly. Raise CompareError when the load generator did not say when it started or stopped.
    """
    opening = "spawning_complete" if kind == "steady" else "window_open"
    opened = records.events.get(opening)
    stopping = records.events.get("test_stopping")
    if not opened or not stopping:
        missing = opening if not opened else "test_stopping"
        raise CompareError(f"the load generator recorded no {missing} event: no window")
    # The last process to get there: a distributed master's users spawn before its workers'.
    start = math.ceil((max(opened) + (settle_s if kind == "steady" else 0.0)) / BIN_S) * BIN_S
    end = math.floor(min(stopping) / BIN_S) * BIN_S
    if end - start < BIN_S:
        raise CompareError(
            f"the load ran {min(stopping) - max(opened):.2f} s after {opening}: nothing left "
            f"after the {settle_s:g} s settling time (a longer --duration helps)"
        )
    return Window(round(start - t0, 6), round(end - t0, 6))


def _rel(t: float | None, t0: float) -> float | None:
    return None if t is None else round(t - t0, 6)


def columns(records: CellRecords, t0: float) -> dict[str, list[Any]]:
    """The requests as columns (one list per field), times relative to ``t0``."""
    table: dict[str, list[Any]] = {name: [] for name in RECORD_FIELDS}
    for record in records.requests:
        for name in RECORD_FIELDS:
            value = getattr(record, name)
            if name in ("start", "end", "first_byte", "intended", "server_start"):
                value = _rel(value, t0)
            table[name].append(value)
    return table


def failure_details(records: CellRecords) -> dict[str, str]:
    """One message per failure kind (the first seen), so a report can say what went wrong."""
    details: dict[str, str] = {}
    for record in records.requests:
        if record.detail and record.outcome not in details:
            details[record.outcome] = record.detail
    return details


def byte_bins(records: CellRecords, t0: float, failed: bool = False) -> ByteBins:
    """Body bytes per bin (``failed``: of failed requests only) as one dense list, the first
    bin's start relative to ``t0``."""
    bins = records.failed_bins if failed else records.bins
    if not bins:
        return {"bin_s": BIN_S, "start": 0.0, "counts": []}
    first, last = min(bins), max(bins)
    counts = [bins.get(i, 0) for i in range(first, last + 1)]
    return {"bin_s": BIN_S, "start": round(first * BIN_S - t0, 6), "counts": counts}


def events(records: CellRecords, t0: float) -> dict[str, list[float]]:
    """The run's events relative to ``t0``."""
    return {name: [round(t - t0, 6) for t in times] for name, times in records.events.items()}
