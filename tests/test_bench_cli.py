"""`python -m compare bench` end to end, as a subprocess: results, interruption, failed stacks."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import time
from pathlib import Path

import jsonschema
import psutil
import pytest

from compare.report.metrics import read_cell
from compare.results import SCHEMA_FILE, load_results
from tests.helpers import run_compare, start_compare, stop_run

pytestmark = pytest.mark.server


def _bench(
    out: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    return run_compare("bench", "--out", str(out), *args, env=env, timeout=timeout)


def test_quick_bench_writes_a_complete_results_document(tmp_path: Path) -> None:
    done = _bench(
        tmp_path,
        "--quick",
        "--stacks",
        "gunicorn-sync,uvicorn",
        "--scenarios",
        "download",
        "--duration",
        "3",
        "--rows",
        "20000",
        "--sweep-sizes",
        "10000",
        "--sweep-variants",
        "stream,buffered",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    document = load_results(tmp_path / "latest")
    assert document["status"] == "complete"
    assert document["environment"]["packages"]["Django"].startswith("5.2")
    assert set(document["stacks"]) == {"gunicorn-sync", "uvicorn"}
    assert [(c["stack"], c["status"]) for c in document["cells"]] == [
        ("gunicorn-sync", "ok"),
        ("uvicorn", "ok"),
    ]
    # The self-check after the cells: a cell and a sweep point per stack, stacks alternating.
    assert [(e["kind"], e["stack"], e["status"]) for e in document["crosscheck_runs"]] == [
        ("cell", "gunicorn-sync", "ok"),
        ("cell", "uvicorn", "ok"),
        ("sweep", "uvicorn", "ok"),
        ("sweep", "gunicorn-sync", "ok"),
    ]
    assert {i["stack"] for i in document["crosscheck"]} == {"gunicorn-sync", "uvicorn"}
    jsonschema.validate(document, json.loads(SCHEMA_FILE.read_text()))
    assert document["environment"]["placement"]["mode"] == "split"
    for cell in document["cells"]:
        f = read_cell(cell)
        assert f.downloads > 0 and f.failures == 0 and f["mb_per_s"] and f["ttfb_p50_ms"]
        assert f.window_s is not None and f.window_s > 2.0
        served = f["served_mb"]
        assert served is not None and served > f.downloads * 20000 * 50 / 1e6  # partial count too
        assert cell["timeline"] and cell["memory"]["baseline_pss"] > 0
        assert len(cell["worker_pids"]) == 2 and set(cell["warmup"]["workers_answered"])
        assert Path(cell["dir"], "records.jsonl.gz").is_file()
        assert Path(cell["dir"], "locust_stats.csv").is_file()  # kept for those who like it
    assert sorted((p["stack"], p["variant"], p["status"]) for p in document["sweep"]) == [
        ("gunicorn-sync", "buffered", "ok"),
        ("gunicorn-sync", "stream", "ok"),
        ("uvicorn", "buffered", "ok"),
        ("uvicorn", "stream", "ok"),
    ]
    assert "download" in done.stdout and "wall time" in done.stdout
    shown = run_compare("figures", str(tmp_path / "latest"))
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert [c["stack"] for c in data["cells"]] == ["gunicorn-sync", "uvicorn"]
    assert all(c["n_downloads"] > 0 and c["mb_per_s"] > 0 for c in data["cells"])
    assert len(data["sweep"]) == 4


def _alive(pids: set[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            pass
    return alive


def test_sigint_mid_run_keeps_finished_cells_and_leaves_no_process(tmp_path: Path) -> None:
    proc = start_compare(
        "bench",
        "--out",
        str(tmp_path),
        "--quick",
        "--stacks",
        "gunicorn-sync,uvicorn",
        "--scenarios",
        "download,head-of-line",
        "--duration",
        "3",
        "--rows",
        "20000",
        "--sweep-sizes",
        "",
    )
    seen: set[int] = set()
    results = tmp_path / "latest" / "results.json"
    deadline = time.monotonic() + 120
    try:
        while True:
            assert proc.poll() is None, proc.communicate()[1][-2000:]
            assert time.monotonic() < deadline, "no cell finished in time"
            with contextlib.suppress(psutil.NoSuchProcess):
                seen |= {p.pid for p in psutil.Process(proc.pid).children(recursive=True)}
            if results.exists() and json.loads(results.read_text())["cells"]:
                # Let the next cell start its server and locust before interrupting.
                time.sleep(1.5)
                seen |= {p.pid for p in psutil.Process(proc.pid).children(recursive=True)}
                break
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        stop_run(proc, seen)
    assert proc.returncode == 130, stderr[-2000:]
    assert len(seen) >= 2  # servers and locust were running when the signal came
    assert _alive(seen) == []
    document = load_results(results)
    assert document["status"] == "interrupted"
    assert document["cells"] and all(c["status"] == "ok" for c in document["cells"])
    assert "partial results kept" in stderr


def test_a_stack_that_cannot_start_is_a_failed_cell_and_the_run_goes_on(tmp_path: Path) -> None:
    # A setting that makes Django fail at import: every worker dies while booting.
    done = _bench(
        tmp_path,
        "--quick",
        "--stacks",
        "gunicorn-sync,uvicorn",
        "--scenarios",
        "download",
        "--duration",
        "2",
        "--sweep-sizes",
        "",
        env={"DJANGO_SECURE_HSTS_SECONDS": "lots"},  # read by the settings only, not the harness
    )
    # The reports are written, then the exit status and one line say what failed.
    assert done.returncode == 1, done.stderr[-3000:]
    assert done.stderr.splitlines()[-1] == (
        "failed: 2 of 2 measurements (gunicorn-sync download r1, uvicorn download r1);"
        " errors in the report"
    )
    assert (tmp_path / "latest" / "report.html").is_file()
    document = load_results(tmp_path / "latest")
    assert document["status"] == "complete"
    assert [c["status"] for c in document["cells"]] == ["failed", "failed"]
    for cell in document["cells"]:
        assert "DJANGO_SECURE_HSTS_SECONDS must be an integer" in cell["error"]
        assert "\n" not in cell["error"]


def test_an_unavailable_stack_is_recorded_as_failed_with_the_install_hint(tmp_path: Path) -> None:
    # Every server is a dependency now; what can be missing is nginx in front of one.
    name = "nginx-buffered+gunicorn-sync"
    done = _bench(
        tmp_path,
        "--quick",
        "--stacks",
        name,
        "--scenarios",
        "download",
        "--duration",
        "2",
        "--sweep-sizes",
        "10000",
        "--sweep-variants",
        "stream",
        env={"DSC_NGINX": str(tmp_path / "no-nginx-here")},
    )
    assert done.returncode == 1, done.stderr[-3000:]
    assert f"failed: 2 of 2 measurements ({name} download r1, {name} stream 10,000 rows r1)" in (
        done.stderr
    )
    document = load_results(tmp_path / "latest")
    cell, point = document["cells"][0], document["sweep"][0]
    assert cell["status"] == point["status"] == "failed"
    assert "apt-get install nginx" in cell["error"]
    assert any(f"{name} is unavailable" in e["message"] for e in document["events"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--stacks", "tomcat"],
            "unknown stack 'tomcat'; valid: all, nginx, everything, gunicorn-sync",
        ),
        (["--scenarios", "download,nap"], "unknown scenario 'nap'"),
        (["--duration", "0"], "--duration must be positive"),
        (["--sweep-sizes", "10k"], "--sweep-sizes must be comma-separated whole numbers"),
        (["--server-cpus", "99"], "--server-cpus [99] is not within this machine's CPUs"),
        (["--concurrency", "1,2", "--rate", "1"], "--concurrency and --rate are alternatives"),
        (["--concurrency", "0,2"], "--concurrency needs levels of at least 1"),
        (["--concurrency", "1,two"], "--concurrency must be comma-separated whole numbers"),
        (["--rate", "1,x"], "--rate must be comma-separated numbers"),
        (["--rate", "-1"], "--rate needs positive rates"),
        (["--arrivals", "poisson"], "--arrivals and --max-in-flight apply to --rate only"),
        (["--rate", "1", "--max-in-flight", "0"], "--max-in-flight must be at least 1"),
        (["--rate", "1", "--scenarios", "mismatch"], "scenario 'mismatch' has no arrival-rate"),
        (["--concurrency", "2", "--users", "3"], "--users sets one load for every cell"),
        (["--workers", "many"], "--workers must be 'auto' or a whole number"),
        (["--workers", "0"], "--workers must be at least 1"),
        (["--locust-workers", "-1"], "--locust-workers must not be negative"),
        (["--slo-ttfb-ms", "0"], "--slo-ttfb-ms must be positive"),
        # Each names the flag it is about (issue 24.8: --rows blamed --sweep-repeat).
        (["--rows", "-5"], "--rows must be at least 0, got -5"),
        (["--sweep-repeat", "0"], "--sweep-repeat must be at least 1, got 0"),
        (["--users", "0"], "--users must be at least 1, got 0"),
    ],
)
def test_bad_arguments_are_one_line_errors(tmp_path: Path, args: list[str], message: str) -> None:
    done = _bench(tmp_path, *args, timeout=60)
    assert done.returncode != 0
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())  # nothing was created for a refused run
