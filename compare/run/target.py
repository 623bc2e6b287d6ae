"""What a run's stacks serve and its load generator asks for: the one seam for another target.

Today that is this project's export with its data (compare.run.appdata.RunData). A team's own
Django project is a second kind of target: it says which settings module, secret key and
database its stacks run with, what locust sends, and what the results record of it; the run
(compare.run.run) hands those to every child it starts and changes nothing else.
"""

from __future__ import annotations

from typing import Any, Protocol, Self

from compare.servers.stacks import AppTarget


class Target(Protocol):
    """A run's target: prepared by start(), given to the stacks and to locust as values."""

    def start(self) -> Self:
        """Prepare it (start a database, migrate, seed); return self."""
        ...

    def stop(self) -> None:
        """Stop what start() started; safe to call again."""
        ...

    @property
    def app_target(self) -> AppTarget:
        """The application every stack loads, from where, and the path readiness asks."""
        ...

    @property
    def database_pid(self) -> int | None:
        """A database the run started (its root pid): pinned and sampled with every stack."""
        ...

    @property
    def warm_paths(self) -> tuple[str, ...]:
        """What a stack's warm-up fetches (empty: this project's export and /ping)."""
        ...

    @property
    def counts_rows(self) -> bool:
        """Whether its bodies are this project's export, whose rows a cell knows (else bytes)."""
        ...

    def stack_variables(self) -> dict[str, str]:
        """What every stack's environment holds on top of the harness's: key, database, profile."""
        ...

    def locust_variables(self) -> dict[str, str]:
        """What locust's environment holds on top of the harness's (secrets: never on argv)."""
        ...

    def locust_options(self) -> dict[str, int | float | str]:
        """Locust options (loadtests.options dest names) every load of the run passes."""
        ...

    def describe(self) -> dict[str, Any]:
        """What the results document records of it (never a password)."""
        ...
