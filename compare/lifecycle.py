"""A stack started for measurement: server process, CPU placement, sampler, idle baseline."""

from __future__ import annotations

import contextlib
import re
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import psutil

from compare.config import BenchConfig
from compare.sampler import ProcessTreeSampler, TreeSample
from compare.server import ServerProcess
from compare.stacks import StackSpec

# Django's own words when it has to buffer a mismatched iterator (django/http/response.py).
_DJANGO_WARNING = re.compile(r"StreamingHttpResponse must consume \w+ iterators[^\n]*")


def django_warnings(log_path: Path) -> list[str]:
    """Distinct Django iterator-mismatch warnings a server wrote to its log."""
    try:
        text = log_path.read_text(errors="replace")
    except OSError:
        return []
    return sorted({match.group(0).strip() for match in _DJANGO_WARNING.finditer(text)})


def pin(pid: int, cpus: tuple[int, ...] | None) -> None:
    """Pin a process tree to cpus (workers forked later inherit it from their parent)."""
    if not cpus:
        return
    root = psutil.Process(pid)
    for proc in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            proc.cpu_affinity(list(cpus))


class MeasuredServer:
    """Start a stack, pin it, sample it, and measure its idle baseline; a context manager."""

    def __init__(
        self,
        config: BenchConfig,
        spec: StackSpec,
        run_dir: Path,
        env: dict[str, str] | None = None,
    ) -> None:
        self.config = config
        run_dir.mkdir(parents=True, exist_ok=True)
        self.server = ServerProcess(
            spec.with_options(workers=config.workers), run_dir=run_dir, env=env
        )
        self.sampler: ProcessTreeSampler | None = None
        self.baseline_pss = 0
        self.baseline_window: tuple[float, float] = (0.0, 0.0)

    def __enter__(self) -> Self:
        self.server.start()
        try:
            pin(self.server.pid, self.config.server_cpus)
            self.sampler = ProcessTreeSampler(
                self.server.pid, self.config.sample_interval_s
            ).start()
            t0 = time.monotonic()
            wanted = max(3, round(self.config.idle_s / self.config.sample_interval_s))
            self.sampler.wait_for(wanted, timeout=self.config.idle_s * 5 + 5)
            t1 = time.monotonic()
            self.baseline_window = (t0, t1)
            self.baseline_pss = self.sampler.baseline(t0, t1)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop sampling and stop the server (idempotent)."""
        if self.sampler is not None:
            self.sampler.stop()
        self.server.stop()

    def settle_after(self, t: float) -> None:
        """Wait for one sample taken after t, so a window ending at t is fully covered."""
        assert self.sampler is not None
        if self.sampler.window(t, None) or self.sampler.root_exited:
            return
        with contextlib.suppress(ProcessLookupError):  # the server died: nothing more to sample
            self.sampler.wait_for(len(self.sampler.samples) + 1, timeout=5)

    def memory_and_cpu(self, t0: float, t1: float) -> dict[str, Any]:
        """Baseline, peaks and CPU seconds of the tree over [t0, t1] (monotonic)."""
        assert self.sampler is not None
        end = t1 + self.config.sample_interval_s * 1.5
        peaks = self.sampler.peaks(t0, end)
        return {
            "baseline_pss": self.baseline_pss,
            "peak_pss": peaks.pss,
            "peak_pss_increase": peaks.pss - self.baseline_pss,
            "peak_uss": peaks.uss,
            "peak_process_uss": peaks.process_uss,
            "server_cpu_s": self.sampler.cpu_seconds(t0, t1),
            "window_s": t1 - t0,
        }

    def vanished(self, t0: float) -> list[int]:
        """Pids of processes that died after t0: no stack here restarts workers on its own."""
        assert self.sampler is not None
        samples = self.sampler.window(t0, None)
        if not samples:
            return []
        alive = {p.key for p in samples[-1].processes}
        gone = {p.key: p.pid for s in samples for p in s.processes if p.key not in alive}
        return sorted(gone.values())

    def samples(self) -> list[TreeSample]:
        """Every sample so far."""
        assert self.sampler is not None
        return self.sampler.samples
