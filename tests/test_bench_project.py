"""``bench --project``: the cells fetch the user's URL through the wrapper, every body is held to
a reference download, the report names the project; what needs this project's export is refused."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from pathlib import Path

import pytest

from tests.helpers import run_compare

PROJECT = Path(__file__).parent / "ownproject"
OWN = ("--project", str(PROJECT), "--settings", "shop.settings")
URL = "/sync/?rows=20000"  # about 0.7 MB: a download takes milliseconds
TIMEOUT = 600  # two cells, a reference download and the reports: about 20 s here


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--url", URL, "--seed-database-i-own"), "not with --project: --seed-database-i-own"),
        (("--url", URL, "--scenarios", "buffered"), "scenario 'buffered' (it needs the export's"),
        (("--url", URL, "--scenarios", "head-of-line"), "it needs a /ping view"),
        (("--url", URL, "--url", "/async/"), "one --url per run"),
        (("--url", URL, "--sweep-sizes", "1000"), "not with --project: --sweep-sizes"),
        (("--url", URL, "--source", "db"), "not with --project: --source"),
        (("--url", URL, "--rows", "1000"), "not with --project: --rows"),
        ((), "at least one --url"),
    ],
)
def test_bench_refuses_what_needs_this_projects_export(
    args: tuple[str, ...], message: str, tmp_path: Path
) -> None:
    done = run_compare("bench", *OWN, *args, "--out", str(tmp_path), timeout=120)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not any(tmp_path.iterdir())  # refused before anything was made


@pytest.mark.server
def test_bench_measures_the_users_url_on_each_stack(tmp_path: Path) -> None:
    done = run_compare(
        "bench",
        *OWN,
        "--url",
        URL,
        "--stacks",
        "gunicorn-sync,uvicorn",
        "--scenarios",
        "download",
        "--users",
        "2",
        "--quick",
        "--out",
        str(tmp_path),
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    run_dir = (tmp_path / "latest").resolve()
    results = json.loads((run_dir / "results.json").read_text())
    target = results["environment"]["data"]
    reference = target["reference"]
    assert reference["stack"] == "gunicorn-sync" and reference["status"] == 200
    assert not results["sweep"]  # the size sweep asks this project's export for its sizes
    cells = results["cells"]
    assert [c["stack"] for c in cells] == ["gunicorn-sync", "uvicorn"]
    for cell in cells:
        assert cell["status"] == "ok", cell["error"]
        assert "export_rows" not in cell  # the URL's rows are unknown: no rows/s is made up
        argv = cell["locust_argv"]
        assert argv[argv.index("--url") + 1] == URL
        assert argv[argv.index("--body-sha256") + 1] == reference["sha256"]
        # Every download the load generator finished was checked against the reference.
        with gzip.open(Path(cell["dir"]) / "records.jsonl.gz", "rt") as handle:
            lines = [json.loads(line) for line in handle]
        records = [x["request"] for x in lines if x.get("request", {}).get("kind") == "download"]
        finished = [r for r in records if r["outcome"] != "stopped"]
        assert finished and {r["outcome"] for r in finished} == {"ok"}
        assert {r["bytes"] for r in finished} == {reference["size"]}
        # The wrapper's own line for each response it served: this URL, whole, that many bytes.
        log = (Path(cell["dir"]) / "server.log").read_text()
        interface = "wsgi" if cell["stack"] == "gunicorn-sync" else "asgi"
        served = re.findall(rf"dsc-app: {interface} /sync/ .*bytes=(\d+) complete", log)
        assert len(served) >= len(finished)
        assert set(served) == {str(reference["size"])}
    # An independent download of the same view, hashed here: what the reference says it is.
    body = b"".join(_view_body(20000))
    assert (len(body), hashlib.sha256(body).hexdigest()) == (
        reference["size"],
        reference["sha256"],
    )
    report = (run_dir / "report.md").read_text()
    for named in (str(PROJECT.resolve()), "shop.settings", URL, "shop.wsgi:application"):
        assert named in report, named


def _view_body(rows: int) -> list[bytes]:
    """The test project's pieces, built by its own code (no Django needed for them)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("shop_rows", PROJECT / "shop" / "views.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return list(module._pieces(rows))
