"""The harness: run Django's export under several server stacks, measure them, report.

Its layers, each importing only from those above it (and from loadtests/ and project/):

- basics: errors, config (the run's frozen BenchConfig, name lists), ports, placement,
  interrupts (stop signals as Ctrl-C), startstop (start and stop as a context manager),
  records (locust's raw records), results (the versioned results document), environment;
- stacks as data: stacks (each stack's command line), nginx, prefork, proxy and supervisor (the
  programs a stack's command line runs);
- processes: proctree (stop a process tree), server (ServerProcess: one stack's lifecycle),
  postgres, sampler (ProcessTreeSampler), download, appdata (a run's database and app profile);
- measuring: workers, lifecycle (MeasuredServer: one stack measured), loadcell, sweep, runner
  (the whole matrix, into the results document);
- report/: everything computed from a results document alone (figures, statistics, curves, the
  reports); nothing above imports it;
- commands/ and cli: one module per subcommand of ``python -m compare``; errors become messages
  and exit codes there only.
"""

from pathlib import Path

# The checkout: stacks, locust and ``python -m project`` run from here, with it on PYTHONPATH.
REPO_ROOT = Path(__file__).resolve().parent.parent
