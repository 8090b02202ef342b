"""Block auctions: best bids by price then time, pay-as-bid or uniform, and every reject.

Also what a member's suspension does to the auctions it sells and the bids it placed.
"""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine import (
    BlockAuctionOpened,
    BlockAuctionSettled,
    BlockAuctionWithdrawn,
    BlockBidAccepted,
    BlockBidWithdrawn,
    Cancelled,
    CancelReason,
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
from engine.events import EXCHANGE_EVENTS, Event

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


# ------------------------------------------------------------------ suspension

SUSPENDED = CancelReason.MEMBER_SUSPENDED


def bid(ex: Exchange, member, aid: int, price: int, qty: int, time: int = START, **kw) -> int:
    events = ex.bid_block_auction(member, aid, price, qty, time=time, **kw)
    assert type(events[0]) is BlockBidAccepted, events
    return events[0].bid_id


def test_suspending_the_seller_withdraws_its_open_block_auctions_and_they_never_trade():
    ex = make()
    heard: list[Event] = []
    ex.subscribe(heard.append)
    done = offer(ex, qty=2000)
    bid(ex, 1, done, 500_000, 2000)
    ex.settle_block_auction(done, time=END)
    bidding = offer(ex, qty=10_000, channel=Channel.OFFLINE)
    bid(ex, 1, bidding, 520_000, 4000)
    bid(ex, 2, bidding, 510_000, 6000)
    later = ex.open_block_auction(SELLER, "PRND_MT", 5000, 500_000, start=END, end=END + 50,
                                  time=START)[0].auction_id
    resting = ex.submit_limit(SELLER, "PRND_MT", Side.SELL, 495_000, 1000,
                              time=START + 1)[0].order_id
    volume = ex.current_bar("PRND_MT").volume
    del heard[:]

    events = ex.suspend_member(SELLER, time=START + 2)

    assert [type(e) for e in events] == [Cancelled, BlockAuctionWithdrawn, BlockAuctionWithdrawn]
    assert (events[0].order_id, events[0].reason) == (resting, SUSPENDED)
    assert events[1:] == [
        BlockAuctionWithdrawn(bidding, SELLER, 10_000, SUSPENDED, START + 2, "PRND_MT",
                              Channel.OFFLINE),
        BlockAuctionWithdrawn(later, SELLER, 5000, SUSPENDED, START + 2, "PRND_MT",
                              Channel.ONLINE),
    ]
    assert heard == events
    for aid in (bidding, later):
        record = ex.block_auction(aid)
        assert record.withdrawn and not record.settled
    assert ex.block_auction(done).settled and not ex.block_auction(done).withdrawn

    before = digest(ex)
    only_reject(ex.settle_block_auction(bidding, time=END), RejectReason.AUCTION_WITHDRAWN)
    only_reject(ex.settle_block_auction(later, time=END + 50), RejectReason.AUCTION_WITHDRAWN)
    only_reject(ex.bid_block_auction(3, bidding, 530_000, 1000, time=START + 3),
                RejectReason.AUCTION_WITHDRAWN)
    only_reject(ex.bid_block_auction(3, later, 530_000, 1000, time=END),
                RejectReason.AUCTION_WITHDRAWN)
    only_reject(ex.settle_block_auction(done, time=END), RejectReason.AUCTION_SETTLED)
    assert digest(ex) == before
    assert not any(type(e) is Trade for e in heard)
    assert ex.current_bar("PRND_MT").volume == volume


def test_suspending_a_bidder_removes_its_bids_and_settlement_allocates_to_the_others_only():
    ex = make()
    first = offer(ex, qty=10_000)
    second = offer(ex, qty=3000)
    gone = [bid(ex, 1, first, 600_000, 6000, START), bid(ex, 1, first, 590_000, 1000, START + 1)]
    two = bid(ex, 2, first, 510_000, 5000, START + 2)
    three = bid(ex, 3, first, 505_000, 8000, START + 3)
    gone.append(bid(ex, 1, second, 550_000, 3000, START + 4, channel=Channel.OFFLINE))
    bid(ex, 2, second, 500_000, 3000, START + 5)

    events = ex.suspend_member(1, time=START + 6)

    assert events == [
        BlockBidWithdrawn(first, gone[0], 1, 600_000, 6000, SUSPENDED, START + 6, "PRND_MT"),
        BlockBidWithdrawn(first, gone[1], 1, 590_000, 1000, SUSPENDED, START + 6, "PRND_MT"),
        BlockBidWithdrawn(second, gone[2], 1, 550_000, 3000, SUSPENDED, START + 6, "PRND_MT",
                          Channel.OFFLINE),
    ]
    assert [b.member for b in ex.block_auction(first).bids] == [2, 3]
    assert [b.member for b in ex.block_auction(second).bids] == [2]
    assert not ex.block_auction(first).withdrawn  # the auction itself carries on

    trades = [e for e in ex.settle_block_auction(first, time=END) if type(e) is Trade]
    assert [(t.taker_order_id, t.buyer, t.price, t.qty) for t in trades] == [
        (two, 2, 510_000, 5000), (three, 3, 505_000, 5000)]
    summary = ex.settle_block_auction(second, time=END)[-1]
    assert (summary.sold, summary.low_price, summary.high_price) == (3000, 500_000, 500_000)


def test_reinstatement_brings_back_neither_withdrawn_auctions_nor_withdrawn_bids():
    ex = make()
    sellers = offer(ex, qty=5000)
    bid(ex, 1, sellers, 520_000, 5000)
    ex.suspend_member(SELLER, time=START + 1)
    other = ex.open_block_auction(2, "PRND_MT", 5000, 500_000, start=START, end=END)
    other = other[0].auction_id
    bid(ex, 1, other, 600_000, 5000, START + 2)
    three = bid(ex, 3, other, 500_000, 2000, START + 3)
    ex.suspend_member(1, time=START + 4)
    auctions = msgspec.msgpack.encode(ex.snapshot().auctions)

    assert ex.reinstate_member(SELLER) == [] and ex.reinstate_member(1) == []

    assert not ex.member(SELLER).suspended and not ex.member(1).suspended
    assert msgspec.msgpack.encode(ex.snapshot().auctions) == auctions
    assert ex.block_auction(sellers).withdrawn
    assert [b.member for b in ex.block_auction(other).bids] == [3]
    only_reject(ex.settle_block_auction(sellers, time=END), RejectReason.AUCTION_WITHDRAWN)
    # the reinstated bidder may bid afresh; only that new bid counts
    fresh = bid(ex, 1, other, 500_000, 1000, START + 5)
    trades = [e for e in ex.settle_block_auction(other, time=END) if type(e) is Trade]
    assert [(t.buyer, t.taker_order_id, t.qty) for t in trades] == [(3, three, 2000),
                                                                     (1, fresh, 1000)]
    # and the reinstated seller may open a new auction, which settles normally
    again = offer(ex, qty=1000)
    bid(ex, 3, again, 500_000, 1000)
    assert ex.settle_block_auction(again, time=END)[-1].sold == 1000


def test_suspending_a_member_with_no_part_in_the_block_auctions_leaves_them_untouched():
    def scene() -> tuple[Exchange, int]:
        ex = make()
        ex.add_member("bystander")
        aid = offer(ex, qty=6000)
        bid(ex, 1, aid, 520_000, 4000, START)
        bid(ex, 2, aid, 510_000, 4000, START + 1)
        return ex, aid

    ex, aid = scene()
    auctions = msgspec.msgpack.encode(ex.snapshot().auctions)
    assert ex.suspend_member("bystander", time=START + 2) == []
    assert msgspec.msgpack.encode(ex.snapshot().auctions) == auctions
    control, _ = scene()
    assert ex.settle_block_auction(aid, time=END) == control.settle_block_auction(aid, time=END)


def test_suspension_events_come_in_a_fixed_order_and_a_second_suspension_adds_none():
    ex = make()
    ex.add_member("both")
    heard: list[Event] = []
    ex.subscribe(heard.append)
    a1 = offer(ex)
    b1 = bid(ex, "both", a1, 500_000, 1000, START)
    a2 = ex.open_block_auction("both", "PRND_MT", 3000, 500_000, start=START, end=END)
    a2 = a2[0].auction_id
    bid(ex, 1, a2, 500_000, 3000, START)
    a3 = offer(ex)
    b3 = bid(ex, "both", a3, 500_000, 2000, START + 1)
    b1b = bid(ex, "both", a1, 510_000, 1000, START + 2)
    order = ex.submit_limit("both", "PRND_MT", Side.BUY, 480_000, 1000,
                            time=START + 3)[0].order_id
    del heard[:]

    events = ex.suspend_member("both", time=START + 4)

    assert [(type(e).__name__, getattr(e, "order_id", None) or getattr(e, "bid_id", None)
             or e.auction_id) for e in events] == [
        ("Cancelled", order), ("BlockBidWithdrawn", b1), ("BlockBidWithdrawn", b1b),
        ("BlockAuctionWithdrawn", a2), ("BlockBidWithdrawn", b3)]
    assert all(e.reason is SUSPENDED and e.time == START + 4 for e in events)
    assert heard == events
    assert ex.suspend_member("both", time=START + 5) == []
    assert heard == events


def test_withdrawal_events_round_trip_through_msgspec_as_tagged_events():
    events = [
        BlockAuctionWithdrawn(7, SELLER, 5000, SUSPENDED, 3, "PRND_MT", Channel.OFFLINE),
        BlockBidWithdrawn(7, 9, 1, 500_000, 1000, SUSPENDED, 3, "PRND_MT"),
    ]
    assert BlockAuctionWithdrawn in EXCHANGE_EVENTS and BlockBidWithdrawn in EXCHANGE_EVENTS
    union = list[BlockAuctionWithdrawn | BlockBidWithdrawn | BlockAuctionSettled]
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(events), type=union) == events
    assert msgspec.json.decode(msgspec.json.encode(events), type=union) == events
    with pytest.raises(AttributeError):
        events[0].qty = 1
