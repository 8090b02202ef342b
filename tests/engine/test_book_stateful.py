"""Stateful proof: `OrderBook` and the naive `ReferenceBook` agree on every event and every state.

A hypothesis `RuleBasedStateMachine` sends both books the same random requests (every order
kind, cancels, amends, expiry, and invalid requests too) with a few owners so self-trade
prevention fires, under every self-trade policy and both trade-price rules. After each step
the returned events must be equal (ignoring only `Rejected.detail`, free text) and the two
books must be identical; `check_invariants()` runs after every step.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from engine import (
    Channel,
    OrderBook,
    Rejected,
    SelfTradePolicy,
    Side,
    TimeInForce,
    TradePriceRule,
)
from tests.engine.reference_book import ReferenceBook

OWNERS = [None, "A", "B", "C"]
LEVELS = 8  # prices span this many ticks, so orders cross often
BASE = 100  # in ticks

# Prices and quantities are drawn as small codes and mapped onto the book's grid in the rule.
# Valid codes are listed twice so that about one limit order in four is invalid: enough
# to exercise every reject, few enough that the book fills up and trades.
BAD_PRICE_ZERO, BAD_PRICE_OFF = LEVELS, LEVELS + 1
price_codes = st.sampled_from([*range(LEVELS), *range(LEVELS), BAD_PRICE_ZERO, BAD_PRICE_OFF])
BAD_QTY_ZERO, BAD_QTY_OFF = 0, 6
qty_codes = st.sampled_from([*range(1, 6), *range(1, 6), BAD_QTY_ZERO, BAD_QTY_OFF])
# where a new order's id comes from: mostly fresh, sometimes a live id (duplicate), sometimes
# the id of an order that has left the book (reuse, which is allowed)
id_sources = st.sampled_from(["fresh"] * 8 + ["live", "used"])
sides = st.sampled_from(Side)
owners = st.sampled_from(OWNERS)
channels = st.sampled_from(Channel)
resting_tifs = st.sampled_from([TimeInForce.GTC, TimeInForce.DAY])


def normalised(events: list) -> list:
    """Events with the free-text `Rejected.detail` blanked, the one field allowed to differ."""
    return [msgspec.structs.replace(e, detail="") if isinstance(e, Rejected) else e
            for e in events]


class BookAgreesWithReference(RuleBasedStateMachine):
    """Drive the real and the reference book in lockstep and demand identical behaviour."""

    def __init__(self) -> None:
        super().__init__()
        self.book: Any = None
        self.ref: Any = None
        self.time = 0
        self.used: set[int] = set()  # every order id submitted so far

    @initialize(
        stp=st.sampled_from(SelfTradePolicy),
        trade_price=st.sampled_from(TradePriceRule),
        tick=st.sampled_from([1, 5]),
        lot=st.sampled_from([1, 10]),
    )
    def new_books(self, stp: SelfTradePolicy, trade_price: TradePriceRule, tick: int,
                  lot: int) -> None:
        settings_ = {"product": "PrNd", "stp": stp, "trade_price": trade_price}
        self.book = OrderBook(tick, lot, **settings_)
        self.ref = ReferenceBook(tick, lot, **settings_)

    # ---- value mapping -----------------------------------------------------------------
    def price(self, code: int) -> int:
        tick = self.book.tick
        if code == BAD_PRICE_ZERO:
            return 0
        if code == BAD_PRICE_OFF:
            return tick * BASE + 1 if tick > 1 else -tick
        return tick * (BASE + code)

    def qty(self, code: int) -> int:
        lot = self.book.lot
        if code == BAD_QTY_ZERO:
            return 0
        if code == BAD_QTY_OFF:
            return lot + 1 if lot > 1 else -lot
        return lot * code

    def new_id(self, data: st.DataObject) -> int:
        source = data.draw(id_sources)
        live = [o.order_id for o in self.ref.orders()]
        gone = sorted(self.used - set(live))
        if source == "live" and live:
            return data.draw(st.sampled_from(live))
        if source == "used" and gone:
            return data.draw(st.sampled_from(gone))
        return max(self.used, default=0) + 1

    def some_id(self, data: st.DataObject) -> int:
        """An id for cancel/amend: usually live, sometimes gone or never seen (unknown)."""
        live = [o.order_id for o in self.ref.orders()]
        choices = [st.just(max(self.used, default=0) + 1)]
        if live:
            choices += [st.sampled_from(live)] * 4
        if self.used:
            choices.append(st.sampled_from(sorted(self.used)))
        return data.draw(st.one_of(choices))

    def both(self, method: str, *args: Any, **kwargs: Any) -> list:
        """Send one request to both books, compare what they say, and return the events."""
        self.time += 1
        kwargs["time"] = self.time
        got = getattr(self.book, method)(*args, **kwargs)
        want = getattr(self.ref, method)(*args, **kwargs)
        assert normalised(got) == normalised(want), (method, args, kwargs)
        return got

    # ---- requests ----------------------------------------------------------------------
    def submit_limit(self, data: st.DataObject, tif: TimeInForce, post_only: bool) -> None:
        oid = self.new_id(data)
        self.used.add(oid)
        self.both("limit", oid, data.draw(sides), self.price(data.draw(price_codes)),
                  self.qty(data.draw(qty_codes)), data.draw(owners), tif, post_only,
                  channel=data.draw(channels))

    @rule(data=st.data(), tif=resting_tifs)
    def limit_resting(self, data: st.DataObject, tif: TimeInForce) -> None:
        self.submit_limit(data, tif, False)

    @rule(data=st.data(), tif=resting_tifs)
    def limit_resting_again(self, data: st.DataObject, tif: TimeInForce) -> None:
        """Same as limit_resting: a second rule doubles its share of the steps."""
        self.submit_limit(data, tif, False)

    @rule(data=st.data(), tif=st.sampled_from(TimeInForce), post_only=st.booleans())
    def limit_any_kind(self, data: st.DataObject, tif: TimeInForce, post_only: bool) -> None:
        self.submit_limit(data, tif, post_only)

    @rule(data=st.data(), protection=st.none() | price_codes)
    def market(self, data: st.DataObject, protection: int | None) -> None:
        oid = self.new_id(data)
        self.used.add(oid)
        limit = None if protection is None else self.price(protection)
        self.both("market", oid, data.draw(sides), self.qty(data.draw(qty_codes)),
                  data.draw(owners), protection=limit, channel=data.draw(channels))

    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        self.both("cancel", self.some_id(data))

    @rule(data=st.data(), p=st.none() | price_codes, q=st.none() | qty_codes)
    def amend(self, data: st.DataObject, p: int | None, q: int | None) -> None:
        self.both("amend", self.some_id(data), None if p is None else self.price(p),
                  None if q is None else self.qty(q))

    @precondition(lambda self: len(self.ref) > 0)
    @rule(data=st.data(), lots=st.sampled_from([-2, -1, 1, 2]))
    def amend_qty_only(self, data: st.DataObject, lots: int) -> None:
        """Change only a live order's quantity: down keeps priority, up loses it."""
        order = data.draw(st.sampled_from(self.ref.orders()))
        self.both("amend", order.order_id, None, order.qty + lots * self.book.lot)

    @rule()
    def expire_day_orders(self) -> None:
        self.both("expire_day_orders")

    # ---- agreement ---------------------------------------------------------------------
    @invariant()
    def books_are_identical(self) -> None:
        if self.book is None:
            return
        book, ref = self.book, self.ref
        assert msgspec.msgpack.encode(book.snapshot()) == msgspec.msgpack.encode(ref.snapshot())
        assert book.orders() == ref.orders()  # arrival order, which expiry follows
        assert book.depth(3) == ref.depth(3)
        assert book.touch() == ref.touch()
        assert (book.best_bid(), book.best_ask()) == (ref.best_bid(), ref.best_ask())
        assert len(book) == len(ref) and book.last_trade_price == ref.last_trade_price

    @invariant()
    def book_passes_its_self_audit(self) -> None:
        if self.book is not None:
            self.book.check_invariants()


TestBookAgreesWithReference = BookAgreesWithReference.TestCase
TestBookAgreesWithReference.settings = settings(stateful_step_count=60)


@pytest.mark.slow
class TestBookAgreesWithReferenceLongRuns(BookAgreesWithReference.TestCase):
    """Long random walks, for `-m slow` runs (use the "thorough" profile)."""

    settings = settings(stateful_step_count=300)
