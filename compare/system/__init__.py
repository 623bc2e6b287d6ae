"""The operating system's side, with no knowledge of stacks or runs: process trees (proctree),
their memory and CPU (sampler), CPU placement (placement), loopback ports (ports), stop signals
(interrupts), the start/stop protocol (startstop), one measured HTTP download (download), the
independent measuring client: a raw socket and /proc (rawclient), and SysV shared memory
segments (sysvshm)."""
