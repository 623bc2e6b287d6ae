"""Statistics used by every report: percentiles, spreads, and judging differences. Pure."""

from __future__ import annotations

import functools
import itertools
import math
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np


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


# --- Judging a difference between two sets of repetitions -------------------------------------
#
# The unit of replication is the repetition (a cell), not the request: requests of one cell share
# its machine state and worker placement, so treating them as independent samples makes
# intervals far too narrow (an A/A run then "finds" differences). Each repetition gives one value
# per figure; two stacks' values are compared with a two-sample permutation test on the
# difference of means (of logarithms, for figures compared as ratios). It is exact under
# exchangeability, which is what "no difference" means, whatever the values' distribution: an
# A/A comparison is called different at most ALPHA of the time. The 95% interval is the set of
# shifts the same test does not reject (test inversion), so verdict and interval always agree.

ALPHA = 0.05
# With fewer repetitions on a side an exact two-sided test cannot reach ALPHA at all:
# 3 + 3 values have 20 splits, so the smallest p-value is 2/20 = 0.1.
MIN_REPETITIONS = 4
EXACT_LIMIT = 20_000  # splits enumerated exactly up to this many; a seeded sample above
SAMPLED_SPLITS = 10_000
DEFAULT_MIN_RELATIVE = 0.05

Kind = Literal["ratio", "difference"]
Verdict = Literal["clear", "not-meaningful", "no-difference", "not-judged"]


@functools.cache
def _splits(n_a: int, n_b: int) -> np.ndarray:
    """Every way (or a fixed sample of ways) to choose which pooled values form group a."""
    n = n_a + n_b
    if math.comb(n, n_a) <= EXACT_LIMIT:
        chosen = list(itertools.combinations(range(n), n_a))
    else:
        rng = random.Random(20261202)  # fixed: the same document gives the same report
        chosen = [tuple(range(n_a))]  # the observed split is always one of them
        chosen += [tuple(sorted(rng.sample(range(n), n_a))) for _ in range(SAMPLED_SPLITS - 1)]
    mask = np.zeros((len(chosen), n), dtype=bool)
    for row, members in enumerate(chosen):
        mask[row, list(members)] = True
    mask.setflags(write=False)  # cached and shared
    return mask


class PermutationTest:
    """mean(a) - mean(b) against every split of the pooled values, for any shift of a at once.

    Shifting a by d moves each split's statistic by d times (share of a's values it put on the
    a side - share it put on the b side), so one pass over the splits serves every shift: the
    p-value of any shift, and the interval by bisection, cost a vector operation each.
    """

    def __init__(self, a: Sequence[float], b: Sequence[float]) -> None:
        x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        pooled = np.concatenate([x, y])
        mask = _splits(len(x), len(y))
        self.stats = pooled @ mask.T / len(x) - pooled @ (~mask).T / len(y)
        from_a = mask[:, : len(x)].sum(axis=1)
        self.slopes = from_a / len(x) - (len(x) - from_a) / len(y)
        self.observed = float(x.mean() - y.mean())

    def p(self, shift: float = 0.0) -> float:
        """Two-sided p-value of mean(a) - mean(b) = shift."""
        observed = abs(self.observed - shift)
        moved = np.abs(self.stats - shift * self.slopes)
        # A hair of tolerance: ties in exact arithmetic must count as ties in floating point.
        return float(np.mean(moved >= observed - 1e-9 * (1 + observed)))


def permutation_p(a: Sequence[float], b: Sequence[float], shift: float = 0.0) -> float:
    """Two-sided p-value of mean(a) - mean(b) = shift, by permutation of the pooled values."""
    return PermutationTest(a, b).p(shift)


def _bound(test: PermutationTest, inside: float, outside: float) -> float:
    """Bisect for the shift where the test starts to reject (between an accepted and a rejected)."""
    for _ in range(60):
        middle = (inside + outside) / 2
        if test.p(middle) > ALPHA:
            inside = middle
        else:
            outside = middle
    return (inside + outside) / 2


def shift_interval(a: Sequence[float], b: Sequence[float]) -> tuple[float, float, float]:
    """(estimate, low, high) of mean(a) - mean(b), the interval by inverting the permutation test.

    Infinite bounds when even an extreme shift is not rejected (too few repetitions).
    """
    test = PermutationTest(a, b)
    estimate = test.observed
    spread_ = float(np.ptp(np.concatenate([np.asarray(a, float), np.asarray(b, float)])))
    far = 10 * (spread_ + abs(estimate)) + 1e-9
    if test.p(estimate + far) > ALPHA:
        return estimate, -math.inf, math.inf
    return estimate, _bound(test, estimate, estimate - far), _bound(test, estimate, estimate + far)


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
        }


def judge(
    a: Sequence[float],
    b: Sequence[float],
    kind: Kind,
    *,
    floor: float = 0.0,
    min_relative: float = DEFAULT_MIN_RELATIVE,
) -> Judgement:
    """Is a different from b? Clear only when the test says so at ALPHA *and* the difference
    is at least ``min_relative`` of b and at least ``floor`` in the figure's own unit."""
    n_a, n_b = len(a), len(b)
    if kind == "ratio" and n_a and n_b and min(min(a), min(b)) <= 0:
        kind = "difference"  # a ratio of values at or below zero means nothing
    if min(n_a, n_b) < MIN_REPETITIONS:
        point = None
        if n_a and n_b:  # what was seen, without a verdict on it
            point = (
                math.exp(float(np.mean(np.log(a)) - np.mean(np.log(b))))
                if kind == "ratio"
                else float(np.mean(a) - np.mean(b))
            )
        return Judgement(
            kind, point, None, None, None, n_a, n_b, "not-judged",
            f"needs at least {MIN_REPETITIONS} repetitions on each side, has {n_a} and {n_b}",
        )  # fmt: skip
    if kind == "ratio":
        la, lb = [math.log(v) for v in a], [math.log(v) for v in b]
        shift, low, high = shift_interval(la, lb)
        p = permutation_p(la, lb)
        estimate, low, high = math.exp(shift), math.exp(low), math.exp(high)
        gap = abs(math.exp(float(np.mean(la))) - math.exp(float(np.mean(lb))))
        big_enough = abs(shift) >= math.log1p(min_relative) and gap >= floor
        size = f"{estimate:.3g}x"
    else:
        estimate, low, high = shift_interval(a, b)
        p = permutation_p(a, b)
        reference = max(abs(float(np.mean(a))), abs(float(np.mean(b))))
        big_enough = abs(estimate) >= max(floor, min_relative * reference)
        size = f"{estimate:+.3g}"
    if p > ALPHA:
        verdict: Verdict = "no-difference"
        reason = f"p = {p:.2f} > {ALPHA:g}: within the repetitions' own variation"
    elif not big_enough:
        verdict = "not-meaningful"
        reason = (
            f"p = {p:.3f}, but {size} is under the minimum effect "
            f"({min_relative:.0%}" + (f", {floor:g}" if floor else "") + ")"
        )
    else:
        verdict, reason = "clear", f"p = {p:.3f}"
    return Judgement(kind, estimate, low, high, p, n_a, n_b, verdict, reason)
