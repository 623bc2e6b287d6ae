"""The harness: server stacks, their processes, sampling, and the command line."""

from pathlib import Path

# The checkout: stacks, locust and ``python -m project`` run from here, with it on PYTHONPATH.
REPO_ROOT = Path(__file__).resolve().parent.parent
