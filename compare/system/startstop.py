"""start() and stop() as a context manager, for what the harness starts and must stop."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class StartStop:
    """``with thing:`` calls ``thing.start()``, and ``thing.stop()`` whatever happens in it."""

    def start(self) -> Self:
        """Start, and return self."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop; safe to call again."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
