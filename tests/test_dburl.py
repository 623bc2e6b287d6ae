"""DATABASE_URL, parsed by dj-database-url into a DATABASES entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from project.dburl import database_from_url


def test_no_url_is_sqlite_in_the_data_directory(tmp_path: Path) -> None:
    entry = database_from_url(None, tmp_path / "data")
    assert entry == {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(tmp_path / "data" / "db.sqlite3"),
    }
    assert (tmp_path / "data").is_dir()


@pytest.mark.parametrize(
    ("url", "name"),
    [("sqlite:////tmp/abs.db", "/tmp/abs.db"), ("sqlite:///rel.db", "rel.db")],
)
def test_sqlite_paths(url: str, name: str, tmp_path: Path) -> None:
    entry = database_from_url(url, tmp_path)
    assert entry["ENGINE"] == "django.db.backends.sqlite3"
    assert entry["NAME"] == name


def test_percent_encoded_socket_directory_is_decoded(tmp_path: Path) -> None:
    entry = database_from_url("postgres://u:p@%2Fvar%2Frun%2Fpostgresql/db", tmp_path)
    assert entry["ENGINE"] == "django.db.backends.postgresql"
    assert entry["HOST"] == "/var/run/postgresql"
    assert (entry["USER"], entry["PASSWORD"], entry["NAME"]) == ("u", "p", "db")


def test_tcp_url_with_port_encoded_password_and_options(tmp_path: Path) -> None:
    url = "postgresql://app:p%40ss%2Fword@db.example:5433/exports?sslmode=require"
    entry = database_from_url(url, tmp_path)
    assert (entry["HOST"], str(entry["PORT"]), entry["NAME"]) == ("db.example", "5433", "exports")
    assert entry["PASSWORD"] == "p@ss/word"
    assert entry["OPTIONS"] == {"sslmode": "require"}
    # Django's defaults stay: server-side cursors on (iterator() streams), no persistent connection.
    assert entry["DISABLE_SERVER_SIDE_CURSORS"] is False
    assert entry["CONN_MAX_AGE"] == 0


def test_unknown_scheme_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"^DATABASE_URL scheme 'redis' is not one of \[") as info:
        database_from_url("redis://localhost/0", tmp_path)
    assert "\n" not in str(info.value)
