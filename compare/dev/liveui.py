"""A running ``python -m compare ui`` and the HTTP calls a person's browser would make."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import psutil

from compare import REPO_ROOT
from compare.dev.wait import wait_until

UI = [sys.executable, "-m", "compare", "ui"]
READY_S = 45.0


class LiveUI:
    """A running ``compare ui`` process and the HTTP calls a person's browser would make."""

    def __init__(self, stacks: str, port: int, log: Path, *extra: str) -> None:
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [*UI, "--stacks", stacks, "--port", str(port), *extra],
                cwd=REPO_ROOT,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.pids: set[int] = set()

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self) -> None:
        def ready() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"compare ui exited with {self.proc.returncode}:\n{self.output()}"
                )
            return "Locust web UI:" in self.output()

        wait_until(ready, READY_S, "the UI", interval=0.2)
        # Everything it started, while they are still its descendants.
        root = psutil.Process(self.proc.pid)
        self.pids = {self.proc.pid, *(p.pid for p in root.children(recursive=True))}

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.base + path, timeout=10) as resp:
            body: bytes = resp.read()
            return body

    def json(self, path: str) -> Any:
        return json.loads(self.get(path))

    def post(self, path: str, fields: list[tuple[str, str]] | None = None) -> Any:
        data = urllib.parse.urlencode(fields or []).encode()
        with urllib.request.urlopen(self.base + path, data=data, timeout=10) as resp:
            return json.loads(resp.read() or b"null")

    def swarm(self, host: str, users: int, user_class: str, **options: object) -> None:
        fields = [("user_count", str(users)), ("spawn_rate", str(users)), ("host", host)]
        fields += [("user_classes", user_class), *((k, str(v)) for k, v in options.items())]
        answer = self.post("/swarm", fields)
        if not answer["success"]:
            raise RuntimeError(f"locust refused the swarm: {answer}")

    def stop_swarm(self) -> None:
        self.post("/stop")
        wait_until(lambda: self.json("/stats/requests")["state"] == "stopped", 15, "locust stopped")

    def rows(self) -> dict[tuple[str, str], dict[str, Any]]:
        stats = self.json("/stats/requests")["stats"]
        return {(row["method"], row["name"]): row for row in stats if row["method"]}

    def interrupt(self, timeout: float = 40.0) -> int:
        """SIGINT, as Ctrl-C would; the exit code (kills whatever is left if it hangs)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired as hung:
            for pid in self.pids:  # a zombie or a reused pid: kill() errors, suppressed
                with contextlib.suppress(psutil.Error):
                    psutil.Process(pid).kill()
            self.proc.wait(timeout=5)
            message = f"compare ui did not stop within {timeout:g} s:\n{self.output()}"
            raise TimeoutError(message) from hung


def stack_url(ui: LiveUI) -> str:
    """The first stack's address, as the UI's Server tab lists it."""
    url: str = ui.json("/server-data")["stacks"][0]["url"]
    return url
