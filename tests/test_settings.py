"""Every setting in one place: compare.settings against the docs, the project and the tree."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from compare import REPO_ROOT, settings
from compare.cli import build_parser
from compare.errors import CompareError
from compare.system.placement import choose
from loadtests import servertab
from project.export.params import ExportParams

# Where the configuration table lives.
CONFIG_DOC = REPO_ROOT / "docs" / "configuration.md"
TABLE_HEAD = "| variable | default | meaning |"
# How project/settings.py reads a variable: os.environ.get(NAME, default), env_bool, env_int.
PROJECT_READERS = {"get", "env_bool", "env_int"}
DSC_NAME = re.compile(r"\bDSC_[A-Z0-9_]+")
DECLARED = {v.name: v for v in settings.VARIABLES}


def test_the_docs_configuration_table_is_the_declarations() -> None:
    text = CONFIG_DOC.read_text()
    start = text.index(TABLE_HEAD)
    end = text.find("\n\n", start)
    shown = text[start : end if end != -1 else len(text)].rstrip("\n")
    assert shown == settings.table(), f"paste compare.settings.table() into {CONFIG_DOC.name}"


def _project_reads() -> dict[str, object]:
    """Each variable project/settings.py reads, with the literal default it gives (or None)."""
    tree = ast.parse((REPO_ROOT / "project" / "settings.py").read_text())
    reads: dict[str, object] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        first = node.args[0]
        if name in PROJECT_READERS and isinstance(first, ast.Constant):
            default = node.args[1] if len(node.args) > 1 else None
            literal = default.value if isinstance(default, ast.Constant) else None
            reads[str(first.value)] = literal
    return reads


def test_every_variable_the_project_reads_is_declared_with_its_default() -> None:
    reads = _project_reads()
    declared = {v.name for v in settings.VARIABLES if v.read_by == "project"}
    assert set(reads) == declared
    for name, literal in reads.items():
        if literal is not None:
            assert DECLARED[name].default == literal, name


def test_every_dsc_variable_in_the_tree_is_declared_and_read_through_settings() -> None:
    sources = [
        *REPO_ROOT.glob("compare/**/*.py"),
        *REPO_ROOT.glob("loadtests/**/*.py"),
        *REPO_ROOT.glob("project/**/*.py"),
        *(path for path in REPO_ROOT.glob("docker/**/*") if path.is_file()),
        REPO_ROOT / "Makefile",
    ]
    named: dict[str, set[Path]] = {}
    for path in sources:
        for name in DSC_NAME.findall(path.read_text()):
            named.setdefault(name, set()).add(path.relative_to(REPO_ROOT))
    assert set(named) - set(DECLARED) == set()
    # In the harness only compare/settings.py spells one (docstrings and help text aside).
    spelled = {
        str(path)
        for path in REPO_ROOT.glob("compare/**/*.py")
        if path.name != "settings.py"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value.startswith("DSC_")
    }
    assert spelled == set()
    harness = {v.name for v in settings.VARIABLES if v.name.startswith("DSC_")}
    assert harness <= set(named), "declared but read nowhere"


def test_locust_reads_the_names_the_harness_sets() -> None:
    # loadtests/ cannot import compare: its own spelling, held to the declaration.
    assert settings.DSC_SERVER_FEED_URL.name == servertab.FEED_ENV


def test_shared_defaults_agree_where_they_cannot_be_imported() -> None:
    # The view (project/) cannot import the harness: rows per export, its default and ours.
    assert ExportParams().rows == settings.EXPORT_ROWS


def test_a_value_is_read_and_parsed_and_unset_or_empty_is_the_default() -> None:
    hosts = settings.DSC_ALLOWED_HOSTS
    assert hosts.value({}) == () and hosts.value({hosts.name: "  "}) == ()
    assert hosts.value({hosts.name: "a, b,"}) == ("a", "b")
    assert settings.DSC_PORT.value({"DSC_PORT": "9000"}) == 9000
    with pytest.raises(CompareError, match=r"^\$DSC_PORT='nine': invalid literal for int"):
        settings.DSC_PORT.value({"DSC_PORT": "nine"})


@pytest.mark.parametrize(
    ("variable", "command", "dest"),
    [
        (settings.DSC_STACKS, "bench", "stacks"),
        (settings.DSC_STACKS, "ui", "stacks"),
        (settings.DSC_STACKS, "encode-bench", "stacks"),
        (settings.DSC_SCENARIOS, "bench", "scenarios"),
        (settings.DSC_PLACEMENT, "bench", "placement"),
        (settings.DSC_PLACEMENT, "measure-once", "placement"),
        (settings.DSC_PLACEMENT, "encode-bench", "placement"),
        (settings.DSC_OUT, "bench", "out"),
    ],
    ids=lambda value: value.name if isinstance(value, settings.Variable) else value,
)
def test_each_default_setting_reaches_its_commands(
    monkeypatch: pytest.MonkeyPatch, variable: settings.Variable[str], command: str, dest: str
) -> None:
    monkeypatch.setenv(variable.name, "from-the-environment")
    args = build_parser().parse_args([command])
    assert getattr(args, dest) == "from-the-environment"


def test_an_unknown_placement_from_the_environment_is_an_error() -> None:
    with pytest.raises(CompareError, match="unknown placement 'sharde'; valid: split, shared"):
        choose("sharde")  # type: ignore[arg-type]
