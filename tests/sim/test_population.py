"""The population: 987 members from 26 provinces, roles by weight, the doubling plan, intents."""

from __future__ import annotations

import numpy as np

from sim.calendar import trading_days
from sim.population import DOMINANT_HEAVY, DOMINANT_LIGHT, build_population
from sim.scenario import load_scenario


def _pop(seed: int = 1, scale: int = 1):
    sc = load_scenario()
    return sc, build_population(sc, np.random.default_rng(seed), scale)


def test_members_and_provinces_by_the_end():
    sc, pop = _pop()
    last = pop.days_total - 1
    assert pop.members_on(last) == sc.population.members == 987
    assert pop.province_count_on(last) == len(sc.population.provinces) == 26
    assert pop.members_on(0) == sc.population.members_at_start
    assert np.all(np.diff(pop.join_day) >= 0)  # later ids join later


def test_roles_follow_their_weights():
    sc, pop = _pop()
    counts = np.bincount(pop.role, minlength=len(sc.roles))
    for i, role in enumerate(sc.roles):
        assert abs(counts[i] - role.weight_pct / 100 * len(pop)) <= 3


def test_online_members_double_on_the_schedule():
    sc, pop = _pop()
    start = pop.online_on(0)
    assert start == round(sc.population.online_at_start_pct / 100 * sc.population.members_at_start)
    assert pop.online_on(pop.days_total - 1) == 2 * start
    halfway = pop.online_on(pop.days_total // 2)
    assert start < halfway < 2 * start


def test_dominant_sellers_hold_their_share_of_supply():
    sc, pop = _pop()
    active_days = pop.days_total - pop.join_day
    for j, p in enumerate(sc.products):
        dom = {"light": DOMINANT_LIGHT, "heavy": DOMINANT_HEAVY}[p.dominant] - 1
        total = float((pop.sell_rate[:, j] * active_days).sum())
        share = pop.sell_rate[dom, j] * active_days[dom] / total
        assert abs(share - p.dominant_share_pct / 100) < 1e-9


def test_buying_intent_totals_the_scenario_target_whatever_the_join_order():
    sc, pop = _pop()
    cal = sc.calendar
    ndays = len(trading_days(cal.start, cal.end, cal.holidays))
    months = ((cal.end - cal.start).days + 1) / 30.4375
    active_days = pop.days_total - pop.join_day
    for j, p in enumerate(sc.products):
        target = p.monthly_tonnes * 1000 * months * sc.behaviour.volume_factor
        got = float((pop.buy_rate[:, j] * active_days).sum())
        assert abs(got - target) < 1e-6 * target
    assert ndays == pop.days_total


def test_holdings_are_whole_lots_and_never_negative():
    sc, pop = _pop()
    lots = np.array([p.lot for p in sc.products])
    assert np.all(pop.stock % lots == 0) and np.all(pop.stock >= 0)
    assert np.all(pop.cash >= 0)


def test_scale_multiplies_the_population():
    _, pop = _pop(scale=3)
    assert len(pop) == 3 * 987
    assert pop.members_on(0) == 3 * 760


def test_same_seed_same_population_other_seed_differs():
    _, a = _pop(7)
    _, b = _pop(7)
    _, c = _pop(8)
    assert np.array_equal(a.province, b.province) and np.array_equal(a.buy_rate, b.buy_rate)
    assert not np.array_equal(a.province, c.province)
