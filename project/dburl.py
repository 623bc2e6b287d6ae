"""Parse DATABASE_URL into a Django DATABASES entry (SQLite under the data directory by default)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dj_database_url

# The backends this project is tested with; dj-database-url knows more (and says which).
SUPPORTED = ("sqlite", "postgres", "postgresql", "mysql")


def database_from_url(url: str | None, data_dir: Path) -> dict[str, Any]:
    """Return a DATABASES entry for url, or SQLite in data_dir when url is empty."""
    if not url:
        data_dir.mkdir(parents=True, exist_ok=True)
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(data_dir / "db.sqlite3")}
    scheme = url.partition("://")[0]
    if scheme not in SUPPORTED:
        raise ValueError(f"DATABASE_URL scheme {scheme!r} is not one of {sorted(SUPPORTED)}")
    # dj-database-url decodes a percent-encoded host into a Unix socket directory
    # (postgres://u:p@%2Fvar%2Frun%2Fpostgresql/db) and query parameters into OPTIONS.
    entry: dict[str, Any] = dict(dj_database_url.parse(url))
    if scheme == "sqlite" and not entry.get("NAME"):
        entry["NAME"] = ":memory:"
    return entry
