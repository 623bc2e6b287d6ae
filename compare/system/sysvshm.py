"""SysV shared memory segments as the kernel lists them: which a process created, removing them."""

from __future__ import annotations

import logging
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

TABLE = Path("/proc/sysvipc/shm")
IPCRM_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Segment:
    """One segment: its id, and what never changes while it exists (key, creator pid and uid)."""

    id: int
    key: int
    creator_pid: int
    creator_uid: int


def segments(table: Path = TABLE) -> tuple[Segment, ...]:
    """Every segment on the machine, from the kernel's table (nothing a user can write)."""
    try:
        lines = table.read_text().splitlines()
    except OSError:
        return ()
    if not lines:
        return ()
    column = {name: index for index, name in enumerate(lines[0].split())}
    found = []
    for line in lines[1:]:
        fields = line.split()
        found.append(
            Segment(
                id=int(fields[column["shmid"]]),
                key=int(fields[column["key"]]),
                creator_pid=int(fields[column["cpid"]]),
                creator_uid=int(fields[column["cuid"]]),
            )
        )
    return tuple(found)


def created_by(pid: int, uid: int, table: Path = TABLE) -> tuple[Segment, ...]:
    """The segments that process ``pid``, running as ``uid``, created."""
    return tuple(s for s in segments(table) if (s.creator_pid, s.creator_uid) == (pid, uid))


def remove_if_unchanged(wanted: Segment, table: Path = TABLE) -> bool:
    """Remove ``wanted`` if a segment with its id, key and creator still exists; tell whether."""
    if wanted not in segments(table):
        return False  # gone (a clean shutdown removes its own), or the id names another now
    ipcrm = shutil.which("ipcrm")
    if ipcrm is None:
        logger.warning("no ipcrm: shared memory segment %d stays", wanted.id)
        return False
    done = subprocess.run(
        [ipcrm, "-m", str(wanted.id)], capture_output=True, timeout=IPCRM_TIMEOUT_S, check=False
    )
    return done.returncode == 0
