"""One measured run: its data (appdata), a stack started for measurement (lifecycle), worker
counts (workers), one load cell (loadcell) with locust's raw records (records), the size sweep
(sweep), and the whole matrix in run order (runner)."""
