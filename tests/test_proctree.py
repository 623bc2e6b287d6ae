"""ProcessTree.stop, the one way the harness stops what it started, on stand-in processes."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from compare.system.proctree import ProcessTree
from tests.helpers import alive

# A parent with a child that ignores SIGTERM (a busy worker): only SIGKILL ends that one.
PARENT = """
import subprocess, sys, time
child = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
subprocess.Popen([sys.executable, "-c", child])
print("ready", flush=True)
time.sleep(60)
"""


def _start() -> tuple[subprocess.Popen[bytes], ProcessTree]:
    proc = subprocess.Popen(
        [sys.executable, "-c", PARENT], stdout=subprocess.PIPE, start_new_session=True
    )
    assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
    tree = ProcessTree(proc, "stand-in")
    deadline = time.monotonic() + 10
    while not tree.descendants():
        assert time.monotonic() < deadline, "the child never started"
        time.sleep(0.02)
    return proc, tree


def test_sigterm_then_sigkill_leaves_nothing() -> None:
    proc, tree = _start()
    pids = [p.pid for p in tree.everyone()]
    t0 = time.monotonic()
    tree.stop(((signal.SIGTERM, 0.5),))
    assert time.monotonic() - t0 < 5  # the grace period, then SIGKILL: no waiting for the child
    assert proc.returncode == -signal.SIGTERM
    assert alive(pids) == []
    assert proc.stdout is not None
    proc.stdout.close()


def test_signals_to_the_root_alone_and_a_second_stop_is_harmless() -> None:
    proc, tree = _start()
    child = tree.descendants()[0].pid
    tree.stop(((signal.SIGTERM, 0.2),), group=False)
    assert alive([proc.pid, child]) == []
    tree.stop(((signal.SIGTERM, 0.2),))
    assert proc.stdout is not None
    proc.stdout.close()
