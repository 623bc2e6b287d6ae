"""Developers' tools that are not tests: what `make test` prepares before the suite runs.

Nothing in the harness imports this folder; the Makefile and the tests do.
"""
