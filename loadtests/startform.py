"""What the web UI's start form may set: locust's own fields and the options it shows, no more.

Locust's ``/swarm`` copies every form field whose name is a parsed option into the options
(locust 2.47 ``web.py``, ``swarm()``), hidden ones included: a POST could point ``record_dir`` at
any directory (the recorder creates it and appends a file there, as whoever runs locust), or
change ``stop_after_spawn``, ``html_file``, ``csv_prefix`` and the rest. A request with any other
field is refused here, before locust reads it (review F8).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, request

from loadtests.options import OPTIONS
from loadtests.picker import SWARM_PATH

# The fields locust's own form sends (its React app's camelCase, sent in snake_case).
LOCUST_FIELDS = frozenset(
    {"user_count", "spawn_rate", "host", "run_time", "profile", "shape_class", "user_classes"}
)
ALLOWED = LOCUST_FIELDS | {spec.dest for spec in OPTIONS.values() if spec.web_ui}


def refusal(fields: list[str]) -> str | None:
    """Why a start form with these field names is refused, or None when it may start."""
    unknown = sorted(set(fields) - ALLOWED)
    if not unknown:
        return None
    return (
        f"the start form cannot set {', '.join(unknown)}: only the fields it shows "
        "(the harness sets the rest on locust's command line)"
    )


def install(web_ui: Any) -> None:
    """Refuse a /swarm POST that sets anything the form does not show."""
    app: Flask = web_ui.app

    @app.before_request
    def guard_start_form() -> Response | tuple[Response, int] | None:
        if request.path != SWARM_PATH or request.method != "POST":
            return None
        reason = refusal(list(request.form.keys()))
        if reason is None:
            return None
        return jsonify({"success": False, "message": reason, "host": None}), 400
