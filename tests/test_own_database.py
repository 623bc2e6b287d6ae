"""A database the harness did not create is never migrated, emptied or logged into without
--seed-database-i-own (issue 23.7, review S1). No server starts here."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from compare.cli import build_parser
from compare.commands.bench import build_config
from compare.errors import CompareError
from compare.run.appdata import RunData
from compare.run.bench import bench


def _quiet(line: str) -> None:
    del line


def _someones_database(path: Path) -> str:
    """A SQLite database with a table and a row of someone's own: what must survive."""
    with sqlite3.connect(path) as connection:
        connection.execute("create table precious (name text)")
        connection.execute("insert into precious values ('keep me')")
    return f"sqlite:///{path}"


def _untouched(path: Path) -> bool:
    with sqlite3.connect(path) as connection:
        tables = {row[0] for row in connection.execute("select name from sqlite_master")}
    return tables == {"precious"}


@pytest.mark.parametrize(("source", "app"), [("db", "minimal"), ("synthetic", "startproject")])
def test_a_database_url_is_refused_without_the_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, app: str
) -> None:
    path = tmp_path / "theirs.sqlite3"
    monkeypatch.setenv("DATABASE_URL", _someones_database(path))
    data = RunData(source, app, 10, _quiet)  # type: ignore[arg-type]
    with pytest.raises(CompareError, match="--seed-database-i-own"):
        data.start()
    assert _untouched(path)


def test_with_the_flag_the_database_is_seeded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "mine.sqlite3"
    monkeypatch.setenv("DATABASE_URL", _someones_database(path))
    with RunData("db", "minimal", 10, _quiet, own_database=True):
        pass
    with sqlite3.connect(path) as connection:
        assert connection.execute("select count(*) from export_exportrow").fetchone() == (10,)


def test_the_harness_databases_need_no_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    # The synthetic default touches no database; the check passes before anything is started.
    monkeypatch.setenv("DATABASE_URL", "postgres://someone@db.example/prod")
    RunData("synthetic", "minimal", 0, _quiet).start()


def test_bench_takes_the_flag_and_refuses_without_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "theirs.sqlite3"
    monkeypatch.setenv("DATABASE_URL", _someones_database(path))
    args = ["bench", "--quick", "--stacks", "uvicorn", "--source", "db", "--out", str(tmp_path)]
    assert build_config(build_parser().parse_args([*args, "--seed-database-i-own"])).own_database
    config = build_config(build_parser().parse_args(args))
    with pytest.raises(CompareError, match="did not create"):
        bench(config, ["bench"])
    assert _untouched(path)
