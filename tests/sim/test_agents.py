"""The enterprises' mechanisms on hand-computed cases.

Elastic use and output, inventories, concessions, the exact ledger with fees.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine import Cancelled, CancelReason, Side, Trade
from sim import Simulation
from sim.agents import MAKE, MONTH, USE, buy_reservation, with_fee
from sim.scenario import SupplyEvent
from sim.streams import counter, normal
from sim.venue import OffExchange, cap_or_floor
from tests.sim.small import small_scenario


@pytest.fixture()
def sim():
    s = Simulation(small_scenario(), seed=1)
    s.run_day()
    return s


def _slot(a, kind, code):
    p = a.codes.index(code)
    return int(np.flatnonzero((a.kind == kind) & (a.slot_p == p) & a.active)[0])


def test_the_hot_paths_limits_are_cap_or_floor_bit_for_bit():
    """`Agents._limits` repeats cap_or_floor with the day's divisor worked out once: pin it."""
    s = Simulation(small_scenario(), seed=1)
    a = s.agents
    every = np.arange(a.N)
    rng = np.random.default_rng(0)
    for _ in range(3):  # days with online and offline slots, fees and counter costs
        s.run_day()
        cost = a.fee_bp + np.where(a.online, 0.0, a.counter_cost_bp)
        assert (~a.online).any() and a.online.any() and np.any(cost)
        for friction in (a.friction, a.friction * np.exp(0.6 * rng.standard_normal(a.N))):
            assert np.array_equal(a._limits(every, friction),
                                  cap_or_floor(a.sign, a.nat_s, friction, cost))
        idx = every[::7]
        assert np.array_equal(a._limits(idx, a.friction[idx]), a.limit[idx])


def test_use_and_output_respond_to_the_national_price_by_the_elasticities():
    s = Simulation(small_scenario(), seed=1)
    s.national.apply_shift(SupplyEvent(date=dt.date(2024, 1, 2), pct=-20, group="light"))
    s.run_day()
    a, nat = s.agents, s.national
    p = a.codes.index("PRND_OX")
    dev = nat.deviation[p]
    assert dev > 0.05  # the cut lifted the national price above its path
    user, maker = _slot(a, USE, "PRND_OX"), _slot(a, MAKE, "PRND_OX")
    assert a.flow[user] == pytest.approx(a.rate[user] * a.mult[user] * math.exp(-0.4 * dev))
    assert a.flow[maker] == pytest.approx(
        a.rate[maker] * a.mult[maker] * math.exp(math.log(0.8) + 0.6 * dev))


def _settled(a, held, income, cash):
    """Members' cash and the carrying cost paid after `_settle_cash` from `cash`."""
    a.cash[:] = cash
    before = a.totals["carrying_cost_fen"]
    a._settle_cash(3, held, income)
    return list(a.cash), a.totals["carrying_cost_fen"] - before


def test_income_and_carrying_cost_settle_alike_in_int64_and_in_exact_python_ints(sim):
    a = sim.agents
    held = a.held()
    income = np.arange(len(a.cash), dtype=np.int64) * 1_000
    s = int(np.flatnonzero(held * a.nat_int[a.slot_p] > 10**9)[0])  # a slot worth carrying
    m = a.slot_m_l[s]
    cash = list(a.cash)
    cash[m], income[m] = 0, 0  # nothing to pay with: it pays nothing
    fast = _settled(a, held, income, cash)  # the int64 path
    assert fast == _settled(a, held, income.astype(object), cash)  # the Python ints' path
    assert fast[0][m] == 0 and fast[1] > 0
    rich = cash.copy()
    rich[m] = 10**19  # beyond int64: the Python ints' path, paying its whole charge
    paid_rich = _settled(a, held, income, rich)
    assert paid_rich == _settled(a, held, income.astype(object), rich)
    assert 0 < 10**19 - paid_rich[0][m] and paid_rich[1] > fast[1]


def test_a_members_plan_moves_linearly_from_one_months_draw_to_the_next():
    s = Simulation(small_scenario(), seed=1)
    a = s.agents
    sigma = s.scenario.behaviour.intent_noise_pct / 100
    assert sigma > 0 and s.scenario.calendar.start.month == 1
    jan, feb = normal(a.keys, counter(0, MONTH)), normal(a.keys, counter(1, MONTH))
    # on the 1st, this month's draw alone: exp(sigma z - sigma^2 / 2), mean 1
    np.testing.assert_allclose(a._plan(dt.date(2024, 1, 1)), np.exp(sigma * jan - sigma**2 / 2))
    # on 11 January, 10 of January's 31 days on: the draws mixed, the mix's variance taken out
    f = 10 / 31
    z, v = (1 - f) * jan + f * feb, (1 - f) ** 2 + f * f
    np.testing.assert_allclose(a._plan(dt.date(2024, 1, 11)), np.exp(sigma * z - sigma**2 * v / 2))
    # the last day of January is one day's step from February's 1st, which is February's draw
    last, first = a._plan(dt.date(2024, 1, 31)), a._plan(dt.date(2024, 2, 1))
    np.testing.assert_allclose(first, np.exp(sigma * feb - sigma**2 / 2))
    step = np.abs(np.log(first) - np.log(last))
    assert step.max() <= sigma * np.abs(feb - jan).max() / 31 + sigma**2 / 31
    # and back: a month out of order is drawn again, not taken from the cache
    np.testing.assert_allclose(a._plan(dt.date(2024, 1, 1)), np.exp(sigma * jan - sigma**2 / 2))


def test_a_plan_keeps_each_days_expected_use_at_its_level():
    s = Simulation(small_scenario(), seed=1)
    a = s.agents
    a.keys = np.arange(1, 400_001, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    for day in (1, 8, 16, 24, 31):  # the mix's variance is lowest mid-month
        assert a._plan(dt.date(2024, 1, day)).mean() == pytest.approx(1, abs=0.002)


def test_a_plan_without_intent_noise_is_the_level():
    s = Simulation(small_scenario(intent_noise_pct=0.0), seed=1)
    assert np.array_equal(s.agents._plan(dt.date(2024, 1, 17)), np.ones(s.agents.N))


def test_a_user_with_cover_to_spare_waits_out_a_spike_and_a_full_producer_sells_harder(sim):
    a = sim.agents
    inv = sim.scenario.inventory
    flow = np.where(a.is_maker, 0.0, 100.0)
    held = np.where(a.is_user, 1500, np.where(a.is_producer, 1500, 0)).astype(np.int64)
    a.pending_qty[:] = 0
    user, maker = _slot(a, USE, "PRND_OX"), _slot(a, MAKE, "PRND_OX")
    calm = np.zeros(len(a.codes))
    a._needs(flow, calm, held)
    assert a.need[user] == pytest.approx(inv.target_cover_days * 100 - 1500)
    assert a.need[maker] == pytest.approx(1500 - inv.seller_cover_days * 100)
    spike = np.full(len(a.codes), 0.10)  # the price stands 10% above its normal
    a._needs(flow, spike, held)
    cover = max(inv.target_cover_days * math.exp(-inv.cover_elasticity * 0.10),
                inv.min_cover_days)
    assert a.need[user] == pytest.approx(cover * 100 - 1500)  # buys less: waits it out
    assert a.need[maker] == pytest.approx(
        1500 - inv.seller_cover_days * math.exp(-inv.cover_elasticity * 0.10) * 100)
    low = np.where(a.is_user, 500, held).astype(np.int64)  # below the minimum cover
    a._needs(flow, calm, low)
    assert a.urgent[user] and not a.urgent[maker]


def test_the_concession_grows_with_the_need_beyond_the_order_size(sim):
    a = sim.agents
    beh = sim.scenario.behaviour
    maker = _slot(a, MAKE, "PRND_OX")
    idx = np.array([maker])
    floor = np.array([1.0])  # no floor in the way
    prices = []
    for days in (beh.order_days, beh.order_days + 4):
        a.need[maker] = a.rate[maker] * days
        px, _qty, ok = a._decide(idx, np.zeros(1), floor)
        assert ok[0]
        prices.append(px[0])
    tick = a.tick_s[maker]
    conc = beh.premium_bp + beh.urgency_bp_per_day * 4
    want = math.ceil(a.belief[maker] * (1 - conc / 10_000) / tick) * tick
    want = min(max(want, a.lo_s[maker]), a.hi_s[maker])
    assert prices[1] == want and prices[1] < prices[0]


def test_a_bid_reserves_its_fee_pays_at_the_trade_price_and_gets_the_rest_back(sim):
    a = sim.agents
    user = _slot(a, USE, "PRND_OX")
    m = a.slot_m_l[user]
    a.cash[m] = 10**9
    cash0 = a.cash[m]
    limit, qty, bp = 401_000, 3_000, a.fee_bp
    held = limit * qty // 10
    held += held * bp // 10_000
    a.cash[m] -= held
    oid = 10**9
    a.orders[oid] = [user, limit, qty, held, bp]
    a.slot_oid[user] = oid
    fill = Trade(price=400_000, qty=1_000, maker_order_id=7, taker_order_id=oid, maker_owner=0,
                 taker_owner=m + 1, aggressor=Side.BUY)
    a.apply([fill])
    value = 400_000 * 1_000 // 10
    assert a.orders[oid][3] == held - (limit * 1_000 // 10 + limit * 1_000 // 10 * bp // 10_000)
    a.apply([Cancelled(oid, Side.BUY, limit, 2_000, m + 1, CancelReason.USER)])
    assert oid not in a.orders and a.slot_oid[user] == 0
    assert a.cash[m] == cash0 - value - value * bp // 10_000  # paid the trade and its fee


def test_a_withdrawn_member_meets_its_needs_off_the_exchange(sim):
    a = sim.agents
    maker = _slot(a, MAKE, "PRND_OX")
    m = a.slot_m_l[maker]
    a.need[maker] = 5 * a.lot_s[maker]
    stock0 = a.stock[a.flat_l[maker]] = 10 * int(a.lot_s[maker])
    cash0 = a.cash[m]
    a.deal_off(np.array([maker]), friction=np.array([50.0]))
    q = 5 * int(a.lot_s[maker])
    price = round(a.nat_s[maker] * (1 - 50 / 10_000))
    assert a.stock[a.flat_l[maker]] == stock0 - q
    assert a.cash[m] == cash0 + price * q // 10
    assert a.off.take_day() == [(a.slot_p_l[maker], m + 1, "sell", q, price * q // 10)]


def test_a_buyers_off_exchange_deals_in_a_day_add_up_in_one_cell_as_off_exchange_add_would(sim):
    """deal_off inlines OffExchange.add: two deals of one buyer, the second short of cash."""
    a = sim.agents
    a.off.take_day()
    user = _slot(a, USE, "PRND_OX")
    m, lot = a.slot_m_l[user], int(a.lot_s[user])
    price = round(a.nat_s[user] * (1 + 40 / 10_000))
    a.cash[m] = 5 * lot * price // 10 + 1  # enough for 5 lots, no more
    stock0 = a.stock[a.flat_l[user]]
    for _ in range(2):  # 3 lots, then 3 more of which the cash pays for 2
        a.deal_off(np.array([user]), amount=np.array([3.5 * lot]), friction=np.array([40.0]))
    expected = OffExchange()
    expected.add(a.slot_p_l[user], m + 1, "buy", 3 * lot, price * 3 * lot // 10)
    expected.add(a.slot_p_l[user], m + 1, "buy", 2 * lot, price * 2 * lot // 10)
    assert a.off.take_day() == expected.take_day()
    assert a.stock[a.flat_l[user]] == stock0 + 5 * lot
    assert a.cash[m] == 5 * lot * price // 10 + 1 - price * 3 * lot // 10 - price * 2 * lot // 10


def test_a_buy_reservation_holds_the_value_plus_the_fee():
    # 2 t at 400,000 yuan/t = 80,000,000 fen; a 5 bp fee adds 40,000 fen
    assert buy_reservation(10**9, 400_000, 2_000, 1_000, 5) == (2_000, 80_040_000)


def test_a_buyer_short_of_cash_bids_the_whole_lots_it_can_pay_for_fee_included():
    # 80,000,000 fen pays for 2 t but not for the fee on them: one lot is left
    assert buy_reservation(80_000_000, 400_000, 3_000, 1_000, 5) == (1_000, 40_020_000)
    assert buy_reservation(40_019_999, 400_000, 3_000, 1_000, 5) == (0, 0)


@given(st.integers(0, 10**12), st.integers(1, 10**7), st.integers(1, 10**5),
       st.sampled_from([10, 100, 1_000]), st.integers(0, 1_000))
def test_a_buy_reservation_never_exceeds_the_cash_and_is_at_most_a_lot_short(cash, price, lots,
                                                                            lot, bp):
    qty, cost = buy_reservation(cash, price, lots * lot, lot, bp)
    assert 0 <= cost <= cash and qty % lot == 0 and 0 <= qty <= lots * lot
    assert cost == (with_fee(price * qty // 10, bp) if qty else 0)
    if qty + lot < lots * lot:  # two more lots are never affordable (the fee counted whole)
        assert with_fee(price * (qty + 2 * lot) // 10, bp) > cash


def test_the_audit_holds_every_open_bid_to_its_value_and_its_fee():
    from sim.agents import LedgerError

    sim = Simulation(small_scenario(), seed=3)
    a = sim.agents
    sample = sim.recorder.sample
    seen = []

    def audit_mid_session(t, ex):  # each decision step's sample: orders are open
        bids = [oid for oid, (s, _px, _q, _held, bp) in a.orders.items()
                if a.is_buy_l[s] and bp]
        if bids and not seen:
            rec = a.orders[bids[0]]
            _s, px, q, held, bp = rec
            assert held >= with_fee(px * q // 10, bp)
            rec[3] = px * q // 10  # its value reserved, its fee not
            with pytest.raises(LedgerError, match=f"order {bids[0]} reserves .* fee"):
                a.audit()
            rec[3] = held
            a.audit()
            seen.append(bids[0])
        sample(t, ex)

    sim.recorder.sample = audit_mid_session
    while not seen and sim.day < sim.ndays:
        sim.run_day(check=True)
    assert seen
