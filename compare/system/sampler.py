"""Memory and CPU of a whole process tree (and of the machine), sampled on a background thread."""

from __future__ import annotations

import contextlib
import logging
import statistics
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Self

import psutil

from compare.system.startstop import StartStop

logger = logging.getLogger(__name__)

DEFAULT_INTERVAL = 0.1
FIRST_KEPT = 16  # the first samples, before any load: kept whatever ``keep`` drops
ProcessKey = tuple[int, float]  # (pid, create_time): a reused pid is another process


@dataclass(frozen=True, slots=True)
class ProcessSample:
    """One process at one instant: memory in bytes, CPU in seconds since it started."""

    pid: int
    ppid: int
    create_time: float
    rss: int
    uss: int
    pss: int
    cpu_user: float
    cpu_system: float
    name: str = ""

    @property
    def key(self) -> ProcessKey:
        """Identity across samples, safe against pid reuse."""
        return (self.pid, self.create_time)

    @property
    def cpu(self) -> float:
        """User plus system CPU seconds."""
        return self.cpu_user + self.cpu_system


@dataclass(frozen=True, slots=True)
class CpuTimes:
    """One CPU's cumulative seconds since boot: busy (not idle nor waiting for I/O) and in all."""

    busy: float
    total: float


@dataclass(frozen=True, slots=True)
class TreeSample:
    """The whole tree at one instant; ``t`` is time.monotonic(), ``wall`` is time.time()."""

    t: float
    wall: float
    processes: tuple[ProcessSample, ...]
    machine: tuple[CpuTimes, ...] = ()  # every CPU of the machine, at the same instant

    @property
    def pss(self) -> int:
        """Sum of PSS over the tree: shared pages counted once in total."""
        return sum(p.pss for p in self.processes)

    @property
    def uss(self) -> int:
        """Sum of USS over the tree: memory that would be freed if the tree exited."""
        return sum(p.uss for p in self.processes)

    @property
    def rss(self) -> int:
        """Sum of RSS over the tree (counts shared pages once per process)."""
        return sum(p.rss for p in self.processes)

    @property
    def cpu(self) -> float:
        """CPU seconds used so far by the processes alive in this sample."""
        return sum(p.cpu for p in self.processes)


@dataclass(frozen=True, slots=True)
class Peaks:
    """Highest values over a window, in bytes."""

    pss: int
    uss: int
    rss: int
    process_uss: int  # the largest single process (a worker holding a buffered body shows here)


def _read(proc: psutil.Process, memory: bool = True) -> ProcessSample | None:
    """Sample one process, or None when it vanished or cannot be read."""
    try:
        with proc.oneshot():
            cpu = proc.cpu_times()
            if memory:
                # memory_full_info reads /proc/PID/smaps_rollup: about 1 ms per 40 MB resident,
                # so a 500 MB worker costs ~12 ms a sample (the sampler's interval stretches).
                mem = proc.memory_full_info()
                rss, uss, pss = mem.rss, mem.uss, getattr(mem, "pss", mem.uss)
            else:
                rss = uss = pss = 0
            return ProcessSample(
                pid=proc.pid,
                ppid=proc.ppid(),
                create_time=proc.create_time(),
                rss=rss,
                uss=uss,
                pss=pss,
                cpu_user=cpu.user,
                cpu_system=cpu.system,
                name=proc.name(),
            )
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def machine_cpu_times() -> tuple[CpuTimes, ...]:
    """Every CPU's busy and total seconds since boot (/proc/stat)."""
    times = []
    for cpu in psutil.cpu_times(percpu=True):
        total = sum(cpu)
        # guest time is already counted in user time on Linux; idle and iowait are not busy.
        idle = cpu.idle + getattr(cpu, "iowait", 0.0)
        total -= getattr(cpu, "guest", 0.0) + getattr(cpu, "guest_nice", 0.0)
        times.append(CpuTimes(busy=total - idle, total=total))
    return tuple(times)


def _running(proc: psutil.Process) -> bool:
    try:
        status: str = proc.status()
    except psutil.Error:
        return False
    return bool(status != psutil.STATUS_ZOMBIE)


class ProcessTreeSampler(StartStop):
    """Samples a root pid and all its descendants every ``interval`` seconds until stopped.

    ``memory=False`` reads CPU times only (the load generator's tree: its memory is not ours to
    report, and reading smaps is the expensive part of a sample). ``keep`` bounds the samples
    held to the newest ``keep`` (``compare ui`` runs for days); the first FIRST_KEPT and the
    highest tree PSS stay.
    """

    def __init__(
        self,
        root_pid: int,
        interval: float = DEFAULT_INTERVAL,
        *,
        memory: bool = True,
        also: tuple[int, ...] = (),
        keep: int | None = None,
    ) -> None:
        self.root_pid = root_pid
        self.interval = interval
        self.memory = memory
        # More trees sampled with this one (a database the stack uses): in every sample, but
        # their ending is not the root's ending.
        self.also = also
        self._samples: deque[TreeSample] = deque(maxlen=keep)
        self._first: list[TreeSample] = []
        self._peak_pss = 0
        self._taken = 0  # samples ever taken: wait_for counts these, not those still held
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._procs: dict[int, psutil.Process] = {}
        self._root = psutil.Process(root_pid)  # raises NoSuchProcess now rather than later
        self.root_exited = False

    def start(self) -> Self:
        """Take a first sample now, then keep sampling on a daemon thread."""
        if self._thread is not None:
            raise RuntimeError("sampler already started")
        self.sample_once()
        self._thread = threading.Thread(target=self._run, name="tree-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread after a final sample; idempotent."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        next_at = time.monotonic() + self.interval
        # Deadline-based: a slow sample shortens the next wait instead of drifting the clock.
        while not self._stop.wait(max(0.0, next_at - time.monotonic())):
            next_at += self.interval
            if self.sample_once() is None:
                return
        self.sample_once()

    def sample_once(self) -> TreeSample | None:
        """Sample the tree now and record it; None once the root process is gone."""
        if self.root_exited:
            return None
        try:
            tree = [self._root, *self._root.children(recursive=True)]
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            self._root_gone()
            return None
        for pid in self.also:
            with contextlib.suppress(psutil.Error):
                extra = self._procs.get(pid) or psutil.Process(pid)
                tree += [extra, *extra.children(recursive=True)]
        # Reuse Process objects: psutil keeps per-process state, and it is cheaper.
        procs = {p.pid: self._procs.get(p.pid, p) for p in tree}
        self._procs = procs
        machine = machine_cpu_times()
        found = [s for s in (_read(p, self.memory) for p in procs.values()) if s is not None]
        if not _running(self._root):
            self._root_gone()  # an exited but unreaped root still answers children()
            return None
        sample = TreeSample(
            t=time.monotonic(), wall=time.time(), processes=tuple(found), machine=machine
        )
        with self._cond:
            self._samples.append(sample)
            self._taken += 1
            if len(self._first) < FIRST_KEPT:
                self._first.append(sample)
            self._peak_pss = max(self._peak_pss, sample.pss)
            self._cond.notify_all()
        return sample

    def _root_gone(self) -> None:
        with self._cond:
            self.root_exited = True
            self._cond.notify_all()

    def wait_for(self, count: int, timeout: float) -> None:
        """Block until ``count`` samples exist (TimeoutError; ProcessLookupError if root exits)."""
        with self._cond:
            self._cond.wait_for(lambda: self._taken >= count or self.root_exited, timeout)
            have = self._taken
        if have >= count:
            return
        if self.root_exited:
            raise ProcessLookupError(f"pid {self.root_pid} exited after {have} of {count} samples")
        raise TimeoutError(f"{have} of {count} samples after {timeout:g} s")

    @property
    def samples(self) -> list[TreeSample]:
        """A copy of every sample so far (the newest ``keep``), oldest first."""
        with self._cond:
            return list(self._samples)

    @property
    def first(self) -> list[TreeSample]:
        """The first FIRST_KEPT samples, even once ``keep`` has dropped them."""
        with self._cond:
            return list(self._first)

    @property
    def peak_pss(self) -> int:
        """The highest tree PSS of any sample so far, dropped ones included."""
        with self._cond:
            return self._peak_pss

    def window(self, t0: float | None = None, t1: float | None = None) -> list[TreeSample]:
        """Samples with ``t0 <= t <= t1`` (monotonic clock); open ends mean everything."""
        return window(self.samples, t0, t1)

    def baseline(self, t0: float | None = None, t1: float | None = None) -> int:
        """Median tree PSS over an idle window: the level an increase is measured against."""
        return baseline_pss(self.window(t0, t1))


def window(samples: list[TreeSample], t0: float | None, t1: float | None) -> list[TreeSample]:
    """Samples with ``t0 <= t <= t1``; None leaves that end open."""
    lo = float("-inf") if t0 is None else t0
    hi = float("inf") if t1 is None else t1
    return [s for s in samples if lo <= s.t <= hi]


def baseline_pss(samples: list[TreeSample]) -> int:
    """Median tree PSS: robust to the odd sample taken while something was busy."""
    if not samples:
        raise ValueError("no samples in the baseline window")
    return int(statistics.median(s.pss for s in samples))


def peaks(samples: list[TreeSample]) -> Peaks:
    """Highest tree PSS, USS, RSS and single-process USS over the samples."""
    if not samples:
        raise ValueError("no samples in the window")
    return Peaks(
        pss=max(s.pss for s in samples),
        uss=max(s.uss for s in samples),
        rss=max(s.rss for s in samples),
        process_uss=max((p.uss for s in samples for p in s.processes), default=0),
    )


def cpu_seconds(samples: list[TreeSample], t0: float, t1: float) -> float:
    """CPU seconds used between t0 and t1, summed per process so that exits and births count."""
    return sum(process_cpu_seconds(samples, t0, t1).values())


def process_cpu_seconds(samples: list[TreeSample], t0: float, t1: float) -> dict[ProcessKey, float]:
    """CPU seconds each process used between t0 and t1 (processes seen in the window only)."""
    before = next((s for s in reversed(samples) if s.t <= t0), None)
    start = {p.key: p.cpu for p in before.processes} if before else {}
    first: dict[ProcessKey, float] = {}
    last: dict[ProcessKey, float] = {}
    for sample in samples:
        if t0 < sample.t <= t1:
            for p in sample.processes:
                first.setdefault(p.key, p.cpu)
                last[p.key] = p.cpu
    used: dict[ProcessKey, float] = {}
    for key, end in last.items():
        if key in start:
            begin = start[key]
        elif before is not None:
            begin = 0.0  # born inside the window while we watched: all of its CPU counts
        else:
            begin = first[key]  # sampling began inside the window: count from first sight
        used[key] = end - begin
    # CPU burned between a process's last sample and its exit is not seen: at most one
    # interval's worth per exiting process.
    return used


def _machine_span(
    samples: list[TreeSample], t0: float, t1: float
) -> tuple[TreeSample, TreeSample] | None:
    """The last sample at or before t0 and the last by t1 (the span CPU figures cover)."""
    before = next((s for s in reversed(samples) if s.t <= t0 and s.machine), None)
    after = next((s for s in reversed(samples) if s.t <= t1 and s.machine), None)
    if before is None or after is None or after.t <= before.t:
        return None
    return before, after


def machine_busy(samples: list[TreeSample], t0: float, t1: float) -> list[float] | None:
    """Each CPU's busy share (0-1) between the last sample at or before t0 and the last by t1."""
    span = _machine_span(samples, t0, t1)
    if span is None:
        return None
    shares = []
    for a, b in zip(span[0].machine, span[1].machine, strict=False):
        total = b.total - a.total
        shares.append((b.busy - a.busy) / total if total > 0 else 0.0)
    return shares


def cpus_busy(
    samples: list[TreeSample], t0: float, t1: float, cpus: tuple[int, ...]
) -> tuple[float, float] | None:
    """Busy seconds of ``cpus`` together, and the seconds they are counted over: the same span
    as machine_busy and process_cpu_seconds, so a tree's CPU seconds compare with them."""
    span = _machine_span(samples, t0, t1)
    if span is None:
        return None
    before, after = span
    busy = sum(after.machine[c].busy - before.machine[c].busy for c in cpus)
    return busy, after.t - before.t


def reset_peak_rss(pid: int) -> int | None:
    """Reset the kernel's high-water mark of a process's RSS (VmHWM); return its RSS now.

    Writing 5 to /proc/PID/clear_refs sets VmHWM to the current RSS: from then on VmHWM is the
    exact peak, whatever a sampler's interval would have missed. None when not permitted.
    """
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as handle:
            handle.write("5")
        return _status_kb(pid, "VmRSS")
    except OSError:
        return None


def peak_rss(pid: int) -> int | None:
    """The kernel's high-water mark of a process's RSS in bytes (VmHWM), None if unreadable."""
    return _status_kb(pid, "VmHWM")


def _status_kb(pid: int, field: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None
