"""The versioned results document: written as cells finish, loaded and checked for reports."""

from __future__ import annotations

import json
import math
import os
import tempfile
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, NotRequired, Required, TypedDict

from compare.config import ArrivalKind, LoadKind, SweepVariant
from compare.errors import CompareError

SCHEMA = "django-stream-compare/results"
SCHEMA_VERSION = 2
# The JSON Schema of the current version, shipped with the package and checked by the tests.
SCHEMA_FILE = Path(__file__).with_name("results-v2.schema.json")
RESULTS_FILE = "results.json"
MB = 1e6  # MB means 10^6 bytes everywhere
Document = dict[str, Any]
Status = Literal["ok", "failed"]

# The records a results document holds, as written (compare.run.loadcell, compare.run.sweep)
# and read (compare.report); compare/results-v2.schema.json describes the same keys.


class Memory(TypedDict, total=False):
    """The server tree's memory over a window, in bytes (PSS unless named otherwise)."""

    cold_pss: Required[int]
    baseline_pss: Required[int]
    warmup_pss_increase: int
    peak_pss: Required[int]
    peak_pss_increase: int
    peak_uss: int
    peak_process_uss: int
    hwm_increase: int | None
    # When hwm_increase's marks were reset and read (monotonic seconds; read None: when the
    # memory was taken, after the load). A load cell resets them as its window opens and reads
    # them as it closes.
    hwm_since: float
    hwm_until: float | None
    sample_interval_s: Required[float]
    sample_gap_median_s: float | None
    samples: int
    # With the harness's PostgreSQL: its processes' part of the tree.
    database_baseline_pss: int
    database_peak_pss: int


class WorkerCpu(TypedDict):
    """One worker process's CPU seconds over the window."""

    pid: int
    cpu_s: float


class Machine(TypedDict):
    """How busy the whole machine was over the window, in percent."""

    busy_pct: float | None
    per_cpu_busy_pct: list[float] | None
    # The servers' CPUs (None: not pinned) and their busy seconds, whoever used them, over
    # span_s seconds: the span the server tree's CPU seconds are counted over too.
    server_cpus: NotRequired[list[int] | None]
    server_cpus_busy_s: NotRequired[float | None]
    span_s: NotRequired[float | None]


class ServerCpu(TypedDict):
    """The server tree's CPU over a window."""

    server_cpu_s: float
    workers: list[WorkerCpu]
    machine: Machine
    database_cpu_s: NotRequired[float]


class Warmup(TypedDict):
    """The warm-up before the idle baseline: until every worker answered."""

    seconds: float
    requests: int
    workers_answered: list[int]


class ServerFacts(TypedDict):
    """What a measured stack's start-up leaves on record."""

    server_argv: list[str]
    worker_pids: list[int]
    warmup: Warmup


class Measured(TypedDict, total=False):
    """What a load cell and a size-sweep point both hold: one measured stack."""

    stack: Required[str]
    repetition: Required[int]
    status: Required[Status]
    error: Required[str | None]
    server_argv: list[str]
    worker_pids: list[int]
    warmup: Warmup
    memory: Memory
    server_cpu_s: float
    database_cpu_s: float
    workers: list[WorkerCpu]
    machine: Machine
    warnings: list[str]


class StoredLoad(TypedDict):
    """A cell's load as stored: downloading users (concurrency) or exports started per second
    (rate); compare.run.loadcell.Load is the load itself."""

    kind: LoadKind
    level: float


class Arrival(TypedDict):
    """An open-loop cell's schedule."""

    rate: float
    arrivals: ArrivalKind
    max_in_flight: int
    streams: int


class StoredWindow(TypedDict):
    """A cell's measurement window as stored (see Window)."""

    start: float
    end: float


@dataclass(frozen=True)
class Window:
    """The measurement window of a cell, in seconds relative to the cell's start."""

    start: float
    end: float

    @property
    def length(self) -> float:
        """Its length in seconds."""
        return self.end - self.start

    def holds(self, t: float | None) -> bool:
        """Whether ``t`` falls inside it (start inclusive, end exclusive)."""
        return t is not None and self.start <= t < self.end

    def stored(self) -> StoredWindow:
        """Its entry in a cell."""
        return {"start": self.start, "end": self.end}


class ByteBins(TypedDict):
    """Body bytes received per bin of ``bin_s`` seconds, the first bin at ``start``."""

    bin_s: float
    start: float
    counts: list[int]


class ClientLoad(TypedDict):
    """The load generator's CPU over the window: each process's share of a core, in percent."""

    window_max_pct: float | None
    window_pct: list[float]
    processes: int


class Cell(Measured, total=False):
    """One load-test cell: a scenario at one load on a fresh stack."""

    scenario: Required[str]
    users: Required[int]
    load: StoredLoad
    duration_s: float
    dir: str
    arrival: Arrival
    locust_workers: int
    export_rows: int
    locust_argv: list[str]
    t0: float
    locust_exit_code: int | None
    server_survived: bool
    processes_died: list[int]
    # The raw records as columns: one list per field of loadtests.record.RECORD_FIELDS.
    requests: dict[str, list[Any]]
    failure_details: dict[str, str]
    body_bytes: ByteBins
    # Of body_bytes, those of requests that then failed: never throughput (verified = the rest).
    failed_body_bytes: ByteBins
    events: dict[str, list[float]]
    timeline: list[dict[str, float | int]]
    window: StoredWindow
    client: ClientLoad


class SweepPoint(Measured, total=False):
    """One size-sweep download: one client, one export, on a fresh stack."""

    variant: Required[SweepVariant]
    rows: Required[int]
    url: str
    http_status: int
    ttfb_s: float
    total_s: float
    body_bytes: int
    body_rows: int
    chunked: bool


class CrossDownload(TypedDict):
    """One download of the independent client (compare.system.rawclient): seconds, its start
    from the measurement's start (None: it failed before that point)."""

    start: float
    ttfb_s: float | None
    ttlb_s: float | None
    body_bytes: int
    problem: str | None


class Crosscheck(TypedDict, total=False):
    """A cell or sweep point re-measured by the independent client (compare.run.crosscheck)."""

    kind: Required[Literal["cell", "sweep"]]
    stack: Required[str]
    path: Required[str]
    users: Required[int]
    status: Required[Status]
    error: Required[str | None]
    scenario: str
    level: float | None
    variant: str
    rows: int
    baseline_pss: int
    peak_pss: int
    pss_samples: int
    hwm_increase: int | None
    window: StoredWindow  # a cell's, from the start of its load
    window_bytes: int
    downloads: list[CrossDownload]
    seconds: float  # what it cost, from starting the stack to stopping it


class ResultsError(CompareError):
    """A results document that cannot be read, or is not one of ours."""


class UnencodableError(ResultsError):
    """A record JSON cannot carry (NaN, infinity); the document is saved without it."""


def now_iso() -> str:
    """The current UTC time in ISO 8601, seconds precision."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def new_document(
    environment: dict[str, Any], config: dict[str, Any], command: list[str]
) -> Document:
    """Start a results document: metadata stored once, then cells as they finish."""
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "status": "running",
        "started": now_iso(),
        "finished": None,
        "command": command,
        "environment": environment,
        "config": config,
        "stacks": {},
        "cells": [],
        "sweep": [],
        "events": [],
    }


class ResultsWriter:
    """Owns one results directory; every change rewrites results.json atomically."""

    def __init__(self, directory: Path, document: Document) -> None:
        self.directory = directory
        self.path = directory / RESULTS_FILE
        self.document = document
        self._lock = threading.Lock()
        directory.mkdir(parents=True, exist_ok=True)
        self.flush()

    def add_stack(self, name: str, description: dict[str, Any]) -> None:
        """Record a stack's spec and command line once."""
        self.document["stacks"][name] = description
        try:
            self.flush()
        except UnencodableError:
            del self.document["stacks"][name]
            raise

    def add_cell(self, cell: Cell) -> None:
        """Append a load-test cell and save."""
        self._append("cells", cell)

    def add_sweep_point(self, point: SweepPoint) -> None:
        """Append one size-sweep measurement and save."""
        self._append("sweep", point)

    def add_crosscheck(self, entry: Crosscheck) -> None:
        """Append one re-measurement of the independent client and save."""
        self.document.setdefault("crosscheck_runs", []).append(entry)
        self.flush()

    def set_crosscheck(self, items: list[dict[str, Any]], flags: list[str]) -> None:
        """Record the self-check's verdict: its items, and the run's flags."""
        self.document["crosscheck"] = items
        self.document["flags"] = flags
        self.flush()

    def add_event(self, message: str) -> None:
        """Record something that happened to the run (an interruption, a skipped stack)."""
        self._append("events", {"at": now_iso(), "message": message})

    def _append(self, section: str, item: Any) -> None:
        # A record JSON cannot carry (a NaN) is taken back out: it must not make every later
        # save fail, the run's final status included.
        self.document[section].append(item)
        try:
            self.flush()
        except UnencodableError:
            self.document[section].pop()
            raise

    def finish(self, status: str) -> None:
        """Mark the run complete, interrupted or failed, and save."""
        self.document["status"] = status
        self.document["finished"] = now_iso()
        self.flush()

    def flush(self) -> None:
        """Write the document to a temporary file and rename it over results.json.

        The rename is atomic: a full or read-only disk leaves the last good document in place.
        """
        with self._lock:
            try:
                data = json.dumps(self.document, indent=1, allow_nan=False)
            except ValueError as error:
                raise UnencodableError(f"not saved to {self.path}: {error}") from None
            tmp: str | None = None
            try:
                fd, tmp = tempfile.mkstemp(prefix=".results-", dir=self.directory)
                # Readable as the reports beside it are (mkstemp makes it 0600).
                os.fchmod(fd, 0o644)
                with os.fdopen(fd, "w") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, self.path)
                tmp = None
            except OSError as error:
                raise ResultsError(
                    f"cannot write {self.path}: {error.strerror or error}"
                    " (the last saved document is kept)"
                ) from None
            finally:
                if tmp is not None:
                    Path(tmp).unlink(missing_ok=True)


class _NotFinite(ValueError):
    """A NaN or an infinity in a document: figures computed from it would be meaningless."""


def _no_constant(name: str) -> Any:
    raise _NotFinite(name)


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 parses to infinity
        raise _NotFinite(text)
    return value


def load_results(path: Path) -> Document:
    """Load a results document (a directory or the file itself) that is one of ours, of this
    version; raise ResultsError if not. What it holds is checked where it is read
    (compare.report.runresults.RunResults.load)."""
    file = path / RESULTS_FILE if path.is_dir() else path
    if not file.exists():
        # Most often the default results/latest before any run: say how to make one.
        raise ResultsError(f"no run at {path}: run `make bench` first, or name a run's directory")
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise ResultsError(f"cannot read {file}: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise ResultsError(f"{file} is not UTF-8 text (byte {error.start})") from None
    try:
        document = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except json.JSONDecodeError as error:
        raise ResultsError(
            f"{file} is not valid JSON ({error.msg} at line {error.lineno})"
        ) from None
    except RecursionError:
        raise ResultsError(f"{file} is nested too deeply to be a results document") from None
    except _NotFinite as error:
        raise ResultsError(f"{file} holds {error}, which JSON cannot carry") from None
    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        raise ResultsError(f"{file} is not a django-stream-compare results document")
    version = document.get("schema_version")
    if version == 1:
        raise ResultsError(
            f"{file} is a version-1 document (figures from locust's CSV, before the measurement "
            "core v2): its figures are not comparable; re-run the bench for a version-2 one"
        )
    if version != SCHEMA_VERSION:
        raise ResultsError(
            f"{file} has schema version {version!r}; this version reads {SCHEMA_VERSION}"
        )
    return document
