"""`python -m project seed_rows N`: fill the database source with the synthetic rows, fast."""

from __future__ import annotations

import time
from argparse import ArgumentParser
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from project.export.models import ExportRow
from project.export.rows import (
    HEADER,
    export_table_exists,
    synthetic_batches,
    synthetic_created,
)

_INSERT_BATCH = 10_000


def _table_and_columns() -> tuple[str, str]:
    """The export table and its columns, quoted, in synthetic-row order."""
    meta = ExportRow._meta
    quote = connection.ops.quote_name
    fields = meta.concrete_fields
    # The tuples below are in synthetic-row order, which is the model's field order.
    assert [f.name for f in fields] == list(HEADER), "ExportRow fields must follow HEADER"
    columns = ", ".join(quote(f.column) for f in fields if f.column)
    return quote(meta.db_table), columns


def _insert_sql() -> str:
    table, columns = _table_and_columns()
    placeholders = ", ".join(["%s"] * len(HEADER))
    return f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"


def _copy_postgresql(rows: int) -> None:
    """TRUNCATE and COPY in one transaction, then VACUUM: the fast path on PostgreSQL."""
    table, columns = _table_and_columns()
    # With wal_level=minimal (the harness's server) a COPY into a table truncated in the same
    # transaction writes no WAL. The synthetic rows are already PostgreSQL's text input: the
    # amount a decimal string, the timestamp ISO 8601 with Z.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {table}")
        with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for batch in synthetic_batches(rows, _INSERT_BATCH):
                for row in batch:
                    copy.write_row(row)
        # The next id after the seeded ones, as inserting them one by one would have left it.
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence(%s, 'id'), GREATEST(%s, 1), %s)",
            [ExportRow._meta.db_table, rows, rows > 0],
        )
    # Statistics for the planner and the visibility map set now, so autovacuum does not start
    # on these rows in the middle of a measurement. VACUUM cannot run inside a transaction.
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (FREEZE, ANALYZE) {table}")


class Command(BaseCommand):
    """Replace the export table with N synthetic rows (so source=db and synthetic match)."""

    help = "Replace the export table's rows with N deterministic synthetic rows."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("rows", type=int, help="number of rows to create")

    def handle(self, *args: Any, **options: Any) -> None:
        rows: int = options["rows"]
        if rows < 0:
            raise CommandError(f"rows must be >= 0, got {rows}")
        if not export_table_exists():  # else a 50-line traceback ending in "no such table"
            raise CommandError("the database is not migrated: run python -m project migrate first")
        started = time.perf_counter()
        if connection.vendor == "postgresql":
            _copy_postgresql(rows)
            self.stdout.write(f"seeded {rows} rows in {time.perf_counter() - started:.1f} s")
            return
        ops = connection.ops
        sql = _insert_sql()
        # executemany() with the backend's own adapters: model instances and bulk_create()
        # cost several times more per row, and 1M rows must seed in well under a minute.
        with transaction.atomic(), connection.cursor() as cursor:
            ExportRow.objects.all().delete()
            for batch in synthetic_batches(rows, _INSERT_BATCH):
                cursor.executemany(
                    sql,
                    [
                        (
                            pk,
                            sku,
                            customer,
                            ops.adapt_decimalfield_value(Decimal(amount), 10, 2),
                            quantity,
                            ops.adapt_datetimefield_value(synthetic_created(pk - 1)),
                            note,
                        )
                        for pk, sku, customer, amount, quantity, _created, note in batch
                    ],
                )
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        elapsed = time.perf_counter() - started
        self.stdout.write(f"seeded {rows} rows in {elapsed:.1f} s")
