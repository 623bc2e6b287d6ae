"""The README and docs/: every command in a shell block is real, every link resolves."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.doccommands import (
    DOCUMENTS,
    REPO,
    command_problems,
    commands,
    link_problems,
)

README_LINES = 250  # the first hour and a map; the rest belongs in docs/


def _problems(line: str) -> list[str]:
    return [p for c in commands(f"```sh\n{line}\n```\n", "t") for p in command_problems(c)]


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_shell_command_is_real(path: Path) -> None:
    text = path.read_text()
    found = [(c.where, p) for c in commands(text, path.name) for p in command_problems(c)]
    assert found == [], "\n".join(f"{where}: {problem}" for where, problem in found)


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_link_and_path_resolves(path: Path) -> None:
    problems = link_problems(path, path.read_text())
    assert problems == [], "\n".join(problems)


def test_the_readme_is_the_first_hour_and_links_every_doc() -> None:
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= README_LINES
    unlinked = [p.name for p in DOCUMENTS[1:] if f"](docs/{p.name})" not in readme]
    assert unlinked == []


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("make bnech", "no target 'bnech'"),
        ("make bench QUIK=1", "reads no variable QUIK"),
        ("make diff OLD_DIR=a NEW=b", "reads no variable OLD_DIR"),
        ("make bench BENCH_ARGS='--stack all'", "has no option --stack"),
        ("make bench BENCH_ARGS='--stacks uvicron'", "uvicron"),
        (".venv/bin/python -m compare bnech", "no subcommand 'bnech'"),
        ("python -m compare bench --scenario download", "has no option --scenario"),
        ("python -m compare bench --scenarios dowload", "no scenario 'dowload'"),
        ("python -m compare bench --placement sharde", "invalid choice: 'sharde'"),
        ("python -m compare measure-once uvicorn --rows many", "invalid int value"),
        ("python -m compare serve NAME --prot 8000", "has no option --prot"),
        ("python -m project migarte", "no command 'migarte'"),
        ("python -m project seed_rows 10 --bogus", "has no option --bogus"),
        ("python -m compare.ngin docker --check", "no module compare.ngin"),
        ("locust -f loadtests/locustfle.py --class-picker", "no such file loadtests/locustfle.py"),
        ("X=1 python -m pytest tests/test_nope.py -v", "no such file tests/test_nope.py"),
    ],
)
def test_a_misspelt_command_is_caught(line: str, problem: str) -> None:
    assert any(problem in found for found in _problems(line)), _problems(line)


@pytest.mark.parametrize(
    "line",
    [
        "make bench QUICK=1",
        "make lint typecheck",
        "DSC_OUT=/tmp/x .venv/bin/python -m compare -v report results/latest --quiet",
        ".venv/bin/python -m compare ui --stacks uvicorn -- --rows 1000000 --mode buffered",
        "python -m project seed_rows 1000000",
        "curl -s 'http://127.0.0.1:8000/ping' | head -c 10 && echo done",
    ],
)
def test_a_real_command_passes(line: str) -> None:
    assert _problems(line) == []


def test_a_command_can_span_lines() -> None:
    block = "```sh\npython -m compare bench \\\n    --bogus\n"
    block += "python -m project shell -c '\nx\n'\n```"
    found = list(commands(block, "t"))
    assert [c.words[:4] for c in found] == [
        ("python", "-m", "compare", "bench"),
        ("python", "-m", "project", "shell"),
    ]
    assert found[0].where == "t:2"
    assert command_problems(found[0]) == ["python -m compare bench has no option --bogus"]


@pytest.mark.parametrize(
    ("link", "problem"),
    [
        ("[x](docs/nope.md)", "missing file"),
        ("[x](docs/measuring.md#no-such-heading)", "missing heading"),
        ("[x](#nowhere)", "missing heading"),
        ("see `compare/no_such_module.py`", "no such file compare/no_such_module.py"),
        ("`compare.prefork` binds the socket", "no module compare.prefork"),
        ("`compare.nowhere.prefork`", "no module compare.nowhere.prefork"),
    ],
)
def test_a_broken_link_is_caught(link: str, problem: str) -> None:
    text = f"# Title\n\n{link}\n"
    assert any(problem in p for p in link_problems(REPO / "README.md", text))


def test_a_good_link_passes() -> None:
    text = "# A `code` title, here\n\n[a](#a-code-title-here) [m](docs/measuring.md#placement)\n"
    text += "`compare.servers.prefork` and `loadtests.shapes.ConcurrencySteps`\n"
    assert link_problems(REPO / "README.md", text) == []


def test_the_ci_example_runs_real_commands_and_fails_on_a_regression() -> None:
    workflow = yaml.safe_load((REPO / "docs" / "ci-benchmark.yml").read_text())
    assert "pull_request" in workflow[True]  # YAML 1.1 reads the key `on` as true
    steps = workflow["jobs"]["bench"]["steps"]
    scripts = "\n".join(step["run"] for step in steps if "run" in step)
    found = list(commands(f"```sh\n{scripts}\n```\n", "ci-benchmark.yml"))
    problems = [p for c in found for p in command_problems(c)]
    assert problems == []
    words = [list(c.words) for c in found]
    assert any(w[1:4] == ["-m", "compare", "diff"] and "markdown" in w for w in words)
    assert sum(w[1:4] == ["-m", "compare", "bench"] for w in words) == 2
    failing = next(step for step in steps if step.get("name") == "Fail on a regression")
    assert "status == '1'" in failing["if"] and "exit 1" in failing["run"]
