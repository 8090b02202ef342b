"""Sweep statistics: Student t quantiles, means with intervals, paired changes."""

from __future__ import annotations

import math

import pytest

from sim.experiments.stats import estimate, paired, t_quantile, t_two_sided

# t(0.975, df) from published tables (e.g. NIST/SEMATECH e-Handbook, Table 1.4.2.7.2)
T975 = {1: 12.706204736, 2: 4.302652730, 3: 3.182446305, 7: 2.364624252, 19: 2.093024054,
        30: 2.042272456, 100: 1.983971519}


@pytest.mark.parametrize("df, t", sorted(T975.items()))
def test_t_quantile_matches_the_published_table(df, t):
    assert t_quantile(df) == pytest.approx(t, abs=1e-8)


def test_t_two_sided_is_the_normal_limit_for_many_degrees_of_freedom():
    assert t_two_sided(1.959963985, 20_000) == pytest.approx(0.95, abs=1e-4)
    assert t_two_sided(0.0, 5) == 0.0


def test_estimate_is_the_mean_sample_sd_and_t_interval_of_the_known_values():
    e = estimate([2, 4, None, 4, 5, 5, 7, 9])
    xs = [2, 4, 4, 5, 5, 7, 9]
    sd = math.sqrt(sum((x - 36 / 7) ** 2 for x in xs) / 6)
    assert (e.n, e.mean) == (7, 36 / 7) and e.sd == pytest.approx(sd)
    half = t_quantile(6) * sd / math.sqrt(7)
    assert (e.low, e.high) == (pytest.approx(36 / 7 - half), pytest.approx(36 / 7 + half))


def test_estimate_of_one_value_has_no_spread_and_of_none_has_no_mean():
    assert estimate([3]) == (1, 3.0, None, None, None)
    assert estimate([None, None]) == (0, None, None, None, None)


def test_paired_changes_skip_seeds_missing_on_either_side():
    change, e = paired([10, 20, None, 40], [11, 23, 5, None])
    assert change == [1, 3, None, None]
    assert (e.n, e.mean) == (2, 2.0)
    with pytest.raises(ValueError):
        paired([1], [1, 2])
