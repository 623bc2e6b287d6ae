"""The run's self-check as the reports read it: bench's figures against an independent client's.

The measuring side (bench re-measuring a sample of its cells with a raw socket and /proc) writes
``crosscheck`` into the results document: one item per figure re-measured, and the run flag
``crosscheck-disagrees`` when any item is outside its tolerance. Here it is only read and put
into words; an item that says it disagrees is never dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

DISAGREES = "crosscheck-disagrees"


def shown(value: float | None) -> str:
    """A figure of the self-check as text: four significant digits, '-' when missing."""
    return "-" if value is None else f"{value:.4g}"


@dataclass(frozen=True)
class CrossCheckItem:
    """One figure of one stack, as bench measured it and as the independent client did."""

    stack: str
    what: str
    bench: float | None
    independent: float | None
    difference: float | None
    within_tolerance: bool

    @classmethod
    def read(cls, stored: Mapping[str, Any]) -> CrossCheckItem:
        """From an entry of the document's ``crosscheck``."""

        def number(key: str) -> float | None:
            value = stored.get(key)
            return float(value) if isinstance(value, int | float) else None

        return cls(
            stack=str(stored.get("stack", "?")),
            what=str(stored.get("what", "?")),
            bench=number("bench"),
            independent=number("independent"),
            difference=number("difference"),
            within_tolerance=stored.get("within_tolerance") is True,
        )

    def text(self) -> str:
        """'uvicorn ttfb_p50_ms: bench 12.1, independent 30.4 (difference 18.3)'."""

        return (
            f"{self.stack} {self.what}: bench {shown(self.bench)}, independent "
            f"{shown(self.independent)} (difference {shown(self.difference)})"
        )


def read_crosscheck(stored: Any) -> tuple[CrossCheckItem, ...]:
    """Every well-formed item of a document's ``crosscheck`` (absent: none)."""
    if not isinstance(stored, Sequence) or isinstance(stored, str):
        return ()
    return tuple(CrossCheckItem.read(item) for item in stored if isinstance(item, Mapping))


def disagreements(items: Sequence[CrossCheckItem]) -> list[CrossCheckItem]:
    """The items outside their tolerance."""
    return [item for item in items if not item.within_tolerance]


def agrees(items: Sequence[CrossCheckItem], run_flags: Sequence[str]) -> bool:
    """Whether nothing of the self-check disagrees (true also when the run made none)."""
    return not disagreements(items) and DISAGREES not in run_flags


def summary(items: Sequence[CrossCheckItem], run_flags: Sequence[str]) -> str | None:
    """The self-check in one line for the answer, or None when the run made none."""
    wrong = disagreements(items)
    if wrong:
        return (
            f"Self-check: an independent client disagrees with {len(wrong)} of {len(items)} "
            "re-measured figures, so this run's figures are suspect: "
            + "; ".join(item.text() for item in wrong)
            + "."
        )
    if DISAGREES in run_flags:
        return "Self-check: the run is flagged crosscheck-disagrees (no item says where)."
    if items:
        stacks = ", ".join(dict.fromkeys(item.stack for item in items))
        return (
            f"Self-check: {len(items)} figures re-measured by an independent raw-socket client "
            f"on {stacks} agree within tolerance."
        )
    return None
