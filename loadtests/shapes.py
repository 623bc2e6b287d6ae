"""Load shapes for the locust web UI: the bench's concurrency curve, step by step, to watch live.

A separate locustfile on purpose: locust runs the first shape class of its locustfiles even when
headless, so the bench's own runs load ``locustfile.py`` alone. ``compare ui`` passes both files
with ``--class-picker``: pick a scenario's classes, pick ``ConcurrencySteps`` as the shape, and
watch the knee happen in the Server tab (memory and CPU per stack) and locust's charts.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from locust import LoadTestShape  # noqa: E402

from loadtests.options import LoadOptions  # noqa: E402

# Locust runs the first shape it loads unless the start form picks another, and at start-up warns
# that the shape ignores --users and --spawn-rate. Under --class-picker (compare ui) the shape
# runs only when picked in the form, and until then the form's users are those options: the two
# warnings are wrong there, and all a newcomer would read of `make locust-ui`.
_SHAPE_IGNORES = ("--run-time, --users or --spawn-rate have no impact", "The following option(s)")


def _not_shape_notice(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith(_SHAPE_IGNORES)


if "--class-picker" in sys.argv:
    logging.getLogger("locust.main").addFilter(_not_shape_notice)


class ConcurrencySteps(LoadTestShape):
    """--step-levels users, --step-seconds each, then stop; fixed-count users on top."""

    def tick(self) -> tuple[int, float] | None:
        """The user count for now: the current step's level (None after the last step)."""
        assert self.runner is not None
        environment = self.runner.environment
        options = LoadOptions.from_namespace(environment.parsed_options)
        step = int(self.get_run_time() // options.step_seconds)
        levels = options.levels()
        if step >= len(levels):
            return None
        # The head-of-line probe (fixed_count) comes on top, as in the bench's levels.
        fixed = sum(getattr(c, "fixed_count", 0) for c in environment.user_classes)
        users = levels[step] + fixed
        return users, float(users)  # each step reached within a second
