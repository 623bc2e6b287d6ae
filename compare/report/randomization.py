"""Exact randomization tests of a shift between two sets of repetitions, and their intervals. Pure.

Two designs, one shape. Two-sample: mean(a) - mean(b) against every way to deal the pooled values
into groups of their sizes (exact under exchangeability, whatever the values' distribution).
Paired: the mean of within-pair differences a_i - b_i against every way to flip their signs (a
pair measured back to back shares the machine's state of the moment, so drift between pairs
cancels). Each test is a table of statistics, one per rearrangement, that moves linearly with the
shift tested; so the p-value of any shift, and the 95% interval by bisection (the shifts the test
does not reject: verdict and interval always agree), cost one vector operation each.
"""

from __future__ import annotations

import functools
import itertools
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

ALPHA = 0.05
EXACT_LIMIT = 20_000  # rearrangements enumerated exactly up to this many; a seeded sample above
SAMPLED = 10_000
_SEED = 20261202  # fixed: the same document gives the same report


def two_sample_smallest_p(n_a: int, n_b: int) -> float:
    """The smallest p-value a two-sample test of these sizes can give (fully separated groups).

    Two equal groups have a mirror split as extreme as the observed one: 2 of comb(n, n_a).
    """
    if not n_a or not n_b:
        return 1.0
    splits = math.comb(n_a + n_b, n_a)
    if splits > EXACT_LIMIT:
        return 1 / SAMPLED
    return (2 if n_a == n_b else 1) / splits


def paired_smallest_p(pairs: int) -> float:
    """The smallest p-value a sign-flip test of this many pairs can give: all signs alike."""
    if not pairs:
        return 1.0
    return 1 / SAMPLED if 2**pairs > EXACT_LIMIT else 2 / 2**pairs


@functools.cache
def _splits(n_a: int, n_b: int) -> np.ndarray:
    """Every way (or a fixed sample of ways) to choose which pooled values form group a."""
    n = n_a + n_b
    if math.comb(n, n_a) <= EXACT_LIMIT:
        chosen = list(itertools.combinations(range(n), n_a))
    else:
        rng = random.Random(_SEED)
        chosen = [tuple(range(n_a))]  # the observed split is always one of them
        chosen += [tuple(sorted(rng.sample(range(n), n_a))) for _ in range(SAMPLED - 1)]
    mask = np.zeros((len(chosen), n), dtype=bool)
    for row, members in enumerate(chosen):
        mask[row, list(members)] = True
    mask.setflags(write=False)  # cached and shared
    return mask


@functools.cache
def _signs(pairs: int) -> np.ndarray:
    """Every sign vector (or a fixed sample, the observed all-plus first) for ``pairs`` pairs."""
    if 2**pairs <= EXACT_LIMIT:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=pairs)))
    else:
        rng = np.random.default_rng(_SEED)
        signs = rng.choice((1.0, -1.0), size=(SAMPLED, pairs))
        signs[0] = 1.0
    signs.setflags(write=False)
    return signs


@dataclass(frozen=True)
class ShiftTest:
    """A randomization test of 'the shift is d' for every d at once.

    ``stats[k] - d * slopes[k]`` is rearrangement k's statistic under shift d; ``observed - d``
    is the data's own.
    """

    stats: np.ndarray
    slopes: np.ndarray
    observed: float
    scale: float  # the data's range: how far an interval's bound can sensibly lie

    def p(self, shift: float = 0.0) -> float:
        """Two-sided p-value of 'the shift is ``shift``'."""
        observed = abs(self.observed - shift)
        moved = np.abs(self.stats - shift * self.slopes)
        # A hair of tolerance: ties in exact arithmetic must count as ties in floating point.
        return float(np.mean(moved >= observed - 1e-9 * (1 + observed)))

    def interval(self) -> tuple[float, float]:
        """The 95% interval of the shift: the shifts the test does not reject at ALPHA.

        Infinite when even an extreme shift is not rejected (too few repetitions).
        """
        # Beyond every value: there each rearrangement's statistic is as extreme as it gets (and
        # identical values still get a bound that the tolerance of p() cannot swallow).
        far = 10 * (self.scale + abs(self.observed)) + 1e-6
        if self.p(self.observed + far) > ALPHA or self.p(self.observed - far) > ALPHA:
            return -math.inf, math.inf
        return (
            self._bound(self.observed, self.observed - far),
            self._bound(self.observed, self.observed + far),
        )

    def _bound(self, inside: float, outside: float) -> float:
        """Bisect for the shift where the test starts to reject."""
        for _ in range(60):
            middle = (inside + outside) / 2
            if self.p(middle) > ALPHA:
                inside = middle
            else:
                outside = middle
        return (inside + outside) / 2


def two_sample(a: Sequence[float], b: Sequence[float]) -> ShiftTest:
    """mean(a) - mean(b) against every split of the pooled values.

    Shifting a by d moves a split's statistic by d times (share of a's values it put on the a
    side - share it put on the b side).
    """
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    pooled = np.concatenate([x, y])
    mask = _splits(len(x), len(y))
    from_a = mask[:, : len(x)].sum(axis=1)
    return ShiftTest(
        stats=pooled @ mask.T / len(x) - pooled @ (~mask).T / len(y),
        slopes=from_a / len(x) - (len(x) - from_a) / len(y),
        observed=float(x.mean() - y.mean()),
        scale=float(np.ptp(pooled)),
    )


def paired(a: Sequence[float], b: Sequence[float]) -> ShiftTest:
    """mean(a_i - b_i) against every flip of the differences' signs (a_i, b_i measured together).

    Shifting every difference by d moves a flip's statistic by d times its mean sign.
    """
    if len(a) != len(b):
        raise ValueError(f"pairs need as many values on each side, not {len(a)} and {len(b)}")
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    signs = _signs(len(d))
    return ShiftTest(
        stats=signs @ d / len(d),
        slopes=signs.mean(axis=1),
        observed=float(d.mean()),
        scale=float(np.abs(d).max()),
    )


def permutation_p(a: Sequence[float], b: Sequence[float], shift: float = 0.0) -> float:
    """Two-sided p-value of mean(a) - mean(b) = shift, by permutation of the pooled values."""
    return two_sample(a, b).p(shift)


def shift_interval(a: Sequence[float], b: Sequence[float]) -> tuple[float, float, float]:
    """(estimate, low, high) of mean(a) - mean(b), the interval by inverting the two-sample test."""
    test = two_sample(a, b)
    return (test.observed, *test.interval())
