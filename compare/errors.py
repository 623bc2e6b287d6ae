"""The harness's own errors: the CLI turns these into one-line messages and an exit code."""


class CompareError(Exception):
    """An expected failure with a message meant for the person at the terminal."""
