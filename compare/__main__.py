"""Entry point for ``python -m compare``."""

import sys

# Measuring reads Linux's /proc (PSS, the kernel's peaks) and pins CPUs (sched_setaffinity):
# say so in one line before importing anything that would fail with a traceback.
if not sys.platform.startswith("linux"):
    sys.exit(
        f"compare: error: the harness needs Linux (/proc, CPU pinning); this is {sys.platform}"
    )

from compare.cli import main

sys.exit(main())
