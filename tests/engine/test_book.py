"""Unit tests of the order book: one test per rule of the contract (issue 2, section 2).

Every behaviour test runs against both `engine.OrderBook` and the naive `ReferenceBook`, so
the oracle that the stateful test trusts is itself pinned to the same rules.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
import numpy as np
import pytest

from engine import (
    Accepted,
    Amended,
    Cancelled,
    CancelReason,
    Channel,
    Expired,
    OrderBook,
    Rejected,
    RejectReason,
    SelfTradePolicy,
    Side,
    TimeInForce,
    Trade,
    TradePriceRule,
)
from tests.engine.reference_book import ReferenceBook

BUY, SELL = Side.BUY, Side.SELL
GTC, DAY, IOC, FOK = TimeInForce.GTC, TimeInForce.DAY, TimeInForce.IOC, TimeInForce.FOK
TICK, LOT = 5, 10
PRODUCT = "PrNd"


@pytest.fixture(params=[OrderBook, ReferenceBook], ids=["book", "reference"])
def make(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """Factory of empty books (tick 5, lot 10, product PrNd unless overridden)."""

    def factory(**kwargs: Any) -> Any:
        settings = {"tick": TICK, "lot": LOT, "product": PRODUCT} | kwargs
        tick, lot = settings.pop("tick"), settings.pop("lot")
        return request.param(tick, lot, **settings)

    return factory


@pytest.fixture
def book(make: Callable[..., Any]) -> Any:
    return make()


def state(book: Any) -> tuple:
    """Everything observable about a book through its query API."""
    return (book.orders(), book.depth(1000), book.best_bid(), book.best_ask(), len(book),
            book.last_trade_price)


def only(events: list, kind: type) -> list:
    return [e for e in events if isinstance(e, kind)]


def reject_reason(events: list) -> RejectReason:
    assert len(events) == 1 and isinstance(events[0], Rejected), events
    return events[0].reason


def ids_at(book: Any, side: Side, price: int) -> list[int]:
    return [o.order_id for o in book.level(side, price)]


# ---- queries -------------------------------------------------------------------------------
def test_empty_book_has_no_prices_orders_or_last_trade(book: Any) -> None:
    assert (book.best_bid(), book.best_ask(), book.last_trade_price) == (None, None, None)
    assert book.depth(5) == ([], []) and book.orders() == [] and len(book) == 0
    assert book.order(1) is None and 1 not in book


def test_book_exposes_its_tick_lot_and_product(book: Any) -> None:
    assert (book.tick, book.lot, book.product) == (TICK, LOT, PRODUCT)


def test_resting_order_is_visible_in_every_query(book: Any) -> None:
    book.limit(7, BUY, 100, 30, owner="A", tif=DAY, channel=Channel.OFFLINE, time=11)
    o = book.order(7)
    assert (o.order_id, o.side, o.price, o.qty, o.owner, o.tif, o.channel, o.time) == (
        7, BUY, 100, 30, "A", DAY, Channel.OFFLINE, 11)
    assert book.level(BUY, 100) == [o] and book.orders() == [o]
    assert 7 in book and len(book) == 1 and book.best_bid() == 100


def test_depth_aggregates_each_price_best_first_and_truncates_to_levels(book: Any) -> None:
    for oid, side, price, qty in [(1, BUY, 100, 10), (2, BUY, 100, 20), (3, BUY, 95, 10),
                                  (4, BUY, 90, 10), (5, SELL, 110, 10), (6, SELL, 105, 40)]:
        book.limit(oid, side, price, qty)
    assert book.depth(2) == ([(100, 30), (95, 10)], [(105, 40), (110, 10)])
    assert book.depth(10) == ([(100, 30), (95, 10), (90, 10)], [(105, 40), (110, 10)])


def test_touch_is_the_best_level_of_each_side_with_none_for_an_empty_side(book: Any) -> None:
    assert book.touch() == (None, None, None, None)
    book.limit(1, BUY, 100, 10)
    book.limit(2, BUY, 100, 20)
    book.limit(3, BUY, 95, 10)
    assert book.touch() == (100, 30, None, None)
    book.limit(4, SELL, 110, 10)
    book.limit(5, SELL, 105, 40)
    assert book.touch() == (100, 30, 105, 40)
    book.cancel(1)
    book.cancel(2)
    book.cancel(3)
    assert book.touch() == (None, None, 105, 40)


def test_level_lists_resting_orders_oldest_first(book: Any) -> None:
    for oid in (3, 1, 2):
        book.limit(oid, SELL, 120, 10)
    assert ids_at(book, SELL, 120) == [3, 1, 2]
    assert book.level(SELL, 125) == [] and book.level(BUY, 120) == []


def test_mass_cancels_at_one_level_keep_the_survivors_in_time_priority(book: Any) -> None:
    ids = list(range(1, 201))
    for oid in ids:
        book.limit(oid, SELL, 100, LOT)
    survivors = [oid for oid in ids if oid % 7 == 0]
    for oid in ids:
        if oid not in survivors:
            book.cancel(oid)
    assert ids_at(book, SELL, 100) == survivors
    assert book.depth(1) == ([], [(100, LOT * len(survivors))])
    events = book.limit(999, BUY, 100, LOT * len(survivors))
    assert [t.maker_order_id for t in only(events, Trade)] == survivors and len(book) == 0


def test_snapshot_is_byte_identical_for_identical_histories() -> None:
    books = [OrderBook(TICK, LOT, product=PRODUCT) for _ in range(2)]
    for b in books:
        b.limit(1, BUY, 100, 10, owner="A")
        b.limit(2, SELL, 100, 30, owner="B")
        b.limit(3, SELL, 105, 10, tif=DAY)
    first, second = (msgspec.msgpack.encode(b.snapshot()) for b in books)
    assert first == second
    books[1].cancel(3)
    assert msgspec.msgpack.encode(books[1].snapshot()) != first


def test_check_invariants_passes_on_a_busy_book() -> None:
    book = OrderBook(TICK, LOT)
    for i in range(1, 60):
        side = BUY if i % 2 else SELL
        book.limit(i, side, 100 + TICK * (i % 7) - 3 * TICK, LOT * (1 + i % 4), owner=i % 3)
        if i % 5 == 0:
            book.cancel(i - 2)
        book.check_invariants()


# ---- limit validation ----------------------------------------------------------------------
@pytest.mark.parametrize("price", [0, -TICK])
def test_limit_with_non_positive_price_is_rejected(book: Any, price: int) -> None:
    assert reject_reason(book.limit(1, BUY, price, LOT)) is RejectReason.PRICE_NOT_POSITIVE


def test_limit_with_price_off_tick_is_rejected(book: Any) -> None:
    assert reject_reason(book.limit(1, BUY, 101, LOT)) is RejectReason.PRICE_OFF_TICK


@pytest.mark.parametrize("qty", [0, -LOT, LOT + 1, LOT // 2])
def test_limit_with_qty_not_positive_lot_multiple_is_rejected(book: Any, qty: int) -> None:
    assert reject_reason(book.limit(1, BUY, 100, qty)) is RejectReason.QTY_NOT_LOT_MULTIPLE


def test_limit_reusing_a_live_order_id_is_rejected(book: Any) -> None:
    book.limit(1, BUY, 100, LOT)
    assert reject_reason(book.limit(1, SELL, 200, LOT)) is RejectReason.DUPLICATE_ORDER_ID


def test_order_id_may_be_reused_once_the_order_has_left(book: Any) -> None:
    book.limit(1, BUY, 100, LOT)
    book.cancel(1)
    assert isinstance(book.limit(1, BUY, 100, LOT)[0], Accepted)


@pytest.mark.parametrize(
    "args, expected",
    [
        ((-1, LOT + 1), RejectReason.PRICE_NOT_POSITIVE),  # non-positive and off tick
        ((101, 0), RejectReason.PRICE_OFF_TICK),  # off tick and bad qty
        ((100, 0), RejectReason.QTY_NOT_LOT_MULTIPLE),  # bad qty and duplicate id
    ],
)
def test_limit_checks_price_then_tick_then_lot_then_duplicate(
    book: Any, args: tuple[int, int], expected: RejectReason
) -> None:
    book.limit(1, BUY, 100, LOT)
    assert reject_reason(book.limit(1, BUY, *args)) is expected


def test_limit_checks_duplicate_before_post_only_and_post_only_before_fok(book: Any) -> None:
    book.limit(1, SELL, 100, LOT)
    dup = book.limit(1, BUY, 100, LOT, post_only=True)
    assert reject_reason(dup) is RejectReason.DUPLICATE_ORDER_ID
    both = book.limit(2, BUY, 100, 5 * LOT, tif=FOK, post_only=True)
    assert reject_reason(both) is RejectReason.POST_ONLY_WOULD_CROSS


def test_rejected_carries_order_id_time_product_and_request_channel(book: Any) -> None:
    [event] = book.limit(9, SELL, 101, LOT, channel=Channel.OFFLINE, time=42)
    assert (event.order_id, event.time, event.product, event.channel) == (
        9, 42, PRODUCT, Channel.OFFLINE)


def test_rejected_limit_changes_nothing(book: Any) -> None:
    book.limit(1, BUY, 100, LOT)
    book.limit(2, SELL, 105, LOT)
    before = state(book)
    book.limit(3, BUY, 101, LOT)
    book.limit(1, BUY, 100, LOT)
    book.limit(4, BUY, 105, LOT, post_only=True)
    book.limit(5, BUY, 105, 2 * LOT, tif=FOK)
    assert state(book) == before


# ---- misuse --------------------------------------------------------------------------------
MISUSES: list[tuple[str, Callable[[Any], Any]]] = [
    ("float price", lambda b: b.limit(1, BUY, 100.0, LOT)),
    ("bool qty", lambda b: b.limit(1, BUY, 100, True)),
    ("numpy order id", lambda b: b.limit(np.int64(1), BUY, 100, LOT)),
    ("numpy price", lambda b: b.limit(1, BUY, np.int64(100), LOT)),
    ("string side", lambda b: b.limit(1, "buy", 100, LOT)),
    ("string tif", lambda b: b.limit(1, BUY, 100, LOT, tif="gtc")),
    ("float market qty", lambda b: b.market(1, SELL, 10.0)),
    ("string market side", lambda b: b.market(1, "sell", LOT)),
    ("float protection", lambda b: b.market(1, SELL, LOT, protection=95.0)),
    ("string cancel id", lambda b: b.cancel("2")),
    ("float amend price", lambda b: b.amend(2, price=105.0)),
    ("numpy amend qty", lambda b: b.amend(2, qty=np.int32(LOT))),
]


@pytest.mark.parametrize("call", [c for _, c in MISUSES], ids=[n for n, _ in MISUSES])
def test_api_misuse_raises_type_error_and_changes_nothing(book: Any, call: Callable) -> None:
    book.limit(2, BUY, 100, 2 * LOT)
    before = state(book)
    with pytest.raises(TypeError):
        call(book)
    assert state(book) == before


# ---- matching ------------------------------------------------------------------------------
def test_limit_that_does_not_cross_rests_silently(book: Any) -> None:
    book.limit(1, SELL, 105, LOT)
    events = book.limit(2, BUY, 100, LOT, owner="A", time=3)
    assert events == [Accepted(2, BUY, 100, LOT, "A", GTC, 3, PRODUCT, Channel.ONLINE)]
    assert book.best_bid() == 100


def test_taker_sweeps_best_price_first_and_oldest_first_within_a_price(book: Any) -> None:
    book.limit(1, SELL, 110, LOT)
    book.limit(2, SELL, 105, LOT)
    book.limit(3, SELL, 105, LOT)
    book.limit(4, SELL, 100, LOT)
    events = book.limit(5, BUY, 110, 4 * LOT)
    assert isinstance(events[0], Accepted)
    assert [(t.maker_order_id, t.price) for t in events[1:]] == [(4, 100), (2, 105), (3, 105),
                                                                 (1, 110)]


def test_sell_taker_reaches_highest_bids_first(book: Any) -> None:
    book.limit(1, BUY, 95, LOT)
    book.limit(2, BUY, 100, LOT)
    events = book.limit(3, SELL, 90, 2 * LOT)
    assert [t.maker_order_id for t in only(events, Trade)] == [2, 1]


def test_limit_never_trades_beyond_its_price_and_rests_the_remainder(book: Any) -> None:
    book.limit(1, SELL, 100, LOT)
    book.limit(2, SELL, 110, LOT)
    events = book.limit(3, BUY, 105, 3 * LOT)
    assert [(t.maker_order_id, t.qty) for t in only(events, Trade)] == [(1, LOT)]
    assert not only(events, Cancelled)
    assert book.order(3).qty == 2 * LOT and book.best_bid() == 105 and book.best_ask() == 110


def test_partially_filled_maker_keeps_its_place_with_reduced_qty(book: Any) -> None:
    book.limit(1, SELL, 100, 3 * LOT)
    book.limit(2, SELL, 100, LOT)
    book.limit(3, BUY, 100, LOT)
    assert ids_at(book, SELL, 100) == [1, 2] and book.order(1).qty == 2 * LOT


def test_trade_names_both_orders_owners_aggressor_time_product_and_taker_channel(
    book: Any,
) -> None:
    book.limit(1, BUY, 100, 2 * LOT, owner="M", channel=Channel.ONLINE)
    events = book.limit(2, SELL, 100, LOT, owner="T", channel=Channel.OFFLINE, time=77)
    assert events[1:] == [Trade(100, LOT, 1, 2, "M", "T", SELL, 77, PRODUCT, Channel.OFFLINE)]


def test_last_trade_price_is_the_latest_trade_price(book: Any) -> None:
    book.limit(1, SELL, 100, LOT)
    book.limit(2, SELL, 105, LOT)
    book.limit(3, BUY, 105, 2 * LOT)
    assert book.last_trade_price == 105


def test_day_order_rests_like_gtc_until_the_close(book: Any) -> None:
    book.limit(1, SELL, 100, 3 * LOT)
    events = book.limit(2, BUY, 100, 5 * LOT, tif=DAY)
    assert len(only(events, Trade)) == 1 and book.order(2).qty == 2 * LOT
    assert book.order(2).tif is DAY


# ---- IOC -----------------------------------------------------------------------------------
def test_ioc_remainder_is_cancelled_with_ioc_remainder_reason(book: Any) -> None:
    book.limit(1, SELL, 100, LOT)
    events = book.limit(2, BUY, 105, 3 * LOT, owner="A", tif=IOC, time=5)
    assert events[-1] == Cancelled(2, BUY, 105, 2 * LOT, "A", CancelReason.IOC_REMAINDER, 5,
                                   PRODUCT, Channel.ONLINE)
    assert 2 not in book


def test_ioc_that_fills_completely_emits_no_cancel(book: Any) -> None:
    book.limit(1, SELL, 100, 3 * LOT)
    events = book.limit(2, BUY, 100, 2 * LOT, tif=IOC)
    assert [type(e) for e in events] == [Accepted, Trade]


def test_ioc_that_cannot_trade_is_accepted_then_fully_cancelled(book: Any) -> None:
    events = book.limit(1, BUY, 100, LOT, tif=IOC)
    assert [type(e) for e in events] == [Accepted, Cancelled] and events[1].qty == LOT
    assert len(book) == 0


# ---- FOK -----------------------------------------------------------------------------------
def test_fok_that_can_fill_trades_its_whole_quantity(book: Any) -> None:
    book.limit(1, SELL, 100, LOT)
    book.limit(2, SELL, 105, 2 * LOT)
    events = book.limit(3, BUY, 105, 3 * LOT, tif=FOK)
    assert [type(e) for e in events] == [Accepted, Trade, Trade]
    assert sum(t.qty for t in only(events, Trade)) == 3 * LOT and 3 not in book


def test_fok_that_cannot_fill_is_rejected_and_leaves_nothing_behind(book: Any) -> None:
    book.limit(1, SELL, 100, LOT)
    book.limit(2, SELL, 105, LOT)
    book.limit(3, SELL, 110, 5 * LOT)  # beyond the FOK's price: does not count
    before = state(book)
    events = book.limit(4, BUY, 105, 3 * LOT, tif=FOK)
    assert reject_reason(events) is RejectReason.FOK_CANNOT_FILL
    assert state(book) == before


@pytest.mark.parametrize("ask", [None, 110])
def test_fok_that_crosses_nothing_is_rejected(book: Any, ask: int | None) -> None:
    if ask is not None:
        book.limit(1, SELL, ask, 5 * LOT)
    before = state(book)
    assert reject_reason(book.limit(2, BUY, 105, LOT, tif=FOK)) is RejectReason.FOK_CANNOT_FILL
    assert state(book) == before


def test_fok_with_cancel_resting_skips_own_orders_and_cancels_them_while_filling(
    make: Callable[..., Any],
) -> None:
    book = make(stp=SelfTradePolicy.CANCEL_RESTING)
    book.limit(1, SELL, 100, LOT, owner="A")
    book.limit(2, SELL, 100, LOT, owner="B")
    assert reject_reason(book.limit(3, BUY, 100, 2 * LOT, owner="A", tif=FOK)) is (
        RejectReason.FOK_CANNOT_FILL)
    assert 1 in book
    events = book.limit(4, BUY, 100, LOT, owner="A", tif=FOK)
    assert [(type(e), getattr(e, "reason", None)) for e in events[1:]] == [
        (Cancelled, CancelReason.SELF_TRADE), (Trade, None)]
    assert len(book) == 0


@pytest.mark.parametrize("stp", [SelfTradePolicy.CANCEL_INCOMING, SelfTradePolicy.CANCEL_BOTH])
def test_fok_with_other_policies_stops_counting_at_the_first_own_order(
    make: Callable[..., Any], stp: SelfTradePolicy
) -> None:
    book = make(stp=stp)
    book.limit(1, SELL, 100, LOT, owner="B")
    book.limit(2, SELL, 100, LOT, owner="A")
    book.limit(3, SELL, 100, 5 * LOT, owner="B")
    before = state(book)
    assert reject_reason(book.limit(4, BUY, 100, 2 * LOT, owner="A", tif=FOK)) is (
        RejectReason.FOK_CANNOT_FILL)
    assert state(book) == before
    events = book.limit(5, BUY, 100, LOT, owner="A", tif=FOK)
    assert [type(e) for e in events] == [Accepted, Trade] and 2 in book


# ---- post-only -----------------------------------------------------------------------------
@pytest.mark.parametrize("price", [105, 110])
def test_post_only_that_would_cross_is_rejected(book: Any, price: int) -> None:
    book.limit(1, SELL, 105, LOT)
    events = book.limit(2, BUY, price, LOT, post_only=True)
    assert reject_reason(events) is RejectReason.POST_ONLY_WOULD_CROSS and 2 not in book


def test_post_only_is_rejected_even_against_its_owners_own_order(book: Any) -> None:
    book.limit(1, BUY, 100, LOT, owner="A")
    events = book.limit(2, SELL, 100, LOT, owner="A", post_only=True)
    assert reject_reason(events) is RejectReason.POST_ONLY_WOULD_CROSS


def test_post_only_that_does_not_cross_rests(book: Any) -> None:
    book.limit(1, SELL, 105, LOT)
    assert [type(e) for e in book.limit(2, BUY, 100, LOT, post_only=True)] == [Accepted]
    assert book.best_bid() == 100


# ---- market --------------------------------------------------------------------------------
def test_market_order_is_accepted_as_ioc_without_price_and_sweeps(book: Any) -> None:
    book.limit(1, BUY, 100, LOT)
    book.limit(2, BUY, 90, LOT)
    events = book.market(3, SELL, 2 * LOT, owner="A", time=8)
    assert events[0] == Accepted(3, SELL, None, 2 * LOT, "A", IOC, 8, PRODUCT, Channel.ONLINE)
    assert [(t.maker_order_id, t.price) for t in events[1:]] == [(1, 100), (2, 90)]
    assert len(book) == 0


def test_market_remainder_is_cancelled_when_the_book_is_exhausted(book: Any) -> None:
    book.limit(1, SELL, 100, LOT)
    events = book.market(2, BUY, 3 * LOT)
    assert events[-1] == Cancelled(2, BUY, None, 2 * LOT, None, CancelReason.MARKET_REMAINDER, 0,
                                   PRODUCT, Channel.ONLINE)
    assert 2 not in book


def test_market_order_stops_at_its_protection_price(book: Any) -> None:
    book.limit(1, SELL, 100, LOT)
    book.limit(2, SELL, 105, LOT)
    book.limit(3, SELL, 110, LOT)
    events = book.market(4, BUY, 3 * LOT, protection=105)
    assert events[0].price == 105
    assert [t.maker_order_id for t in only(events, Trade)] == [1, 2]
    assert events[-1] == Cancelled(4, BUY, 105, LOT, None, CancelReason.MARKET_REMAINDER, 0,
                                   PRODUCT, Channel.ONLINE)
    assert book.best_ask() == 110


def test_market_whose_protection_excludes_every_maker_is_accepted_then_cancelled(
    book: Any,
) -> None:
    book.limit(1, BUY, 100, LOT)
    events = book.market(2, SELL, LOT, protection=105)
    assert [type(e) for e in events] == [Accepted, Cancelled] and book.order(1).qty == LOT


def test_market_order_against_an_empty_side_is_rejected_no_liquidity(book: Any) -> None:
    book.limit(1, BUY, 100, LOT)
    assert reject_reason(book.market(2, BUY, LOT)) is RejectReason.NO_LIQUIDITY


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({"qty": LOT + 1, "order_id": 1}, RejectReason.QTY_NOT_LOT_MULTIPLE),
        ({"qty": 0, "protection": -1}, RejectReason.QTY_NOT_LOT_MULTIPLE),
        ({"order_id": 1, "protection": 101}, RejectReason.DUPLICATE_ORDER_ID),
        ({"protection": 0}, RejectReason.PRICE_NOT_POSITIVE),
        ({"protection": -1}, RejectReason.PRICE_NOT_POSITIVE),
        ({"protection": 101}, RejectReason.PRICE_OFF_TICK),
    ],
)
def test_market_checks_lot_then_duplicate_then_protection_price(
    book: Any, kwargs: dict, expected: RejectReason
) -> None:
    book.limit(1, SELL, 100, LOT)
    args = {"order_id": 2, "qty": LOT} | kwargs
    before = state(book)
    events = book.market(args.pop("order_id"), BUY, args.pop("qty"), **args)
    assert reject_reason(events) is expected and state(book) == before


def test_market_checks_protection_price_before_liquidity(book: Any) -> None:
    assert reject_reason(book.market(1, BUY, LOT, protection=101)) is RejectReason.PRICE_OFF_TICK


# ---- self-trade prevention -----------------------------------------------------------------
def test_cancel_resting_policy_cancels_own_maker_and_keeps_matching(
    make: Callable[..., Any],
) -> None:
    book = make(stp=SelfTradePolicy.CANCEL_RESTING)
    book.limit(1, SELL, 100, LOT, owner="B")
    book.limit(2, SELL, 100, 2 * LOT, owner="A", channel=Channel.OFFLINE)
    book.limit(3, SELL, 105, LOT, owner="B")
    events = book.limit(4, BUY, 105, 2 * LOT, owner="A", time=6)
    assert events[1:] == [
        Trade(100, LOT, 1, 4, "B", "A", BUY, 6, PRODUCT, Channel.ONLINE),
        Cancelled(2, SELL, 100, 2 * LOT, "A", CancelReason.SELF_TRADE, 6, PRODUCT,
                  Channel.OFFLINE),
        Trade(105, LOT, 3, 4, "B", "A", BUY, 6, PRODUCT, Channel.ONLINE),
    ]
    assert len(book) == 0


def test_cancel_incoming_policy_cancels_taker_remainder_and_nothing_rests(
    make: Callable[..., Any],
) -> None:
    book = make(stp=SelfTradePolicy.CANCEL_INCOMING)
    book.limit(1, SELL, 100, LOT, owner="B")
    book.limit(2, SELL, 100, LOT, owner="A")
    book.limit(3, SELL, 100, LOT, owner="B")
    events = book.limit(4, BUY, 100, 3 * LOT, owner="A")
    assert [type(e) for e in events] == [Accepted, Trade, Cancelled]
    assert events[-1] == Cancelled(4, BUY, 100, 2 * LOT, "A", CancelReason.SELF_TRADE, 0,
                                   PRODUCT, Channel.ONLINE)
    assert 4 not in book and ids_at(book, SELL, 100) == [2, 3]


def test_cancel_both_policy_cancels_maker_then_taker(make: Callable[..., Any]) -> None:
    book = make(stp=SelfTradePolicy.CANCEL_BOTH)
    book.limit(1, SELL, 100, LOT, owner="A")
    book.limit(2, SELL, 100, LOT, owner="B")
    events = book.limit(3, BUY, 100, 2 * LOT, owner="A")
    assert events[1:] == [
        Cancelled(1, SELL, 100, LOT, "A", CancelReason.SELF_TRADE, 0, PRODUCT, Channel.ONLINE),
        Cancelled(3, BUY, 100, 2 * LOT, "A", CancelReason.SELF_TRADE, 0, PRODUCT,
                  Channel.ONLINE),
    ]
    assert ids_at(book, SELL, 100) == [2] and 3 not in book


@pytest.mark.parametrize("stp", list(SelfTradePolicy))
def test_anonymous_orders_trade_with_each_other_under_every_policy(
    make: Callable[..., Any], stp: SelfTradePolicy
) -> None:
    book = make(stp=stp)
    book.limit(1, SELL, 100, LOT)
    assert [type(e) for e in book.limit(2, BUY, 100, LOT)] == [Accepted, Trade]


@pytest.mark.parametrize("stp", list(SelfTradePolicy))
def test_self_trade_prevention_spares_own_orders_the_taker_does_not_reach(
    make: Callable[..., Any], stp: SelfTradePolicy
) -> None:
    book = make(stp=stp)
    book.limit(1, SELL, 100, LOT, owner="B")
    book.limit(2, SELL, 110, LOT, owner="A")
    events = book.limit(3, BUY, 105, 2 * LOT, owner="A")
    assert [type(e) for e in events] == [Accepted, Trade] and 2 in book and 3 in book


def test_self_trade_prevention_applies_to_market_orders(make: Callable[..., Any]) -> None:
    book = make(stp=SelfTradePolicy.CANCEL_INCOMING)
    book.limit(1, BUY, 100, LOT, owner="A")
    events = book.market(2, SELL, LOT, owner="A", protection=95)
    assert events[1:] == [Cancelled(2, SELL, 95, LOT, "A", CancelReason.SELF_TRADE, 0, PRODUCT,
                                    Channel.ONLINE)]
    assert 1 in book


# ---- trade price rules ---------------------------------------------------------------------
def test_maker_rule_prints_at_the_resting_price(book: Any) -> None:
    book.limit(1, SELL, 100, LOT)
    assert book.limit(2, BUY, 110, LOT)[1].price == 100


def test_median_rule_uses_maker_price_as_last_before_any_trade(make: Callable[..., Any]) -> None:
    book = make(trade_price=TradePriceRule.MEDIAN)
    book.limit(1, SELL, 100, LOT)
    assert book.limit(2, BUY, 110, LOT)[1].price == 100  # median(110, 100, 100)


@pytest.mark.parametrize("last, expected", [(105, 105), (120, 110), (95, 100)])
def test_median_rule_prints_median_of_bid_ask_and_last(
    make: Callable[..., Any], last: int, expected: int
) -> None:
    book = make(trade_price=TradePriceRule.MEDIAN)
    book.limit(1, SELL, last, LOT)
    book.limit(2, BUY, last, LOT)
    assert book.last_trade_price == last
    book.limit(3, SELL, 100, LOT)
    [trade] = only(book.limit(4, BUY, 110, LOT), Trade)
    assert trade.price == expected and book.last_trade_price == expected


def test_median_rule_prices_unprotected_market_taker_at_the_maker_price(
    make: Callable[..., Any],
) -> None:
    book = make(trade_price=TradePriceRule.MEDIAN)
    book.limit(1, SELL, 120, LOT)
    book.limit(2, BUY, 120, LOT)
    book.limit(3, SELL, 100, LOT)
    [trade] = only(book.market(4, BUY, LOT), Trade)
    assert trade.price == 100  # median(maker 100, maker 100, last 120)


def test_median_rule_counts_a_market_takers_protection_as_its_price(
    make: Callable[..., Any],
) -> None:
    book = make(trade_price=TradePriceRule.MEDIAN)
    book.limit(1, SELL, 120, LOT)
    book.limit(2, BUY, 120, LOT)
    book.limit(3, SELL, 100, LOT)
    [trade] = only(book.market(4, BUY, LOT, protection=130), Trade)
    assert trade.price == 120  # median(protection 130, maker 100, last 120)


# ---- cancel --------------------------------------------------------------------------------
def test_cancel_removes_the_order_and_reports_its_open_qty_and_channel(book: Any) -> None:
    book.limit(1, SELL, 100, 3 * LOT, owner="A", channel=Channel.OFFLINE)
    book.limit(2, BUY, 100, LOT)
    events = book.cancel(1, time=9)
    assert events == [Cancelled(1, SELL, 100, 2 * LOT, "A", CancelReason.USER, 9, PRODUCT,
                                Channel.OFFLINE)]
    assert 1 not in book and book.best_ask() is None


def test_cancel_of_an_unknown_order_is_rejected(book: Any) -> None:
    book.limit(1, SELL, 100, LOT)
    book.limit(2, BUY, 100, LOT)  # order 1 filled and gone
    before = state(book)
    assert reject_reason(book.cancel(1)) is RejectReason.UNKNOWN_ORDER
    assert reject_reason(book.cancel(99)) is RejectReason.UNKNOWN_ORDER
    assert state(book) == before


# ---- amend ---------------------------------------------------------------------------------
def test_amend_of_an_unknown_order_is_rejected(book: Any) -> None:
    assert reject_reason(book.amend(1, qty=LOT)) is RejectReason.UNKNOWN_ORDER


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({"price": 0}, RejectReason.PRICE_NOT_POSITIVE),
        ({"price": -TICK, "qty": 0}, RejectReason.PRICE_NOT_POSITIVE),
        ({"price": 101, "qty": 0}, RejectReason.PRICE_OFF_TICK),
        ({"qty": 0}, RejectReason.QTY_NOT_LOT_MULTIPLE),
        ({"qty": LOT + 1}, RejectReason.QTY_NOT_LOT_MULTIPLE),
        ({"price": 105, "qty": 2 * LOT}, RejectReason.AMEND_NO_CHANGE),
        ({}, RejectReason.AMEND_NO_CHANGE),
    ],
)
def test_amend_checks_price_then_qty_then_that_something_changes(
    book: Any, kwargs: dict, expected: RejectReason
) -> None:
    book.limit(1, BUY, 105, 2 * LOT)
    before = state(book)
    assert reject_reason(book.amend(1, **kwargs)) is expected
    assert state(book) == before


def test_amend_lowering_qty_keeps_time_priority(book: Any) -> None:
    book.limit(1, BUY, 100, 3 * LOT, owner="A")
    book.limit(2, BUY, 100, LOT)
    events = book.amend(1, qty=LOT, time=4)
    assert events == [Amended(1, BUY, 100, 3 * LOT, 100, LOT, "A", True, 4, PRODUCT,
                              Channel.ONLINE)]
    assert ids_at(book, BUY, 100) == [1, 2] and book.order(1).qty == LOT
    assert book.order(1).time == 0  # still the time it arrived


def test_amend_raising_qty_loses_time_priority(book: Any) -> None:
    book.limit(1, BUY, 100, LOT)
    book.limit(2, BUY, 100, LOT)
    events = book.amend(1, qty=2 * LOT)
    assert events == [Amended(1, BUY, 100, LOT, 100, 2 * LOT, None, False, 0, PRODUCT,
                              Channel.ONLINE)]
    assert ids_at(book, BUY, 100) == [2, 1]


def test_amend_changing_price_requeues_at_the_tail_of_the_new_level(book: Any) -> None:
    book.limit(1, BUY, 100, 3 * LOT)
    book.limit(2, BUY, 95, LOT)
    events = book.amend(1, price=95, qty=LOT)
    assert events[0].priority_kept is False and len(events) == 1
    assert ids_at(book, BUY, 95) == [2, 1] and book.level(BUY, 100) == []


def test_amend_back_to_the_old_price_does_not_restore_priority(book: Any) -> None:
    book.limit(1, SELL, 100, LOT)
    book.limit(2, SELL, 100, LOT)
    book.amend(1, price=105)
    book.amend(1, price=100)
    assert ids_at(book, SELL, 100) == [2, 1]


def test_amend_across_the_spread_trades_at_once_as_taker(book: Any) -> None:
    book.limit(1, SELL, 105, LOT, owner="S")
    book.limit(2, BUY, 100, 3 * LOT, owner="B", tif=DAY, channel=Channel.OFFLINE)
    events = book.amend(2, price=105, time=12)
    assert events == [
        Amended(2, BUY, 100, 3 * LOT, 105, 3 * LOT, "B", False, 12, PRODUCT, Channel.OFFLINE),
        Trade(105, LOT, 1, 2, "S", "B", BUY, 12, PRODUCT, Channel.OFFLINE),
    ]
    o = book.order(2)
    assert (o.price, o.qty, o.tif, o.owner, o.channel) == (105, 2 * LOT, DAY, "B",
                                                           Channel.OFFLINE)
    assert o.time == 12  # a re-queued order is a new arrival at the amend's time


def test_amend_that_trades_applies_self_trade_prevention(make: Callable[..., Any]) -> None:
    book = make(stp=SelfTradePolicy.CANCEL_INCOMING)
    book.limit(1, SELL, 105, LOT, owner="A")
    book.limit(2, BUY, 100, LOT, owner="A")
    events = book.amend(2, price=110)
    assert [type(e) for e in events] == [Amended, Cancelled]
    assert events[1].reason is CancelReason.SELF_TRADE and 2 not in book and 1 in book


def test_amend_can_fill_the_amended_order_completely(book: Any) -> None:
    book.limit(1, SELL, 100, 5 * LOT)
    book.limit(2, BUY, 95, 2 * LOT)
    events = book.amend(2, price=100)
    assert only(events, Trade)[0].qty == 2 * LOT and 2 not in book
    assert book.order(1).qty == 3 * LOT


# ---- DAY expiry ----------------------------------------------------------------------------
def test_expire_day_orders_expires_only_day_orders_in_arrival_order(book: Any) -> None:
    book.limit(1, SELL, 110, LOT, owner="A", tif=DAY, channel=Channel.OFFLINE)
    book.limit(2, BUY, 90, LOT, tif=GTC)
    book.limit(3, BUY, 95, 3 * LOT, tif=DAY)
    book.limit(4, SELL, 105, LOT, tif=DAY)
    book.limit(5, SELL, 95, LOT)  # fills 1 lot of order 3
    events = book.expire_day_orders(time=99)
    assert events == [
        Expired(1, SELL, 110, LOT, "A", 99, PRODUCT, Channel.OFFLINE),
        Expired(3, BUY, 95, 2 * LOT, None, 99, PRODUCT, Channel.ONLINE),
        Expired(4, SELL, 105, LOT, None, 99, PRODUCT, Channel.ONLINE),
    ]
    assert [o.order_id for o in book.orders()] == [2]


def test_expire_day_orders_uses_arrival_order_after_a_requeueing_amend(book: Any) -> None:
    book.limit(1, BUY, 90, LOT, tif=DAY)
    book.limit(2, BUY, 95, LOT, tif=DAY)
    book.amend(1, qty=2 * LOT)
    assert [e.order_id for e in book.expire_day_orders()] == [2, 1]


def test_expire_day_orders_on_a_book_without_day_orders_returns_nothing(book: Any) -> None:
    book.limit(1, BUY, 90, LOT)
    before = state(book)
    assert book.expire_day_orders() == [] and state(book) == before
