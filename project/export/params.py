"""Validation of the export's query parameters: a typed ExportParams or a plain-text reason."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

from django.http import QueryDict

Mode = Literal["stream", "buffered"]
IteratorKind = Literal["auto", "sync", "async"]
# db: the configured database, whichever it is; postgres: the same, and it must be PostgreSQL
# (a load test meant for PostgreSQL gets a 400, not a silent SQLite export).
Source = Literal["synthetic", "db", "postgres"]

MODES: tuple[Mode, ...] = ("stream", "buffered")
ITERATORS: tuple[IteratorKind, ...] = ("auto", "sync", "async")
SOURCES: tuple[Source, ...] = ("synthetic", "db", "postgres")
MAX_CHUNK_KB = 1024
MAX_DELAY_MS = 1000
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
        return self.source != "synthetic"

    @property
    def target_bytes(self) -> int:
        """Piece size target in bytes (0: one row per piece)."""
        return self.chunk_kb * 1024


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
    return ExportParams(
        # The default too stays within the server's limit.
        rows=_integer(query, "rows", min(ExportParams.rows, max_rows), 0, max_rows),
        chunk_kb=_integer(query, "chunk_kb", ExportParams.chunk_kb, 0, MAX_CHUNK_KB),
        mode=cast(Mode, _choice(query, "mode", MODES)),
        iterator=cast(IteratorKind, _choice(query, "iterator", ITERATORS)),
        source=cast(Source, _choice(query, "source", SOURCES)),
        delay_ms=_integer(query, "delay_ms", ExportParams.delay_ms, 0, MAX_DELAY_MS),
    )


def check_database(params: ExportParams, vendor: str) -> None:
    """Refuse source=postgres when the configured database (its Django vendor) is another."""
    if params.source == "postgres" and vendor != "postgresql":
        raise BadParameter(
            f"source=postgres needs a PostgreSQL database (DATABASE_URL=postgres://...); "
            f"this server's is {vendor}"
        )
