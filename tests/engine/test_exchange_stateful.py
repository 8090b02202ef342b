"""A stateful hypothesis test of the whole exchange: several products, every request kind.

After every step: each book passes `check_invariants()`; quantity is conserved exactly (what
every order brought in = what traded + what was cancelled or expired + what still rests);
trades never match one owner with itself and book trades print inside the day's band; no
suspended member trades, nor a withdrawn block auction or bid; the bars hold exactly the
trades' volume and value; a rejected request changed nothing; and a
listener saw exactly the events the requests returned, in order.
"""

from __future__ import annotations

import msgspec
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
    Accepted,
    Amended,
    BlockAuctionSettled,
    BlockAuctionWithdrawn,
    BlockBidWithdrawn,
    Cancelled,
    Channel,
    Exchange,
    ExchangeSettings,
    Expired,
    Product,
    Rejected,
    SelfTradePolicy,
    SessionState,
    Side,
    TimeInForce,
    Trade,
    TradePriceRule,
)

PRODUCTS = [
    Product("A", "banded absolute", tick=10, lot=5, reference_price=1000, band_abs=50,
            min_block=10),
    Product("B", "banded percent", tick=1, lot=1, reference_price=100, band_pct=5),
    Product("C", "unbanded", tick=5, lot=10, reference_price=500, band_pct=None),
]
CODES = [p.code for p in PRODUCTS]
MEMBERS = [1, 2, 3, "late", "nobody"]
BY_CODE = {p.code: p for p in PRODUCTS}
LATE_JOIN = 15  # steps advance the clock by one
# fewest steps spent in each session state before the day moves on
SESSION_STEPS = {SessionState.CLOSED: 1, SessionState.PRE_OPEN: 4, SessionState.CONTINUOUS: 12}

products = st.sampled_from(CODES)
members = st.sampled_from([1, 2, 3] * 3 + ["late", "nobody"])
sides = st.sampled_from([Side.BUY, Side.SELL])
price_steps = st.integers(0, 13)
off_tick = st.sampled_from([False] * 9 + [True])
lots = st.sampled_from([0] + [1, 2, 3, 4] * 3)  # 0 lots is a bad quantity
channels = st.sampled_from([Channel.ONLINE, Channel.OFFLINE])


class ExchangeMachine(RuleBasedStateMachine):
    """Drives an Exchange with random requests and audits it after every step."""

    @initialize(
        stp=st.sampled_from(list(SelfTradePolicy)),
        rule_=st.sampled_from(list(TradePriceRule)),
        tie=st.sampled_from(["reference", "imbalance"]),
        uniform=st.booleans(),
    )
    def setup(self, stp, rule_, tie, uniform):
        self.ex = Exchange(PRODUCTS, ExchangeSettings(stp, rule_, tie, uniform))
        for m in MEMBERS[:3]:
            self.ex.add_member(m)
        self.ex.add_member("late", joined=LATE_JOIN)
        self.time = 0
        self.heard: list = []
        self.returned: list = []
        self.ex.subscribe(self.heard.append)
        self.open_qty: dict[int, int] = {}  # order id -> open quantity by the event ledger
        self.ids: list[int] = []
        self.auctions: list[int] = []
        self.offered: dict[int, int] = {}
        self.block_sold: dict[int, int] = {}
        self.suspended: set = set()
        self.withdrawn: set[int] = set()  # ids of withdrawn block auctions and bids
        self.trades: list[Trade] = []
        self.band_today: dict[str, tuple[int, int]] = {}
        self.suspending = None  # the member being suspended by the current request
        self.last_advance = 0
        self.advance_session()  # into the call auction

    # ---------------------------------------------------------------- helpers

    def _price(self, code: str, step: int, skew: bool) -> int:
        product = BY_CODE[code]
        low, high = self.ex.band(code)
        if product.band_pct is None and product.band_abs is None:
            low = self.ex.settlement(code) - 6 * product.tick
        price = low + (step - 1) * product.tick
        return price + 1 if skew and product.tick > 1 else price

    def _apply(self, request):
        self.time += 1
        before = msgspec.msgpack.encode(self.ex.snapshot())
        events = request()
        self.returned.extend(events)
        if len(events) == 1 and type(events[0]) is Rejected:
            assert msgspec.msgpack.encode(self.ex.snapshot()) == before, events[0]
        for ev in events:
            kind = type(ev)
            if kind is Accepted:
                assert ev.order_id not in self.open_qty or not self.open_qty[ev.order_id]
                self.open_qty[ev.order_id] = ev.qty
                self.ids.append(ev.order_id)
            elif kind is Trade:
                self.trades.append(ev)
                assert ev.maker_owner != ev.taker_owner
                assert not {ev.maker_owner, ev.taker_owner} & self.suspended, ev
                assert not {ev.maker_order_id, ev.taker_order_id} & self.withdrawn, ev
                for oid in (ev.maker_order_id, ev.taker_order_id):
                    if oid in self.open_qty:
                        self.open_qty[oid] -= ev.qty
                if ev.maker_order_id in self.offered:
                    self.block_sold[ev.maker_order_id] += ev.qty
                else:  # the book, the call auction and negotiated deals keep to the band
                    low, high = self.band_today[ev.product]
                    assert low <= ev.price <= high, (ev, low, high)
            elif kind is Cancelled or kind is Expired:
                self.open_qty[ev.order_id] -= ev.qty
                assert self.open_qty[ev.order_id] == 0, ev
            elif kind is Amended:
                self.open_qty[ev.order_id] += ev.qty - ev.old_qty
            elif kind is BlockAuctionSettled:
                assert ev.auction_id not in self.withdrawn
                assert ev.sold == self.block_sold[ev.auction_id]
                assert ev.sold + ev.unsold == self.offered[ev.auction_id]
            elif kind is BlockAuctionWithdrawn:
                assert ev.seller == self.suspending
                assert ev.qty == self.offered[ev.auction_id]
                assert self.block_sold[ev.auction_id] == 0
                self.withdrawn.add(ev.auction_id)
            elif kind is BlockBidWithdrawn:
                assert ev.member == self.suspending and ev.auction_id not in self.withdrawn
                self.withdrawn.add(ev.bid_id)
        return events

    def state(self) -> SessionState:
        return self.ex.state("A")  # every product moves through the day together

    def _pick(self, pool: list[int], index: int) -> int:
        return pool[index % len(pool)] if pool else 10**9

    def _pick_order(self, index: int, dead: bool) -> int:
        """Mostly a live order; sometimes any id ever accepted (often gone)."""
        live = [oid for oid in self.ids if self.open_qty.get(oid)]
        return self._pick(self.ids if dead or not live else live, index)

    # ---------------------------------------------------------------- the trading day

    @precondition(lambda self: self.time - self.last_advance >= SESSION_STEPS[self.state()])
    @rule()
    def advance_session(self):
        self.last_advance = self.time
        state = self.ex.state("A")
        if state is SessionState.CLOSED:
            self._apply(lambda: self.ex.begin_day(time=self.time))
            self.band_today = {c: self.ex.band(c) for c in CODES}
        elif state is SessionState.PRE_OPEN:
            self._apply(lambda: self.ex.open_market(time=self.time))
        else:
            self._apply(lambda: self.ex.close_market(time=self.time))

    # ---------------------------------------------------------------- requests

    @rule(member=members, code=products, side=sides, step=price_steps, skew=off_tick, n=lots,
          tif=st.sampled_from([TimeInForce.GTC, TimeInForce.DAY] * 3 + list(TimeInForce)),
          post_only=st.sampled_from([False] * 4 + [True]),
          channel=channels)
    def submit_limit(self, member, code, side, step, skew, n, tif, post_only, channel):
        price = self._price(code, step, skew)
        qty = n * BY_CODE[code].lot
        self._apply(lambda: self.ex.submit_limit(member, code, side, price, qty, tif=tif,
                                                 post_only=post_only, channel=channel,
                                                 time=self.time))

    @rule(orders=st.lists(st.tuples(st.sampled_from([1, 2, 3]), products, sides, price_steps,
                                    st.integers(1, 4), st.sampled_from([TimeInForce.GTC,
                                                                        TimeInForce.DAY])),
                          min_size=1, max_size=8))
    def submit_many(self, orders):
        """A burst of plain limit orders, so that auctions and books fill up and cross."""
        for member, code, side, step, n, tif in orders:
            price = self._price(code, step, False)
            qty = n * BY_CODE[code].lot
            # _apply calls the lambda at once, so late binding of the loop variables is safe
            self._apply(lambda: self.ex.submit_limit(member, code, side, price, qty,  # noqa: B023
                                                     tif=tif, time=self.time))  # noqa: B023

    @rule(member=members, code=products, side=sides, n=lots,
          step=st.one_of(st.none(), price_steps))
    def submit_market(self, member, code, side, n, step):
        protection = None if step is None else self._price(code, step, False)
        qty = n * BY_CODE[code].lot
        self._apply(lambda: self.ex.submit_market(member, code, side, qty,
                                                  protection=protection, time=self.time))

    @precondition(lambda self: self.ids)
    @rule(member=members, index=st.integers(0, 200), dead=st.sampled_from([False] * 4 + [True]))
    def cancel(self, member, index, dead):
        oid = self._pick_order(index, dead)
        owner = self.ex.order(oid)
        who = owner.owner if owner is not None and member != "nobody" else member
        self._apply(lambda: self.ex.cancel(who, oid, time=self.time))

    @precondition(lambda self: self.ids)
    @rule(member=members, index=st.integers(0, 200), step=st.one_of(st.none(), price_steps),
          n=st.one_of(st.none(), lots), dead=st.sampled_from([False] * 4 + [True]))
    def amend(self, member, index, step, n, dead):
        oid = self._pick_order(index, dead)
        order = self.ex.order(oid)
        who = order.owner if order is not None and member != "nobody" else member
        code = self.ex.order_product(oid) or "A"
        price = None if step is None else self._price(code, step, False)
        qty = None if n is None else n * BY_CODE[code].lot
        self._apply(lambda: self.ex.amend(who, oid, price=price, qty=qty, time=self.time))

    @rule(buyer=members, seller=members, code=products, step=price_steps, n=st.integers(0, 6))
    def negotiate(self, buyer, seller, code, step, n):
        price = self._price(code, step, False)
        qty = n * BY_CODE[code].lot
        self._apply(lambda: self.ex.register_negotiated(buyer, seller, code, price, qty,
                                                        time=self.time))

    @rule(seller=members, code=products, n=lots, length=st.integers(0, 6))
    def open_block(self, seller, code, n, length):
        qty = n * BY_CODE[code].lot
        reserve = self._price(code, 3, False)
        events = self._apply(lambda: self.ex.open_block_auction(
            seller, code, qty, reserve, start=self.time, end=self.time + length))
        if events and not isinstance(events[0], Rejected):
            self.auctions.append(events[0].auction_id)
            self.offered[events[0].auction_id] = qty
            self.block_sold[events[0].auction_id] = 0

    @precondition(lambda self: self.auctions)
    @rule(member=members, index=st.integers(0, 50), step=price_steps, n=lots)
    def bid_block(self, member, index, step, n):
        aid = self._pick(self.auctions, index)
        auction = self.ex.block_auction(aid)
        code = auction.product if auction is not None else "A"
        price = self._price(code, step, False)
        qty = n * BY_CODE[code].lot
        self._apply(lambda: self.ex.bid_block_auction(member, aid, price, qty, time=self.time))

    @precondition(lambda self: self.auctions)
    @rule(index=st.integers(0, 50))
    def settle_block(self, index):
        aid = self._pick(self.auctions, index)
        self._apply(lambda: self.ex.settle_block_auction(aid, time=self.time))

    @rule(member=st.sampled_from(MEMBERS[:3]), suspend=st.sampled_from([False, False, True]))
    def membership(self, member, suspend):
        if suspend:
            self.suspending = member
            self._apply(lambda: self.ex.suspend_member(member, time=self.time))
            self.suspending = None
            self.suspended.add(member)
        else:
            self._apply(lambda: self.ex.reinstate_member(member))
            self.suspended.discard(member)

    # ---------------------------------------------------------------- audits

    @invariant()
    def books_are_sound(self):
        for code in CODES:
            self.ex.book(code).check_invariants()

    @invariant()
    def quantity_is_conserved_exactly(self):
        live = {}
        for code in CODES:
            for o in self.ex.book(code).orders() + self.ex.preopen_orders(code):
                assert o.order_id not in live
                live[o.order_id] = o.qty
        assert {oid: q for oid, q in self.open_qty.items() if q} == live
        assert all(q >= 0 for q in self.open_qty.values())

    @invariant()
    def bars_hold_exactly_the_trades_volume_and_value(self):
        for code in CODES:
            mine = [t for t in self.trades if t.product == code]
            bars = self.ex.daily_bars(code)
            if self.ex.state(code) is not SessionState.CLOSED:
                bars.append(self.ex.current_bar(code))
            assert sum(b.volume for b in bars) == sum(t.qty for t in mine)
            assert sum(b.value for b in bars) == sum(t.value for t in mine)
            assert sum(b.trades for b in bars) == len(mine)

    @invariant()
    def listener_heard_exactly_what_requests_returned(self):
        assert self.heard == self.returned


ExchangeMachine.TestCase.settings = settings(stateful_step_count=40)
TestExchangeStateful = ExchangeMachine.TestCase
