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


# A stuck supervisor: of its children one exited with an error, one cleanly, one was killed by a
# signal, none reaped; a fourth exited with an error and was reaped at once.
STUCK = """
import os, signal, time
failed = [os.fork() or os._exit(code) for code in (3, 0)][0]
killed = os.fork() or time.sleep(60)
os.kill(killed, signal.SIGKILL)
reaped = os.fork() or os._exit(5)
os.waitpid(reaped, 0)
print(failed, flush=True)
time.sleep(60)
"""


def test_a_failure_its_parent_has_not_noticed_is_found_after_the_grace() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", STUCK], stdout=subprocess.PIPE, start_new_session=True
    )
    tree = ProcessTree(proc, "stand-in")
    try:
        assert proc.stdout is not None
        failed = int(proc.stdout.readline())
        assert len(tree.descendants()) == 3  # zombies are still under their parent
        assert tree.unnoticed_failures(grace=0.3) == []  # just seen: its parent may yet reap it
        deadline = time.monotonic() + 10
        while not (found := tree.unnoticed_failures(grace=0.3)):
            assert time.monotonic() < deadline, "never found"
            time.sleep(0.05)
        assert found == [(failed, 3)]
    finally:
        tree.stop(((signal.SIGKILL, 1.0),))
        assert proc.stdout is not None
        proc.stdout.close()
