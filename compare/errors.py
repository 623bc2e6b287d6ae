"""The harness's own errors: the CLI turns these into one-line messages and an exit code."""


class CompareError(Exception):
    """An expected failure with a message meant for the person at the terminal."""

    exit_code = 1


class UsageError(CompareError):
    """Bad input or unusable data where a caller (CI) must tell it from a finding: exit 2."""

    exit_code = 2
