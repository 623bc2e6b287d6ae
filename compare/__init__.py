"""The harness: run Django's export under several server stacks, measure them, report.

Its folders are its layers, each importing only from those above it (and from loadtests/ and
project/); each folder's ``__init__`` says what it holds:

- basics, here: errors, config (the run's frozen BenchConfig, name lists), results (the versioned
  results document), environment (what the run ran on);
- system/: the operating system's side, knowing nothing of stacks or runs: process trees and
  their stop, the sampler, CPU placement, ports, stop signals, one measured download, SysV
  shared memory;
- servers/: what runs a stack: each stack as data (stacks) checked against what its server
  honours (options), its lifecycle (server), nginx, the front's and daphne's supervisors, the
  run's PostgreSQL;
- run/: one measured run: its data, a stack started for measurement (lifecycle), load cells with
  locust's raw records, the size sweep, the whole matrix (runner);
- report/: everything computed from a results document alone (figures, statistics, curves, the
  reports); nothing above imports it;
- commands/ and cli: one module per subcommand of ``python -m compare``; errors become messages
  and exit codes there only.
"""

from pathlib import Path

# The checkout: stacks, locust and ``python -m project`` run from here, with it on PYTHONPATH.
REPO_ROOT = Path(__file__).resolve().parent.parent
