"""The harness: server stacks, their processes, sampling, and the command line."""
