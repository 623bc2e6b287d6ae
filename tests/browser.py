"""Headless Chromium as the tests start it: Debian's package, offline, a throwaway profile."""

from __future__ import annotations

import shutil

# No network chatter (this machine reaches none), no sandbox (tests run as root in CI).
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MISSING = (
    "Debian's chromium is not installed; `make test` tries to install it (apt-get install chromium)"
)


def chromium_binary() -> str | None:
    """Path of the Chromium binary, or None when it is not installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")
