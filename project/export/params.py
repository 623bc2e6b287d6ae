"""Validation of the export's query parameters: a typed ExportParams or a plain-text reason."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

from django.http import QueryDict

Mode = Literal["stream", "buffered"]
Interface = Literal["wsgi", "asgi"]
IteratorKind = Literal["auto", "sync", "async"]
# db: the configured database, whichever it is; postgres: the same, and it must be PostgreSQL
# (a load test meant for PostgreSQL gets a 400, not a silent SQLite export); static: the
# synthetic export encoded once per process and kept (project.export.static).
Source = Literal["synthetic", "db", "postgres", "static"]

MODES: tuple[Mode, ...] = ("stream", "buffered")
ITERATORS: tuple[IteratorKind, ...] = ("auto", "sync", "async")
SOURCES: tuple[Source, ...] = ("synthetic", "db", "postgres", "static")
MAX_CHUNK_KB = 1024
MAX_DELAY_MS = 1000
# delay_ms is slept once per piece: capped in total, a simulated upstream holds a worker (or a
# thread that no hang-up reaches: buffered and mismatched bodies under WSGI) for a minute at most.
MAX_TOTAL_DELAY_S = 60
# The longest CSV row a source writes is 79 bytes (synthetic row 37,009,824, and the db rows
# seeded from them): with it, rows bound the pieces an export is cut into, before it runs.
MAX_ROW_BYTES = 80
_KNOWN = frozenset({"rows", "chunk_kb", "mode", "iterator", "source", "delay_ms"})


class BadParameter(ValueError):
    """A query parameter is missing its form, out of range or unknown; str() is the reason."""


@dataclass(frozen=True)
class ExportParams:
    """One export request, validated."""

    rows: int = 100_000
    chunk_kb: int = 64
    mode: Mode = "stream"
    iterator: IteratorKind = "auto"
    source: Source = "synthetic"
    delay_ms: int = 0

    @property
    def from_database(self) -> bool:
        """Whether the rows come from the ORM rather than the synthetic generator."""
        return self.source in ("db", "postgres")

    @property
    def target_bytes(self) -> int:
        """Piece size target in bytes (0: one row per piece)."""
        return self.chunk_kb * 1024

    @property
    def most_pieces(self) -> int:
        """The most pieces that get the delay: one per row, or one per target_bytes of rows."""
        if not self.target_bytes:
            return self.rows
        # Every delayed piece holds at least one row and at least target_bytes; the +1 is the
        # header's share (it is shorter than any target).
        return min(self.rows, self.rows * MAX_ROW_BYTES // self.target_bytes + 1)

    def buffered_by(self, interface: Interface) -> str | None:
        """What makes the whole body sit in memory under interface (None: it streams)."""
        if self.mode == "buffered":
            return "mode=buffered"
        if self.iterator == ("sync" if interface == "asgi" else "async"):
            # Django reads a mismatched iterator into a list before sending a byte.
            return f"iterator={self.iterator} under {interface.upper()}"
        return None


def _integer(query: QueryDict, name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    # int() would accept " 5", "5_000" and "+5"; a URL parameter should be plain digits.
    if not raw.isascii() or not raw.isdigit() or len(raw) > 12:
        raise BadParameter(f"{name} must be a whole number from {low} to {high}, got {raw!r}")
    value = int(raw)
    if not low <= value <= high:
        raise BadParameter(f"{name} must be from {low} to {high}, got {value}")
    return value


def _choice(query: QueryDict, name: str, choices: tuple[str, ...]) -> str:
    raw = query.get(name)
    if raw is None:
        return choices[0]
    if raw not in choices:
        raise BadParameter(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return raw


def parse_export_params(query: QueryDict, max_rows: int) -> ExportParams:
    """Validate the query string of an export request; raise BadParameter with a reason."""
    unknown = sorted(set(query) - _KNOWN)
    if unknown:
        raise BadParameter(f"unknown parameter {unknown[0]!r}; known: {', '.join(sorted(_KNOWN))}")
    repeated = sorted(name for name in query if len(query.getlist(name)) > 1)
    if repeated:
        raise BadParameter(f"parameter {repeated[0]!r} is given more than once")
    if "rows" not in query and ExportParams.rows > max_rows:
        # Never fewer rows than asked for without saying so, the default included.
        raise BadParameter(
            f"rows defaults to {ExportParams.rows}, above this server's EXPORT_MAX_ROWS of "
            f"{max_rows}: give rows from 0 to {max_rows}"
        )
    params = ExportParams(
        rows=_integer(query, "rows", ExportParams.rows, 0, max_rows),
        chunk_kb=_integer(query, "chunk_kb", ExportParams.chunk_kb, 0, MAX_CHUNK_KB),
        mode=cast(Mode, _choice(query, "mode", MODES)),
        iterator=cast(IteratorKind, _choice(query, "iterator", ITERATORS)),
        source=cast(Source, _choice(query, "source", SOURCES)),
        delay_ms=_integer(query, "delay_ms", ExportParams.delay_ms, 0, MAX_DELAY_MS),
    )
    _check_total_delay(params)
    return params


def _check_total_delay(params: ExportParams) -> None:
    sleep_s = params.delay_ms * params.most_pieces / 1000
    if sleep_s > MAX_TOTAL_DELAY_S:
        raise BadParameter(
            f"delay_ms is slept once per piece, at most {MAX_TOTAL_DELAY_S} s per response: "
            f"delay_ms={params.delay_ms} with up to {params.most_pieces} pieces "
            f"(rows={params.rows}, chunk_kb={params.chunk_kb}) would sleep {sleep_s:.0f} s"
        )


def check_buffered_rows(params: ExportParams, interface: Interface, max_rows: int) -> None:
    """Refuse more than max_rows (half with chunk_kb=0) when the whole body sits in memory."""
    cause = params.buffered_by(interface)
    if cause is None and params.source == "static":
        cause = "source=static"  # it streams, but keeps every piece (project.export.static)
    # The peak per row, measured with VmHWM on one worker (gunicorn-sync, uvicorn; 2M rows):
    # about 121 B buffered in 64 KiB pieces, 248 B in a piece per row; the same memory at half.
    limit = max_rows if params.chunk_kb else max_rows // 2
    if cause is not None and params.rows > limit:
        which = "EXPORT_MAX_BUFFERED_ROWS" + ("" if params.chunk_kb else ", halved for chunk_kb=0")
        raise BadParameter(
            f"{cause} holds the whole body in memory: rows must be at most {limit} "
            f"({which}), got {params.rows}"
        )


def check_rows_held(params: ExportParams, held: int) -> None:
    """Refuse a database export of more rows than the database holds (never a shorter body)."""
    if held < params.rows:
        raise BadParameter(
            f"rows={params.rows} but the database holds {held} export rows: ask for at most "
            f"{held}, or seed more (python -m project seed_rows N)"
        )


def check_database(params: ExportParams, vendor: str) -> None:
    """Refuse source=postgres when the configured database (its Django vendor) is another."""
    if params.source == "postgres" and vendor != "postgresql":
        raise BadParameter(
            f"source=postgres needs a PostgreSQL database (DATABASE_URL=postgres://...); "
            f"this server's is {vendor}"
        )
