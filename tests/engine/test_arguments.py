"""The request API's argument contract: a wrong argument raises or is refused, changing nothing.

Every public request method of `OrderBook` and `Exchange` is fed, in every argument position,
values of the wrong type: a float (equal to the valid int, the sneaky case: `1.0` hashes like
id 1), NaN, inf, both bools, None, a str, and ints beyond 64 bits. Each must raise `TypeError`
or `ValueError`, or be answered with exactly one `Rejected` (an unknown member "x"), and leave
the state as it was: the snapshot and the exchange's id counter. The same call with the valid
value changes the state, so the test cannot pass by refusing everything.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import (
    Channel,
    Exchange,
    OrderBook,
    Product,
    Rejected,
    Side,
    TimeInForce,
)
from engine.book import INT64_MAX, INT64_MIN

BUY, SELL = Side.BUY, Side.SELL
ONLINE, OFFLINE = Channel.ONLINE, Channel.OFFLINE
GTC, DAY = TimeInForce.GTC, TimeInForce.DAY
TICK, LOT = 5, 10
EXAMPLES = settings(max_examples=8)  # per argument position; each example tries every value


def bad_values(valid: Any) -> list[Any]:
    """Wrong values for a position whose valid value is `valid`."""
    out = [float(valid) if type(valid) is int else 1.0, math.nan, math.inf, True, False, None,
           "x", 2**70, -(2**70)]
    value = getattr(valid, "value", None)
    if type(value) is str:
        out.append(value)  # "buy" for Side.BUY, "online" for Channel.ONLINE
    return out


def assert_refused(call: Callable[[], Any], state: Callable[[], Any], what: str) -> None:
    before = state()
    try:
        events = call()
    except (TypeError, ValueError):
        pass
    else:
        assert len(events) == 1 and type(events[0]) is Rejected, (what, events)
    assert state() == before, what


def check_position(make: Callable[[], Any], state: Callable[[Any], Any], method: str,
                   kwargs: dict[str, Any], arg: str, valid_too: tuple = ()) -> None:
    """Every bad value of `arg` is refused; the valid call changes the state.

    `valid_too` lists values that are valid in this position (None for an optional id).
    """
    target = make()
    before = state(target)
    events = getattr(target, method)(**kwargs)
    assert not (events and len(events) == 1 and type(events[0]) is Rejected), events
    assert state(target) != before, f"the valid {method} changed nothing"
    for bad in bad_values(kwargs[arg]):
        if any(bad is v for v in valid_too) or (type(bad) is str and str in valid_too):
            continue
        target = make()
        call = getattr(target, method)
        assert_refused(lambda c=call, b=bad: c(**(kwargs | {arg: b})),
                       lambda t=target: state(t),
                       f"{method}({arg}={bad!r})")


# ------------------------------------------------------------------ OrderBook

resting = st.lists(st.tuples(st.sampled_from([BUY, SELL]), st.integers(1, 6),
                             st.integers(1, 4), st.sampled_from([GTC, DAY])),
                   min_size=1, max_size=12)


def book_from(orders: list[tuple[Side, int, int, TimeInForce]]) -> OrderBook:
    """A book holding `orders` (bids below 100, asks above), ids 1.., the first one DAY."""
    book = OrderBook(TICK, LOT, product="X")
    book.limit(1, BUY, 100 - TICK, LOT, "a", DAY, time=1)
    book.limit(2, SELL, 100 + TICK, LOT, "b", time=2)
    for i, (side, ticks, lots, tif) in enumerate(orders, start=3):
        price = 100 - ticks * TICK if side is BUY else 100 + ticks * TICK
        book.limit(i, side, price, lots * LOT, "c", tif, time=i)
    return book


def book_state(book: OrderBook) -> bytes:
    return msgspec.msgpack.encode(book.snapshot())


BOOK_CALLS: dict[str, tuple[dict[str, Any], dict[str, tuple]]] = {
    # method: (valid keyword arguments, valid alternatives per position)
    "limit": ({"order_id": 100, "side": BUY, "price": 100 + TICK, "qty": LOT, "owner": "d",
               "tif": GTC, "post_only": False, "channel": ONLINE, "time": 7},
              {"post_only": (True, False)}),
    "market": ({"order_id": 101, "side": SELL, "qty": LOT, "owner": "d", "protection": None,
                "channel": ONLINE, "time": 7}, {"protection": (None,)}),
    "cancel": ({"order_id": 1, "time": 7}, {}),
    "amend": ({"order_id": 1, "price": 100 - 2 * TICK, "qty": None, "time": 7},
              {"price": (None,), "qty": (None,)}),
    "expire_day_orders": ({"time": 7}, {}),
}
BOOK_POSITIONS = [(method, arg) for method, (kwargs, _) in BOOK_CALLS.items()
                  for arg in kwargs if arg != "owner"]  # an owner is any value: opaque


@pytest.mark.parametrize("method, arg", BOOK_POSITIONS,
                         ids=[f"{m}-{a}" for m, a in BOOK_POSITIONS])
@EXAMPLES
@given(orders=resting)
def test_a_book_request_with_a_wrong_argument_raises_or_is_rejected_and_changes_nothing(
        method, arg, orders):
    kwargs, valid_too = BOOK_CALLS[method]
    check_position(lambda: book_from(orders), book_state, method, kwargs, arg,
                   valid_too.get(arg, ()))


def test_book_ints_are_signed_64_bit_and_the_bounds_themselves_are_taken():
    book = OrderBook(1, 1)
    assert book.limit(INT64_MAX, BUY, 100, 1, time=INT64_MIN)[0].order_id == INT64_MAX
    assert book.limit(INT64_MIN, SELL, INT64_MAX, INT64_MAX, time=INT64_MAX)[0].qty == INT64_MAX
    assert book.cancel(INT64_MIN, time=INT64_MAX)[0].order_id == INT64_MIN
    with pytest.raises(ValueError, match="signed 64-bit"):
        book.limit(INT64_MAX + 1, BUY, 100, 1)
    with pytest.raises(ValueError, match="time must be in the signed 64-bit range"):
        book.cancel(INT64_MAX, time=INT64_MIN - 1)
    with pytest.raises(ValueError, match="order_id"):
        book.cancel(2**70)
    resting = book.limit(500, BUY, 100, 1, time=1)[0].order_id
    for kwargs in ({"price": -2**70}, {"qty": -2**70}, {"price": 2**70}):
        for oid in (resting, 999):  # resting or unknown: misuse is found first, as in limit()
            with pytest.raises(ValueError, match="signed 64-bit"):
                book.amend(oid, **kwargs)
    book.check_invariants()


@pytest.mark.parametrize("make", [lambda: OrderBook(1.0, 1), lambda: OrderBook(1, True),
                                  lambda: OrderBook(1, 1).depth(1.5),
                                  lambda: OrderBook(1, 1).level(Side.BUY, 10.0)])
def test_a_book_setting_of_the_wrong_type_is_a_type_error(make):
    with pytest.raises(TypeError, match="must be an int, got"):
        make()


@pytest.mark.parametrize("make", [lambda: OrderBook(0, 1), lambda: OrderBook(1, -5),
                                  lambda: OrderBook(1, 2**70), lambda: OrderBook(1, 1).depth(-1)])
def test_a_book_setting_out_of_range_is_a_value_error(make):
    with pytest.raises(ValueError, match=r"must be an int (>= |from 1 to 2\*\*63)"):
        make()


def test_book_misuse_messages_name_the_argument():
    book = book_from([])
    for call, message in [
        (lambda: book.limit(5, BUY, 100, LOT, channel="online"), "channel must be a Channel"),
        (lambda: book.limit(5, BUY, 100, LOT, post_only="no"), "post_only must be a bool"),
        (lambda: book.limit(5, BUY, 100, LOT, time=None), "time must be an int, got NoneType"),
        (lambda: book.market(5, BUY, LOT, time=1.5), "time must be an int, got float"),
        (lambda: book.cancel(1, time=True), "time must be an int, got bool"),
        (lambda: book.limit(2**70, BUY, 100, LOT), "order_id must be in the signed 64-bit"),
    ]:
        with pytest.raises((TypeError, ValueError), match=message):
            call()


# ------------------------------------------------------------------ Exchange

PRND = Product("PRND_OX", "PrNd oxide", tick=100, lot=1000, reference_price=400_000, band_pct=5,
               min_block=5000)
LA = Product("LA_OX", "La oxide", tick=10, lot=5000, reference_price=4_000, band_pct=5)


def exchange(state: str, shift: int) -> Exchange:
    """An exchange in `state` ("continuous", "pre_open" or "closed"); `shift` moves prices.

    In continuous trading member 1's ask (order 1, 401_000 + shift ticks) and member 2's bid
    rest, member 1 sells block auction 3 with one bid, and member 3 is suspended.
    """
    ex = Exchange([PRND, LA])
    for member in (1, 2, 3, "m"):
        ex.add_member(member)
    ex.suspend_member(3, time=1)
    ex.begin_day(time=10)
    if state == "pre_open":
        return ex
    ex.open_market(time=20)
    ex.submit_limit(1, "PRND_OX", SELL, 401_000 + shift * 100, 2000, time=21)
    ex.submit_limit(2, "PRND_OX", BUY, 398_000 - shift * 100, 2000, time=22)
    ex.open_block_auction(1, "PRND_OX", 10_000, 390_000, start=20, end=100, time=23)
    ex.bid_block_auction("m", 3, 395_000, 5000, time=24)
    if state == "closed":
        ex.close_market(time=30)
    return ex


def exchange_state(ex: Exchange) -> tuple[bytes, int]:
    return msgspec.msgpack.encode(ex.snapshot()), ex._next_id


EXCHANGE_CALLS: dict[str, tuple[str, dict[str, Any], dict[str, tuple]]] = {
    # method: (state, valid keyword arguments, valid alternatives per position)
    "add_member": ("continuous", {"member_id": 9, "joined": 0}, {"member_id": (str,)}),
    "suspend_member": ("continuous", {"member_id": 2, "time": 30}, {}),
    "reinstate_member": ("continuous", {"member_id": 3}, {}),
    "begin_day": ("closed", {"time": 40, "products": None}, {"products": (None,)}),
    "open_market": ("pre_open", {"time": 20, "products": None}, {"products": (None,)}),
    "close_market": ("continuous", {"time": 30, "products": None}, {"products": (None,)}),
    "submit_limit": ("continuous", {"member": 2, "product": "PRND_OX", "side": BUY,
                                    "price": 402_000, "qty": 1000, "tif": GTC,
                                    "post_only": False, "channel": ONLINE, "time": 30,
                                    "order_id": None},
                     {"post_only": (True, False), "order_id": (None,)}),
    "submit_market": ("continuous", {"member": 2, "product": "PRND_OX", "side": BUY,
                                     "qty": 1000, "protection": None, "channel": ONLINE,
                                     "time": 30, "order_id": None},
                      {"protection": (None,), "order_id": (None,)}),
    "cancel": ("continuous", {"member": 1, "order_id": 1, "time": 30}, {}),
    "amend": ("continuous", {"member": 1, "order_id": 1, "price": 402_000, "qty": None,
                             "time": 30}, {"price": (None,), "qty": (None,)}),
    "register_negotiated": ("continuous", {"buyer": 2, "seller": 1, "product": "PRND_OX",
                                           "price": 400_000, "qty": 5000, "time": 30}, {}),
    "open_block_auction": ("continuous", {"seller": 1, "product": "PRND_OX", "qty": 5000,
                                          "reserve_price": 390_000, "start": 30, "end": 40,
                                          "uniform": None, "channel": ONLINE, "time": None},
                           {"uniform": (None, True, False), "time": (None,)}),
    "bid_block_auction": ("continuous", {"member": 2, "auction_id": 3, "price": 396_000,
                                         "qty": 5000, "time": 30, "channel": ONLINE}, {}),
    "settle_block_auction": ("continuous", {"auction_id": 3, "time": 100}, {}),
    "set_band": ("continuous", {"product": "PRND_OX", "band_pct": 10, "band_abs": None},
                 {"band_pct": (None,), "band_abs": (None,)}),
    "set_channel_open": ("continuous", {"channel": OFFLINE, "is_open": False, "time": 30},
                         {"is_open": (True, False)}),
}
EXCHANGE_POSITIONS = [(method, arg) for method, (_, kwargs, _) in EXCHANGE_CALLS.items()
                      for arg in kwargs]


def test_every_public_request_method_of_the_exchange_is_covered():
    requests = {name for name in vars(Exchange) if not name.startswith("_")} - {
        "subscribe", "member", "members", "day", "block_auction", "products", "product",
        "state", "book", "preopen_orders", "order", "order_product", "band", "settlement",
        "daily_bars", "current_bar", "snapshot", "channel_open"}
    assert requests == set(EXCHANGE_CALLS)


@pytest.mark.parametrize("method, arg", EXCHANGE_POSITIONS,
                         ids=[f"{m}-{a}" for m, a in EXCHANGE_POSITIONS])
@EXAMPLES
@given(shift=st.integers(0, 5))
def test_an_exchange_request_with_a_wrong_argument_raises_or_is_rejected_and_changes_nothing(
        method, arg, shift):
    state, kwargs, valid_too = EXCHANGE_CALLS[method]
    check_position(lambda: exchange(state, shift), exchange_state, method, kwargs, arg,
                   valid_too.get(arg, ()))


@pytest.mark.parametrize("member", [True, 1.0, 2.0])
def test_a_member_equal_to_an_int_member_is_not_taken_for_it(member):
    ex = exchange("continuous", 0)
    before = exchange_state(ex)
    for call in (lambda: ex.submit_limit(member, "PRND_OX", BUY, 402_000, 1000, time=30),
                 lambda: ex.submit_market(member, "PRND_OX", BUY, 1000, time=30),
                 lambda: ex.cancel(member, 1, time=30),
                 lambda: ex.amend(member, 1, qty=1000, time=30)):
        with pytest.raises(TypeError, match="member must be an int or str"):
            call()
    assert exchange_state(ex) == before


def test_nan_and_float_times_are_misuse_so_no_check_is_skipped():
    ex = exchange("continuous", 0)
    ex.add_member("late", joined=10**9)
    before = exchange_state(ex)
    with pytest.raises(TypeError, match="time must be an int, got float"):
        ex.submit_limit("late", "PRND_OX", BUY, 399_000, 1000, time=math.nan)  # join date
    with pytest.raises(TypeError, match="time must be an int, got float"):
        ex.settle_block_auction(3, time=math.nan)  # before its end
    with pytest.raises(TypeError, match="time must be an int, got NoneType"):
        ex.submit_limit(1, "PRND_OX", SELL, 405_000, 1000, time=None)
    with pytest.raises(TypeError, match="auction_id must be an int"):
        ex.bid_block_auction(2, 3.0, 396_000, 5000, time=30)
    assert exchange_state(ex) == before


@pytest.mark.parametrize("bad", [True, 1.0, 3.0])
def test_a_lookup_by_a_bool_or_float_id_is_misuse_not_the_order_it_equals(bad):
    """`True` and `1.0` hash like 1: a dict lookup found order, member or auction 1."""
    ex = exchange("continuous", 0)
    book = OrderBook(tick=TICK, lot=LOT)
    book.limit(1, BUY, 100, LOT)
    for lookup, name in ((ex.order, "order_id"), (ex.block_auction, "auction_id"),
                         (book.order, "order_id")):
        with pytest.raises(TypeError, match=f"{name} must be an int"):
            lookup(bad)
    with pytest.raises(TypeError, match="member_id must be an int or str"):
        ex.member(bad)
    assert book.order(1) is not None and ex.member(1) is not None


def test_an_id_beyond_64_bits_is_a_value_error_as_the_module_says_not_an_unknown_id():
    ex = exchange("continuous", 0)
    before = exchange_state(ex)
    for call in (lambda: ex.cancel(1, INT64_MAX + 1, time=30),
                 lambda: ex.amend(1, INT64_MIN - 1, qty=1000, time=30),
                 lambda: ex.bid_block_auction(2, INT64_MAX + 1, 396_000, 5000, time=30),
                 lambda: ex.settle_block_auction(INT64_MAX + 1, time=30)):
        with pytest.raises(ValueError, match="must be in the signed 64-bit range"):
            call()
    assert exchange_state(ex) == before
