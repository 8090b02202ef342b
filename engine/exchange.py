"""The exchange around the books: products, members, the trading day, bands, channels.

One `OrderBook` per product does the matching; the exchange adds what a market needs around
it and stays thin on the hot path (a product lookup, a member lookup, a band check):

- members (unknown, suspended, not yet joined members are refused; cancel/amend by owner);
  suspension pulls the member's orders, withdraws its open block auctions and removes its
  bids from others' (a suspended member never trades); reinstatement restores none of them;
- the session of each product: CLOSED -> `begin_day` -> PRE_OPEN (call auction: limit orders
  collect in a `PreOpenBook`, nothing trades) -> `open_market` -> CONTINUOUS (the book) ->
  `close_market` (DAY orders expire, the day settles) -> CLOSED; each step applies to every
  product, or to those named by `products=`, and each product counts its own days;
- the day's band, from the previous settlement (the first day's from the reference price);
  GTC orders carried into a day whose band excludes their price are cancelled (OUTSIDE_BAND);
- the settlement: the day's VWAP over every channel, floor-divided to an integer, or, when
  nothing traded, the previous settlement (or, by the `untraded_settlement="touch"` setting,
  the closing best bid above it or best ask below it); daily bars;
- negotiated trades (offline, off the book) and block auctions;
- dated rule changes: `set_band` (a product's band rule, from its next day) and
  `set_channel_open` (a channel stops or resumes taking new requests; what rests stays).

Arguments: member ids are str or int, every int argument (ids, prices, quantities, times) is
an int in the signed 64-bit range [-2**63, 2**63 - 1]. Misuse raises before anything changes
(an order id is not used up): `TypeError` for the wrong type (a float or bool time, `True` or
`1.0` as a member id, a float auction id, a str channel), `ValueError` for an int out of
range; business failures are a `Rejected`.

Requests return their events in order. Listeners receive every event only after the request
that caused it has been fully applied: events are queued and delivered in request order, so a
listener may submit from inside its callback and sees a consistent exchange; its own events
are delivered after those already queued. A listener that raises stops delivery; what was
still queued is delivered after the next request.

Events of each action, in order (a refused request is always exactly one `Rejected`):

| action | events |
| --- | --- |
| `submit_limit`, continuous | `Accepted`, `Trade`*, then `Cancelled` (IOC rest, self-trade) |
| `submit_limit`, call auction | `Accepted`, `Cancelled`* (self-trade prevention on entry) |
| `submit_market` | `Accepted`, `Trade`*, `Cancelled` (MARKET_REMAINDER) if any is left |
| `cancel` / `amend` | `Cancelled` / `Amended`, then as a new arrival if priority is lost |
| `begin_day` | per product: `Cancelled`* (OUTSIDE_BAND), `SessionChanged` (PRE_OPEN) |
| `open_market` | per product: `Trade`*, `AuctionUncrossed`, `SessionChanged` (CONTINUOUS) |
| `close_market` | per product: `Expired`*, `DaySettled`, `SessionChanged` (CLOSED) |
| `register_negotiated` | one `Trade` (offline, aggressor BUY, maker = seller) |
| `open_block_auction` / `bid_block_auction` | `BlockAuctionOpened` / `BlockBidAccepted` |
| `settle_block_auction` | `Trade`* (best bid first, maker = seller), `BlockAuctionSettled` |
| `suspend_member` | per product: `Cancelled`* (MEMBER_SUSPENDED), call auction then book; |
| | then per open block auction, in opening order: `BlockAuctionWithdrawn` if the member |
| | sells it, else `BlockBidWithdrawn`* for the member's bids, in arrival order (same reason) |
| `reinstate_member` | none |
| `set_band` | none (an unknown product: `Rejected(UNKNOWN_PRODUCT)`) |
| `set_channel_open` | none; while closed, each new request on the channel is one |
| | `Rejected(CHANNEL_CLOSED)` |

Auction trades: the maker is the earlier of the two orders, the aggressor the later one's
side. Every event carries the product code; order events carry their order's channel, and
session events `channel=None`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

import msgspec

from engine.auction import TIE_BREAKS
from engine.block_auction import BlockAuction, BlockBid, allocate_block
from engine.book import (
    INT64_MAX,
    INT64_MIN,
    BookSnapshot,
    OrderBook,
    SelfTradePolicy,
    TradePriceRule,
    check_ints,
    check_optional_ints,
)
from engine.events import (
    Accepted,
    Amended,
    AuctionUncrossed,
    BlockAuctionOpened,
    BlockAuctionSettled,
    BlockAuctionWithdrawn,
    BlockBidAccepted,
    BlockBidWithdrawn,
    Cancelled,
    CancelReason,
    DaySettled,
    Event,
    Rejected,
    RejectReason,
    SessionChanged,
    Trade,
)
from engine.orders import Channel, Order, RestingOrder, Side, TimeInForce
from engine.preopen import PreOpenBook
from engine.product import Product, check_band
from engine.session import DailyBar, DayTally, SessionState

__all__ = ["Exchange", "ExchangeSettings", "ExchangeSnapshot", "MarketSnapshot", "Member"]

PRE_OPEN = SessionState.PRE_OPEN
CONTINUOUS = SessionState.CONTINUOUS
CLOSED = SessionState.CLOSED
GTC = TimeInForce.GTC
DAY = TimeInForce.DAY
ONLINE = Channel.ONLINE
OFFLINE = Channel.OFFLINE
BUY = Side.BUY
SELL = Side.SELL
R = RejectReason
_CLOSED = object()  # stands in for a closed channel in the request fast paths' identity tests


UNTRADED_SETTLEMENTS = ("previous", "touch")


class ExchangeSettings(msgspec.Struct, frozen=True):
    """Market rules that are settings: STP policy, trade-price rule, auction tie-break, blocks."""

    stp: SelfTradePolicy = SelfTradePolicy.CANCEL_RESTING
    trade_price: TradePriceRule = TradePriceRule.MAKER
    auction_tie_break: str = "reference"  # or "imbalance" (see engine.auction)
    block_uniform_price: bool = False  # block auctions: uniform price instead of pay-as-bid
    # a day with no trade settles at the previous settlement ("previous"), or ("touch") at the
    # closing best bid when it is above that, at the closing best ask when it is below
    untraded_settlement: str = "previous"

    def __post_init__(self) -> None:
        if not isinstance(self.stp, SelfTradePolicy):
            raise TypeError(f"ExchangeSettings.stp must be a SelfTradePolicy, got {self.stp!r}")
        if not isinstance(self.trade_price, TradePriceRule):
            raise TypeError(
                f"ExchangeSettings.trade_price must be a TradePriceRule, got {self.trade_price!r}"
            )
        if self.auction_tie_break not in TIE_BREAKS:
            raise ValueError(
                f"ExchangeSettings.auction_tie_break must be one of {TIE_BREAKS}, "
                f"got {self.auction_tie_break!r}"
            )
        if type(self.block_uniform_price) is not bool:
            raise TypeError("ExchangeSettings.block_uniform_price must be a bool")
        if self.untraded_settlement not in UNTRADED_SETTLEMENTS:
            raise ValueError(
                f"ExchangeSettings.untraded_settlement must be one of {UNTRADED_SETTLEMENTS}, "
                f"got {self.untraded_settlement!r}"
            )


class Member(msgspec.Struct, frozen=True, gc=False):
    """A member enterprise as the exchange knows it: id, join time (ns), suspended or not."""

    member_id: int | str
    joined: int = 0
    suspended: bool = False


class MarketSnapshot(msgspec.Struct, frozen=True):
    """Everything observable about one product on the exchange.

    `product` is the listing as it stands, with a band rule changed by `set_band` (which
    `band` shows from the next day on).
    """

    code: str
    state: SessionState
    day: int
    band: tuple[int, int]
    settlement: int
    book: BookSnapshot
    preopen: list[RestingOrder]
    bars: list[DailyBar]
    today: DailyBar
    product: Product


class ExchangeSnapshot(msgspec.Struct, frozen=True):
    """The exchange's market state; msgspec-encode two of them to compare.

    It leaves out the order-id counter: a rejected order still uses up the id its Rejected
    names, so that no id ever stands for two orders.
    """

    day: int
    markets: list[MarketSnapshot]
    members: list[Member]
    auctions: list[BlockAuction]
    closed_channels: list[Channel]


class _Market:
    """One product's state: its book, pre-open collection, session, band and day tally."""

    __slots__ = ("product", "code", "tick", "book", "live", "pre", "state", "low", "high",
                 "settlement", "tally", "bars", "day")

    def __init__(self, product: Product, settings: ExchangeSettings) -> None:
        self.product = product
        self.code = product.code
        self.tick = product.tick
        self.book = OrderBook(product.tick, product.lot, product=product.code,
                              stp=settings.stp, trade_price=settings.trade_price)
        # The book's own index of its resting orders (id -> order), read here and never
        # written: it answers "is this order live, and whose is it?" on the cancel and amend
        # paths without a per-order dict of the exchange's own.
        self.live: dict[int, Order] = self.book._orders
        self.pre = PreOpenBook()
        self.state = CLOSED
        self.settlement = product.reference_price  # the previous settlement: today's reference
        self.low, self.high = product.band(self.settlement)
        self.tally = DayTally()
        self.bars: list[DailyBar] = []
        self.day = -1  # index of its current (or last) trading day


class Exchange:
    """The exchange: one order book per product, members, sessions, bands and channels."""

    def __init__(self, products: Iterable[Product], settings: ExchangeSettings | None = None
                 ) -> None:
        if settings is None:
            settings = ExchangeSettings()
        elif not isinstance(settings, ExchangeSettings):
            raise TypeError(f"settings must be an ExchangeSettings, got {settings!r}")
        self.settings = settings
        self._markets: dict[str, _Market] = {}
        for product in products:
            if not isinstance(product, Product):
                raise TypeError(f"products must be Product structs, got {product!r}")
            if product.code in self._markets:
                raise ValueError(f"product code {product.code!r} listed twice")
            self._markets[product.code] = _Market(product, settings)
        if not self._markets:
            raise ValueError("an exchange needs at least one product")
        self._members: dict[Any, Member] = {}
        # Precomputed for the request fast paths (kept in step by the member and session
        # methods): the join time of every member that is not suspended, and the markets in
        # continuous trading.
        self._joined: dict[Any, int] = {}
        self._trading: dict[str, _Market] = {}
        # order id -> market, for every order taken today and every one still resting;
        # entries of orders that left the book are pruned at the close. The owner and
        # liveness of a continuous order come from its book (_Market.live).
        self._where: dict[int, _Market] = {}
        self._next_id = 1
        self._auctions: dict[int, BlockAuction] = {}
        self._listeners: list[Callable[[Event], None]] = []
        self._pending: deque[Event] = deque()
        self._delivering = False
        # the only listener while delivery may go straight to it (one listener, not delivering,
        # nothing held back); None otherwise. The request methods inline that direct delivery.
        self._solo: Callable[[Event], None] | None = None
        self._resubscribed = False  # a listener subscribed during a delivery
        # The channels taking requests (set_channel_open), as the request fast paths test them:
        # each the Channel itself while open, _CLOSED while closed.
        self._online = ONLINE
        self._offline = OFFLINE

    # ------------------------------------------------------------------ listeners

    def subscribe(self, listener: Callable[[Event], None]) -> None:
        """Deliver every later event to `listener`, after its request is fully applied."""
        if not callable(listener):
            raise TypeError(f"listener must be callable, got {listener!r}")
        self._listeners.append(listener)
        if self._delivering:
            self._resubscribed = True  # _solo is settled when the delivery ends
        else:
            self._refresh_solo()

    def _refresh_solo(self) -> None:
        """Allow direct delivery again when there is one listener and nothing is in flight."""
        listeners = self._listeners
        idle = len(listeners) == 1 and not self._delivering and not self._pending
        self._solo = listeners[0] if idle else None
        self._resubscribed = False

    def _solo_raised(self, events: list[Event], failed: Event) -> None:
        """Direct delivery stopped at `failed`: hold back the rest for after the next request."""
        i = next(i for i, event in enumerate(events) if event is failed)
        self._pending.extend(events[i + 1:])
        self._delivering = False
        self._refresh_solo()

    def _publish(self, events: list[Event]) -> None:
        """Deliver `events` to every listener, or queue them while a delivery is under way.

        `_done` delivers straight to a single idle listener (`_solo`);
        this is the general path: several listeners, events held back by a listener that
        raised, and requests made from inside a callback.
        """
        pending = self._pending
        if self._delivering:
            pending.extend(events)  # a listener's own request: delivered after the current ones
            return
        self._delivering = True
        self._solo = None
        listeners = self._listeners
        try:
            pending.extend(events)
            while pending:
                event = pending.popleft()
                for listener in listeners:
                    listener(event)
        finally:
            self._delivering = False
            self._refresh_solo()

    def _done(self, events: list[Event]) -> list[Event]:
        """Deliver a request's events to its listeners and return them; all requests end here."""
        solo = self._solo
        if solo is not None:  # a single idle listener: deliver directly (see _publish)
            self._solo = None
            self._delivering = True
            for event in events:
                try:
                    solo(event)
                except BaseException:
                    self._solo_raised(events, event)
                    raise
            self._delivering = False
            if self._pending or self._resubscribed:  # the listener made requests or subscribed
                self._publish([])
            else:
                self._solo = solo
        elif self._listeners:
            self._publish(events)
        return events

    # ------------------------------------------------------------------ members

    def add_member(self, member_id: int | str, *, joined: int = 0) -> None:
        """Register a member enterprise; it may trade from `joined` (ns) on.

        Member ids are str or int (signed 64-bit); a bool or a float is misuse (TypeError).
        """
        _check_member("member_id", member_id)
        check_ints(joined=joined)
        if member_id in self._members:
            raise ValueError(f"member {member_id!r} is already registered")
        self._members[member_id] = Member(member_id, joined)
        self._joined[member_id] = joined

    def member(self, member_id: int | str) -> Member | None:
        """The member record, or None if unknown (TypeError for a bool or float id)."""
        _check_member("member_id", member_id)
        return self._members.get(member_id)

    def members(self) -> list[Member]:
        """Every registered member, in registration order."""
        return list(self._members.values())

    def suspend_member(self, member_id: int | str, *, time: int) -> list[Event]:
        """Suspend a member: it is refused from now on and nothing of its can trade any more.

        Its pre-open and resting orders are cancelled, its open (unsettled) block auctions are
        withdrawn, and its bids in other sellers' open block auctions are removed, all with
        reason MEMBER_SUSPENDED. The events come per product (call auction, then book, each in
        arrival order), then per open block auction in opening order (see the module table).
        Suspending a member that is already suspended changes nothing and returns no events.
        """
        _check_member("member_id", member_id)
        check_ints(time=time)
        member = self._members.get(member_id)
        if member is None:
            return self._done([Rejected(None, R.UNKNOWN_MEMBER,
                                        f"unknown member {member_id!r}", time)])
        self._members[member_id] = msgspec.structs.replace(member, suspended=True)
        self._joined.pop(member_id, None)
        events: list[Event] = []
        reason = CancelReason.MEMBER_SUSPENDED
        for m in self._markets.values():
            for o in [o for o in m.pre.orders.values() if o.owner == member_id]:
                m.pre.remove(o.order_id)
                events.append(Cancelled(o.order_id, o.side, o.price, o.qty, o.owner, reason,
                                        time, m.code, o.channel))
            for ro in [ro for ro in m.book.orders() if ro.owner == member_id]:
                for ev in m.book.cancel(ro.order_id, time=time):
                    events.append(msgspec.structs.replace(ev, reason=reason))
        for a in self._auctions.values():  # opening order
            if a.settled or a.withdrawn:
                continue
            if a.seller == member_id:
                a.withdrawn = True
                events.append(BlockAuctionWithdrawn(a.auction_id, a.seller, a.qty, reason, time,
                                                    a.product, a.channel))
            elif any(b.member == member_id for b in a.bids):
                kept: list[BlockBid] = []
                for b in a.bids:
                    if b.member == member_id:
                        events.append(BlockBidWithdrawn(a.auction_id, b.bid_id, b.member,
                                                        b.price, b.qty, reason, time, a.product,
                                                        b.channel))
                    else:
                        kept.append(b)
                a.bids = kept
        return self._done(events)

    def reinstate_member(self, member_id: int | str) -> list[Event]:
        """Lift a suspension; its cancelled orders, withdrawn auctions and bids stay gone."""
        _check_member("member_id", member_id)
        member = self._members.get(member_id)
        if member is None:
            return self._done([Rejected(None, R.UNKNOWN_MEMBER, f"unknown member {member_id!r}")])
        self._members[member_id] = msgspec.structs.replace(member, suspended=False)
        self._joined[member_id] = member.joined
        return []

    def _member_reject(self, member_id: Any, time: int, order_id: int | None, code: str | None,
                       channel: Channel) -> list[Event] | None:
        """One Rejected if the member may not act at `time`, else None."""
        member = self._members.get(member_id)
        if member is None:
            reason, detail = R.UNKNOWN_MEMBER, f"unknown member {member_id!r}"
        elif member.suspended:
            reason, detail = R.MEMBER_SUSPENDED, f"member {member_id!r} is suspended"
        elif time < member.joined:
            reason, detail = R.MEMBER_NOT_JOINED, f"member {member_id!r} joins at {member.joined}"
        else:
            return None
        return [Rejected(order_id, reason, detail, time, code, channel)]

    # ------------------------------------------------------------------ the trading day

    @property
    def day(self) -> int:
        """Index of the latest trading day begun by any product; -1 before the first."""
        return max(m.day for m in self._markets.values())

    def _session_markets(self, step: str, time: int, products: Iterable[str] | None,
                         required: SessionState, hint: str) -> list[_Market]:
        """The markets a session step applies to, all of them in the `required` state.

        Misuse raises before anything changes: a time that is not a 64-bit int (TypeError,
        ValueError), `products` that is not an iterable of str codes (TypeError), an unknown
        code (KeyError) or a product in another state (ValueError).
        """
        check_ints(time=time)
        if products is None:
            chosen = list(self._markets.values())
        else:
            if isinstance(products, str):
                raise TypeError(f"{step}: products must be a list of codes, not one string")
            codes = list(products)
            for code in codes:
                if code.__class__ is not str:
                    raise TypeError(f"{step}: product codes must be str, got {code!r}")
            chosen = [self._market(code) for code in dict.fromkeys(codes)]
        for m in chosen:
            if m.state is not required:
                raise ValueError(f"{step}: product {m.code} is {m.state.value}; {hint} first")
        return chosen

    def begin_day(self, *, time: int, products: Iterable[str] | None = None) -> list[Event]:
        """Start a trading day: each product (default all) enters its call auction.

        The day's band is set from the previous settlement, by the product's band rule as it
        stands now (a `set_band` since the last begin_day applies from here). Resting GTC
        orders move into the call auction with their time priority; those priced outside the
        new band are cancelled (OUTSIDE_BAND). Each product counts its own days.
        """
        chosen = self._session_markets("begin_day", time, products, CLOSED, "close_market")
        events: list[Event] = []
        for m in chosen:
            m.day += 1
            m.low, m.high = m.product.band(m.settlement)
            m.tally = DayTally()
            book = m.book
            for ro in book.orders():  # arrival order
                book.cancel(ro.order_id, time=time)
                if m.low <= ro.price <= m.high:
                    m.pre.add(Order(ro.order_id, ro.side, ro.price, ro.qty, ro.owner, ro.tif,
                                    ro.channel, ro.time))
                else:
                    events.append(Cancelled(ro.order_id, ro.side, ro.price, ro.qty, ro.owner,
                                            CancelReason.OUTSIDE_BAND, time, m.code,
                                            ro.channel))
            m.state = PRE_OPEN
            events.append(SessionChanged(PRE_OPEN, m.day, time, m.code))
        return self._done(events)

    def open_market(self, *, time: int, products: Iterable[str] | None = None) -> list[Event]:
        """Uncross each call auction (default all) at one price, then trade continuously."""
        chosen = self._session_markets("open_market", time, products, PRE_OPEN, "begin_day")
        events: list[Event] = []
        tie_break = self.settings.auction_tie_break
        for m in chosen:
            code = m.code
            price, qty, matches, leftovers = m.pre.uncross(m.settlement, tie_break,
                                                           m.product.tick)
            tally = m.tally
            for maker, taker, q in matches:
                events.append(Trade(price, q, maker.order_id, taker.order_id, maker.owner,
                                    taker.owner, taker.side, time, code, taker.channel))
                tally.add(price, q)
            events.append(AuctionUncrossed(price, qty, m.day, time, code))
            book = m.book
            if price is not None:
                book.last_trade_price = price
            for o in leftovers:
                out = book.limit(o.order_id, o.side, o.price, o.qty, o.owner, o.tif,
                                 channel=o.channel, time=o.time)
                if len(out) != 1 or type(out[0]) is not Accepted:
                    raise AssertionError(f"auction leftover {o.order_id} did not rest: {out}")
            m.state = CONTINUOUS
            self._trading[code] = m
            events.append(SessionChanged(CONTINUOUS, m.day, time, code))
        return self._done(events)

    def close_market(self, *, time: int, products: Iterable[str] | None = None) -> list[Event]:
        """Close the day of each product (default all): DAY orders expire, the day settles."""
        chosen = self._session_markets("close_market", time, products, CONTINUOUS,
                                       "open_market")
        events: list[Event] = []
        touch = self.settings.untraded_settlement == "touch"
        for m in chosen:
            reference = self._untraded_reference(m) if touch else m.settlement
            events.extend(m.book.expire_day_orders(time=time))
            bar = m.tally.bar(m.day, reference)
            m.bars.append(bar)
            m.settlement = bar.settlement
            m.state = CLOSED
            del self._trading[m.code]
            events.append(DaySettled(m.day, bar.settlement, bar.vwap, bar.volume, bar.value,
                                     bar.trades, time, m.code))
            events.append(SessionChanged(CLOSED, m.day, time, m.code))
        self._where = {oid: m for oid, m in self._where.items()
                       if oid in m.live or oid in m.pre.orders}
        return self._done(events)

    @staticmethod
    def _untraded_reference(m: _Market) -> int:
        """What a day with no trade would settle at by the "touch" rule, read before the close.

        The closing best bid when it is above the previous settlement, else the best ask when
        it is below, else the previous settlement: the last tier of CME Group's settlement
        procedure. A market locked at its band's top, with bids there and no offer, so settles
        at the top and the next day's band moves on, instead of standing still while nothing
        trades. (A day that traded settles at its VWAP whatever this says.)
        """
        previous = m.settlement
        if m.tally.open is not None:
            return previous
        bid, _, ask, _ = m.book.touch()
        if bid is not None and bid > previous:
            return bid
        if ask is not None and ask < previous:
            return ask
        return previous

    # ------------------------------------------------------------------ rule changes

    def set_band(self, product: str, *, band_pct: int | None, band_abs: int | None = None
                 ) -> list[Event]:
        """Change a product's band rule from its next trading day on; no events.

        Validated as `Product` validates it (each None or an int, 0 <= band_pct < 100,
        band_abs >= 0; `band_abs` takes precedence, both None means no band): misuse raises
        TypeError/ValueError, an unknown product is one `Rejected(UNKNOWN_PRODUCT)`. Today's
        band stands: the new rule sets the band at the product's next `begin_day`, from the
        previous settlement as always, and `band(product)` shows it while the product is
        closed. `product(code)` returns the updated listing.
        """
        _check_product(product)
        check_band(band_pct, band_abs)
        m = self._markets.get(product)
        if m is None:
            return self._done([Rejected(None, R.UNKNOWN_PRODUCT, f"unknown product {product!r}",
                                        0, product)])
        m.product = msgspec.structs.replace(m.product, band_pct=band_pct, band_abs=band_abs)
        return []

    def set_channel_open(self, channel: Channel, is_open: bool, *, time: int) -> list[Event]:
        """Open or close a channel for new requests from `time` (ns) on; no events.

        While a channel is closed, `submit_limit`, `submit_market` and `bid_block_auction` on
        it, `open_block_auction` opened on it and, for the offline channel, `register_negotiated`
        each get exactly one `Rejected(CHANNEL_CLOSED)` and change nothing. Orders already
        resting (in a book or a call auction) stay, and their owners can still cancel and
        amend them; open block auctions still settle. Opening an open channel, or closing a
        closed one, changes nothing.
        """
        _check_channel(channel)
        if is_open is not True and is_open is not False:
            raise TypeError(f"is_open must be a bool, got {is_open!r}")
        check_ints(time=time)
        if channel is ONLINE:
            self._online = ONLINE if is_open else _CLOSED
        else:
            self._offline = OFFLINE if is_open else _CLOSED
        return []

    def channel_open(self, channel: Channel) -> bool:
        """Whether `channel` takes new requests (see `set_channel_open`)."""
        _check_channel(channel)
        return channel is self._online or channel is self._offline

    # ------------------------------------------------------------------ orders

    def _new_id(self, order_id: int | None) -> int:
        """An id for a new order: the next unused one, or the caller's (checked to be an int).

        Ids given by callers push the counter past them, so assigned ids never collide; a
        caller's id below the counter is refused before this (`_duplicate`): orders, block
        auctions, bids and negotiated deals share the ids, and none may stand for two.
        """
        if order_id is None:
            oid = self._next_id
            self._next_id = oid + 1
            return oid
        if type(order_id) is not int:
            raise TypeError(f"order_id must be an int or None, got {order_id!r}")
        if order_id >= self._next_id:
            self._next_id = order_id + 1
        return order_id

    def _live(self, order_id: int) -> bool:
        m = self._where.get(order_id)
        return m is not None and (order_id in m.live or order_id in m.pre.orders)

    def _entry_reject(self, m: _Market | None, member: Any, product: Any,
                      order_id: int | None, time: int, channel: Channel) -> list[Event]:
        """The Rejected for an unknown product or a member that may not act now."""
        if m is None:
            return _unknown_product(order_id, product, time, channel)
        bad = self._member_reject(member, time, order_id, product, channel)
        assert bad is not None
        return bad

    def submit_limit(self, member: int | str, product: str, side: Side, price: int, qty: int,
                     *, tif: TimeInForce = GTC, post_only: bool = False,
                     channel: Channel = ONLINE, time: int, order_id: int | None = None
                     ) -> list[Event]:
        """Submit a limit order for `member`: Accepted, then Trades/Cancelled, or one Rejected.

        `order_id`, if given, must be new: above every id the exchange has used (else
        DUPLICATE_ORDER_ID); by default the exchange assigns the next one.
        """
        # The common case in one test: a product in continuous trading, an active member (an
        # int or str: `True` and `1.0` equal member 1 but are misuse), a price inside the
        # band, an open channel and a fresh id. Anything else takes the full path, which finds
        # the exact reason; so does API misuse the book raises on (before it changes
        # anything: a float or bool time, a 2**70 quantity...), for the exchange's own message.
        try:
            m = self._trading[product]
            fast = (self._joined[member] <= time and price >= m.low and price <= m.high
                    and (member.__class__ is int or member.__class__ is str))
            if order_id is None:
                oid = self._next_id
            elif order_id >= self._next_id:  # an id that is not an int: the book refuses it
                oid = order_id
            else:
                fast = False
        except (KeyError, TypeError):
            fast = False
        if not fast or (channel is not self._online and channel is not self._offline):
            return self._limit_checked(member, product, side, price, qty, tif, post_only,
                                       channel, time, order_id)
        try:
            events = m.book.limit(oid, side, price, qty, member, tif, post_only,
                                  channel=channel, time=time)
        except (TypeError, ValueError):
            return self._limit_checked(member, product, side, price, qty, tif, post_only,
                                       channel, time, order_id)
        self._next_id = oid + 1
        self._where[oid] = m
        if len(events) > 1:
            self._record(m, events)
        return self._done(events)

    def _limit_checked(self, member: Any, product: Any, side: Side, price: int, qty: int,
                       tif: TimeInForce, post_only: bool, channel: Channel, time: int,
                       order_id: int | None) -> list[Event]:
        """submit_limit, every check in order: misuse raised, or the exact reject."""
        # misuse first, before an id is used up: misuse changes nothing
        _check_request(member, product, side, channel, time)
        check_ints(price=price, qty=qty)
        check_optional_ints(order_id=order_id)
        if tif is not GTC and tif is not DAY and tif is not TimeInForce.IOC \
                and tif is not TimeInForce.FOK:
            raise TypeError(f"tif must be a TimeInForce, got {tif!r}")
        if post_only is not False and post_only is not True:
            raise TypeError(f"post_only must be a bool, got {post_only!r}")
        m = self._markets.get(product)
        mem = self._members.get(member)
        if m is None or mem is None or mem.suspended or time < mem.joined:
            return self._done(self._entry_reject(m, member, product, order_id, time, channel))
        if channel is not self._online and channel is not self._offline:
            return self._done(_channel_closed(order_id, product, time, channel))
        if order_id is not None and order_id < self._next_id:
            return self._done(_duplicate(order_id, self._next_id, time, product, channel))
        oid = self._new_id(order_id)
        if m.state is not CONTINUOUS:
            return self._done(self._preopen_limit(m, member, side, price, qty, tif, post_only,
                                                  channel, time, oid))
        if price < m.low or price > m.high:
            if price > 0 and not price % m.product.tick:
                return self._done(_outside_band(oid, price, m, time, channel))
        events = m.book.limit(oid, side, price, qty, member, tif, post_only, channel=channel,
                              time=time)
        self._where[oid] = m
        if len(events) > 1:
            self._record(m, events)
        return self._done(events)

    def _preopen_limit(self, m: _Market, member: Any, side: Side, price: int, qty: int,
                       tif: TimeInForce, post_only: bool, channel: Channel, time: int,
                       order_id: int) -> list[Event]:
        """A limit order while the product is not continuous: collect it in the call auction."""
        code = m.code
        if m.state is CLOSED:
            return [Rejected(order_id, R.MARKET_CLOSED, f"{code} is closed", time, code,
                             channel)]
        if (tif is not GTC and tif is not DAY) or post_only:
            what = "post-only" if post_only else tif.value.upper()
            return [Rejected(order_id, R.NOT_ALLOWED_IN_AUCTION,
                             f"{what} orders are not taken in the call auction", time, code,
                             channel)]
        bad = self._price_reject(m, price, order_id, time, channel)
        if bad is not None:
            return bad
        if qty <= 0 or qty % m.product.lot:
            return [Rejected(order_id, R.QTY_NOT_LOT_MULTIPLE,
                             f"quantity {qty} is not a positive multiple of the lot "
                             f"{m.product.lot}", time, code, channel)]
        oid = order_id
        events: list[Event] = [Accepted(oid, side, price, qty, member, tif, time, code, channel)]
        order = Order(oid, side, price, qty, member, tif, channel, time)
        self._where[oid] = m
        self._enter_preopen(m, order, events)
        return events

    def _enter_preopen(self, m: _Market, order: Order, events: list[Event]) -> None:
        """Queue an order in the call auction, applying self-trade prevention on entry."""
        pre = m.pre
        own = pre.crossing_own(order.side, order.price, order.owner)
        stp = self.settings.stp
        time = order.time
        reason = CancelReason.SELF_TRADE
        if own and stp is not SelfTradePolicy.CANCEL_INCOMING:
            for o in own if stp is SelfTradePolicy.CANCEL_RESTING else own[:1]:
                pre.remove(o.order_id)
                events.append(Cancelled(o.order_id, o.side, o.price, o.qty, o.owner, reason,
                                        time, m.code, o.channel))
        if own and stp is not SelfTradePolicy.CANCEL_RESTING:
            events.append(Cancelled(order.order_id, order.side, order.price, order.qty,
                                    order.owner, reason, time, m.code, order.channel))
            return
        pre.add(order)

    def _price_reject(self, m: _Market, price: int, order_id: int | None, time: int,
                      channel: Channel) -> list[Event] | None:
        """One Rejected for a price that is not positive, off the tick, or outside the band."""
        code = m.code
        if price <= 0:
            return [Rejected(order_id, R.PRICE_NOT_POSITIVE, f"price {price} is not positive",
                             time, code, channel)]
        if price % m.product.tick:
            return [Rejected(order_id, R.PRICE_OFF_TICK,
                             f"price {price} is not a multiple of the tick {m.product.tick}",
                             time, code, channel)]
        if price < m.low or price > m.high:
            return _outside_band(order_id, price, m, time, channel)
        return None

    def submit_market(self, member: int | str, product: str, side: Side, qty: int, *,
                      protection: int | None = None, channel: Channel = ONLINE, time: int,
                      order_id: int | None = None) -> list[Event]:
        """Submit a market order (continuous trading only): sweeps, never rests."""
        try:  # the common case in one test, as in submit_limit
            m = self._trading[product]
            fast = (self._joined[member] <= time
                    and (member.__class__ is int or member.__class__ is str))
            if order_id is None:
                oid = self._next_id
            elif order_id >= self._next_id:  # an id that is not an int: the book refuses it
                oid = order_id
            else:
                fast = False
        except (KeyError, TypeError):
            fast = False
        if not fast or (channel is not self._online and channel is not self._offline):
            return self._market_checked(member, product, side, qty, protection, channel, time,
                                        order_id)
        try:
            events = m.book.market(oid, side, qty, member, protection=protection,
                                   channel=channel, time=time)
        except (TypeError, ValueError):
            return self._market_checked(member, product, side, qty, protection, channel, time,
                                        order_id)
        self._next_id = oid + 1
        if len(events) > 1:
            self._record(m, events)
        return self._done(events)

    def _market_checked(self, member: Any, product: Any, side: Side, qty: int,
                        protection: int | None, channel: Channel, time: int,
                        order_id: int | None) -> list[Event]:
        """submit_market, every check in order: misuse raised, or the exact reject."""
        _check_request(member, product, side, channel, time)  # misuse changes nothing
        check_ints(qty=qty)
        check_optional_ints(protection=protection, order_id=order_id)
        m = self._markets.get(product)
        mem = self._members.get(member)
        if m is None or mem is None or mem.suspended or time < mem.joined:
            return self._done(self._entry_reject(m, member, product, order_id, time, channel))
        if channel is not self._online and channel is not self._offline:
            return self._done(_channel_closed(order_id, product, time, channel))
        if m.state is not CONTINUOUS:
            return self._done([_state_reject(m, order_id, time, channel, "market orders")])
        if order_id is not None and order_id < self._next_id:
            return self._done(_duplicate(order_id, self._next_id, time, product, channel))
        oid = self._new_id(order_id)
        events = m.book.market(oid, side, qty, member, protection=protection, channel=channel,
                               time=time)
        if len(events) > 1:
            self._record(m, events)
        return self._done(events)

    def cancel(self, member: int | str, order_id: int, *, time: int) -> list[Event]:
        """Cancel one of the member's orders (continuous book or call auction).

        A closed channel (set_channel_open) takes no new orders, but its resting orders can
        still be cancelled and amended.
        """
        try:  # the common case in one test: the active owner's live order, continuous trading
            m = self._where[order_id]
            fast = (m.live[order_id].owner == member and m.state is CONTINUOUS
                    and self._joined[member] <= time
                    and (member.__class__ is int or member.__class__ is str))
        except (KeyError, TypeError):
            fast = False
        if not fast:
            return self._cancel_checked(member, order_id, time)
        try:
            events = m.book.cancel(order_id, time=time)
        except (TypeError, ValueError):  # misuse (an id that only equals an int, a bad time)
            return self._cancel_checked(member, order_id, time)
        return self._done(events)

    def _cancel_checked(self, member: Any, order_id: int, time: int) -> list[Event]:
        """cancel, every check in order: misuse raised, or the exact reject."""
        _check_member("member", member)
        if order_id.__class__ is not int:
            raise TypeError(f"order_id must be an int, got {order_id!r}")
        check_ints(order_id=order_id, time=time)
        found = self._find(member, order_id, time)
        if type(found) is list:
            return self._done(found)
        m = found[0]
        if m.state is PRE_OPEN:
            o = m.pre.remove(order_id)
            return self._done([Cancelled(order_id, o.side, o.price, o.qty, o.owner,
                                         CancelReason.USER, time, m.code, o.channel)])
        return self._done(m.book.cancel(order_id, time=time))

    def _find(self, member: Any, order_id: int, time: int) -> tuple[_Market, Channel] | list:
        """The market of a live order the member owns, or one Rejected."""
        m = self._where.get(order_id)
        if m is None:
            return [Rejected(order_id, R.UNKNOWN_ORDER, f"no live order with id {order_id}",
                             time)]
        code = m.code
        if m.state is CLOSED:
            return [Rejected(order_id, R.MARKET_CLOSED, f"{code} is closed", time, code)]
        o = m.pre.orders.get(order_id) if m.state is PRE_OPEN else m.live.get(order_id)
        if o is None:
            return [Rejected(order_id, R.UNKNOWN_ORDER, f"no live order with id {order_id}",
                             time, code)]
        bad = self._member_reject(member, time, order_id, code, o.channel)
        if bad is not None:
            return bad
        if o.owner != member:
            return [Rejected(order_id, R.NOT_OWNER,
                             f"order {order_id} belongs to another member", time, code,
                             o.channel)]
        return m, o.channel

    def amend(self, member: int | str, order_id: int, *, price: int | None = None,
              qty: int | None = None, time: int) -> list[Event]:
        """Amend one of the member's orders: `qty` is the new open quantity.

        Lowering the quantity keeps time priority; a new price or more quantity re-queues
        the order (in continuous trading it may then trade at once).
        """
        try:  # the common case in one test, as in cancel, with a new price on the band's grid
            m = self._where[order_id]
            fast = (m.live[order_id].owner == member and m.state is CONTINUOUS
                    and self._joined[member] <= time
                    and (price is None or (m.low <= price <= m.high and not price % m.tick))
                    and (member.__class__ is int or member.__class__ is str))
        except (KeyError, TypeError):
            fast = False
        if not fast:
            return self._amend_checked(member, order_id, price, qty, time)
        try:
            events = m.book.amend(order_id, price, qty, time=time)
        except (TypeError, ValueError):
            return self._amend_checked(member, order_id, price, qty, time)
        if len(events) > 1:
            self._record(m, events)
        return self._done(events)

    def _amend_checked(self, member: Any, order_id: int, price: int | None, qty: int | None,
                       time: int) -> list[Event]:
        """amend, every check in order: misuse raised, or the exact reject."""
        _check_member("member", member)
        if order_id.__class__ is not int:
            raise TypeError(f"order_id must be an int, got {order_id!r}")
        if price is not None and price.__class__ is not int:
            raise TypeError(f"price must be an int or None, got {price!r}")
        if qty is not None and qty.__class__ is not int:
            raise TypeError(f"qty must be an int or None, got {qty!r}")
        check_ints(order_id=order_id, time=time)
        check_optional_ints(price=price, qty=qty)
        found = self._find(member, order_id, time)
        if type(found) is list:
            return self._done(found)
        m, channel = found
        if price is not None and (price <= 0 or price % m.tick or price < m.low
                                  or price > m.high):
            return self._done(self._price_reject(m, price, order_id, time, channel))
        if m.state is PRE_OPEN:
            return self._done(self._preopen_amend(m, order_id, price, qty, time))
        events = m.book.amend(order_id, price, qty, time=time)
        if len(events) > 1:
            self._record(m, events)
        return self._done(events)

    def _preopen_amend(self, m: _Market, order_id: int, price: int | None, qty: int | None,
                       time: int) -> list[Event]:
        pre = m.pre
        o = pre.orders[order_id]
        code = m.code
        if qty is not None and (qty <= 0 or qty % m.product.lot):
            return [Rejected(order_id, R.QTY_NOT_LOT_MULTIPLE,
                             f"quantity {qty} is not a positive multiple of the lot "
                             f"{m.product.lot}", time, code, o.channel)]
        new_price = o.price if price is None else price
        new_qty = o.qty if qty is None else qty
        if new_price == o.price and new_qty == o.qty:
            return [Rejected(order_id, R.AMEND_NO_CHANGE,
                             "amend changes neither price nor quantity", time, code, o.channel)]
        if new_price == o.price and new_qty < o.qty:
            events: list[Event] = [Amended(order_id, o.side, o.price, o.qty, new_price, new_qty,
                                           o.owner, True, time, code, o.channel)]
            o.qty = new_qty
            return events
        pre.remove(order_id)
        events = [Amended(order_id, o.side, o.price, o.qty, new_price, new_qty, o.owner, False,
                          time, code, o.channel)]
        self._enter_preopen(m, Order(order_id, o.side, new_price, new_qty, o.owner, o.tif,
                                     o.channel, time), events)
        return events

    def _record(self, m: _Market, events: list[Event]) -> None:
        """Count the trades among `events` in the product's day tally (DayTally.add, inlined).

        Sums go through locals; the tally's prices are read only where a trade may move
        them and written once.
        """
        tally = m.tally
        volume = notional = value = trades = 0
        for ev in events:
            if type(ev) is Trade:
                price = ev.price
                qty = ev.qty
                if tally.open is None:
                    tally.open = tally.high = tally.low = price
                elif price > tally.high:
                    tally.high = price
                elif price < tally.low:
                    tally.low = price
                volume += qty
                pq = price * qty
                notional += pq
                value += pq // 10  # per trade, as DayTally.add
                trades += 1
        if trades:
            tally.close = price
            tally.volume += volume
            tally.notional += notional
            tally.value += value
            tally.trades += trades

    # ------------------------------------------------------------------ negotiated trades

    def register_negotiated(self, buyer: int | str, seller: int | str, product: str,
                            price: int, qty: int, *, time: int) -> list[Event]:
        """Register a bilateral deal: one offline Trade (aggressor BUY, maker = seller).

        Validated against members, the session, the band, the lot and the minimum block; the
        deal never touches the book. Each side gets a fresh order id. Deals count as offline:
        while the offline channel is closed they are refused (CHANNEL_CLOSED).
        """
        _check_member("buyer", buyer)
        _check_member("seller", seller)
        _check_product(product)
        check_ints(price=price, qty=qty, time=time)
        m = self._markets.get(product)
        if m is None:
            return self._done(_unknown_product(None, product, time, OFFLINE))
        for who in (buyer, seller):
            bad = self._member_reject(who, time, None, product, OFFLINE)
            if bad is not None:
                return self._done(bad)
        if self._offline is not OFFLINE:
            return self._done(_channel_closed(None, product, time, OFFLINE))
        if m.state is CLOSED:
            return self._done([Rejected(None, R.MARKET_CLOSED, f"{product} is closed", time,
                                        product, OFFLINE)])
        if buyer == seller:
            return self._done([Rejected(None, R.SAME_ENTERPRISE,
                                        f"member {buyer!r} on both sides", time, product,
                                        OFFLINE)])
        bad = self._price_reject(m, price, None, time, OFFLINE)
        if bad is not None:
            return self._done(bad)
        lot = m.product.lot
        if qty <= 0 or qty % lot:
            return self._done([Rejected(None, R.QTY_NOT_LOT_MULTIPLE,
                                        f"quantity {qty} is not a positive multiple of the lot "
                                        f"{lot}", time, product, OFFLINE)])
        minimum = m.product.block_minimum
        if qty < minimum:
            return self._done([Rejected(None, R.BELOW_MIN_BLOCK,
                                        f"quantity {qty} is below the minimum block {minimum}",
                                        time, product, OFFLINE)])
        buy_id = self._new_id(None)
        sell_id = self._new_id(None)
        m.tally.add(price, qty)
        return self._done([Trade(price, qty, sell_id, buy_id, seller, buyer, BUY, time, product,
                                 OFFLINE)])

    # ------------------------------------------------------------------ block auctions

    def open_block_auction(self, seller: int | str, product: str, qty: int, reserve_price: int,
                           *, start: int, end: int, uniform: bool | None = None,
                           channel: Channel = ONLINE, time: int | None = None) -> list[Event]:
        """Offer `qty` for sale to bids at or above `reserve_price` during [start, end).

        `uniform` (default: the exchange setting) makes every winner pay the lowest winning
        bid instead of its own. `time` (default `start`) stamps the event. An auction opened
        on a closed channel is refused (CHANNEL_CLOSED).
        """
        _check_member("seller", seller)
        _check_product(product)
        _check_channel(channel)
        check_ints(qty=qty, reserve_price=reserve_price, start=start, end=end)
        check_optional_ints(time=time)
        if uniform is not None and uniform is not True and uniform is not False:
            raise TypeError(f"uniform must be a bool or None, got {uniform!r}")
        when = start if time is None else time
        m = self._markets.get(product)
        if m is None:
            return self._done(_unknown_product(None, product, when, channel))
        if uniform is None:
            uniform = self.settings.block_uniform_price
        bad = self._member_reject(seller, when, None, product, channel)
        if bad is not None:
            return self._done(bad)
        if channel is not self._online and channel is not self._offline:
            return self._done(_channel_closed(None, product, when, channel))
        if m.state is CLOSED:
            return self._done([Rejected(None, R.MARKET_CLOSED, f"{product} is closed", when,
                                        product, channel)])
        tick, lot = m.product.tick, m.product.lot
        if reserve_price <= 0:
            return self._done([Rejected(None, R.PRICE_NOT_POSITIVE,
                                        f"reserve price {reserve_price} is not positive", when,
                                        product, channel)])
        if reserve_price % tick:
            return self._done([Rejected(None, R.PRICE_OFF_TICK,
                                        f"reserve price {reserve_price} is not a multiple of the "
                                        f"tick {tick}", when, product, channel)])
        if qty <= 0 or qty % lot:
            return self._done([Rejected(None, R.QTY_NOT_LOT_MULTIPLE,
                                        f"quantity {qty} is not a positive multiple of the lot "
                                        f"{lot}", when, product, channel)])
        if end <= start:
            return self._done([Rejected(None, R.INVALID_WINDOW,
                                        f"window end {end} is not after its start {start}",
                                        when, product, channel)])
        auction_id = self._new_id(None)
        self._auctions[auction_id] = BlockAuction(auction_id, product, seller, qty,
                                                  reserve_price, start, end, uniform,
                                                  channel=channel)
        return self._done([BlockAuctionOpened(auction_id, seller, qty, reserve_price, start, end,
                                              uniform, when, product, channel)])

    def bid_block_auction(self, member: int | str, auction_id: int, price: int, qty: int, *,
                          time: int, channel: Channel = ONLINE) -> list[Event]:
        """Bid in a block auction during its window: BlockBidAccepted or one Rejected.

        A bid on a closed channel is refused (CHANNEL_CLOSED).
        """
        _check_member("member", member)
        _check_channel(channel)
        if auction_id.__class__ is not int:
            raise TypeError(f"auction_id must be an int, got {auction_id!r}")
        check_ints(auction_id=auction_id, price=price, qty=qty, time=time)
        a = self._auctions.get(auction_id)
        if a is None:
            return self._done([Rejected(None, R.UNKNOWN_AUCTION,
                                        f"no block auction {auction_id!r}", time, None, channel)])
        code = a.product
        m = self._markets[code]
        if a.settled:
            return self._done([Rejected(None, R.AUCTION_SETTLED,
                                        f"block auction {auction_id} is settled", time, code,
                                        channel)])
        if a.withdrawn:
            return self._done([Rejected(None, R.AUCTION_WITHDRAWN,
                                        f"block auction {auction_id} was withdrawn", time, code,
                                        channel)])
        bad = self._member_reject(member, time, None, code, channel)
        if bad is not None:
            return self._done(bad)
        if channel is not self._online and channel is not self._offline:
            return self._done(_channel_closed(None, code, time, channel))
        if m.state is CLOSED:
            return self._done([Rejected(None, R.MARKET_CLOSED, f"{code} is closed", time, code,
                                        channel)])
        if member == a.seller:
            return self._done([Rejected(None, R.SELLER_CANNOT_BID,
                                        f"member {member!r} is the seller", time, code, channel)])
        if not a.start <= time < a.end:
            return self._done([Rejected(None, R.AUCTION_NOT_OPEN,
                                        f"bids are taken in [{a.start}, {a.end}), not at {time}",
                                        time, code, channel)])
        tick, lot = m.product.tick, m.product.lot
        if price <= 0:
            return self._done([Rejected(None, R.PRICE_NOT_POSITIVE,
                                        f"price {price} is not positive", time, code, channel)])
        if price % tick:
            return self._done([Rejected(None, R.PRICE_OFF_TICK,
                                        f"price {price} is not a multiple of the tick {tick}",
                                        time, code, channel)])
        if price < a.reserve_price:
            return self._done([Rejected(None, R.BELOW_RESERVE,
                                        f"price {price} is below the reserve {a.reserve_price}",
                                        time, code, channel)])
        if qty <= 0 or qty % lot:
            return self._done([Rejected(None, R.QTY_NOT_LOT_MULTIPLE,
                                        f"quantity {qty} is not a positive multiple of the lot "
                                        f"{lot}", time, code, channel)])
        bid_id = self._new_id(None)
        a.bids.append(BlockBid(bid_id, member, price, qty, time, channel))
        return self._done([BlockBidAccepted(auction_id, bid_id, member, price, qty, time, code,
                                            channel)])

    def settle_block_auction(self, auction_id: int, *, time: int) -> list[Event]:
        """End a block auction: Trades to the best bids (maker = seller), then its summary.

        A withdrawn auction is refused (AUCTION_WITHDRAWN). Bids of members suspended since
        bidding are not there to count: the suspension removed them.
        """
        if auction_id.__class__ is not int:
            raise TypeError(f"auction_id must be an int, got {auction_id!r}")
        check_ints(auction_id=auction_id, time=time)
        a = self._auctions.get(auction_id)
        if a is None:
            return self._done([Rejected(None, R.UNKNOWN_AUCTION,
                                        f"no block auction {auction_id!r}", time)])
        code = a.product
        m = self._markets[code]
        if a.settled:
            return self._done([Rejected(None, R.AUCTION_SETTLED,
                                        f"block auction {auction_id} is settled", time, code)])
        if a.withdrawn:
            return self._done([Rejected(None, R.AUCTION_WITHDRAWN,
                                        f"block auction {auction_id} was withdrawn", time,
                                        code)])
        if time < a.end:
            return self._done([Rejected(None, R.AUCTION_NOT_ENDED,
                                        f"block auction {auction_id} ends at {a.end}", time,
                                        code)])
        if m.state is CLOSED:
            return self._done([Rejected(None, R.MARKET_CLOSED, f"{code} is closed", time,
                                        code)])
        events: list[Event] = []
        sold = value = 0
        prices = []
        for bid, fill, paid in allocate_block(a.bids, a.qty, a.uniform):
            trade = Trade(paid, fill, auction_id, bid.bid_id, a.seller, bid.member, BUY, time,
                          code, bid.channel)
            events.append(trade)
            m.tally.add(paid, fill)
            sold += fill
            value += trade.value
            prices.append(paid)
        a.settled = True
        events.append(BlockAuctionSettled(auction_id, sold, a.qty - sold,
                                          min(prices) if prices else None,
                                          max(prices) if prices else None, value, time, code))
        return self._done(events)

    def block_auction(self, auction_id: int) -> BlockAuction | None:
        """The block auction record (offer, bids, settled and withdrawn flags), or None."""
        check_ints(auction_id=auction_id)  # True or 2.0 would find auction 1 or 2
        return self._auctions.get(auction_id)

    # ------------------------------------------------------------------ queries

    def _market(self, product: str) -> _Market:
        m = self._markets.get(product)
        if m is None:
            raise KeyError(f"unknown product {product!r}")
        return m

    @property
    def products(self) -> list[Product]:
        """The listed products, in listing order."""
        return [m.product for m in self._markets.values()]

    def product(self, code: str) -> Product:
        """The product listed under `code`."""
        return self._market(code).product

    def state(self, product: str) -> SessionState:
        """The product's session state."""
        return self._market(product).state

    def book(self, product: str) -> OrderBook:
        """The product's continuous order book (empty during the call auction)."""
        return self._market(product).book

    def preopen_orders(self, product: str) -> list[RestingOrder]:
        """The orders collected in the product's call auction, in arrival order."""
        return self._market(product).pre.snapshot()

    def order(self, order_id: int) -> RestingOrder | None:
        """A live order (in a book or a call auction), or None."""
        check_ints(order_id=order_id)  # True or 1.0 would find order 1
        m = self._where.get(order_id)
        if m is None:
            return None
        o = m.pre.orders.get(order_id)
        if o is not None:
            return RestingOrder(o.order_id, o.side, o.price, o.qty, o.owner, o.tif, o.channel,
                                o.time)
        return m.book.order(order_id)

    def order_product(self, order_id: int) -> str | None:
        """The product code of a live order, or None."""
        return self._where[order_id].code if self._live(order_id) else None

    def band(self, product: str) -> tuple[int, int]:
        """The (low, high) prices allowed today (the coming day's while closed)."""
        m = self._market(product)
        if m.state is CLOSED:
            return m.product.band(m.settlement)
        return m.low, m.high

    def settlement(self, product: str) -> int:
        """The latest settlement price (the reference price before the first close)."""
        return self._market(product).settlement

    def daily_bars(self, product: str) -> list[DailyBar]:
        """The bars of every closed trading day, oldest first."""
        return list(self._market(product).bars)

    def current_bar(self, product: str) -> DailyBar:
        """The bar of the day so far (settlement: what it would be if the day closed now)."""
        m = self._market(product)
        touch = self.settings.untraded_settlement == "touch" and m.state is CONTINUOUS
        return m.tally.bar(m.day, self._untraded_reference(m) if touch else m.settlement)

    def snapshot(self) -> ExchangeSnapshot:
        """Everything observable.

        Books, call auctions, sessions, bands, bars, members, blocks and closed channels.
        """
        markets = [
            MarketSnapshot(m.code, m.state, m.day, self.band(m.code), m.settlement,
                           m.book.snapshot(), m.pre.snapshot(), list(m.bars),
                           m.tally.bar(m.day, m.settlement), m.product)
            for m in self._markets.values()
        ]
        auctions = [msgspec.structs.replace(a, bids=list(a.bids)) for a in self._auctions.values()]
        closed = [c for c in (ONLINE, OFFLINE) if not self.channel_open(c)]
        return ExchangeSnapshot(self.day, markets, list(self._members.values()), auctions,
                                closed)


def _unknown_product(order_id: int | None, product: Any, time: int, channel: Channel) -> list:
    code = product if type(product) is str else None
    return [Rejected(order_id, R.UNKNOWN_PRODUCT, f"unknown product {product!r}", time, code,
                     channel)]


def _check_member(name: str, value: Any) -> None:
    """Raise unless `value` can be a member id: a str, or an int in the signed 64-bit range.

    A bool or a float that equals a member's int id (`True`, `1.0` for member 1) is misuse.
    """
    cls = value.__class__
    if cls is str:
        return
    if cls is not int:
        raise TypeError(f"{name} must be an int or str, got {type(value).__name__} {value!r}")
    if value < INT64_MIN or value > INT64_MAX:
        raise ValueError(f"{name} must be in the signed 64-bit range [-2**63, 2**63 - 1], "
                         f"got {value}")


def _check_product(value: Any) -> None:
    if value.__class__ is not str:
        raise TypeError(f"product must be a str code, got {type(value).__name__} {value!r}")


def _check_channel(value: Any) -> None:
    if value is not ONLINE and value is not OFFLINE:
        raise TypeError(f"channel must be a Channel, got {value!r}")


def _check_request(member: Any, product: Any, side: Any, channel: Any, time: Any) -> None:
    """Raise TypeError/ValueError for an order request's member, product, side, channel, time."""
    _check_member("member", member)
    _check_product(product)
    if side is not BUY and side is not SELL:
        raise TypeError(f"side must be a Side, got {side!r}")
    _check_channel(channel)
    check_ints(time=time)


def _channel_closed(order_id: int | None, product: str | None, time: int, channel: Channel
                    ) -> list:
    return [Rejected(order_id, R.CHANNEL_CLOSED, f"the {channel.value} channel is closed", time,
                     product, channel)]


def _duplicate(order_id: int, next_id: int, time: int, code: str, channel: Channel) -> list:
    return [Rejected(order_id, R.DUPLICATE_ORDER_ID,
                     f"order id {order_id} is not new: ids below {next_id} are used (an order, "
                     f"auction, bid or deal may have had it); give a higher one or none",
                     time, code, channel)]


def _outside_band(order_id: int | None, price: int, m: _Market, time: int, channel: Channel
                  ) -> list:
    return [Rejected(order_id, R.PRICE_OUTSIDE_BAND,
                     f"price {price} is outside today's band [{m.low}, {m.high}]", time, m.code,
                     channel)]


def _state_reject(m: _Market, order_id: int | None, time: int, channel: Channel, what: str
                  ) -> Rejected:
    if m.state is CLOSED:
        return Rejected(order_id, R.MARKET_CLOSED, f"{m.code} is closed", time, m.code, channel)
    return Rejected(order_id, R.NOT_ALLOWED_IN_AUCTION,
                    f"{what} are not taken in the call auction", time, m.code, channel)
