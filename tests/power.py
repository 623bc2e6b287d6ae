"""The verdicts' power, simulated: how often a difference is called clear, by design and noise.

Each repetition's value of a figure is drawn around a centre with the machine's drift shared by
the two stacks of a pair (measured back to back: log sd ``drift``) and each value's own noise
(log sd ``within``); the two designs are judged by compare.report.stats.judge as the report does:
paired (the sign-flip test on within-pair differences) or as two samples. No server runs.

    .venv/bin/python -m tests.power          # the table in docs/measuring.md
"""

from __future__ import annotations

import math
import random
import sys
from dataclasses import dataclass

from compare.report.stats import judge

TRIALS = 1000


@dataclass(frozen=True)
class Noise:
    """How repetitions of one figure vary: each value's own log sd, and the drift between pairs."""

    within: float
    drift: float = 0.0


def pairs(effect: float, noise: Noise, n: int, rng: random.Random) -> tuple[list[float], ...]:
    """n pairs (a's centre ``effect`` above b's) measured back to back."""
    a, b = [], []
    for _ in range(n):
        phase = rng.gauss(0.0, noise.drift)
        a.append(100.0 * (1 + effect) * math.exp(phase + rng.gauss(0.0, noise.within)))
        b.append(100.0 * math.exp(phase + rng.gauss(0.0, noise.within)))
    return a, b


def clear_rate(
    effect: float, noise: Noise, n: int, *, paired: bool, trials: int = TRIALS, floor: float = 2.0
) -> float:
    """The share of simulated runs in which the difference is called clear."""
    rng = random.Random(f"{effect}-{noise}-{n}-{paired}")
    found = 0
    for _ in range(trials):
        a, b = pairs(effect, noise, n, rng)
        found += judge(a, b, "ratio", floor=floor, paired=paired).conclusion == "clear"
    return found / trials


# (label, noise): the spreads an A/A run of uvicorn measured on the 2-core development machine
# (docs/findings.md), and the drift between the phases of a run that the issue measured (1.8x).
NOISES = (
    ("2% per value, drift 2% (throughput, last byte)", Noise(0.02, 0.02)),
    ("2% per value, drift 20% (the machine's phases)", Noise(0.02, 0.20)),
    ("5% per value, drift 20%", Noise(0.05, 0.20)),
    ("10% per value, drift 5% (TTFB p50 under load)", Noise(0.10, 0.05)),
)
DESIGNS = (
    ("5 repetitions as two samples (before)", 5, False),
    ("6 pairs (the default)", 6, True),
    ("10 pairs (--repeat 10)", 10, True),
)


def table(trials: int = TRIALS) -> str:
    """A Markdown table: how often 0% (A/A), 10% and 20% differences are called clear."""
    lines = [
        "| noise | design | A/A (0%) | 10% | 20% |",
        "| --- | --- | --- | --- | --- |",
    ]
    for label, noise in NOISES:
        for design, n, paired in DESIGNS:
            rates = [
                clear_rate(effect, noise, n, paired=paired, trials=trials)
                for effect in (0.0, 0.10, 0.20)
            ]
            lines.append(f"| {label} | {design} | " + " | ".join(f"{r:.0%}" for r in rates) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(table() + "\n")
