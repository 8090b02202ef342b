"""The national market: anchor paths, equilibria of co-products, adjustment and the pull."""

from __future__ import annotations

import datetime as dt
import math

import msgspec
import numpy as np
import pytest

from sim.national import National, anchor_path, equilibrium, shift_vectors
from sim.scenario import SupplyEvent, load_scenario
from sim.streams import Streams

# yesterday's volume per product (kg), as the runner passes it: none, or a day that traded
NO_TRADE, TRADED = [0], [60_000]

D = dt.date


def test_the_anchor_path_is_log_linear_between_points_and_flat_outside():
    days = [D(2024, 1, 1), D(2024, 1, 2), D(2024, 1, 3), D(2024, 1, 5), D(2024, 1, 9)]
    path = np.exp(anchor_path([(D(2024, 1, 2), 100), (D(2024, 1, 4), 400)], 999, days))
    assert path[0] == pytest.approx(100) and path[1] == pytest.approx(100)
    assert path[2] == pytest.approx(200)  # half way in logs: the geometric mean
    assert path[3] == pytest.approx(400) and path[4] == pytest.approx(400)
    assert np.exp(anchor_path([], 777, days)) == pytest.approx([777] * 5)


def test_a_cut_of_the_light_ore_lifts_its_pace_product_most_and_its_surplus_least():
    sc = load_scenario("baotou-2024")
    codes = [p.code for p in sc.products]
    cut = SupplyEvent(date=D(2024, 6, 3), pct=-20, group="light")
    demand, supply = shift_vectors(sc, [cut])
    e = equilibrium(sc, demand, supply)
    g = {x.name: x for x in sc.national.groups}["light"]
    ox, la = sc.product("PRND_OX"), sc.product("LA_OX")
    lift = -math.log(0.8)
    pace = lift / (ox.demand_elasticity + g.supply_elasticity + ox.supply_elasticity)
    assert e[codes.index("PRND_OX")] == pytest.approx(pace)
    assert e[codes.index("LA_OX")] == pytest.approx(
        (lift - g.supply_elasticity * pace) / (la.demand_elasticity + la.supply_elasticity))
    assert e[codes.index("STAB")] == 0 and e[codes.index("DY_OX")] == 0  # not of that ore
    assert e[codes.index("PRND_OX")] >= e[codes.index("PRND_MT")] > e[codes.index("LA_OX")] > 0


def test_a_demand_boom_of_the_pace_product_makes_more_of_every_co_product():
    sc = load_scenario("baotou-2024")
    codes = [p.code for p in sc.products]
    demand = np.zeros(len(codes))
    demand[codes.index("PRND_OX")] = math.log(1.3)
    e = equilibrium(sc, demand, np.zeros(len(codes)))
    assert e[codes.index("PRND_OX")] > 0
    assert e[codes.index("LA_OX")] < 0 and e[codes.index("CE_OX")] < 0  # more ore, more La


def test_products_that_follow_one_move_with_it_and_their_own_shifts_move_their_margin():
    sc = load_scenario("baotou-2024")
    codes = [p.code for p in sc.products]
    demand = np.zeros(len(codes))
    demand[codes.index("PRND_OX")] = math.log(1.1)
    e = dict(zip(codes, equilibrium(sc, demand, np.zeros(len(codes))), strict=True))
    assert e["PRND_OX"] == pytest.approx(math.log(1.1) / (0.4 + 0.5 + 0.1))
    # made from PrNd oxide, or valued by it (and Nd metal from Nd oxide): as much
    for code in ("PRND_MT", "ND_OX", "ND_MT", "RE_CARB"):
        assert e[code] == pytest.approx(e["PRND_OX"])
    assert e["LA_OX"] < 0 and e["LACE_MT"] == pytest.approx(e["CE_OX"])  # more ore mined
    # a shift of the metal alone: its margin, by its own elasticities; the oxide unmoved
    demand = np.zeros(len(codes))
    demand[codes.index("PRND_MT")] = math.log(1.1)
    e = dict(zip(codes, equilibrium(sc, demand, np.zeros(len(codes))), strict=True))
    mt = sc.product("PRND_MT")
    assert e["PRND_MT"] == pytest.approx(math.log(1.1) / (mt.demand_elasticity
                                                          + mt.supply_elasticity))
    assert e["PRND_OX"] == 0 and e["ND_MT"] == 0


def test_a_joint_demand_boom_for_oxide_and_metal_keeps_the_metal_near_its_ratio_to_the_oxide():
    # metal-making is not the constraint: the metals' margin moves little with their own
    # shifts (at the oxide's supply elasticity, +15% of both lifted the metal 51%, a ratio of
    # 1.6 against the facts' 1.23)
    sc = load_scenario("baotou-2024")
    codes = [p.code for p in sc.products]
    demand = np.zeros(len(codes))
    demand[[codes.index("PRND_OX"), codes.index("PRND_MT")]] = math.log(1.15)
    e = dict(zip(codes, equilibrium(sc, demand, np.zeros(len(codes))), strict=True))
    margin = math.exp(e["PRND_MT"] - e["PRND_OX"]) - 1
    assert 0 < margin < 0.05


def test_the_makers_of_a_product_that_follows_another_make_what_its_market_uses():
    sc = _quiet(load_scenario("baotou-2024"))
    days = [D(2024, 6, 3), D(2024, 6, 4)]
    nat = National(sc, days, Streams(1).products(len(sc.products)), 1.0)
    nat.apply_shift(SupplyEvent(date=days[0], pct=-20, group="light"))
    nat.start_day(0, [1] * len(sc.products), NO_TRADE * len(sc.products))
    nat.start_day(1, [1] * len(sc.products), NO_TRADE * len(sc.products))
    codes = [p.code for p in sc.products]
    for code in ("PRND_MT", "RE_CARB", "LACE_MT"):
        j = codes.index(code)
        assert nat.deviation[j] > 0  # the cut of the ore lifts it through what it follows
        assert nat.supply_factor()[j] == pytest.approx(nat.use()[j] / nat.base_use[j])


def _quiet(sc):
    """A scenario whose national noise is off, so prices follow the anchors exactly."""
    return msgspec.structs.replace(sc, products=[
        msgspec.structs.replace(p, volatility_bp=0) for p in sc.products])


def test_the_national_price_closes_its_set_share_of_the_gap_each_day_and_feels_the_pull():
    sc = _quiet(load_scenario("baotou-2024"))
    days = [D(2024, 6, 3) + dt.timedelta(days=k) for k in range(4)]
    nat = National(sc, days, Streams(1).products(len(sc.products)), 1.0)
    j = [p.code for p in sc.products].index("PRND_OX")
    nat.apply_shift(SupplyEvent(date=days[0], pct=-20, group="light"))
    target = nat.target[j]
    lam, w = sc.national.adjust_pct / 100, sc.national.settlement_weight_pct / 100
    anchor = nat.anchor[:, j]
    settle = [round(math.exp(anchor[0])) for _ in sc.products]
    nat.start_day(0, settle, NO_TRADE * len(settle))  # nothing traded yesterday: no pull
    assert math.log(nat.price[j]) == pytest.approx(anchor[0] + lam * target)
    settle[j] = 400_000
    nat.start_day(1, settle, TRADED * len(settle))
    x = lam * target + lam * (target - lam * target)
    assert math.log(nat.price[j]) == pytest.approx((1 - w) * (anchor[1] + x)
                                                    + w * math.log(400_000))


def test_a_settlement_held_back_by_the_band_does_not_pull_the_price_back_across_it():
    sc = _quiet(load_scenario("baotou-2024"))
    days = [D(2024, 6, 3) + dt.timedelta(days=k) for k in range(3)]
    nat = National(sc, days, Streams(1).products(len(sc.products)), 1.0)
    j = [p.code for p in sc.products].index("PRND_OX")
    n = len(sc.products)
    w = sc.national.settlement_weight_pct / 100
    nat.start_day(0, [1] * n, NO_TRADE * n)
    rest = nat.anchor[1, j]
    low, high = [round(math.exp(rest) * 0.9)] * n, [round(math.exp(rest) * 1.1)] * n
    edge = [0] * n
    edge[j] = 1  # traded at its band's top, below the national price: censored, no pull
    assert math.log(nat.start_day(1, low, TRADED * n, edge)[j]) == pytest.approx(rest)
    # at the top but above the national price it is a price like any other: it pulls
    assert math.log(nat.start_day(1, high, TRADED * n, edge)[j]) == pytest.approx(
        (1 - w) * rest + w * math.log(high[j]))
    edge[j] = -1  # at the bottom, above the national price: no pull down to it either
    assert math.log(nat.start_day(1, high, TRADED * n, edge)[j]) == pytest.approx(rest)


def _pulled(volumes, by_volume=True):
    """PRND_OX's national log price each day after the first, and what gave it.

    Each day is pulled by a settlement about 10% below the path, with these volumes traded
    the day before; also returned: the path, each day's log settlement, the national settings.
    """
    sc = _quiet(load_scenario("baotou-2024"))
    sc = msgspec.structs.replace(sc, national=msgspec.structs.replace(
        sc.national, weight_by_volume=by_volume))
    days = [D(2024, 6, 3) + dt.timedelta(days=k) for k in range(len(volumes) + 1)]
    nat = National(sc, days, Streams(1).products(len(sc.products)), 1.0)
    j = [p.code for p in sc.products].index("PRND_OX")
    n = len(sc.products)
    nat.start_day(0, [1] * n, [0] * n)
    out, pulls = [], []
    for d, v in enumerate(volumes, start=1):
        settle = [round(math.exp(nat.anchor[d, j]) * 0.9)] * n
        out.append(math.log(nat.start_day(d, settle, [v] * n)[j]))
        pulls.append(math.log(settle[j]))
    return out, nat.anchor[1:, j], pulls, sc.national


def test_a_settlement_pulls_with_its_weight_times_its_volume_over_the_usual():
    got, rest, pull, spec = _pulled([50_000, 5_000, 40_000, 500_000, 0])
    w, step = spec.settlement_weight_pct / 100, 1 - 0.5 ** (1 / spec.normal_halflife_days)
    # log p = rest + w * share * (log settlement - rest): the share each day pulled with
    shares = [(g - r) / (w * (s - r)) for g, r, s in zip(got, rest, pull, strict=True)]
    usual = 50_000  # the first volume seen is the usual one
    assert shares[0] == pytest.approx(1)
    assert shares[1] == pytest.approx(5_000 / usual)  # a thin day pulls a tenth of the weight
    usual += step * (5_000 - usual)  # and joins the usual volume
    assert shares[2] == pytest.approx(40_000 / usual)
    assert shares[3] == pytest.approx(1)  # a heavy day pulls the full weight, no more
    assert got[4] == pytest.approx(rest[4])  # no trade: no pull


def test_without_weight_by_volume_every_traded_day_pulls_the_set_weight():
    got, rest, pull, spec = _pulled([50_000, 5_000, 500_000], by_volume=False)
    w = spec.settlement_weight_pct / 100
    for g, r, s in zip(got, rest, pull, strict=True):
        assert g == pytest.approx(r + w * (s - r))


def test_national_use_falls_with_price_by_the_demand_elasticity():
    sc = _quiet(load_scenario("baotou-2024"))
    days = [D(2024, 6, 3), D(2024, 6, 4)]
    nat = National(sc, days, Streams(1).products(len(sc.products)), 1.0)
    j = [p.code for p in sc.products].index("PRND_OX")
    nat.start_day(0, [1] * len(sc.products), NO_TRADE * len(sc.products))
    assert nat.use()[j] == pytest.approx(nat.base_use[j])
    nat.apply_shift(SupplyEvent(date=days[0], pct=-20, group="light"))
    nat.start_day(1, [1] * len(sc.products), NO_TRADE * len(sc.products))
    dev = nat.deviation[j]
    assert dev > 0
    assert nat.use()[j] == pytest.approx(nat.base_use[j] * math.exp(-0.4 * dev))
    # output: the cut itself, the ore's response to the pace price and the product's own
    assert nat.supply_factor()[j] == pytest.approx(math.exp(math.log(0.8) + (0.1 + 0.5) * dev))
