"""The harness: run Django's export under several server stacks, measure them, report.

Its folders are its layers, each importing only from those above it (and from loadtests/ and
project/); each folder's ``__init__`` says what it holds:

- basics, here: errors, settings (every environment variable, declared once, and the defaults
  commands share), config (the run's frozen BenchConfig, the run profiles, name lists), results
  (the versioned results document), environment (what the run ran on);
- system/: the operating system's side, knowing nothing of stacks or runs: process trees and
  their stop, the sampler, CPU placement, ports, stop signals, one measured download, an
  independent raw-socket client, SysV shared memory;
- servers/: what runs a stack: each stack as data (stacks) checked against what its server
  honours (options), its lifecycle (server), nginx, the front's and daphne's supervisors, the
  run's PostgreSQL;
- report/: everything computed from a results document alone (figures, statistics, curves, the
  reports); nothing that measures uses it, only a finished bench writes its reports (run/bench);
- run/: one run under its owner, the Run (run): what it serves (target, appdata), a stack started
  for measurement (lifecycle), the one locust launcher (locust), load cells with locust's raw
  records, the size sweep, the whole matrix (runner), its self-check (crosscheck), a bench from
  its config to its reports (bench), the encode benchmark (encode), and the ui's feed of server
  samples (serverfeed);
- commands/ and cli: one module per subcommand of ``python -m compare`` (parsing and validation
  only); errors become messages and exit codes there only;
- dev/: developers' tools that are not tests (the Debian packages ``make test`` installs,
  headless Chromium, a live ui, the README's screenshot); the harness never imports it.
"""

from pathlib import Path

# The checkout: stacks, locust and ``python -m project`` run from here, with it on PYTHONPATH.
REPO_ROOT = Path(__file__).resolve().parent.parent
