"""Deals off the book: negotiated trades and the dominant seller's block auctions."""

from __future__ import annotations

import msgspec
import numpy as np

from engine import Accepted, Channel, Trade
from engine.events import BlockAuctionOpened, BlockAuctionSettled, BlockBidAccepted
from sim import Simulation
from sim.population import DOMINANT_LIGHT
from tests.sim.small import small_scenario


def _events(seed: int = 4):
    sim = Simulation(small_scenario(), seed=seed)
    events = []
    sim.exchange.subscribe(events.append)
    for _ in range(sim.ndays):
        sim.run_day(check=True)
    return sim, events


def test_block_auctions_sell_the_dominant_sellers_block_to_buyers_of_the_product():
    sim, events = _events()
    spec = sim.scenario.block_auctions
    opened = [e for e in events if type(e) is BlockAuctionOpened]
    assert opened and all(e.seller == DOMINANT_LIGHT and e.product == spec.product
                          for e in opened)
    ids = {e.auction_id: e for e in opened}
    trades = [e for e in events if type(e) is Trade and e.maker_order_id in ids]
    assert trades
    role = sim.population.role
    roles = sim.scenario.roles
    for t in trades:
        assert t.seller == DOMINANT_LIGHT and t.price >= ids[t.maker_order_id].reserve_price
        assert spec.product in roles[role[t.buyer - 1]].buys
    settled = [e for e in events if type(e) is BlockAuctionSettled]
    for s in settled:
        assert s.sold == sum(t.qty for t in trades if t.maker_order_id == s.auction_id)
        assert s.sold + s.unsold == ids[s.auction_id].qty
    assert all(b.member != DOMINANT_LIGHT for b in events if type(b) is BlockBidAccepted)


def test_negotiated_deals_are_offline_blocks_that_never_touch_the_book():
    sim, events = _events()
    accepted = {e.order_id for e in events if type(e) is Accepted}
    auctions = {e.auction_id for e in events if type(e) is BlockAuctionOpened}
    deals = [e for e in events if type(e) is Trade and e.maker_order_id not in accepted
             and e.maker_order_id not in auctions]
    assert len(deals) == sim.agents.counts["negotiated"] > 0
    blocks = {p.code: p.min_block or p.lot for p in sim.scenario.products}
    for d in deals:
        assert d.channel is Channel.OFFLINE
        assert d.qty >= blocks[d.product] and d.buyer != d.seller


def test_a_negotiated_deal_is_registered_only_while_the_fee_costs_each_side_less_than_off_it():
    sc = small_scenario()
    cheap = Simulation(sc, seed=4)
    for _ in range(cheap.ndays):
        cheap.run_day()
    assert cheap.agents.counts["negotiated"] > 0
    # a fee above every member's own off-exchange premium and discount: no deal pays it
    dear = Simulation(msgspec.structs.replace(
        sc, exchange=msgspec.structs.replace(sc.exchange, fee_bp=1000)), seed=4)
    assert dear.agents.fee_bp > dear.agents.friction.max()
    for _ in range(dear.ndays):
        dear.run_day(check=True)
    assert dear.agents.counts["negotiated"] == 0


def _with_block_buyers(pct: float):
    sc = small_scenario()
    return msgspec.structs.replace(
        sc, negotiation=msgspec.structs.replace(sc.negotiation, block_buyers_pct=pct))


def test_block_buyers_are_a_members_trait_a_share_of_the_users_large_enough_for_a_block():
    every = Simulation(_with_block_buyers(100), seed=4).agents
    half = Simulation(_with_block_buyers(50), seed=4).agents
    none = Simulation(_with_block_buyers(0), seed=4).agents
    assert not none.block_buyer.any()
    # the same trait draw: a block buyer at 50% is one at 100%, and about half of them are
    assert (half.block_buyer <= every.block_buyer).all()
    assert 0.35 < half.block_buyer.sum() / every.block_buyer.sum() < 0.65
    # and only users whose `days` of use reach the minimum block (`negotiation.days`)
    days = every.sc.negotiation.days
    want = np.floor(every.rate * days / every.lot_s) * every.lot_s
    assert (every.block_buyer == (every.is_user & (want >= every.block_need))).all()


def _at_first_step(sim, act):
    """Run the simulation's next day, calling `act(t)` once, in its first step (market open)."""
    step, seen = sim.agents.step, {}

    def first_step(t, k):
        if not seen:
            seen["result"] = act(t)
        return step(t, k)

    sim.agents.step = first_step
    sim.run_day()
    return seen["result"]


def _stock_every_seller(a, p):
    for s in a.sellers_of[p]:  # every producer has a block to sell
        a.stock[a.slot_m_l[s] * a.P + p] = 10**9


def _negotiate_until_dealt(a, i, t, steps):
    """A drawn seller may not have joined: draw again, as the next steps would."""
    for j in range(steps):
        t, left = a._negotiate(np.array([i]), t, j)
        if not len(left):
            break
    return left


def test_a_block_buyer_buys_a_block_ahead_of_its_need_up_to_its_maximum_cover_then_waits():
    sim = Simulation(_with_block_buyers(100), seed=4)
    sim.run_day()
    a = sim.agents
    i = int(np.flatnonzero(a.negotiable & (a.headroom > a.deal_size))[0])
    p, m = a.slot_p_l[i], a.slot_m_l[i]

    def one_block_buyer(t):
        _stock_every_seller(a, p)
        a.cash[m] = 10**15
        a.need[i] = a.lot[p]  # a lot short of its target: too little for a block by itself
        room = a.lot[p] + a.headroom[i]
        left = _negotiate_until_dealt(a, i, t, sim.scenario.behaviour.steps_per_day)
        return left, a.need[i], room

    left, need, room = _at_first_step(sim, one_block_buyer)
    assert len(left) == 0 and a.counts["negotiated"] >= 1
    bought = a.lot[p] - need
    assert bought == a.deal_size[i] >= a.block_need[i]  # a block of `days` of its use
    assert need < 0 and bought <= room  # beyond its target, within its maximum cover
    # the next day it holds more than it wants: it does not buy until it has used it down
    sim.run_day()
    assert a.need[i] < 0


def test_a_user_that_is_not_a_block_buyer_routes_every_decision():
    # one large user, with a block's need, sellers holding blocks, in an open market: as a block
    # buyer it deals; with no block buyers the same decision is left to the venue choice
    def dealt(pct: float, i: int) -> tuple[list[int], int]:  # (decisions left, deals made)
        sim = Simulation(_with_block_buyers(pct), seed=4)
        sim.run_day()
        a = sim.agents
        steps = sim.scenario.behaviour.steps_per_day

        def big_need(t):
            _stock_every_seller(a, a.slot_p_l[i])
            a.cash[a.slot_m_l[i]] = 10**15
            a.need[i] = a.block_need[i] * 2
            before = a.counts["negotiated"]
            left = _negotiate_until_dealt(a, i, t, steps)
            return list(left), a.counts["negotiated"] - before

        return _at_first_step(sim, big_need)

    every = Simulation(_with_block_buyers(100), seed=4)
    every.run_day()
    i = int(np.flatnonzero(every.agents.negotiable)[0])
    assert dealt(100, i) == ([], 1)
    assert dealt(0, i) == ([i], 0)
