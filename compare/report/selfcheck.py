"""The run's self-check as the reports read it: bench's figures against an independent client's.

The measuring side (bench re-measuring a sample of its cells with a raw socket and /proc) writes
``crosscheck`` into the results document: one item per figure re-measured (their type and
reading: compare.report.crosscheck), and the run flag ``crosscheck-disagrees`` when any item is
outside its tolerance. Here they are only put into words; an item that says it disagrees (or has
no verdict) is never dropped.
"""

from __future__ import annotations

from collections.abc import Sequence

from compare.report.crosscheck import DISAGREES, CrosscheckItem


def shown(value: float | None) -> str:
    """A figure of the self-check as text: four significant digits, '-' when missing."""
    return "-" if value is None else f"{value:.4g}"


def text(item: CrosscheckItem) -> str:
    """'uvicorn ttfb_p50_ms: bench 12.1, independent 30.4 (difference 18.3)'."""
    return (
        f"{item.stack} {item.what}: bench {shown(item.bench)}, independent "
        f"{shown(item.independent)} (difference {shown(item.difference)})"
    )


def disagreements(items: Sequence[CrosscheckItem]) -> list[CrosscheckItem]:
    """The items outside their tolerance."""
    return [item for item in items if not item.within_tolerance]


def agrees(items: Sequence[CrosscheckItem], run_flags: Sequence[str]) -> bool:
    """Whether nothing of the self-check disagrees (true also when the run made none)."""
    return not disagreements(items) and DISAGREES not in run_flags


def summary(items: Sequence[CrosscheckItem], run_flags: Sequence[str]) -> str | None:
    """The self-check in one line for the answer, or None when the run made none."""
    wrong = disagreements(items)
    if wrong:
        return (
            f"Self-check: an independent client disagrees with {len(wrong)} of {len(items)} "
            "re-measured figures, so this run's figures are suspect: "
            + "; ".join(text(item) for item in wrong)
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
