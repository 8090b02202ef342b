"""Deals off the book: negotiated trades and the dominant seller's block auctions."""

from __future__ import annotations

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
    import msgspec

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
