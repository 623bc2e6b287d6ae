"""``locust -f loadtests/locustfile.py --help`` lists the project's options (``--rows`` ...).

Locust registers a locustfile's options (its ``init_command_line_parser`` listeners) only once
it has imported the file, but it answers ``--help`` before: ``parse_locustfile_option`` prints
the help of a parser built while no listener exists yet, and exits (locust 2.47; upstream issue
locustio/locust#2917, closed unfixed). So ``make venv`` installs a one-line ``.pth`` file that
calls ``install()`` as each interpreter of the venv starts: for that one command line (the
``locust`` script, ``--help``, this locustfile) it registers the options in time; for every
other it returns at once, importing nothing.

``write_pth()`` writes the ``.pth`` file into this interpreter's site-packages (``make venv``).
"""

from __future__ import annotations

import sys
import sysconfig
from collections.abc import Sequence
from pathlib import Path
from typing import Any

PTH_NAME = "dsc_locust_help.pth"
PTH_LINE = "import loadtests.helphook as hook; hook.install()\n"
LOCUSTFILE = "loadtests/locustfile.py"


def wanted(argv: Sequence[str]) -> bool:
    """Whether ``argv`` asks the locust script for its help with this project's locustfile."""
    return (
        bool(argv)
        and Path(argv[0]).name == "locust"
        and any(arg in ("-h", "--help") for arg in argv[1:])
        and any(LOCUSTFILE in arg for arg in argv[1:])
    )


_INSTALLED: list[bool] = []  # site runs a .pth once per path to it (lib and lib64 in a venv)


def install(argv: Sequence[str] | None = None) -> None:
    """Register the options on locust's parser if this interpreter is that command line."""
    if _INSTALLED or not wanted(sys.argv if argv is None else argv):
        return
    _INSTALLED.append(True)
    from locust import events

    from loadtests.options import add_arguments

    def _add(parser: Any, **_kwargs: Any) -> None:
        add_arguments(parser)

    events.init_command_line_parser.add_listener(_add)


def write_pth() -> Path:
    """Write the ``.pth`` file into this interpreter's site-packages; return its path."""
    path = Path(sysconfig.get_path("purelib")) / PTH_NAME
    path.write_text(PTH_LINE, encoding="utf-8")
    return path
