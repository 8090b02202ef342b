"""What-if interventions: a member withdrawing from the exchange, and returning, mid-run."""

from __future__ import annotations

import datetime as dt

import pytest

from sim import Simulation, run
from sim.population import DOMINANT_LIGHT
from sim.scenario import with_overrides
from tests.sim.small import small_scenario

WITHDRAW = dt.date(2024, 1, 8)
RETURN = dt.date(2024, 1, 15)
SHOCK = [f'interventions=[{{date={WITHDRAW}, action="withdraw", member="dominant_light"}}, '
         f'{{date={RETURN}, action="return", member="dominant_light"}}]']


def _column(res, name):
    i = res.trades.columns.index(name)
    return [row[i] for row in res.trades.rows]


@pytest.fixture(scope="module")
def runs():
    base = run(small_scenario(), seed=3)
    shocked = run(small_scenario(), seed=3, overrides=SHOCK, check=True)
    return base, shocked


def test_a_withdrawn_member_trades_nothing_until_it_returns(runs):
    _, res = runs
    dates = [dt.date.fromisoformat(str(d)) for d in _column(res, "date")]
    parties = zip(_column(res, "buyer"), _column(res, "seller"), strict=True)
    mine = [d for d, (b, s) in zip(dates, parties, strict=True) if DOMINANT_LIGHT in (b, s)]
    assert any(d < WITHDRAW for d in mine) and any(d >= RETURN for d in mine)
    assert not [d for d in mine if WITHDRAW <= d < RETURN]


def test_before_the_withdrawal_the_run_is_unchanged(runs):
    base, res = runs
    cut = [i for i, d in enumerate(_column(base, "date"))
           if dt.date.fromisoformat(str(d)) >= WITHDRAW][0]
    assert res.trades.rows[:cut] == base.trades.rows[:cut]
    assert res.trades.rows != base.trades.rows


def test_the_summary_lists_the_interventions_and_overrides(runs):
    _, res = runs
    assert res.summary["overrides"] == SHOCK
    assert res.summary["interventions"] == [
        {"date": str(WITHDRAW), "action": "withdraw", "member": DOMINANT_LIGHT,
         "applied": str(WITHDRAW)},
        {"date": str(RETURN), "action": "return", "member": DOMINANT_LIGHT,
         "applied": str(RETURN)},
    ]


def test_withdrawal_releases_every_reservation_and_conserves_holdings():
    withdraw_only = f'interventions=[{{date={WITHDRAW}, action="withdraw", member=1}}]'
    sim = Simulation(with_overrides(small_scenario(), [withdraw_only]), seed=5)
    cash0 = int(sim.population.cash.sum())
    stock0 = sim.population.stock.sum(axis=0).tolist()
    for _ in range(sim.ndays):
        sim.run_day(check=True)
        if sim.calendar.days[sim.day - 1] >= WITHDRAW:
            assert not [o for p in sim.scenario.products
                        for o in sim.exchange.book(p.code).orders() if o.owner == DOMINANT_LIGHT]
            assert not [s for s, _px, _q in sim.agents.orders.values()
                        if sim.agents.slot_m_l[s] == DOMINANT_LIGHT - 1]
    cash, stock = sim.agents.holdings()
    assert sum(cash) == cash0 + sim.agents.income_fen
    totals = [sum(row[j] for row in stock) for j in range(len(stock0))]
    assert totals == [s + p for s, p in zip(stock0, sim.agents.produced_kg, strict=True)]


def test_an_intervention_on_a_holiday_applies_on_the_next_trading_day():
    holiday = dt.date(2024, 1, 13)  # a Saturday
    res = run(small_scenario(), seed=3, overrides=[
        f'interventions=[{{date={holiday}, action="withdraw", member=5}}]'])
    assert res.summary["interventions"][0]["applied"] == "2024-01-15"


def test_the_same_shock_and_seed_give_identical_trades(runs):
    _, res = runs
    again = run(small_scenario(), seed=3, overrides=SHOCK)
    assert again.trades.rows == res.trades.rows
