"""The request API's argument contract: a wrong argument raises or is refused, changing nothing.

Every public request method of `OrderBook` is fed, in every argument position,
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
    OrderBook,
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
        assert_refused(lambda: call(**(kwargs | {arg: bad})), lambda: state(target),
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
    book.check_invariants()


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
