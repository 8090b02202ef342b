"""Means, standard deviations and 95% confidence intervals over seeds, plain and paired.

The interval of a mean over n seeds is the Student t interval, mean +- t(0.975, n-1) * sd /
sqrt(n), with the sample standard deviation (n-1 in the denominator): the seeds are a small
sample, so the normal 1.96 would be too narrow (t = 2.36 at 8 seeds). A paired change is the
same interval over the per-seed differences: common random numbers make two settings' runs of
one seed share their draws, so the differences have far less noise than either level.

Pure Python and deterministic: the same values give the same floats on every machine (sums
are `math.fsum`, the t quantile is found by bisection on an exact series), so the tables do
not depend on numpy or scipy versions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

__all__ = ["Estimate", "estimate", "paired", "t_quantile", "t_two_sided"]

CONFIDENCE = 0.95


class Estimate(NamedTuple):
    """A mean over n values, its sample sd and its two-sided 95% Student t interval."""

    n: int
    mean: float | None
    sd: float | None  # None when n < 2
    low: float | None
    high: float | None


def t_two_sided(t: float, df: int) -> float:
    """P(|T| < t) for Student's t with integer `df` degrees of freedom (exact series).

    Abramowitz and Stegun 26.7.3-4: with theta = atan(t / sqrt(df)), a finite sum of powers
    of cos(theta), odd and even df apart.
    """
    if df < 1:
        raise ValueError(f"expected df >= 1, got {df}")
    theta = math.atan(t / math.sqrt(df))
    c2 = math.cos(theta) ** 2
    s = math.sin(theta)
    if df % 2:  # odd
        if df == 1:
            return 2 * theta / math.pi
        term, total = 1.0, 1.0
        for k in range(2, df - 1, 2):  # (2*4*..*k)/(3*5*..*(k+1)) cos^k
            term *= c2 * k / (k + 1)
            total += term
        return 2 / math.pi * (theta + s * math.cos(theta) * total)
    term, total = 1.0, 1.0
    for k in range(1, df - 2, 2):  # (1*3*..*k)/(2*4*..*(k+1)) cos^(k+1)
        term *= c2 * k / (k + 1)
        total += term
    return s * total


@lru_cache(maxsize=256)
def t_quantile(df: int, confidence: float = CONFIDENCE) -> float:
    """The t with P(|T| < t) = `confidence`: the half-width factor of a two-sided interval."""
    lo, hi = 0.0, 1.0
    while t_two_sided(hi, df) < confidence:
        hi *= 2
    for _ in range(200):  # bisection to the last bit: deterministic everywhere
        mid = (lo + hi) / 2
        if mid in (lo, hi):
            break
        if t_two_sided(mid, df) < confidence:
            lo = mid
        else:
            hi = mid
    return hi


def estimate(values: Sequence[int | float | None]) -> Estimate:
    """The mean, sample sd and 95% t interval of the values that are not None."""
    xs = [v for v in values if v is not None]
    n = len(xs)
    if not n:
        return Estimate(0, None, None, None, None)
    mean = math.fsum(xs) / n
    if n < 2:
        return Estimate(1, mean, None, None, None)
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1))
    half = t_quantile(n - 1) * sd / math.sqrt(n)
    return Estimate(n, mean, sd, mean - half, mean + half)


def paired(base: Sequence[int | float | None],
           other: Sequence[int | float | None]) -> tuple[list[int | float | None], Estimate]:
    """Per-seed changes other - base (None where either is None) and their estimate."""
    if len(base) != len(other):
        raise ValueError(f"expected as many values in both, got {len(base)} and {len(other)}")
    change = [None if a is None or b is None else b - a for a, b in zip(base, other,
                                                                        strict=True)]
    return change, estimate(change)
