"""A throwaway PostgreSQL server owned by the harness: initdb, start, a URL, stop leaving nothing.

Debian's ``postgresql`` package provides the binaries (``make test`` installs it like nginx).
The cluster lives in a fresh temporary directory and listens on a Unix socket in it, never on
TCP. initdb and postgres refuse to run as root, and CI runs as root: the server then runs as the
``postgres`` account that Debian's package creates (``$DSC_POSTGRES_USER`` to choose another;
``nobody`` if neither exists), through subprocess's own setuid/setgid, with the directory handed
to that account. The socket's directory is that account's, mode 0700: only it and root can
connect, which is why ``trust`` authentication is safe here.

Root never trusts what that account controls. The log is created before the directory is handed
over and read through its descriptor, never by its path again (the account could put a link or
a FIFO there); the shared memory removed after a kill is what the kernel said the postmaster
created, never an id from postmaster.pid (a file the account can edit).

The postmaster runs in a process group of its own, like every stack (compare.system.proctree), so a
Ctrl-C in the terminal does not reach it behind the harness's back; stop() asks for a fast
shutdown, then an immediate one, then kills what is left, removes the SysV shared memory a
killed postmaster leaves behind, and deletes the directory.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import logging
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any, Self
from urllib.parse import quote

from compare.servers.server import ServerStartError
from compare.settings import DSC_POSTGRES_BIN, DSC_POSTGRES_USER
from compare.system import leftovers, sysvshm
from compare.system.interrupts import held_stop_signals
from compare.system.proctree import POLL_INTERVAL, ProcessTree
from compare.system.startstop import StartStop

logger = logging.getLogger(__name__)

INSTALL_HINT = "sudo apt-get install postgresql (Debian/Ubuntu; 'make system-packages' does it)"
SUPERUSER = "dsc"  # the cluster's own superuser (initdb --username), not a system account
DATABASE = "dsc"
PORT = 5432  # names the socket file only: nothing listens on TCP
NAME = "postgres"
TAIL_BYTES = 64 * 1024  # of the log, for an error message

# The server's settings for a benchmark, as (name, value, why). Durability is off: the data is
# regenerated for every run, and seeding millions of rows must not wait for fsync. Everything
# that shapes reading (shared_buffers, work_mem, jit, the planner) keeps PostgreSQL's defaults,
# stated here so the results say what they were.
SETTINGS: tuple[tuple[str, str, str], ...] = (
    ("listen_addresses", "", "no TCP: the Unix socket only"),
    ("port", str(PORT), "the socket file's name (.s.PGSQL.5432)"),
    ("fsync", "off", "throwaway data: no flush to disk"),
    ("synchronous_commit", "off", "throwaway data"),
    ("full_page_writes", "off", "throwaway data"),
    ("wal_level", "minimal", "COPY into a table truncated in the same transaction skips WAL"),
    ("max_wal_senders", "0", "required by wal_level=minimal"),
    ("dynamic_shared_memory_type", "mmap", "files under the data directory, not /dev/shm"),
    ("shared_buffers", "128MB", "PostgreSQL's default"),
    ("work_mem", "4MB", "PostgreSQL's default"),
    ("max_connections", "100", "PostgreSQL's default; the stacks open one per thread or task"),
    ("jit", "on", "PostgreSQL's default"),
    ("log_min_messages", "warning", "the log holds what went wrong, not every connection"),
)


class PostgresMissingError(ServerStartError):
    """PostgreSQL's binaries are not on this machine."""


def find_binaries() -> Path | None:
    """The directory with initdb and postgres: $DSC_POSTGRES_BIN, PATH, or Debian's newest."""
    wanted = ("initdb", "postgres")
    explicit = DSC_POSTGRES_BIN.value()
    if explicit:
        return Path(explicit) if all((Path(explicit) / b).is_file() for b in wanted) else None
    on_path = [shutil.which(b) for b in wanted]
    if all(on_path):
        return Path(str(on_path[0])).resolve().parent
    # Debian keeps them out of PATH, one directory per major version.
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    for candidate in sorted(versions, key=_major, reverse=True):
        if all((Path(candidate) / b).is_file() for b in wanted):
            return Path(candidate)
    return None


def _major(path: str) -> int:
    match = re.search(r"/(\d+)/bin$", path)
    return int(match.group(1)) if match else 0


def missing() -> str | None:
    """Say what to install when PostgreSQL's binaries are absent, else None."""
    return None if find_binaries() is not None else f"PostgreSQL is not installed: {INSTALL_HINT}"


def server_account() -> pwd.struct_passwd | None:
    """The account the server runs as when we are root (None: run as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in (DSC_POSTGRES_USER.value(), "postgres", "nobody"):
        if name:
            with contextlib.suppress(KeyError):
                return pwd.getpwnam(name)
    raise ServerStartError(
        NAME, f"running as root and no account to run it as: set {DSC_POSTGRES_USER.name}"
    )


_LIVE: set[PostgresServer] = set()


class PostgresServer(StartStop):
    """One throwaway cluster, started and seeded by the harness; a context manager."""

    def __init__(self, *, start_timeout: float = 60.0, stop_grace: float = 10.0) -> None:
        self.start_timeout = start_timeout
        self.stop_grace = stop_grace
        self._dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._tree: ProcessTree | None = None
        self._log: IO[bytes] | None = None
        self._uid = os.geteuid()  # the account the postmaster runs as
        self._segments: set[sysvshm.Segment] = set()  # created by the postmaster, as we saw
        self.version = ""

    @property
    def pid(self) -> int:
        """The postmaster's pid: the root of every PostgreSQL process (sample its tree)."""
        if self._proc is None:
            raise RuntimeError("PostgreSQL is not started")
        return self._proc.pid

    @property
    def directory(self) -> Path:
        """The temporary directory: the data directory, the socket and the log."""
        if self._dir is None:
            raise RuntimeError("PostgreSQL is not started")
        return self._dir

    @property
    def socket_dir(self) -> Path:
        """Where the Unix socket is (libpq's host)."""
        return self.directory

    @property
    def log_path(self) -> Path:
        """Where the server's stderr was created (its account may have replaced it since)."""
        return self.directory / "postgres.log"

    @property
    def url(self) -> str:
        """DATABASE_URL for Django: the socket directory percent-encoded as the host."""
        return f"postgres://{SUPERUSER}@{quote(str(self.socket_dir), safe='')}:{PORT}/{DATABASE}"

    def conninfo(self, dbname: str = DATABASE) -> str:
        """A libpq connection string for psycopg."""
        return f"host={self.socket_dir} port={PORT} user={SUPERUSER} dbname={dbname}"

    def describe(self) -> dict[str, Any]:
        """What the results document records: version, settings, root pid."""
        return {
            "engine": "postgresql",
            "version": self.version,
            "pid": self.pid,
            "settings": {name: value for name, value, _ in SETTINGS},
        }

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the server's log, read from the file it writes to, not its path."""
        if self._log is None:
            return ""
        fd = self._log.fileno()
        size = os.fstat(fd).st_size
        text = os.pread(fd, TAIL_BYTES, max(0, size - TAIL_BYTES)).decode(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def start(self) -> Self:
        """initdb, start the postmaster, create the database; raise ServerStartError on failure."""
        if self._proc is not None:
            raise RuntimeError("PostgreSQL is already started")
        binaries = find_binaries()
        if binaries is None:
            raise PostgresMissingError(NAME, f"PostgreSQL is not installed: {INSTALL_HINT}")
        account = server_account()
        self._dir = Path(tempfile.mkdtemp(prefix="dsc-postgres-"))
        leftovers.registry().add_dir(self._dir)
        try:
            # Created while the directory is ours alone: once its account owns it, the path can
            # name anything (a link to /etc/shadow), and root must never open or chown it.
            self._log = _create_log(self.log_path)
            if account is not None:
                self._uid = account.pw_uid
                os.chown(self._dir, account.pw_uid, account.pw_gid)
            self._initdb(binaries, account)
            self._launch(binaries, account)
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _as(self, account: pwd.struct_passwd | None) -> dict[str, Any]:
        """Popen arguments that run a child as ``account`` (nothing when we are not root)."""
        # A minimal environment: no PG* variables of ours, and the C locale initdb is told to use.
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"}
        if account is None:
            return {"env": env, "cwd": self.directory}
        env["HOME"] = self.directory.as_posix()
        return {
            "env": env,
            "cwd": self.directory,
            "user": account.pw_uid,
            "group": account.pw_gid,
            "extra_groups": [],
        }

    def _initdb(self, binaries: Path, account: pwd.struct_passwd | None) -> None:
        argv = [str(binaries / "initdb"), "--pgdata", str(self.directory / "data")]
        # --no-sync: nothing here needs to survive a crash; C locale: same sort order everywhere.
        argv += ["--username", SUPERUSER, "--auth", "trust", "--encoding", "UTF8"]
        argv += ["--locale", "C", "--no-sync", "--no-instructions"]
        logger.info("initdb: %s", " ".join(argv))
        done = subprocess.run(argv, capture_output=True, timeout=120, **self._as(account))
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).decode(errors="replace")
            raise ServerStartError(NAME, f"initdb exited with code {done.returncode}", tail)

    def _launch(self, binaries: Path, account: pwd.struct_passwd | None) -> None:
        argv = [str(binaries / "postgres"), "-D", str(self.directory / "data")]
        argv += ["-c", f"unix_socket_directories={self.socket_dir}"]
        for name, value, _ in SETTINGS:
            argv += ["-c", f"{name}={value}"]
        logger.info("starting PostgreSQL: %s", " ".join(argv))
        # Started and owned as one step: a stop signal in between would orphan the postmaster.
        with held_stop_signals():
            self._proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                # Its own group, as a stack's: one signal reaches every backend, and Ctrl-C in
                # our terminal does not stop the database under the stacks' feet.
                process_group=0,
                **self._as(account),
            )
            _LIVE.add(self)
            self._tree = ProcessTree(self._proc, NAME)

    def _wait_ready(self) -> None:
        import psycopg

        deadline = time.monotonic() + self.start_timeout
        problem = "no answer yet"
        while time.monotonic() < deadline:
            assert self._proc is not None
            code = self._proc.poll()
            if code is not None:
                raise self._start_error(f"exited with code {code} while starting")
            try:
                with psycopg.connect(self.conninfo("postgres"), connect_timeout=2) as conn:
                    conn.autocommit = True  # CREATE DATABASE refuses a transaction block
                    conn.execute(f"CREATE DATABASE {DATABASE}")
                    row = conn.execute("SHOW server_version").fetchone()
                self.version = str(row[0]) if row else ""
                self._note_segments()
                return
            except psycopg.OperationalError as exc:
                problem = str(exc).strip().splitlines()[0] if str(exc).strip() else "refused"
            time.sleep(POLL_INTERVAL)
        raise self._start_error(f"not ready after {self.start_timeout:g} s ({problem})")

    def _start_error(self, reason: str) -> ServerStartError:
        return ServerStartError(NAME, reason, self.log_tail(50))

    def _note_segments(self) -> None:
        """Remember the shared memory the postmaster created, while its pid is surely its own."""
        if self._proc is not None and self._proc.poll() is None:
            self._segments.update(sysvshm.created_by(self._proc.pid, self._uid))
            leftovers.registry().add_segments(tuple(self._segments))

    def stop(self) -> None:
        """Fast shutdown, then immediate, then SIGKILL; remove every trace; idempotent."""
        proc, tree = self._proc, self._tree
        try:
            if proc is not None and tree is not None:
                self._note_segments()
                try:
                    # SIGINT: "fast" shutdown (ends the sessions, checkpoints, exits). SIGTERM
                    # would wait for every client to disconnect; SIGQUIT skips the clean-up.
                    steps = ((signal.SIGINT, self.stop_grace), (signal.SIGQUIT, 2.0))
                    tree.stop(steps, group=False)
                finally:
                    self._remove_shared_memory()
        finally:
            self._proc = None
            self._tree = None
            _LIVE.discard(self)
            if self._log is not None:
                self._log.close()
                self._log = None
            if self._dir is not None:
                shutil.rmtree(self._dir, ignore_errors=True)
                leftovers.registry().forget_dir(self._dir)
                self._dir = None

    def _remove_shared_memory(self) -> None:
        """A killed postmaster leaves its SysV segments behind: remove those we saw it create."""
        for segment in self._segments:
            if sysvshm.remove_if_unchanged(segment):
                logger.info("removed shared memory segment %d", segment.id)
        leftovers.registry().forget_segments(tuple(self._segments))
        self._segments.clear()


def _create_log(path: Path) -> IO[bytes]:
    """A new file at ``path``, never an existing one nor a link; read and written by descriptor."""
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    # The server writes through the descriptor it inherits: the file can stay root's, 0600.
    return os.fdopen(os.open(path, flags, 0o600), "r+b", buffering=0)


@atexit.register
def _stop_all() -> None:
    for server in list(_LIVE):
        with contextlib.suppress(Exception):
            print("stopping PostgreSQL left running at exit", file=sys.stderr)
            server.stop()
