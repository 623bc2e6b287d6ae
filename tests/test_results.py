"""The results document: written atomically as it grows, refused clearly when unusable."""

from __future__ import annotations

import json
import math
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from compare.report.runresults import RunResults
from compare.results import (
    RESULTS_FILE,
    SCHEMA_FILE,
    SCHEMA_VERSION,
    Cell,
    ResultsError,
    ResultsWriter,
    SweepPoint,
    load_results,
    new_document,
)
from tests.helpers import REPORT_FIXTURE


def _stub(stack: str) -> Cell:
    return {
        "stack": stack,
        "scenario": "download",
        "status": "ok",
        "repetition": 0,
        "error": None,
        "users": 1,
    }


def _point(stack: str, rows: int) -> SweepPoint:
    return {
        "stack": stack,
        "variant": "stream",
        "rows": rows,
        "status": "ok",
        "repetition": 0,
        "error": None,
    }


def _writer(directory: Path) -> ResultsWriter:
    return ResultsWriter(directory, new_document({"python": "3.11"}, {"repeat": 1}, ["bench"]))


def test_every_change_is_saved_and_loads_back(tmp_path: Path) -> None:
    writer = _writer(tmp_path / "run")
    assert load_results(tmp_path / "run")["status"] == "running"
    writer.add_stack("uvicorn", {"interface": "asgi"})
    writer.add_cell(_stub("uvicorn"))
    writer.add_sweep_point(_point("uvicorn", 10))
    writer.add_event("something happened")
    loaded = load_results(tmp_path / "run" / RESULTS_FILE)
    assert loaded["cells"][0]["scenario"] == "download"
    assert loaded["sweep"][0]["rows"] == 10 and loaded["stacks"]["uvicorn"]["interface"] == "asgi"
    writer.finish("complete")
    loaded = load_results(tmp_path / "run")
    assert loaded["status"] == "complete" and loaded["finished"]
    assert [p.name for p in (tmp_path / "run").iterdir()] == [RESULTS_FILE]  # no temp files


def test_a_record_json_cannot_carry_is_refused_and_the_run_still_saves(tmp_path: Path) -> None:
    writer = _writer(tmp_path)
    with pytest.raises(ResultsError, match=r"not saved to .*nan"):
        writer.add_cell({**_stub("a"), "server_cpu_s": math.nan})
    with pytest.raises(ResultsError):
        writer.add_sweep_point({**_point("a", 10), "ttfb_s": math.inf})
    with pytest.raises(ResultsError):
        writer.add_stack("a", {"weight": math.nan})
    # One NaN must not make every later save fail: the status still reaches the file.
    writer.add_cell(_stub("b"))
    writer.finish("failed")
    loaded = load_results(tmp_path)
    assert loaded["status"] == "failed" and [c["stack"] for c in loaded["cells"]] == ["b"]
    assert loaded["sweep"] == [] and loaded["stacks"] == {}


def test_results_are_as_readable_as_the_reports_beside_them(tmp_path: Path) -> None:
    _writer(tmp_path)
    assert stat.S_IMODE((tmp_path / RESULTS_FILE).stat().st_mode) == 0o644


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only directories")
def test_read_only_directory_is_a_one_line_error_and_keeps_the_last_document(
    tmp_path: Path,
) -> None:
    writer = _writer(tmp_path)
    writer.add_cell(_stub("a"))
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(ResultsError, match=r"cannot write .*the last saved document is kept"):
            writer.add_cell(_stub("b"))
    finally:
        tmp_path.chmod(0o700)
    assert len(load_results(tmp_path)["cells"]) == 1


def test_unwritable_directory_is_a_one_line_error_even_for_root(tmp_path: Path) -> None:
    writer = _writer(tmp_path)
    writer.add_cell(_stub("a"))
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    writer.directory = blocker  # the temporary file cannot be created there, whoever we are
    with pytest.raises(ResultsError, match="cannot write"):
        writer.add_cell(_stub("b"))
    assert len(load_results(tmp_path)["cells"]) == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no run at .*: run `make bench` first"),
        ("{not json", "is not valid JSON"),
        ('{"hello": "world"}', "is not a django-stream-compare results document"),
        ("[1, 2]", "is not a django-stream-compare results document"),
        (
            json.dumps({"schema": "django-stream-compare/results", "schema_version": 1}),
            "is a version-1 document .* re-run the bench",
        ),
        (
            json.dumps({"schema": "django-stream-compare/results", "schema_version": 99}),
            f"has schema version 99; this version reads {SCHEMA_VERSION}",
        ),
        (
            json.dumps(
                {"schema": "django-stream-compare/results", "schema_version": SCHEMA_VERSION}
            ),
            "is missing its 'cells' section",
        ),
    ],
)
def test_unusable_documents_are_refused_in_one_line(
    tmp_path: Path, content: str | None, message: str
) -> None:
    if content is not None:
        (tmp_path / RESULTS_FILE).write_text(content)
    with pytest.raises(ResultsError, match=message) as caught:
        RunResults.load(tmp_path)
    assert "\n" not in str(caught.value)


def _cell(document: dict[str, Any], index: int = 0) -> dict[str, Any]:
    cell: dict[str, Any] = document["cells"][index]
    return cell


DAMAGE: list[tuple[Callable[[dict[str, Any]], Any], str]] = [
    (lambda d: d.update(cells={}), "'cells' must be a list"),
    (lambda d: d["cells"].append(7), "cell 31 is not an object"),
    (lambda d: _cell(d).pop("stack"), "cell 1 has no 'stack'"),
    (lambda d: _cell(d).update(repetition="1"), "cell 1: 'repetition' must be a whole number"),
    (lambda d: _cell(d, 2).update(window=[1, 5]), "cell 3: 'window' must be an object"),
    (lambda d: _cell(d)["window"].pop("end"), "cell 1 window has no 'end'"),
    (lambda d: _cell(d)["requests"]["end"].pop(), "cell 1 requests: its columns differ"),
    (lambda d: _cell(d)["requests"]["start"].__setitem__(3, "0.5"), "requests['start'] must"),
    (lambda d: _cell(d)["body_bytes"].update(bin_s=0), "body_bytes: 'bin_s' must be positive"),
    (lambda d: _cell(d)["memory"].update(peak_pss="big"), "cell 1 memory: 'peak_pss' must"),
    (lambda d: _cell(d)["workers"].append({"pid": 1}), "cell 1 workers has no 'cpu_s'"),
    (lambda d: _cell(d).update(load={"kind": "rate"}), "cell 1 load has no 'level'"),
    (lambda d: d["sweep"][0].pop("ttfb_s"), "sweep point 1 has no 'ttfb_s'"),
    (lambda d: d["config"].update(repeat="3"), "config: 'repeat' must be a whole number or null"),
    (lambda d: d["stacks"]["uvicorn"].update(notes="n"), "stack uvicorn: 'notes' must be a list"),
]


@pytest.mark.parametrize(("damage", "message"), DAMAGE, ids=[m for _, m in DAMAGE])
def test_damaged_content_is_refused_where_it_is_read_in_one_line(
    tmp_path: Path, damage: Callable[[dict[str, Any]], Any], message: str
) -> None:
    document = load_results(REPORT_FIXTURE)
    RunResults.from_document(document)  # whole, it reads
    damage(document)
    (tmp_path / RESULTS_FILE).write_text(json.dumps(document))
    with pytest.raises(ResultsError) as caught:
        RunResults.load(tmp_path)
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert str(caught.value).startswith(str(tmp_path / RESULTS_FILE))


def test_the_schema_file_describes_the_documents_we_write(tmp_path: Path) -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["properties"]["schema_version"]["const"] == SCHEMA_VERSION
    # A real run (the report fixture) and a fresh, still empty one both validate ...
    jsonschema.validate(load_results(REPORT_FIXTURE), schema)
    writer = ResultsWriter(
        tmp_path,
        new_document(
            {"python": "3.11", "cpu_count": 2, "packages": {}, "git": {}},
            {
                "stacks": ["uvicorn"],
                "scenarios": ["download"],
                "duration_s": 6.0,
                "repeat": 3,
                "workers": 2,
                "rows": 100_000,
                "source": "synthetic",
            },
            ["bench"],
        ),
    )
    jsonschema.validate(load_results(tmp_path), schema)
    # ... and a damaged one does not.
    broken = load_results(REPORT_FIXTURE)
    broken["cells"][0]["requests"]["kind"][0] = "teleport"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)
    del writer
