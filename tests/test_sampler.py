"""The process-tree sampler: pure window arithmetic, then a small live process tree."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from compare.system.sampler import (
    FIRST_KEPT,
    ProcessSample,
    ProcessTreeSampler,
    TreeSample,
    baseline_pss,
    cpu_seconds,
    peaks,
    window,
)
from tests.helpers import MB, assert_gone

# A process that does what stdin tells it: allocate memory, burn CPU, start or kill a child.
CHILD = r"""
import subprocess, sys, time
held, kids = [], []
for line in sys.stdin:
    cmd, _, arg = line.strip().partition(" ")
    if cmd == "alloc":
        held.append(b"\x01" * (int(arg) * 1024 * 1024))  # written, so the pages are resident
    elif cmd == "burn":
        end = time.process_time() + float(arg)
        while time.process_time() < end:
            pass
    elif cmd == "spawn":
        kids.append(subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                                     stdin=subprocess.PIPE))
        print(kids[-1].pid, flush=True)
        continue
    elif cmd == "reap":
        kid = kids.pop()
        kid.kill()
        kid.wait()
    print("ok", flush=True)
"""


def proc(pid: int, cpu: float, pss: int = 0, created: float = 1.0) -> ProcessSample:
    return ProcessSample(pid, 1, created, pss, pss, pss, cpu, 0.0)


def tree(t: float, *processes: ProcessSample) -> TreeSample:
    return TreeSample(t=t, wall=1000 + t, processes=processes)


def test_cpu_seconds_sums_per_process_deltas_across_exits_and_births() -> None:
    samples = [
        tree(0.0, proc(10, 1.0), proc(11, 5.0)),
        tree(1.0, proc(10, 1.5), proc(11, 5.5)),
        tree(2.0, proc(10, 2.0), proc(12, 0.3)),  # 11 exited, 12 was born
        tree(3.0, proc(10, 2.5), proc(12, 0.8), proc(11, 0.1, created=2.5)),  # pid 11 reused
    ]
    # 10: 2.5 - 1.5; 11 (old): 5.5 - 5.5; 12: born in the window, 0.8; 11 (new): 0.1.
    assert cpu_seconds(samples, 1.0, 3.0) == pytest.approx(1.0 + 0.0 + 0.8 + 0.1)
    # No sample at or before t0: each process counts from its first sample in the window.
    assert cpu_seconds(samples, -1.0, 1.0) == pytest.approx(0.5 + 0.5)
    assert cpu_seconds(samples, 3.0, 9.0) == 0.0


def test_baseline_peaks_and_window() -> None:
    samples = [tree(float(t), proc(1, 0, pss=p)) for t, p in enumerate([10, 30, 20, 500, 25])]
    assert [s.t for s in window(samples, 1.0, 2.0)] == [1.0, 2.0]
    assert baseline_pss(window(samples, None, 2.0)) == 20
    assert peaks(samples).pss == 500
    assert peaks(samples).process_uss == 500
    with pytest.raises(ValueError):
        baseline_pss([])


def test_tree_totals() -> None:
    sample = tree(1.0, proc(1, 1.0, pss=100), proc(2, 2.0, pss=50))
    assert (sample.pss, sample.uss, sample.rss, sample.cpu) == (150, 150, 150, 3.0)


class Child:
    """The CHILD script, driven line by line."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", CHILD],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def do(self, command: str) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def close(self) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()


@pytest.fixture
def child() -> Iterator[Child]:
    c = Child()
    try:
        yield c
    finally:
        c.proc.kill()
        c.close()


def test_live_tree_memory_cpu_and_restarting_children(child: Child) -> None:
    assert child.do("noop") == "ok"
    with ProcessTreeSampler(child.proc.pid, interval=0.05) as sampler:
        first_kid = int(child.do("spawn"))
        sampler.wait_for(len(sampler.samples) + 3, timeout=10)
        t_idle = time.monotonic()
        base = sampler.baseline()
        assert child.do("alloc 64") == "ok"
        assert child.do("burn 0.4") == "ok"
        child.do("reap")  # the first child exits...
        second_kid = int(child.do("spawn"))  # ...and a new pid takes its place
        sampler.wait_for(len(sampler.samples) + 3, timeout=10)
        t_end = time.monotonic()
    seen = {p.pid for s in sampler.samples for p in s.processes}
    assert {child.proc.pid, first_kid, second_kid} <= seen
    assert peaks(window(sampler.samples, t_idle, t_end)).pss - base > 50 * MB
    assert cpu_seconds(sampler.samples, t_idle, t_end) >= 0.3
    assert sampler.samples[-1].t >= t_end  # stop() takes a last sample
    child.do("reap")
    assert_gone([first_kid, second_kid])


def test_a_bounded_sampler_holds_the_newest_and_keeps_the_first_and_the_peak(
    child: Child,
) -> None:
    # compare ui samples for days (review U1): what it holds must not grow with time.
    sampler = ProcessTreeSampler(child.proc.pid, keep=5)
    taken = [sampler.sample_once() for _ in range(FIRST_KEPT)]
    kid = int(child.do("spawn"))  # a whole interpreter more: the tree's highest PSS
    taken.append(sampler.sample_once())
    child.do("reap")
    taken += [sampler.sample_once() for _ in range(10)]
    assert sampler.samples == taken[-5:]
    assert sampler.first == taken[:FIRST_KEPT]
    assert kid in {p.pid for p in taken[FIRST_KEPT].processes}  # type: ignore[union-attr]
    assert sampler.peak_pss == max(s.pss for s in taken if s) > max(s.pss for s in taken[-5:] if s)
    sampler.wait_for(len(taken), timeout=0)  # counts every sample taken, not those held


def test_sampler_ends_when_the_root_exits(child: Child) -> None:
    sampler = ProcessTreeSampler(child.proc.pid, interval=0.02).start()
    try:
        child.proc.stdin.close()  # type: ignore[union-attr]
        # Unreaped, the root is a zombie: the sampler must see that as gone too.
        with pytest.raises(ProcessLookupError):
            sampler.wait_for(10_000, timeout=10)
    finally:
        sampler.stop()
    assert sampler.root_exited
    assert sampler.sample_once() is None
    sampler.stop()  # idempotent
