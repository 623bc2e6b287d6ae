"""The web UI's Server tab: live memory and CPU of each running stack, next to locust's own tabs.

Installed by the locustfile's ``init`` listener on the process that has the web UI (the master
in distributed mode; workers have none). It uses locust's documented extension points:

- ``template_args["extended_tabs"]`` adds the "Server" tab (key ``server``, so ``/?tab=server``)
  and ``template_args["extended_csv_files"]`` a download link in the "Download Data" tab;
- Flask routes on ``web_ui.app``: ``/server-data`` and ``/server-data.csv`` relay the feed of
  ``python -m compare ui`` (compare.run.serverfeed; its URL in $DSC_SERVER_FEED_URL), and
  ``/server-tab.js`` serves the script that draws the charts;
- an ``after_request`` hook adds that script to the UI's page (locust's React bundle can only
  render tables in an extended tab, not charts).

Imports Flask (a locust dependency) but not locust, so it is testable with a bare Flask app.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from flask import Flask, Response, request

FEED_ENV = "DSC_SERVER_FEED_URL"  # declared in compare.settings, which locust cannot import
TAB_KEY = "server"
SCRIPT_PATH = "/server-tab.js"
DATA_PATH = "/server-data"
CSV_PATH = "/server-data.csv"
SCRIPT_FILE = Path(__file__).resolve().with_name("web") / "servertab.js"
FEED_TIMEOUT_S = 3.0
NO_FEED = (
    "No server feed: this locust was not started by 'python -m compare ui' "
    f"(or ${FEED_ENV} is not set), so there is no stack to show."
)


def feed_url(environ: dict[str, str] | None = None) -> str | None:
    """The feed's data URL from the environment, or None when the UI runs without one."""
    value = (os.environ if environ is None else environ).get(FEED_ENV, "").strip()
    return value or None


def _csv_url(data_url: str) -> str:
    parts = urlsplit(data_url)
    return urlunsplit(parts._replace(path=parts.path + ".csv", query=""))


def _fetch(url: str) -> tuple[int, bytes, str]:
    """GET url: (status, body, content type); a feed that cannot be reached is a 502."""
    try:
        with urllib.request.urlopen(url, timeout=FEED_TIMEOUT_S) as resp:
            return resp.status, resp.read(), resp.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers.get("Content-Type", "text/plain")
    except (OSError, ValueError) as exc:
        body = json.dumps({"error": f"server feed at {url} did not answer: {exc}", "stacks": []})
        return 502, body.encode(), "application/json"


def install(web_ui: Any, environ: dict[str, str] | None = None) -> None:
    """Add the Server tab, its routes and its script to a locust WebUI (or anything like it)."""
    app: Flask = web_ui.app
    data_url = feed_url(environ)
    web_ui.template_args["extended_tabs"] = [
        *web_ui.template_args.get("extended_tabs", []),
        {"key": TAB_KEY, "title": "Server"},
    ]
    web_ui.template_args["extended_csv_files"] = [
        *web_ui.template_args.get("extended_csv_files", []),
        {"href": CSV_PATH, "title": "Download server memory and CPU samples CSV"},
    ]

    def server_data() -> Response:
        if data_url is None:
            body = json.dumps({"error": NO_FEED, "stacks": []})
            return Response(body, status=200, mimetype="application/json")
        since = request.args.get("since")
        url = data_url + (f"?{urlencode({'since': since})}" if since is not None else "")
        status, body_bytes, content_type = _fetch(url)
        response = Response(body_bytes, status=status, content_type=content_type)
        response.headers["Cache-Control"] = "no-store"
        return response

    def server_data_csv() -> Response:
        if data_url is None:
            return Response(NO_FEED + "\n", status=404, mimetype="text/plain")
        status, body_bytes, content_type = _fetch(_csv_url(data_url))
        response = Response(body_bytes, status=status, content_type=content_type)
        if status == 200:
            response.headers["Content-Disposition"] = "attachment; filename=server_samples.csv"
        return response

    def server_tab_script() -> Response:
        response = Response(SCRIPT_FILE.read_bytes(), mimetype="text/javascript")
        response.headers["Cache-Control"] = "no-cache"
        return response

    # auth_required_if_enabled: the same login as locust's own routes when --web-login is on.
    guard = getattr(web_ui, "auth_required_if_enabled", lambda view: view)
    app.add_url_rule(DATA_PATH, "dsc_server_data", guard(server_data))
    app.add_url_rule(CSV_PATH, "dsc_server_data_csv", guard(server_data_csv))
    app.add_url_rule(SCRIPT_PATH, "dsc_server_tab_script", guard(server_tab_script))

    @app.after_request
    def add_script(response: Response) -> Response:
        # Only locust's page itself (its endpoint is "locust.index", whatever the base path).
        if request.endpoint != "locust.index" or response.mimetype != "text/html":
            return response
        page = response.get_data(as_text=True)
        tag = f'<script src="{SCRIPT_PATH}" defer></script>'
        if "</body>" in page and tag not in page:
            response.set_data(page.replace("</body>", f"  {tag}\n  </body>", 1))
        return response
