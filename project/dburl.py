"""Parse DATABASE_URL into a Django DATABASES entry (SQLite under the data directory by default)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

_ENGINES = {
    "sqlite": "django.db.backends.sqlite3",
    "postgres": "django.db.backends.postgresql",
    "postgresql": "django.db.backends.postgresql",
    "mysql": "django.db.backends.mysql",
}


def database_from_url(url: str | None, data_dir: Path) -> dict[str, Any]:
    """Return a DATABASES entry for url, or SQLite in data_dir when url is empty."""
    if not url:
        data_dir.mkdir(parents=True, exist_ok=True)
        return {"ENGINE": _ENGINES["sqlite"], "NAME": str(data_dir / "db.sqlite3")}
    parts = urlsplit(url)
    engine = _ENGINES.get(parts.scheme)
    if engine is None:
        raise ValueError(f"DATABASE_URL scheme {parts.scheme!r} is not one of {sorted(_ENGINES)}")
    if parts.scheme == "sqlite":
        # sqlite:///relative.db and sqlite:////abs/path.db, as dj-database-url reads them.
        name = unquote(parts.path[1:]) if parts.path.startswith("/") else unquote(parts.path)
        return {"ENGINE": engine, "NAME": name or ":memory:"}
    return {
        "ENGINE": engine,
        "NAME": unquote(parts.path.lstrip("/")),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        "OPTIONS": dict(parse_qsl(parts.query)),
    }
