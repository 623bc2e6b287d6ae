"""Install the Debian packages some tests need (nginx, chromium, postgresql) when missing.

`make test` runs this first. It never fails the build: without root, apt or a network the tests
that need a package skip and say why.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys

# Debian package -> the program the tests look for (PostgreSQL's initdb: compare.servers.postgres).
PACKAGES = {"nginx": "nginx", "chromium": "chromium", "postgresql": "initdb"}
TIMEOUT_S = 900


def missing() -> list[str]:
    """Packages whose program is not on this machine."""
    # Debian keeps PostgreSQL's server programs out of PATH, one directory per major version.
    postgres = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/bin", *postgres])
    return [pkg for pkg, program in PACKAGES.items() if shutil.which(program, path=search) is None]


def main() -> int:
    """Install what is missing if this process may; report what it could not."""
    wanted = missing()
    if not wanted:
        return 0
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        print(
            f"system packages: {' '.join(wanted)} missing; tests that need them will skip "
            f"(install with: sudo apt-get install {' '.join(wanted)})",
            file=sys.stderr,
        )
        return 0
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    steps = [
        [apt, "update", "-qq"],
        [apt, "install", "-y", "-qq", "--no-install-recommends", *wanted],
    ]
    print(f"system packages: installing {' '.join(wanted)}", file=sys.stderr, flush=True)
    for step in steps:
        try:
            done = subprocess.run(step, env=env, timeout=TIMEOUT_S, capture_output=True, text=True)
        except subprocess.TimeoutExpired:
            print(
                f"system packages: '{' '.join(step)}' timed out; tests will skip", file=sys.stderr
            )
            return 0
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            print(
                f"system packages: '{' '.join(step)}' failed ({tail[0]}); tests will skip",
                file=sys.stderr,
            )
            return 0
    still = missing()
    if still:
        print(f"system packages: {' '.join(still)} still missing; tests will skip", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
