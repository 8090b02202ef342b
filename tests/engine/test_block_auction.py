"""Block auctions: best bids by price then time, pay-as-bid or uniform, and every reject."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine import (
    BlockAuctionOpened,
    BlockAuctionSettled,
    BlockBidAccepted,
    Channel,
    Exchange,
    ExchangeSettings,
    Product,
    Rejected,
    RejectReason,
    Side,
    Trade,
)
from engine.block_auction import BlockBid, allocate_block

METAL = Product("PRND_MT", "PrNd metal", tick=100, lot=1000, reference_price=490_000)
SELLER = "northern"
START, END = 100, 200


def make(**settings) -> Exchange:
    ex = Exchange([METAL], ExchangeSettings(**settings))
    for member in (SELLER, 1, 2, 3):
        ex.add_member(member)
    ex.begin_day(time=10)
    ex.open_market(time=20)
    return ex


def offer(ex: Exchange, qty: int = 10_000, reserve: int = 500_000, **kwargs) -> int:
    events = ex.open_block_auction(SELLER, "PRND_MT", qty, reserve, start=START, end=END,
                                   **kwargs)
    assert type(events[0]) is BlockAuctionOpened, events
    return events[0].auction_id


def digest(ex: Exchange) -> bytes:
    return msgspec.msgpack.encode(ex.snapshot())


def only_reject(events, reason):
    assert len(events) == 1 and type(events[0]) is Rejected, events
    assert events[0].reason is reason, events[0]


def test_block_goes_to_best_bids_by_price_then_time_each_paying_its_bid():
    ex = make()
    aid = offer(ex, qty=10_000)
    bids = [(1, 510_000, 4000), (2, 520_000, 3000), (3, 510_000, 5000), (1, 505_000, 6000)]
    ids = [ex.bid_block_auction(m, aid, p, q, time=START + i)[0].bid_id
           for i, (m, p, q) in enumerate(bids)]
    events = ex.settle_block_auction(aid, time=END)
    trades = [e for e in events if type(e) is Trade]
    assert [(t.taker_order_id, t.price, t.qty) for t in trades] == [
        (ids[1], 520_000, 3000), (ids[0], 510_000, 4000), (ids[2], 510_000, 3000)]
    assert all(t.maker_order_id == aid and t.seller == SELLER and t.aggressor is Side.BUY
               for t in trades)
    summary = events[-1]
    assert type(summary) is BlockAuctionSettled
    assert (summary.sold, summary.unsold) == (10_000, 0)
    assert (summary.low_price, summary.high_price) == (510_000, 520_000)
    assert summary.value == sum(t.value for t in trades)
    assert ex.current_bar("PRND_MT").volume == 10_000


def test_uniform_block_auction_charges_every_winner_the_lowest_winning_bid():
    ex = make(block_uniform_price=True)
    aid = offer(ex, qty=5000)
    ex.bid_block_auction(1, aid, 530_000, 2000, time=START)
    ex.bid_block_auction(2, aid, 515_000, 4000, time=START + 1)
    trades = [e for e in ex.settle_block_auction(aid, time=END) if type(e) is Trade]
    assert [(t.buyer, t.price, t.qty) for t in trades] == [(1, 515_000, 2000),
                                                            (2, 515_000, 3000)]


def test_undersubscribed_block_reports_unsold_quantity():
    ex = make()
    aid = offer(ex, qty=10_000, uniform=False)
    ex.bid_block_auction(1, aid, 500_000, 3000, time=START, channel=Channel.OFFLINE)
    events = ex.settle_block_auction(aid, time=END + 5)
    assert events[0].channel is Channel.OFFLINE
    assert (events[-1].sold, events[-1].unsold) == (3000, 7000)
    empty = offer(ex)
    summary = ex.settle_block_auction(empty, time=END)[-1]
    assert (summary.sold, summary.unsold, summary.low_price) == (0, 10_000, None)


def test_bids_of_members_suspended_before_settlement_are_passed_over():
    ex = make()
    aid = offer(ex, qty=5000)
    ex.bid_block_auction(1, aid, 600_000, 5000, time=START)
    ex.bid_block_auction(2, aid, 500_000, 5000, time=START)
    ex.suspend_member(1, time=START + 1)
    trades = [e for e in ex.settle_block_auction(aid, time=END) if type(e) is Trade]
    assert [(t.buyer, t.qty) for t in trades] == [(2, 5000)]


@pytest.mark.parametrize(
    "member, price, qty, time, reason",
    [
        (SELLER, 510_000, 1000, START, RejectReason.SELLER_CANNOT_BID),
        (1, 499_900, 1000, START, RejectReason.BELOW_RESERVE),
        (1, 510_050, 1000, START, RejectReason.PRICE_OFF_TICK),
        (1, 510_000, 1500, START, RejectReason.QTY_NOT_LOT_MULTIPLE),
        (1, 510_000, 1000, START - 1, RejectReason.AUCTION_NOT_OPEN),
        (1, 510_000, 1000, END, RejectReason.AUCTION_NOT_OPEN),
        ("stranger", 510_000, 1000, START, RejectReason.UNKNOWN_MEMBER),
    ],
)
def test_bad_block_bids_are_rejected_and_change_nothing(member, price, qty, time, reason):
    ex = make()
    aid = offer(ex)
    before = digest(ex)
    only_reject(ex.bid_block_auction(member, aid, price, qty, time=time), reason)
    assert digest(ex) == before


def test_block_auction_request_rejects():
    ex = make()
    before = digest(ex)
    only_reject(ex.open_block_auction(SELLER, "PRND_MT", 1000, 500_000, start=5, end=5),
                RejectReason.INVALID_WINDOW)
    only_reject(ex.open_block_auction(SELLER, "PRND_MT", 1500, 500_000, start=5, end=9),
                RejectReason.QTY_NOT_LOT_MULTIPLE)
    only_reject(ex.open_block_auction(SELLER, "PRND_MT", 1000, 500_050, start=5, end=9),
                RejectReason.PRICE_OFF_TICK)
    only_reject(ex.open_block_auction(SELLER, "GOLD", 1000, 500_000, start=5, end=9),
                RejectReason.UNKNOWN_PRODUCT)
    only_reject(ex.open_block_auction("stranger", "PRND_MT", 1000, 500_000, start=5, end=9),
                RejectReason.UNKNOWN_MEMBER)
    only_reject(ex.bid_block_auction(1, 999, 500_000, 1000, time=START),
                RejectReason.UNKNOWN_AUCTION)
    only_reject(ex.settle_block_auction(999, time=END), RejectReason.UNKNOWN_AUCTION)
    assert digest(ex) == before
    aid = offer(ex)
    ex.bid_block_auction(1, aid, 500_000, 1000, time=START)
    before = digest(ex)
    only_reject(ex.settle_block_auction(aid, time=END - 1), RejectReason.AUCTION_NOT_ENDED)
    assert digest(ex) == before
    ex.settle_block_auction(aid, time=END)
    before = digest(ex)
    only_reject(ex.settle_block_auction(aid, time=END), RejectReason.AUCTION_SETTLED)
    only_reject(ex.bid_block_auction(2, aid, 500_000, 1000, time=START),
                RejectReason.AUCTION_SETTLED)
    assert digest(ex) == before


def test_block_auction_events_name_the_auction_bid_and_product():
    ex = make()
    aid = offer(ex)
    bid = ex.bid_block_auction(1, aid, 500_000, 1000, time=START)[0]
    assert type(bid) is BlockBidAccepted
    assert (bid.auction_id, bid.member, bid.product) == (aid, 1, "PRND_MT")
    assert ex.block_auction(aid).bids[0].bid_id == bid.bid_id


@given(
    bids=st.lists(st.tuples(st.integers(1, 6), st.integers(1, 5)), max_size=10),
    qty=st.integers(1, 20),
    uniform=st.booleans(),
)
def test_block_allocation_sells_min_of_offer_and_demand_to_the_best_bids(bids, qty, uniform):
    book = [BlockBid(i, i, price, q, i, Channel.ONLINE) for i, (price, q) in enumerate(bids)]
    wins = allocate_block(book, qty, uniform)
    assert sum(f for _, f, _ in wins) == min(qty, sum(q for _, q in bids))
    assert all(0 < f <= b.qty for b, f, _ in wins)
    # every losing or partly filled bid is no better than every fully filled winner
    winners = {b.bid_id for b, _, _ in wins}
    full = [b for b, f, _ in wins if f == b.qty]
    for b in book:
        if b.bid_id not in winners or any(w.bid_id == b.bid_id and f < b.qty
                                          for w, f, _ in wins):
            assert all((w.price, -w.bid_id) > (b.price, -b.bid_id) for w in full
                       if w.bid_id != b.bid_id)
    for b, _, paid in wins:
        assert paid == (min(w.price for w, _, _ in wins) if uniform else b.price)
