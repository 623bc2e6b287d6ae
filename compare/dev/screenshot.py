"""Make the README's locust UI screenshot from a real run: ``python -m compare.dev.screenshot``."""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from compare import REPO_ROOT
from compare.dev.chromium import browser, chromium_binary
from compare.dev.liveui import LiveUI, stack_url
from compare.system.ports import free_port


def make_screenshot(path: Path, seconds: float = 14.0) -> None:
    """A real run: both default stacks; a streamed swarm, then a buffered one, on the first."""
    binary = chromium_binary()
    if binary is None:
        raise SystemExit("chromium is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        ui = LiveUI("gunicorn-sync,uvicorn", free_port(), Path(tmp) / "ui.log")
        try:
            ui.wait_ready()
            host = stack_url(ui)
            ui.swarm(host, 4, "DownloadUser", rows=1_000_000)
            time.sleep(seconds)
            ui.stop_swarm()
            ui.swarm(host, 4, "BufferedUser", rows=1_000_000)
            time.sleep(seconds)
            with browser(binary, 1400, 790) as chrome:
                chrome.open(ui.base + "/?tab=server")
                chrome.wait_for(
                    "document.querySelectorAll('#dsc-server-panel svg path').length >= 4",
                    15,
                    "both stacks' lines",
                )
                time.sleep(1.5)  # one more poll, so the table is as fresh as the lines
                chrome.screenshot(path)
                if errors := chrome.errors():
                    raise RuntimeError(f"the page had errors: {errors}")
            ui.stop_swarm()
        finally:
            ui.interrupt()
    print(f"wrote {path} ({path.stat().st_size} bytes)")


def main() -> None:
    """Parse the options and make the screenshot."""
    parser = argparse.ArgumentParser(description="Make the locust UI screenshot for the README.")
    parser.add_argument("--screenshot", type=Path, default=REPO_ROOT / "docs" / "locust-ui.png")
    parser.add_argument("--seconds", type=float, default=14.0, help="of each swarm")
    options = parser.parse_args()
    make_screenshot(options.screenshot, options.seconds)


if __name__ == "__main__":
    main()
