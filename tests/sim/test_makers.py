"""Market makers: quotes around the national price that widen with volatility and inventory."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim import Simulation
from tests.sim.small import small_scenario


@pytest.fixture()
def sim():
    s = Simulation(small_scenario(), seed=2)
    s.run_day()
    return s


def test_a_makers_quote_is_the_national_price_skewed_by_inventory_and_widened(sim):
    mk = sim.agents.makers
    spec = sim.scenario.makers
    j = 0
    which = np.array([j])
    for inv, x in ((mk.target[j], 0.0), (mk.limit[j], 1.0),
                   ((mk.target[j] + mk.limit[j]) / 2, 0.5)):
        bid, ask, bid_qty, ask_qty = mk.quotes(which, np.array([inv]))
        nat = sim.agents.nat_s[mk.bid[j]]
        mid = nat * (1 - spec.skew_bp * x / 10_000)
        half = spec.half_spread_bp + spec.vol_spread * mk.vol[j] + spec.inventory_spread_bp * x
        tick = mk.tick[j]
        lo, hi = sim.agents.lo_s[mk.bid[j]], sim.agents.hi_s[mk.bid[j]]
        assert bid[0] == min(max(math.floor(mid * (1 - half / 10_000) / tick) * tick, lo), hi)
        assert ask[0] == min(max(math.ceil(mid * (1 + half / 10_000) / tick) * tick, lo), hi)
    # at the limit a maker stops bidding; with nothing in stock it stops offering
    assert mk.quotes(which, np.array([mk.limit[j]]))[2][0] == 0
    assert mk.quotes(which, np.array([0.0]))[3][0] == 0


def test_spreads_widen_with_volatility(sim):
    mk = sim.agents.makers
    which = np.array([0])
    inv = np.array([mk.target[0]])
    calm = mk.quotes(which, inv)
    mk.vol[0] += 200  # bp of daily volatility
    wild = mk.quotes(which, inv)
    assert wild[1][0] - wild[0][0] > calm[1][0] - calm[0][0]


def test_makers_quote_both_sides_through_the_session(sim):
    for _ in range(3):
        sim.run_day()
    res = sim.results()
    two = res.summary["by_product"]["PRND_OX"]["two_sided_pct"]
    assert two is not None and two > 80
    makers = {int(m) + 1 for m in sim.agents.makers.m}
    trades = res.trades.as_dicts()
    assert any(t["buyer"] in makers for t in trades) and any(t["seller"] in makers
                                                            for t in trades)
