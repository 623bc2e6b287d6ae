"""Typed reads of the environment variables the settings (and `python -m project`) take."""

from __future__ import annotations

import os


def env_bool(name: str, default: bool) -> bool:
    """A switch: 1, true, yes or on (any case) is on; unset or empty is the default."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    """A whole number of at least 0; a ValueError names the variable otherwise."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value
