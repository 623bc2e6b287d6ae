"""`python -m project seed_rows N`: fill the database source with the synthetic rows, fast."""

from __future__ import annotations

import time
from argparse import ArgumentParser
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from project.export.models import ExportRow
from project.export.rows import HEADER, synthetic_batches, synthetic_created

_INSERT_BATCH = 10_000


def _insert_sql() -> str:
    meta = ExportRow._meta
    quote = connection.ops.quote_name
    fields = meta.concrete_fields
    # The tuples below are in synthetic-row order, which is the model's field order.
    assert [f.name for f in fields] == list(HEADER), "ExportRow fields must follow HEADER"
    columns = [f.column for f in fields if f.column]
    placeholders = ", ".join(["%s"] * len(columns))
    return (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(c) for c in columns)}) "
        f"VALUES ({placeholders})"
    )


class Command(BaseCommand):
    """Replace the export table with N synthetic rows (so source=db and synthetic match)."""

    help = "Replace the export table's rows with N deterministic synthetic rows."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("rows", type=int, help="number of rows to create")

    def handle(self, *args: Any, **options: Any) -> None:
        rows: int = options["rows"]
        if rows < 0:
            raise CommandError(f"rows must be >= 0, got {rows}")
        started = time.perf_counter()
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
