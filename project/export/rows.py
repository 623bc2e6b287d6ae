"""Row sources: a deterministic synthetic generator and the ORM, both yielding batches of rows."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from operator import itemgetter
from typing import Any

HEADER = ("id", "sku", "customer", "amount", "quantity", "created", "note")

Row = tuple[Any, ...]
Batch = list[Row]

BATCH_ROWS = 2000
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
_CUSTOMERS = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret", "Ken", "Linus")
# Mostly empty; a few values that a spreadsheet would execute or mangle, so that every export
# exercises the CSV-injection guard and the quoting rules.
_NOTES = ("",) * 23 + ("=1+1", "+44 20 7946 0000", "-discount", "@team", "ok, thanks", 'say "hi"')


_SECONDS_APART = 37
# Time of day from two small tables: strftime per row would cost more than the CSV encoding.
_HOURS_MINUTES = tuple(f"{m // 60:02d}:{m % 60:02d}:" for m in range(24 * 60))
_SECONDS = tuple(f"{s:02d}Z" for s in range(60))


@lru_cache(maxsize=4)
def _day_prefix(day: int) -> str:
    return (_EPOCH + timedelta(days=day)).strftime("%Y-%m-%dT")


def synthetic_created(i: int) -> datetime:
    """Return the created timestamp of synthetic row i as a datetime."""
    return _EPOCH + timedelta(seconds=i * _SECONDS_APART)


def synthetic_row(i: int) -> Row:
    """Return data row number i (0-based); the same i always gives the same row."""
    cents = (i * 2654435761) % 1_000_000
    day, second = divmod(i * _SECONDS_APART, 86_400)
    return (
        i + 1,
        f"SKU-{(i * 7919) % 100_000:05d}",
        _CUSTOMERS[i % len(_CUSTOMERS)],
        f"{cents // 100}.{cents % 100:02d}",
        i % 50 + 1,
        _day_prefix(day) + _HOURS_MINUTES[second // 60] + _SECONDS[second % 60],
        _NOTES[i % len(_NOTES)],
    )


def format_timestamp(moment: datetime) -> str:
    """Format a UTC datetime the way every source writes it (ISO 8601, seconds, Z)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def synthetic_batches(rows: int, batch_rows: int = BATCH_ROWS) -> Generator[Batch, None, None]:
    """Yield rows 0..rows-1 in batches of batch_rows."""
    for start in range(0, rows, batch_rows):
        yield [synthetic_row(i) for i in range(start, min(start + batch_rows, rows))]


async def asynthetic_batches(
    rows: int, batch_rows: int = BATCH_ROWS
) -> AsyncGenerator[Batch, None]:
    """Async twin of synthetic_batches (the work is CPU only, so it simply re-yields)."""
    for batch in synthetic_batches(rows, batch_rows):
        yield batch


_DB_FIELDS = ("id", "sku", "customer", "amount", "quantity", "created", "note")


def _db_row(values: tuple[Any, ...]) -> Row:
    pk, sku, customer, amount, quantity, created, note = values
    return (pk, sku, customer, str(amount), quantity, format_timestamp(created), note)


def _queryset(rows: int) -> Any:
    from project.export.models import ExportRow

    return ExportRow.objects.order_by("id")[:rows]


def db_row_count(rows: int) -> int:
    """Return how many rows a db export of `rows` rows will really contain."""
    # COUNT over the sliced query (a LIMIT subquery): it reads at most `rows` index entries,
    # where counting the whole table would scan millions of rows before a small export.
    count: int = _queryset(rows).count()
    return count


async def adb_row_count(rows: int) -> int:
    """Async twin of db_row_count."""
    count: int = await _queryset(rows).acount()
    return count


def db_batches(rows: int, batch_rows: int = BATCH_ROWS) -> Generator[Batch, None, None]:
    """Yield the first `rows` database rows in id order, fetched with a server-side iterator."""
    batch: Batch = []
    for values in _queryset(rows).values_list(*_DB_FIELDS).iterator(chunk_size=batch_rows):
        batch.append(_db_row(values))
        if len(batch) >= batch_rows:
            yield batch
            batch = []
    if batch:
        yield batch


async def adb_batches(rows: int, batch_rows: int = BATCH_ROWS) -> AsyncGenerator[Batch, None]:
    """Async twin of db_batches, over QuerySet.aiterator()."""
    # values(), not values_list(): Django 5.2's ValuesListIterable runs its query as soon as
    # aiterator() creates it, inside the event loop, and raises SynchronousOnlyOperation.
    as_tuple = itemgetter(*_DB_FIELDS)
    batch: Batch = []
    async for values in _queryset(rows).values(*_DB_FIELDS).aiterator(chunk_size=batch_rows):
        batch.append(_db_row(as_tuple(values)))
        if len(batch) >= batch_rows:
            yield batch
            batch = []
    if batch:
        yield batch


def export_table_exists() -> bool:
    """Whether the configured database has the export table (it is migrated)."""
    from django.db import connection

    from project.export.models import ExportRow

    return ExportRow._meta.db_table in connection.introspection.table_names()
