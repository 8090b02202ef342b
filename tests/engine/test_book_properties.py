"""Properties of `OrderBook` that hold after any sequence of requests (issue 2, section 3).

Each test replays a random list of requests (every order kind, cancels, amends, expiry and
invalid requests) against a book with random settings, and checks one property after every
request: never crossed at rest; price-time priority and FIFO; quantity conservation; rejects
change nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from engine import (
    Accepted,
    Amended,
    Cancelled,
    CancelReason,
    Expired,
    OrderBook,
    Rejected,
    SelfTradePolicy,
    Side,
    TimeInForce,
    Trade,
    TradePriceRule,
)

LEVELS = 8  # prices span this many ticks around BASE, so orders cross often
BASE = 100

# Ids are resolved against the book when a request is applied: "new" is a fresh id, an int k
# picks the k-th resting order (modulo their number; a fresh, unknown id if none rest), and
# "gone" is an id that has left the book (reuse is allowed; cancel/amend of it is unknown).
new_ids = st.sampled_from(["new"] * 8 + ["gone", 0, 1])  # mostly fresh; sometimes a duplicate
known_ids = st.integers(0, 50) | st.sampled_from(["gone", "new"])  # mostly live orders
# Price and quantity codes map onto the book's grid in `run`; valid codes are listed twice so
# that about one request in ten is invalid. BAD_* codes give non-positive or off-grid values.
BAD_PRICE_ZERO, BAD_PRICE_OFF = LEVELS, LEVELS + 1
price_codes = st.sampled_from([*range(LEVELS)] * 2 + [BAD_PRICE_ZERO, BAD_PRICE_OFF])
BAD_QTY_ZERO, BAD_QTY_OFF = 0, 6
qty_codes = st.sampled_from([*range(1, 6)] * 2 + [BAD_QTY_ZERO, BAD_QTY_OFF])
owners = st.sampled_from([None, "A", "B", "C"])

resting_limit_ops = st.tuples(st.just("limit"), new_ids, st.sampled_from(Side), price_codes,
                              qty_codes, owners, st.sampled_from([TimeInForce.GTC,
                                                                  TimeInForce.DAY]),
                              st.just(False))
any_limit_ops = st.tuples(st.just("limit"), new_ids, st.sampled_from(Side), price_codes,
                          qty_codes, owners, st.sampled_from(TimeInForce), st.booleans())
market_ops = st.tuples(st.just("market"), new_ids, st.sampled_from(Side), qty_codes, owners,
                       st.none() | price_codes)
cancel_ops = st.tuples(st.just("cancel"), known_ids)
amend_ops = st.tuples(st.just("amend"), known_ids, st.none() | price_codes,
                      st.none() | qty_codes)
expire_ops = st.tuples(st.just("expire"))
# resting limits outnumber everything that removes orders, so the book gets deep
ops = st.one_of(resting_limit_ops, resting_limit_ops, resting_limit_ops, any_limit_ops,
                market_ops, cancel_ops, amend_ops, amend_ops, expire_ops)
op_lists = st.lists(ops, min_size=20, max_size=60)  # long enough for deep, crossing books
books = st.builds(
    lambda tick, lot, stp, rule: OrderBook(tick, lot, product="NdFeB", stp=stp,
                                           trade_price=rule),
    st.sampled_from([1, 5]), st.sampled_from([1, 10]), st.sampled_from(SelfTradePolicy),
    st.sampled_from(TradePriceRule),
)


@dataclass
class Step:
    """One applied request: what was asked, what the book said, and the book around it."""

    op: tuple
    requested_qty: int  # qty a limit/market request asked for (0 for other requests)
    events: list
    before: bytes  # msgpack of the snapshot before the request
    after: bytes
    opposite_before: list = field(default_factory=list)  # opposite side, priority order


def encoded(book: OrderBook) -> bytes:
    return msgspec.msgpack.encode(book.snapshot())


def run(book: OrderBook, requests: list[tuple]) -> Iterator[Step]:
    """Apply `requests` to `book` one by one, yielding each step for the property to check."""
    used: set[int] = set()
    tick, lot = book.tick, book.lot

    def price(code: int) -> int:
        bad = {BAD_PRICE_ZERO: 0, BAD_PRICE_OFF: tick * BASE + 1 if tick > 1 else -tick}
        return bad.get(code, tick * (BASE + code))

    def qty(code: int) -> int:
        return {BAD_QTY_ZERO: 0, BAD_QTY_OFF: lot + 1 if lot > 1 else -lot}.get(code, lot * code)

    def order_id(ref: Any) -> int:
        live = [o.order_id for o in book.orders()]
        gone = sorted(used - set(live))
        if ref == "gone" and gone:
            return gone[len(gone) // 2]
        if isinstance(ref, int) and live:
            return live[ref % len(live)]
        return max(used, default=0) + 1

    for time, op in enumerate(requests, start=1):
        kind, requested, opposite = op[0], 0, []
        before = encoded(book)
        if kind == "limit":
            _, ref, side, p, q, owner, tif, post_only = op
            oid, requested = order_id(ref), qty(q)
            used.add(oid)
            opposite = book.snapshot().asks if side is Side.BUY else book.snapshot().bids
            events = book.limit(oid, side, price(p), requested, owner, tif, post_only, time=time)
        elif kind == "market":
            _, ref, side, q, owner, protection = op
            oid, requested = order_id(ref), qty(q)
            used.add(oid)
            opposite = book.snapshot().asks if side is Side.BUY else book.snapshot().bids
            limit = None if protection is None else price(protection)
            events = book.market(oid, side, requested, owner, protection=limit, time=time)
        elif kind == "cancel":
            events = book.cancel(order_id(op[1]), time=time)
        elif kind == "amend":
            _, ref, p, q = op
            oid = order_id(ref)
            resting = book.order(oid)
            if resting is not None:
                opposite = (book.snapshot().asks if resting.side is Side.BUY
                            else book.snapshot().bids)
            events = book.amend(oid, None if p is None else price(p),
                                None if q is None else qty(q), time=time)
        else:
            events = book.expire_day_orders(time=time)
        yield Step(op, requested, events, before, encoded(book), opposite)


@given(book=books, requests=op_lists)
def test_book_is_never_crossed_at_rest(book: OrderBook, requests: list[tuple]) -> None:
    for _ in run(book, requests):
        bid, ask = book.best_bid(), book.best_ask()
        assert bid is None or ask is None or bid < ask, (bid, ask)


@given(book=books, requests=op_lists)
def test_levels_keep_arrival_order(book: OrderBook, requests: list[tuple]) -> None:
    for _ in run(book, requests):
        arrival = {o.order_id: i for i, o in enumerate(book.orders())}
        bids, asks = book.depth(LEVELS)
        for side, levels in ((Side.BUY, bids), (Side.SELL, asks)):
            for price, total in levels:
                level = book.level(side, price)
                positions = [arrival[o.order_id] for o in level]
                assert positions == sorted(positions) and sum(o.qty for o in level) == total


@given(book=books, requests=op_lists)
def test_takers_reach_makers_in_price_then_time_priority(
    book: OrderBook, requests: list[tuple]
) -> None:
    for step in run(book, requests):
        incoming = {e.order_id for e in step.events if isinstance(e, (Accepted, Amended))}
        touched: list[int] = []
        for e in step.events:
            if isinstance(e, Trade):
                maker = e.maker_order_id
            elif (isinstance(e, Cancelled) and e.reason is CancelReason.SELF_TRADE
                  and e.order_id not in incoming):
                maker = e.order_id
            else:
                continue
            if not touched or touched[-1] != maker:
                touched.append(maker)
        priority = [o.order_id for o in step.opposite_before]
        assert touched == priority[:len(touched)], (step.op, touched, priority)


@given(book=books, requests=op_lists)
def test_every_unit_is_traded_resting_cancelled_expired_or_rejected_once(
    book: OrderBook, requests: list[tuple]
) -> None:
    open_qty: Counter[int] = Counter()  # per live order: units it still has to account for
    units: Counter[str] = Counter()
    for step in run(book, requests):
        if len(step.events) == 1 and isinstance(step.events[0], Rejected):
            units["rejected"] += step.requested_qty
        units["submitted"] += step.requested_qty
        for e in step.events:
            if isinstance(e, Accepted):
                assert open_qty[e.order_id] == 0, "an id accepted while still live"
                open_qty[e.order_id] = e.qty
            elif isinstance(e, Trade):  # counted once, on the taker; the maker's units too
                open_qty[e.taker_order_id] -= e.qty
                open_qty[e.maker_order_id] -= e.qty
                units["traded"] += e.qty
            elif isinstance(e, Amended):
                open_qty[e.order_id] += e.qty - e.old_qty
                units["amended up" if e.qty > e.old_qty else "amended down"] += abs(e.qty -
                                                                                    e.old_qty)
            elif isinstance(e, Cancelled):
                open_qty[e.order_id] -= e.qty
                units["cancelled"] += e.qty
            elif isinstance(e, Expired):
                open_qty[e.order_id] -= e.qty
                units["expired"] += e.qty
        resting = {o.order_id: o.qty for o in book.orders()}
        assert all(q >= 0 for q in open_qty.values()), open_qty
        assert {oid: q for oid, q in open_qty.items() if q} == resting
        # every unit that came in (as an order or an amend up) left exactly once, or rests;
        # a trade consumes its quantity from both the taker and the maker
        came_in = units["submitted"] + units["amended up"]
        went_out = (2 * units["traded"] + units["cancelled"] + units["expired"]
                    + units["rejected"] + units["amended down"] + sum(resting.values()))
        assert came_in == went_out, units


@given(book=books, requests=op_lists)
def test_rejected_request_leaves_the_book_byte_for_byte_unchanged(
    book: OrderBook, requests: list[tuple]
) -> None:
    for step in run(book, requests):
        if any(isinstance(e, Rejected) for e in step.events):
            assert len(step.events) == 1, step.events
            assert step.after == step.before, step.op
        book.check_invariants()
