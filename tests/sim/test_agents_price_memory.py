"""Price discovery: beliefs keep part of yesterday's gap between settlement and fundamental."""

from __future__ import annotations

import math

import pytest

from sim import Simulation, run
from sim.errors import RexsimError as UserError
from sim.scenario import with_overrides
from tests.sim.small import small_scenario

SHOCK = 'interventions=[{date=2024-01-04, action="withdraw", member="dominant_light"}]'


def _memory(pct: float):
    return with_overrides(small_scenario(), [f"behaviour.price_memory_pct={pct}"])


def test_todays_anchor_is_the_fundamental_times_the_remembered_gap():
    sim = Simulation(_memory(60), seed=2)
    sim.run_day()
    settle = {p.code: sim.exchange.settlement(p.code) for p in sim.scenario.products}
    sim.run_day()
    a = sim.agents
    for j, code in enumerate(a.codes):
        gap = 0.6 * math.log(settle[code] / sim.paths[0][j])
        assert math.isclose(a.anchor[j], sim.paths[1][j] * math.exp(gap), rel_tol=1e-12)


def test_without_memory_beliefs_follow_the_fundamental_only():
    sim = Simulation(_memory(0), seed=2)
    sim.run_day()
    sim.run_day()
    assert sim.agents.anchor.tolist() == sim.paths[1].tolist()


def _late_prnd_price(sc, seed: int) -> float:
    daily = run(sc, seed=seed).daily
    cols = daily.columns
    product, vwap, date = cols.index("product"), cols.index("vwap"), cols.index("date")
    prices = [r[vwap] for r in daily.rows
              if r[product] == "PRND_OX" and r[vwap] and str(r[date]) >= "2024-01-10"]
    return sum(prices) / len(prices)


def test_a_supply_shock_lifts_prices_further_when_the_market_remembers():
    lift = {}
    for pct in (0, 50):
        base = _memory(pct)
        shocked = with_overrides(base, [SHOCK])
        lift[pct] = _late_prnd_price(shocked, 1) / _late_prnd_price(base, 1) - 1
    assert 0 < lift[0] < lift[50]


def test_a_memory_of_100_percent_or_more_is_refused():
    with pytest.raises(UserError, match=r"price_memory_pct: expected float < 100.0, got 100"):
        with_overrides(small_scenario(), ["behaviour.price_memory_pct=100"])
