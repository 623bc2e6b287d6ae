"""Exit codes mean one thing each: unusable input is 2 with one line, never 1 ("regression").

Issue 23.5 (review D1, H3, H4, H5). Nothing here starts a server: the bench options are refused
before anything starts, and the one bench run fails while migrating a database it cannot create.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from compare.cli import build_parser, main
from compare.commands.bench import build_config
from compare.errors import CompareError
from compare.results import load_results
from compare.system.ports import AddressError, port_in_use
from tests.helpers import REPORT_FIXTURE, run_compare

GOOD: dict[str, Any] = json.loads((REPORT_FIXTURE / "results.json").read_text())


def _with(change: Callable[[dict[str, Any]], Any]) -> bytes:
    document = json.loads(json.dumps(GOOD))
    change(document)
    return json.dumps(document).encode()


def _nan(document: dict[str, Any]) -> None:
    document["cells"][0]["server_cpu_s"] = float("nan")


UNUSABLE: dict[str, bytes] = {
    "not UTF-8": b'\xff\xfe{"schema": 1}',
    "too deep": b'{"schema": "django-stream-compare/results", "x": '
    + b"[" * 200_000
    + b"]" * 200_000
    + b"}",
    "cells of numbers": _with(lambda d: d.update(cells=[1, 2])),
    "a cell without keys": _with(lambda d: d.update(cells=[{"stack": "x"}])),
    "load a list": _with(lambda d: d["cells"][0].update(load=[1])),
    "requests a string": _with(lambda d: d["cells"][0].update(requests="oops")),
    "NaN": _with(_nan),
    # Not a NaN token but a number float() makes infinite.
    "infinity as 1e999": _with(_nan).replace(b"NaN", b"1e999"),
    "version as a string": _with(lambda d: d.update(schema_version="2")),
    "version 1": b'{"schema": "django-stream-compare/results", "schema_version": 1}',
}


@pytest.mark.parametrize("name", UNUSABLE)
@pytest.mark.parametrize("command", ["diff", "diff --json", "figures", "report --quiet"])
def test_an_unusable_document_is_exit_2_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, command: str
) -> None:
    good, bad = tmp_path / "good", tmp_path / "bad"
    good.mkdir()
    bad.mkdir()
    (good / "results.json").write_text(json.dumps(GOOD))
    (bad / "results.json").write_bytes(UNUSABLE[name])
    words = command.split()
    argv = [words[0], str(good), str(bad), *words[1:]] if words[0] == "diff" else [*words, str(bad)]
    # In-process: a traceback would be an exception here, not an exit code.
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("compare: error: ") and len(err.strip().splitlines()) == 1, err
    assert not (bad / "report.md").exists()


def test_a_document_with_numbers_json_cannot_carry_is_refused_by_name(tmp_path: Path) -> None:
    (tmp_path / "results.json").write_bytes(UNUSABLE["NaN"])
    with pytest.raises(CompareError, match="holds NaN"):
        load_results(tmp_path)


def _config(*args: str) -> None:
    build_config(build_parser().parse_args(["bench", *args]))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--duration", "nan"], "--duration must be positive"),
        (["--duration", "inf"], "--duration must be positive"),
        # Finite, and valid JSON, but it overflowed the first cell's deadline after a start.
        (["--duration", "1e308"], "--duration must be positive and at most 86400"),
        (["--slo-ttfb-ms", "nan"], "--slo-ttfb-ms must be positive"),
        (["--rows", "100000000000"], "above the view's EXPORT_MAX_ROWS of 50000000"),
        (["--sweep-sizes", "60000000", "--sweep-variants", "stream"], "EXPORT_MAX_ROWS"),
        # A held body has its own, lower limit in the view (project/export/params.py).
        (["--sweep-sizes", "6000000"], r"EXPORT_MAX_BUFFERED_ROWS \(buffered\) of 5000000"),
        (["--scenarios", "buffered", "--rows", "6000000"], "EXPORT_MAX_BUFFERED_ROWS"),
    ],
)
def test_bench_refuses_options_that_cannot_run_before_anything_starts(
    args: list[str], message: str
) -> None:
    with pytest.raises(CompareError, match=message):
        _config(*args)


def test_the_limits_follow_the_environment_the_stacks_get(monkeypatch: pytest.MonkeyPatch) -> None:
    _config("--sweep-sizes", "6000000", "--sweep-variants", "stream")
    monkeypatch.setenv("EXPORT_MAX_ROWS", "1000")
    with pytest.raises(CompareError, match="EXPORT_MAX_ROWS of 1000"):
        _config("--sweep-sizes", "1001", "--sweep-variants", "stream")


def test_a_refused_bench_option_is_exit_2_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", "--duration", "0", "--out", str(tmp_path)]) == 2
    assert "--duration must be positive" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("port", ["70000", "-1", "http"])
@pytest.mark.parametrize("command", ["serve uvicorn", "ui"])
def test_a_port_out_of_range_is_a_usage_error(
    command: str, port: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*command.split(), "--port", port])
    assert exited.value.code == 2
    assert "--port" in capsys.readouterr().err


@pytest.mark.parametrize("host", ["192.0.2.1", "999.1.1.1"])
def test_an_address_this_machine_lacks_is_not_a_port_in_use(host: str) -> None:
    # 192.0.2.1 is TEST-NET-1 (RFC 5737): no machine's own address; 999.1.1.1 is no address.
    with pytest.raises(AddressError, match=f"cannot bind {host}"):
        port_in_use(host, 8000)


def test_a_bench_that_fails_before_its_first_cell_says_so_in_its_status(tmp_path: Path) -> None:
    # The SQLite directory is under a regular file: migrating fails before any stack starts.
    blocker = tmp_path / "file"
    blocker.write_text("")
    out = tmp_path / "out"
    if os.environ.get("DATABASE_URL"):
        pytest.skip("DATABASE_URL is set: the run would seed that database, not SQLite")
    args = ["--quick", "--stacks", "uvicorn", "--scenarios", "download", "--sweep-sizes", ""]
    # Its own runtime directory: the machine's one bench lock is not this test's to take.
    env = {"DJANGO_DATA_DIR": str(blocker / "data"), "DSC_RUNTIME_DIR": str(tmp_path / "rt")}
    done = run_compare("bench", *args, "--source", "db", "--out", str(out), env=env, timeout=120)
    assert done.returncode == 1, done.stderr
    document = load_results(out / "latest")
    assert document["status"] == "failed"
    assert "failed while preparing the data" in document["events"][-1]["message"]
    assert document["finished"] is not None
