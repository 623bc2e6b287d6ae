"""Statistics used by every report: percentiles, spreads, and judging differences. Pure."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from compare.report import randomization
from compare.report.randomization import (
    ALPHA,
    paired_smallest_p,
    permutation_p,
    shift_interval,
    two_sample_smallest_p,
)
from compare.report.text import plural

__all__ = ["ALPHA", "permutation_p", "shift_interval"]


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between closest ranks."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, not {q}")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class Spread:
    """The median of repeated measurements with their range."""

    median: float
    low: float
    high: float
    n: int

    @property
    def relative(self) -> float:
        """Half the range as a share of the median (0 for a single value)."""
        if self.n < 2 or self.median == 0:
            return 0.0
        return (self.high - self.low) / 2 / abs(self.median)


def spread(values: Sequence[float]) -> Spread:
    """Median and range of repeated measurements."""
    if not values:
        raise ValueError("spread of no values")
    return Spread(statistics.median(values), min(values), max(values), len(values))


def centre(values: Sequence[float], kind: Kind) -> float:
    """The centre a judgement compares: the geometric mean for ratios (of positive values),
    else the mean; so a printed factor is exactly the ratio of the printed values."""
    if kind == "ratio" and min(values) > 0:
        return math.exp(statistics.fmean(math.log(v) for v in values))
    return statistics.fmean(values)


# --- Judging a difference between two sets of repetitions -------------------------------------
#
# The unit of replication is the repetition (a cell), not the request: requests of one cell share
# its machine state and worker placement, so treating them as independent samples makes
# intervals far too narrow (an A/A run then "finds" differences). Each repetition gives one value
# per figure; two stacks' values are compared with an exact randomization test
# (compare.report.randomization) on the difference of means (of logarithms, for figures compared
# as ratios): on within-pair differences where the two were measured back to back as pairs, else
# on the two samples. Either is exact under "no difference" whatever the values' distribution:
# an A/A comparison is called clear at most ALPHA of the time. The 95% interval is the set of
# shifts the same test does not reject, so verdict and interval always agree.

DEFAULT_MIN_RELATIVE = 0.05
# The fewest repetitions per stack that can be judged at ALPHA: 3 + 3 values have 20 splits,
# so their smallest p-value is 2/20 = 0.1; 4 + 4 reach 2/70. Unequal sizes need fewer (3 + 4:
# 1/35), and pairs more (5 pairs: 2/32): the refusal follows the sizes' smallest p-value.
MIN_REPETITIONS = 4
MIN_PAIRS = 6

Kind = Literal["ratio", "difference"]
# Version 1's classification of the figures document, on the point estimate (kept, stable).
Verdict = Literal["clear", "not-meaningful", "no-difference", "not-judged"]
# The words every report uses: clear (the interval excludes no difference and the estimate is
# beyond the minimum effect), no meaningful difference (the whole interval lies within the
# minimum effect: an equivalence), inconclusive (anything else), not judged.
Conclusion = Literal["clear", "no-meaningful-difference", "inconclusive", "not-judged"]
CONCLUSIONS: tuple[Conclusion, ...] = (
    "clear",
    "no-meaningful-difference",
    "inconclusive",
    "not-judged",
)
Design = Literal["paired", "two-sample"]


def observed(a: Sequence[float], b: Sequence[float], kind: Kind) -> float | None:
    """What was seen, judged or not: a / b of geometric means, or a - b of means."""
    if not a or not b:
        return None
    if kind == "ratio":
        return math.exp(float(np.mean(np.log(a)) - np.mean(np.log(b))))
    return float(np.mean(a) - np.mean(b))


def too_few(n_a: int, n_b: int, design: Design) -> str | None:
    """Why these sizes cannot be judged at ALPHA (their smallest p-value is above it), or None."""
    if design == "paired":
        smallest = paired_smallest_p(n_a)
        if smallest <= ALPHA:
            return None
        return (
            f"{plural(n_a, 'pair')} can reach p = {smallest:.2g} at best "
            f"(2 of {2**n_a} sign flips), "
            f"above {ALPHA:g}: at least {MIN_PAIRS} are needed"
        )
    smallest = two_sample_smallest_p(n_a, n_b)
    if smallest <= ALPHA:
        return None
    splits = math.comb(n_a + n_b, n_a)
    return (
        f"{n_a} and {plural(n_b, 'repetition')} can reach p = {smallest:.2g} at best "
        f"({round(smallest * splits)} of {splits} splits), above {ALPHA:g}"
    )


@dataclass(frozen=True)
class Judgement:
    """Two stacks (or two runs) compared on one figure, over their repetitions."""

    kind: Kind  # "ratio": a / b (of geometric means); "difference": a - b (of means)
    estimate: float | None
    low: float | None  # the 95% interval of the estimate
    high: float | None
    p_value: float | None
    n_a: int
    n_b: int
    verdict: Verdict
    reason: str
    conclusion: Conclusion = "not-judged"
    # The smallest difference that matters, in the estimate's terms: a factor (1.05: 5% either
    # way) for ratios, an amount for differences.
    min_effect: float | None = None
    design: Design = "two-sample"
    too_few: bool = False  # not judged because the sizes cannot reach ALPHA

    @classmethod
    def refused(
        cls, kind: Kind, a: Sequence[float], b: Sequence[float], reason: str, *, seen: bool = True
    ) -> Judgement:
        """Not judged, and why; ``seen``: keep what was observed, without a verdict on it."""
        estimate = observed(a, b, kind) if seen else None
        return cls(kind, estimate, None, None, None, len(a), len(b), "not-judged", reason)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready, infinite bounds as None."""

        def finite(v: float | None) -> float | None:
            return None if v is None or not math.isfinite(v) else round(v, 6)

        return {
            "kind": self.kind,
            "estimate": finite(self.estimate),
            "low": finite(self.low),
            "high": finite(self.high),
            "p_value": finite(self.p_value),
            "n_a": self.n_a,
            "n_b": self.n_b,
            "verdict": self.verdict,
            "reason": self.reason,
            "conclusion": self.conclusion,
            "min_effect": finite(self.min_effect),
            "design": self.design,
        }


def judge(
    a: Sequence[float],
    b: Sequence[float],
    kind: Kind,
    *,
    floor: float = 0.0,
    min_relative: float = DEFAULT_MIN_RELATIVE,
    paired: bool = False,
    unit: str = "",
) -> Judgement:
    """Is a different from b, by at least ``min_relative`` and ``floor`` (in ``unit``, which the
    reason's differences are written in)?

    ``paired``: a[i] and b[i] were measured together (back to back): the test runs on their
    differences. Clear: the test rejects 'no difference' at ALPHA and the estimate is at least
    the minimum effect; no meaningful difference: the whole 95% interval lies within it.
    """
    n_a, n_b = len(a), len(b)
    if kind == "ratio" and n_a and n_b and min(min(a), min(b)) <= 0:
        kind = "difference"  # a ratio of values at or below zero means nothing
    design: Design = "paired" if paired else "two-sample"
    refusal = too_few(n_a, n_b, design)
    if refusal is not None:
        return replace(Judgement.refused(kind, a, b, refusal), design=design, too_few=True)
    x, y = ([math.log(v) for v in a], [math.log(v) for v in b]) if kind == "ratio" else (a, b)
    test = randomization.paired(x, y) if paired else randomization.two_sample(x, y)
    p = test.p()
    shift = test.observed
    low, high = test.interval()
    if kind == "ratio":
        smaller = math.exp(min(float(np.mean(x)), float(np.mean(y))))
        margin = max(math.log1p(min_relative), math.log1p(floor / smaller))
        estimate, shown = math.exp(shift), (math.exp(low), math.exp(high), math.exp(margin))
        size, effect = f"{estimate:.3g}x", f"{math.expm1(margin):.0%}"
    else:
        reference = max(abs(float(np.mean(a))), abs(float(np.mean(b))))
        margin = max(floor, min_relative * reference)
        estimate, shown = shift, (low, high, margin)
        size, effect = _text(estimate, kind, unit), _text(margin, kind, unit).lstrip("+")
    big_enough = abs(shift) >= margin
    verdict: Verdict = "no-difference" if p > ALPHA else "clear" if big_enough else "not-meaningful"
    interval = f"{_text(shown[0], kind)} to {_text(shown[1], kind, unit)}"
    conclusion: Conclusion
    if p <= ALPHA and big_enough:
        conclusion, reason = "clear", f"p = {p:.3f}"
    elif -margin < low and high < margin:
        conclusion = "no-meaningful-difference"
        reason = f"p = {p:.2f}; the whole 95% interval ({interval}) is within {effect}"
    elif p <= ALPHA:
        conclusion = "inconclusive"
        reason = (
            f"p = {p:.3f}, but {size} is under the minimum effect ({effect}) while the 95% "
            f"interval ({interval}) reaches beyond it"
        )
    else:
        conclusion = "inconclusive"
        reason = (
            f"p = {p:.2f}: the 95% interval ({interval}) allows no difference and one beyond "
            f"the minimum effect ({effect})"
        )
    return Judgement(
        kind, estimate, shown[0], shown[1], p, n_a, n_b, verdict, reason,
        conclusion, shown[2], design,
    )  # fmt: skip


def _text(value: float, kind: Kind, unit: str = "") -> str:
    if not math.isfinite(value):
        return "unbounded"
    return f"{value:.3g}x" if kind == "ratio" else f"{value:+.3g} {unit}".rstrip()
