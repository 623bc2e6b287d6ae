"""One run under its owner: the Run (run), modelled on locust's Environment, holds the config,
the target (target: what the stacks serve; appdata: this project's export and its data), each
child's environment, the CPU placement, the results writer and progress. Under it: a stack
started for measurement (lifecycle), the one locust launcher (locust), worker counts (workers),
one load cell (loadcell) with locust's raw records (records), the size sweep (sweep), the whole
matrix in run order (runner), a bench from its config to its reports and exit status (bench),
the encode benchmark (encode), and the Server tab's feed of samples for the ui command
(serverfeed). After the cells, the run's self-check by an independent client (crosscheck)."""
