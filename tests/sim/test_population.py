"""The members: drawn from their own streams, sharing the national market by the scenario."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest

from sim.population import (
    DOMINANT_HEAVY,
    DOMINANT_LIGHT,
    NEVER,
    STRATA,
    _systematic,
    build_population,
)
from sim.scenario import load_scenario
from sim.streams import Streams


@pytest.fixture(scope="module")
def sc():
    """baotou-2024 with `population.seed` unset: each test's run seed draws its members."""
    return load_scenario("baotou-2024", ["population.seed=null"])


@pytest.fixture(scope="module")
def pop(sc):
    return build_population(sc, Streams(1))


def test_987_members_from_26_provinces_with_the_dominant_producers_first(sc, pop):
    assert len(pop) == 987 and pop.members_on(pop.days_total - 1) == 987
    assert pop.province_count_on(0) == 26
    sep = pop.roles.index("separator")
    assert pop.role[DOMINANT_LIGHT - 1] == pop.role[DOMINANT_HEAVY - 1] == sep
    assert pop.members_on(0) == sc.population.members_at_start


def _member_days(sc, pop):
    """Each member's share of the calendar as a member, and the average the scenario implies."""
    days = pop.days_total
    active = (days - pop.join_day) / days
    n, start = sc.population.members, sc.population.members_at_start
    return active, (start + 0.5 * (n - start)) / n


def test_members_use_exactly_their_share_of_national_use_over_the_run(sc, pop):
    months = ((sc.calendar.end - sc.calendar.start).days + 1) / 30.4375
    share = sc.population.members / sc.national.enterprises
    active, mean = _member_days(sc, pop)
    n, start = sc.population.members, sc.population.members_at_start
    for j, p in enumerate(sc.products):
        national = p.monthly_tonnes * 1000 * months / pop.days_total
        assert (pop.use_rate[:, j] * active).sum() == pytest.approx(national * share * mean,
                                                                   rel=1e-9)
        # without the join-day weights only within the sampling error of the join days:
        # a start member is a member all run, a joiner a uniform share of it, and a product's
        # users are a sample of both (its rates, proportional to size, weight the error)
        rate = pop.use_rate[:, j][pop.use_rate[:, j] > 0]
        joiners = (n - start) / n
        var_active = (1 - joiners) + joiners / 3 - mean**2
        se = np.sqrt((rate**2).sum() * var_active) / (mean * rate.sum())
        assert abs(rate.sum() / (national * share) - 1) <= 4 * se, p.code


def test_the_dominant_producers_make_their_share_of_national_supply(sc, pop):
    months = ((sc.calendar.end - sc.calendar.start).days + 1) / 30.4375
    for j, p in enumerate(sc.products):
        national = p.monthly_tonnes * 1000 * months / pop.days_total
        dom = {"light": DOMINANT_LIGHT, "heavy": DOMINANT_HEAVY}.get(p.dominant or "")
        if dom is not None:
            assert pop.make_rate[dom - 1, j] == pytest.approx(
                national * p.dominant_share_pct / 100)
        active, mean = _member_days(sc, pop)
        others = (pop.make_rate[2:, j] * active[2:]).sum()
        share = sc.population.members / sc.national.enterprises
        assert others == pytest.approx(national * (1 - p.dominant_share_pct / 100) * share
                                       * mean)


def test_online_members_double_by_the_end_and_the_dominants_start_online(sc, pop):
    p = sc.population
    start = pop.online_on(0)
    assert start == round(p.online_at_start_pct / 100 * p.members_at_start)
    first = pop.join_day == 0
    switched = first & (pop.online_day > 0) & (pop.online_day < NEVER)
    assert switched.sum() == round(p.switch_pct / 100 * (p.members_at_start - start))
    assert 1.9 <= pop.online_on(pop.days_total - 1) / start <= 2.1  # the plan: about double
    assert pop.online_day[DOMINANT_LIGHT - 1] == pop.online_day[DOMINANT_HEAVY - 1] == 0


def test_online_start_members_carry_about_their_share_of_use_whatever_the_seed(sc):
    shares = []
    for seed in (1, 2, 3):
        p = build_population(sc, Streams(seed))
        start = p.join_day == 0
        use = p.use_rate.sum(axis=1) + p.make_rate.sum(axis=1)
        use[:2] = 0  # the dominants are online by definition
        on = start & (p.online_day == 0)
        shares.append(use[on].sum() / use[start].sum())
    assert all(0.2 < s < 0.45 for s in shares)  # 30% of members, stratified by flow


def test_each_quoted_product_has_its_market_makers_among_traders_online_from_the_start(sc, pop):
    trader = pop.roles.index("trader")
    for j in range(len(sc.products)):
        makers = np.flatnonzero(pop.maker[:, j])
        assert len(makers) == sc.makers.per_product
        assert (pop.role[makers] == trader).all()
        assert (pop.online_day[makers] == 0).all() and (pop.join_day[makers] == 0).all()
        assert pop.maker_target[makers, j].sum() > 0


def test_traders_buy_for_their_customers_but_a_maker_never_uses_what_it_quotes(sc, pop):
    trader = pop.roles.index("trader")
    traders = pop.role == trader
    buys = next(set(r.buys) for r in sc.roles if r.name == "trader")
    assert buys  # baotou-2024's traders buy, and some of them quote the same products
    for j, p in enumerate(sc.products):
        users = pop.use_rate[:, j] > 0
        assert not (users & pop.maker[:, j]).any(), p.code
        assert (users & traders).any() == (p.code in buys), p.code
    # most traders who make no market use something (before they bought, all were idle)
    plain = traders & ~pop.maker.any(axis=1)
    assert (pop.use_rate[plain] > 0).any(axis=1).mean() > 0.9


def test_a_roles_use_intensity_scales_its_members_use_against_others_of_their_size(sc):
    heavy = load_scenario("baotou-2024", ["population.seed=null",
                                          "roles.trader.use_intensity=3"])
    base, tripled = build_population(sc, Streams(1)), build_population(heavy, Streams(1))
    trader = base.roles.index("trader")
    j = [p.code for p in sc.products].index("PRND_OX")
    for pop, k in ((base, 1.0), (tripled, 3.0)):
        per_size = pop.use_rate[:, j] / pop.size
        users = pop.use_rate[:, j] > 0
        t, o = per_size[users & (pop.role == trader)], per_size[users & (pop.role != trader)]
        # within a product every user's rate is its size times its role's intensity, so
        # each role's rate per unit of size is one figure, and their ratio is the setting
        assert np.ptp(t) <= 1e-12 * t.max() and np.ptp(o) <= 1e-12 * o.max()
        assert t[0] / o[0] == pytest.approx(k, rel=1e-12)
    # the members' use of the product is the same: only shared out differently
    active, _ = _member_days(sc, base)
    assert (tripled.use_rate[:, j] * active).sum() == pytest.approx(
        (base.use_rate[:, j] * active).sum(), rel=1e-12)


def test_adding_members_leaves_every_other_member_as_it_was(sc, pop):
    more = msgspec.structs.replace(sc, population=msgspec.structs.replace(
        sc.population, members=1231))
    big = build_population(more, Streams(1))
    n = len(pop)
    for name in ("keys", "province", "role", "size", "join_day"):
        assert np.array_equal(getattr(big, name)[:n], getattr(pop, name)), name
    assert np.array_equal(big.online_day[:n], pop.online_day)  # and who moves online, when
    assert np.array_equal(big.maker[:n], pop.maker)  # makers are start members
    assert (big.use_rate[:n] > 0).tolist() == (pop.use_rate > 0).tolist()


def test_holdings_are_whole_lots_of_stock_and_cash_never_negative(sc, pop):
    lots = np.array([p.lot for p in sc.products])
    assert (pop.stock % lots == 0).all() and (pop.stock >= 0).all() and (pop.cash >= 0).all()
    assert pop.stock.dtype.kind == "i" and pop.cash.dtype.kind == "i"


def test_the_same_seed_gives_the_same_members_and_another_seed_others(sc, pop):
    again = build_population(sc, Streams(1))
    assert np.array_equal(again.use_rate, pop.use_rate)
    assert np.array_equal(again.online_day, pop.online_day)
    other = build_population(sc, Streams(2))
    assert not np.array_equal(other.role, pop.role)


TRAITS = ("province", "role", "size", "join_day", "online_day", "use_rate", "make_rate", "maker",
          "maker_target", "quote_size", "cash", "stock")


def test_a_population_seed_draws_the_same_members_for_every_run_seed(sc, pop):
    fixed = msgspec.structs.replace(sc, population=msgspec.structs.replace(sc.population,
                                                                           seed=1))
    for seed in (2, 3):
        other = build_population(fixed, Streams(seed))
        for name in TRAITS:
            assert np.array_equal(getattr(other, name), getattr(pop, name)), name
        assert np.array_equal(other.traits, pop.keys)
        # what the members do still comes from the run's seed
        assert np.array_equal(other.keys, Streams(seed).members(np.arange(1, len(pop) + 1)))


def test_baotou_2024_draws_one_membership_for_every_run_seed():
    sc = load_scenario("baotou-2024")
    assert sc.population.seed is not None
    one, two = build_population(sc, Streams(1)), build_population(sc, Streams(2))
    for name in TRAITS:
        assert np.array_equal(getattr(one, name), getattr(two, name)), name
    assert not np.array_equal(one.keys, two.keys)  # what they do is each run's own


def test_a_population_seed_equal_to_the_run_seed_changes_nothing(sc, pop):
    same = build_population(msgspec.structs.replace(sc, population=msgspec.structs.replace(
        sc.population, seed=1)), Streams(1))
    for name in (*TRAITS, "keys", "traits"):
        assert np.array_equal(getattr(same, name), getattr(pop, name)), name


def test_scale_multiplies_members_and_the_national_market(sc, pop):
    two = build_population(sc, Streams(1), scale=2)
    assert len(two) == 2 * len(pop) and two.enterprises == 2 * pop.enterprises
    assert two.use_rate.sum() == pytest.approx(2 * pop.use_rate.sum(), rel=0.05)
    assert (two.online_day == NEVER).sum() > 0


def test_joiners_go_online_in_their_share_of_every_weight_stratum_whatever_the_seed(sc):
    for seed in (1, 2, 3):
        p = build_population(sc, Streams(seed))
        joiners = p.join_day > 0
        online = joiners & (p.online_day == p.join_day)
        count = round(sc.population.new_members_online_pct / 100 * joiners.sum())
        assert abs(online.sum() - count) <= STRATA  # within one per stratum
        weight = p.use_rate.sum(axis=1) + p.make_rate.sum(axis=1)
        share = weight[online].sum() / weight[joiners].sum()
        assert 0.4 < share < 0.6  # 50% of joiners, stratified by flow


@pytest.mark.parametrize("share", [0.0, 0.25, 0.5, 1.0])
def test_systematic_choice_is_within_one_of_its_share_in_each_stratum_and_keeps_earlier_ids(
        share):
    rng = np.random.default_rng(7)
    weight = rng.lognormal(size=400)
    u = rng.random(400)
    reference = np.arange(0, 100)
    pool = np.arange(100, 400)
    chosen = _systematic(pool, share, weight, reference, u)
    edges = np.quantile(weight[reference], np.arange(1, STRATA) / STRATA)
    stratum = np.searchsorted(edges, weight, side="right")
    for s in range(STRATA):
        members = pool[stratum[pool] == s]
        assert abs(np.isin(members, chosen).sum() - share * len(members)) < 1
    # members with higher ids joining changes nobody's choice before them
    fewer = _systematic(pool[:200], share, weight, reference, u)
    assert np.array_equal(fewer, chosen[chosen < pool[200]])


def test_a_one_day_calendar_gives_finite_rates():
    """A product whose chosen members all join after the only day divided by zero (inf)."""
    import warnings

    from sim.scenario import with_overrides
    from tests.sim.small import small_scenario

    sc = with_overrides(small_scenario(), ["calendar.start=2024-01-05",
                                           "calendar.end=2024-01-05"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = build_population(sc, Streams(1))
    assert np.isfinite(p.use_rate).all() and np.isfinite(p.make_rate).all()
    assert p.use_rate.any() and p.make_rate.any()
