"""Read the shell blocks and links of the README and docs/ and say which name nothing real."""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import itertools
import re
import shlex
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from compare.cli import build_parser
from compare.errors import CompareError
from compare.servers.stacks import stack_names
from loadtests.catalog import SCENARIOS

REPO = Path(__file__).resolve().parent.parent
DOCUMENTS = (REPO / "README.md", *sorted((REPO / "docs").glob("*.md")))

_FENCE = re.compile(r"^```(\w*)\s*$")
_SHELLS = {"sh", "bash", "shell", "console"}
_OPERATORS = {"&&", "||", ";", "|", "&"}
# A placeholder the reader replaces: STACK, NAME, N, RUN_DIR, SERVER_ADDRESS.
_PLACEHOLDER = re.compile(r"\b[A-Z][A-Z0-9_]*\b")
# A path into the repository, written in prose or in a command: it must exist.
_REPO_PATH = re.compile(
    r"^(?:compare|project|loadtests|tests|docker|docs)/[\w./*+-]*"
    r"\.(?:py|md|yaml|json|conf|png|js|txt|toml)$"
)
# A module written as a dotted name in prose (`compare.servers.prefork`): it must import.
_MODULE = re.compile(r"^(?:compare|project|loadtests|tests)(?:\.\w+)+$")
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
_CODE_SPAN = re.compile(r"`([^`\n]+)`")


@dataclass(frozen=True)
class Command:
    """One simple command of a shell block, where it was written and its words."""

    where: str
    words: tuple[str, ...]


def _blocks(text: str) -> Iterator[tuple[int, list[str], bool]]:
    """Each fenced block: its first line's number, its lines, whether it is shell."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        opened = _FENCE.match(lines[i])
        if not opened:
            i += 1
            continue
        start, body = i + 2, []
        i += 1
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        yield start, body, opened.group(1) in _SHELLS
        i += 1


def prose(text: str) -> str:
    """The text outside fenced blocks (links and paths there are the reader's)."""
    kept, inside = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            inside = not inside
        elif not inside:
            kept.append(line)
    return "\n".join(kept)


def _split(source: str) -> list[str]:
    lexer = shlex.shlex(source, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    return list(lexer)


def commands(text: str, name: str) -> Iterator[Command]:
    """The simple commands of every shell block, env assignments in front dropped."""
    for start, body, is_shell in _blocks(text):
        if not is_shell:
            continue
        pending, first = "", start
        for number, line in enumerate(body, start):
            if not pending:
                first = number
            pending += line + "\n"
            if pending.endswith("\\\n"):
                pending = pending[:-2] + " "
                continue
            try:
                words = _split(pending)
            except ValueError:  # a quote that closes on a later line
                continue
            pending = ""
            current: list[str] = []
            for word in [*words, ";"]:
                if word not in _OPERATORS:
                    current.append(word)
                    continue
                while current and re.match(r"^[A-Za-z_]\w*=", current[0]):
                    current.pop(0)
                if current:
                    yield Command(f"{name}:{first}", tuple(current))
                current = []


@cache
def make_recipes() -> dict[str, str]:
    """Each Makefile target and its recipe's text."""
    recipes: dict[str, str] = {}
    target = None
    for line in (REPO / "Makefile").read_text().splitlines():
        defined = re.match(r"^([a-z][a-z-]*):(?!=)", line)
        if defined:
            target = defined.group(1)
            recipes[target] = ""
        elif line.startswith("\t") and target:
            recipes[target] += line + "\n"
        elif not line.startswith("\t"):
            target = None
    return recipes


def _placeholder(word: str) -> bool:
    return bool(_PLACEHOLDER.search(word))


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _option_problems(parser: argparse.ArgumentParser, args: Sequence[str]) -> list[str]:
    problems = []
    for word in args:
        if word == "--":  # what follows goes to another program (locust)
            break
        if word.startswith("-") and not re.match(r"^-\d", word):
            option = word.split("=", 1)[0]
            if option not in parser._option_string_actions:
                problems.append(f"{parser.prog} has no option {option}")
    return problems


def _value_problems(args: Sequence[str]) -> list[str]:
    """Stack and scenario names that the harness would refuse once it ran."""
    problems = []
    for option, value in itertools.pairwise(args):
        if _placeholder(value):
            continue
        if option == "--stacks":
            try:
                stack_names(value, repeats=True)
            except CompareError as error:
                problems.append(str(error))
        elif option == "--scenarios":
            problems += [
                f"no scenario {name!r}"
                for name in value.split(",")
                if name and name != "all" and name not in SCENARIOS
            ]
    return problems


def compare_problems(args: Sequence[str]) -> list[str]:
    """What is wrong with ``python -m compare ARGS``: subcommand, options, values."""
    parser = build_parser()
    words = list(args)
    problems = []
    while words and words[0].startswith("-"):
        problems += _option_problems(parser, words[:1])
        words.pop(0)
    if not words:
        return problems
    subcommands = _subcommands(parser)
    if words[0] not in subcommands:
        return [*problems, f"python -m compare has no subcommand {words[0]!r}"]
    sub = subcommands[words[0]]
    problems += _option_problems(sub, words[1:]) + _value_problems(words[1:])
    positional = [w for w in words[1:] if not w.startswith("-")]
    if words[0] in ("serve", "measure-once") and positional and not _placeholder(positional[0]):
        problems += _value_problems(["--stacks", positional[0]])
    concrete = not any(_placeholder(w) or w in ("-h", "--help") for w in words)
    if not problems and concrete:
        # A concrete command must also parse: types, choices, required arguments.
        stderr = io.StringIO()
        try:
            with contextlib.redirect_stderr(stderr):
                parser.parse_args(list(args))
        except SystemExit:
            problems.append(stderr.getvalue().strip().splitlines()[-1])
    return problems


def project_problems(args: Sequence[str]) -> list[str]:
    """What is wrong with ``python -m project ARGS``: the management command and its options."""
    from django.core.management import get_commands, load_command_class

    if not args:
        return []
    known = get_commands()
    if args[0] not in known:
        return [f"python -m project has no command {args[0]!r}"]
    command = load_command_class(known[args[0]], args[0])
    return _option_problems(command.create_parser("python -m project", args[0]), args[1:])


def make_problems(args: Sequence[str]) -> list[str]:
    """What is wrong with ``make ARGS``: targets and the variables their recipes read."""
    recipes = make_recipes()
    targets = [w for w in args if "=" not in w and not w.startswith("-")]
    problems = [f"the Makefile has no target {t!r}" for t in targets if t not in recipes]
    read = "".join(recipes.get(t, "") for t in targets or ["help"])
    for word in args:
        if "=" not in word:
            continue
        name, value = word.split("=", 1)
        if f"$({name})" not in read:
            problems.append(f"make {' '.join(targets)} reads no variable {name}")
            continue
        # BENCH_ARGS, UI_ARGS, DIFF_ARGS: their value is more arguments of python -m compare.
        line = next(line for line in read.splitlines() if f"$({name})" in line)
        sub = re.search(r"-m compare ([a-z-]+)", line)
        if name.endswith("_ARGS") and sub:
            problems += compare_problems([sub.group(1), *shlex.split(value)])
    return problems


def _module_args(words: Sequence[str]) -> tuple[str, list[str]] | None:
    """The module and its arguments when the words run ``python -m MODULE``."""
    for i, word in enumerate(words[:-2]):
        if Path(word).name.startswith("python") and words[i + 1] == "-m":
            return words[i + 2], list(words[i + 3 :])
    return None


def command_problems(command: Command) -> list[str]:
    """Everything in one command that names something that does not exist."""
    words = command.words
    problems = [f"no such file {w}" for w in words if _REPO_PATH.match(w) and not _exists(w)]
    program = Path(words[0]).name
    if program == "make":
        problems += make_problems(words[1:])
    module = _module_args(words)
    if module is None:
        return problems
    name, args = module
    if name == "compare":
        problems += compare_problems(args)
    elif name == "project":
        problems += project_problems(args)
    elif importlib.util.find_spec(name) is None:
        problems.append(f"no module {name}")
    return problems


def _exists(path: str) -> bool:
    return any(REPO.glob(path)) if "*" in path else (REPO / path).exists()


def anchors(text: str) -> frozenset[str]:
    """GitHub's anchors for a Markdown text's headings."""
    seen: dict[str, int] = {}
    for line in prose(text).splitlines():
        heading = re.match(r"^#{1,6}\s+(.*)$", line)
        if not heading:
            continue
        slug = re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        if count:
            seen[f"{slug}-{count}"] = 1
    return frozenset(seen)


def link_problems(path: Path, text: str) -> list[str]:
    """Links to files or anchors that do not exist, and repository paths named in prose."""
    problems = []
    body = prose(text)
    for target in _LINK.findall(body):
        if re.match(r"^[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        linked = (path.parent / file).resolve()
        if file and not linked.exists():
            problems.append(f"link to a missing file: {target}")
        elif anchor and (not file or linked.suffix == ".md"):
            headings = anchors(linked.read_text() if file else text)
            problems += [] if anchor in headings else [f"link to a missing heading: {target}"]
    named = [w for span in _CODE_SPAN.findall(body) for w in span.split()]
    problems += [f"no such file {w}" for w in named if _REPO_PATH.match(w) and not _exists(w)]
    problems += [f"no module {w}" for w in named if _MODULE.match(w) and not _importable(w)]
    return problems


def _importable(name: str) -> bool:
    """A module, or a name defined at the top of one, found without importing either."""
    # Importing a locustfile here would let locust patch the standard library under the other
    # tests (an in-process view test then hangs); find_spec imports only the parent packages.
    parts = name.split(".")
    spec = importlib.util.find_spec(parts[0])
    for depth, part in enumerate(parts[1:], start=2):
        if spec is None:
            return False
        if spec.submodule_search_locations is None:  # a module: the rest is a name in it
            source = Path(spec.origin or "").read_text() if spec.has_location else ""
            defined = rf"^(?:class |def |async def )?{re.escape(part)}\b"
            return depth == len(parts) and re.search(defined, source, re.MULTILINE) is not None
        spec = importlib.util.find_spec(".".join(parts[:depth]))
    return spec is not None
