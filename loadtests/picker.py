"""The web UI's class picker: Start as it opens runs the download scenario, not every scenario.

Locust's picker opens with every user class ticked, and its Start would run them all at once on
one host (buffered, slow-client, head-of-line... together), which measures none of them. Its
React bundle takes the ticked list from the same list it offers, so one class cannot be
preselected there; instead a ``before_request`` hook on ``/swarm`` reads a start with every class
ticked (or none) as the picker untouched and runs the default scenario's class. A start with
some classes ticked runs exactly those.

Imports Flask (a locust dependency) but not locust, so it is testable with a bare Flask app.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection

from flask import Flask, request
from werkzeug.datastructures import ImmutableMultiDict

from loadtests.catalog import SCENARIOS

logger = logging.getLogger(__name__)

SWARM_PATH = "/swarm"
DEFAULT_SCENARIO = "download"
DEFAULT_CLASS = SCENARIOS[DEFAULT_SCENARIO].closed_class


def install(app: Flask, available: Callable[[], Collection[str]]) -> None:
    """Register the hook on the UI's app; ``available``: the class names the picker offers."""

    @app.before_request
    def _one_scenario() -> None:
        if request.path != SWARM_PATH or request.method != "POST":
            return
        ticked = set(request.form.getlist("user_classes"))
        offered = set(available())
        if len(offered) < 2 or (ticked and ticked != offered):
            return
        fields = [(k, v) for k, v in request.form.items(multi=True) if k != "user_classes"]
        # werkzeug caches the parsed form on the request; the view reads it after us.
        request.form = ImmutableMultiDict([*fields, ("user_classes", DEFAULT_CLASS)])
        logger.warning(
            "Every user class was ticked (the picker as it opens): running the %s scenario "
            "(%s) alone. To run another, untick the box at the top of the list and tick its "
            "class (docs/locust-ui.md).",
            DEFAULT_SCENARIO,
            DEFAULT_CLASS,
        )
