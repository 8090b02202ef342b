"""A naive reference order book: the oracle the real `engine.OrderBook` is tested against.

Obviously correct rather than fast: the resting orders are one flat list in arrival order,
and every decision is made by scanning it. It follows the book contract (issue 2 and the
OrderBook docstrings) rule by rule and returns the same event objects, so a stateful test can
compare the two books event for event.

Where the written contract is silent, the reference follows the book's choice:
- under the MEDIAN rule a market order's price is its protection price when it has one (the
  maker's price only when it has none), as SHFE treats market orders as band-limit orders;
- an order re-queued by an amend is a new arrival: its `time` becomes the amend's time;
- a Rejected for cancel/amend of an unknown id carries Channel.ONLINE; other amend rejects
  carry the resting order's channel.
"""

from __future__ import annotations

from typing import Any

from engine import (
    Accepted,
    Amended,
    BookSnapshot,
    Cancelled,
    CancelReason,
    Channel,
    Event,
    Expired,
    Rejected,
    RejectReason,
    RestingOrder,
    SelfTradePolicy,
    Side,
    TimeInForce,
    Trade,
    TradePriceRule,
)
from engine.orders import Order


def _require_int(name: str, value: Any, *, optional: bool = False) -> None:
    """Raise unless `value` is a plain int (bool and numpy ints are misuse) of 64 bits.

    TypeError for the wrong type, ValueError outside the signed 64-bit range.
    """
    if optional and value is None:
        return
    if type(value) is not int:
        raise TypeError(f"{name} must be int, got {type(value).__name__}")
    if not -(2**63) <= value < 2**63:
        raise ValueError(f"{name} must be a signed 64-bit int, got {value}")


def _require_flags(tif: Any, post_only: Any, channel: Any) -> None:
    """Raise TypeError unless tif is a TimeInForce, post_only a bool and channel a Channel."""
    if type(tif) is not TimeInForce:
        raise TypeError("tif must be a TimeInForce")
    if type(post_only) is not bool:
        raise TypeError("post_only must be a bool")
    if type(channel) is not Channel:
        raise TypeError("channel must be a Channel")


class ReferenceBook:
    """The order book contract, implemented by scanning one list of resting orders."""

    def __init__(
        self,
        tick: int = 1,
        lot: int = 1,
        *,
        product: str | None = None,
        stp: SelfTradePolicy = SelfTradePolicy.CANCEL_RESTING,
        trade_price: TradePriceRule = TradePriceRule.MAKER,
    ) -> None:
        self.tick, self.lot, self.product = tick, lot, product
        self.stp, self.trade_price = stp, trade_price
        self.resting: list[Order] = []  # in arrival order: list position is time priority
        self.last_trade_price: int | None = None

    # ---- helpers -----------------------------------------------------------------------
    def _find(self, order_id: int) -> Order | None:
        for o in self.resting:
            if o.order_id == order_id:
                return o
        return None

    def _reject(self, order_id: Any, reason: RejectReason, time: int, channel: Channel) -> list:
        return [Rejected(order_id, reason, "", time, self.product, channel)]

    def _price_reason(self, price: int) -> RejectReason | None:
        if price <= 0:
            return RejectReason.PRICE_NOT_POSITIVE
        if price % self.tick:
            return RejectReason.PRICE_OFF_TICK
        return None

    def _qty_bad(self, qty: int) -> bool:
        return qty <= 0 or qty % self.lot != 0

    def _priority(self, side: Side) -> list[Order]:
        """One side's resting orders, best price first, oldest first (the sort is stable)."""
        sign = -1 if side is Side.BUY else 1
        return sorted((o for o in self.resting if o.side is side), key=lambda o: sign * o.price)

    def _makers(self, side: Side, limit: int | None) -> list[Order]:
        """Resting orders an incoming `side` order at `limit` may reach, in priority order."""
        makers = self._priority(side.opposite)
        if limit is None:
            return makers
        if side is Side.BUY:
            return [o for o in makers if o.price <= limit]
        return [o for o in makers if o.price >= limit]

    def _own(self, maker: Order, owner: Any) -> bool:
        return owner is not None and maker.owner == owner

    def _cancelled(self, o: Order, price: int | None, reason: CancelReason, time: int) -> Cancelled:
        return Cancelled(o.order_id, o.side, price, o.qty, o.owner, reason, time, self.product,
                         o.channel)

    def _price_of_trade(self, maker: Order, taker: Order, taker_limit: int | None) -> int:
        if self.trade_price is TradePriceRule.MAKER:
            return maker.price
        taker_price = maker.price if taker_limit is None else taker_limit
        buy, sell = (taker_price, maker.price) if taker.side is Side.BUY else (maker.price,
                                                                                taker_price)
        last = maker.price if self.last_trade_price is None else self.last_trade_price
        return sorted([buy, sell, last])[1]

    def _match(self, taker: Order, limit: int | None, remainder: CancelReason | None,
               time: int) -> list[Event]:
        """Trade `taker` against the book; rest the remainder, or cancel it with `remainder`."""
        events: list[Event] = []
        while taker.qty > 0:
            makers = self._makers(taker.side, limit)
            if not makers:
                break
            maker = makers[0]
            if self._own(maker, taker.owner):
                if self.stp is not SelfTradePolicy.CANCEL_INCOMING:
                    self.resting.remove(maker)
                    events.append(self._cancelled(maker, maker.price, CancelReason.SELF_TRADE,
                                                  time))
                if self.stp is not SelfTradePolicy.CANCEL_RESTING:
                    events.append(self._cancelled(taker, limit, CancelReason.SELF_TRADE, time))
                    return events
                continue
            qty = min(maker.qty, taker.qty)
            price = self._price_of_trade(maker, taker, limit)
            events.append(Trade(price, qty, maker.order_id, taker.order_id, maker.owner,
                                taker.owner, taker.side, time, self.product, taker.channel))
            maker.qty -= qty
            taker.qty -= qty
            if maker.qty == 0:
                self.resting.remove(maker)
            self.last_trade_price = price
        if taker.qty > 0:
            if remainder is None:
                self.resting.append(taker)
            else:
                events.append(self._cancelled(taker, limit, remainder, time))
        return events

    # ---- commands ----------------------------------------------------------------------
    def limit(self, order_id: int, side: Side, price: int, qty: int, owner: Any = None,
              tif: TimeInForce = TimeInForce.GTC, post_only: bool = False, *,
              channel: Channel = Channel.ONLINE, time: int = 0) -> list[Event]:
        """Submit a limit order (GTC, DAY, IOC or FOK; optionally post-only)."""
        _require_int("order_id", order_id)
        _require_int("price", price)
        _require_int("qty", qty)
        _require_int("time", time)
        if not isinstance(side, Side):
            raise TypeError("side must be a Side")
        _require_flags(tif, post_only, channel)
        reason = self._price_reason(price)
        if reason is None and self._qty_bad(qty):
            reason = RejectReason.QTY_NOT_LOT_MULTIPLE
        if reason is None and self._find(order_id) is not None:
            reason = RejectReason.DUPLICATE_ORDER_ID
        if reason is None and post_only and self._makers(side, price):
            reason = RejectReason.POST_ONLY_WOULD_CROSS
        if reason is None and tif is TimeInForce.FOK and not self._fok_fillable(side, price, qty,
                                                                                 owner):
            reason = RejectReason.FOK_CANNOT_FILL
        if reason is not None:
            return self._reject(order_id, reason, time, channel)
        taker = Order(order_id, side, price, qty, owner, tif, channel, time)
        events: list[Event] = [Accepted(order_id, side, price, qty, owner, tif, time,
                                        self.product, channel)]
        rests = tif in (TimeInForce.GTC, TimeInForce.DAY)
        return events + self._match(taker, price, None if rests else CancelReason.IOC_REMAINDER,
                                    time)

    def _fok_fillable(self, side: Side, price: int, qty: int, owner: Any) -> bool:
        available = 0
        for maker in self._makers(side, price):
            if self._own(maker, owner):
                if self.stp is SelfTradePolicy.CANCEL_RESTING:
                    continue
                break
            available += maker.qty
        return available >= qty

    def market(self, order_id: int, side: Side, qty: int, owner: Any = None, *,
               protection: int | None = None, channel: Channel = Channel.ONLINE,
               time: int = 0) -> list[Event]:
        """Submit a market order: sweep the opposite side (down to `protection`), never rest."""
        _require_int("order_id", order_id)
        _require_int("qty", qty)
        _require_int("protection", protection, optional=True)
        _require_int("time", time)
        if not isinstance(side, Side):
            raise TypeError("side must be a Side")
        _require_flags(TimeInForce.IOC, False, channel)
        reason = RejectReason.QTY_NOT_LOT_MULTIPLE if self._qty_bad(qty) else None
        if reason is None and self._find(order_id) is not None:
            reason = RejectReason.DUPLICATE_ORDER_ID
        if reason is None and protection is not None:
            reason = self._price_reason(protection)
        if reason is None and not self._makers(side, None):
            reason = RejectReason.NO_LIQUIDITY
        if reason is not None:
            return self._reject(order_id, reason, time, channel)
        taker = Order(order_id, side, 0, qty, owner, TimeInForce.IOC, channel, time)
        events: list[Event] = [Accepted(order_id, side, protection, qty, owner, TimeInForce.IOC,
                                        time, self.product, channel)]
        return events + self._match(taker, protection, CancelReason.MARKET_REMAINDER, time)

    def cancel(self, order_id: int, *, time: int = 0) -> list[Event]:
        """Cancel a resting order by id."""
        _require_int("order_id", order_id)
        _require_int("time", time)
        o = self._find(order_id)
        if o is None:
            return self._reject(order_id, RejectReason.UNKNOWN_ORDER, time, Channel.ONLINE)
        self.resting.remove(o)
        return [self._cancelled(o, o.price, CancelReason.USER, time)]

    def amend(self, order_id: int, price: int | None = None, qty: int | None = None, *,
              time: int = 0) -> list[Event]:
        """Change a resting order's price and/or open quantity."""
        _require_int("order_id", order_id)
        _require_int("price", price, optional=True)
        _require_int("qty", qty, optional=True)
        _require_int("time", time)
        o = self._find(order_id)
        if o is None:
            return self._reject(order_id, RejectReason.UNKNOWN_ORDER, time, Channel.ONLINE)
        reason = None if price is None else self._price_reason(price)
        if reason is None and qty is not None and self._qty_bad(qty):
            reason = RejectReason.QTY_NOT_LOT_MULTIPLE
        new_price = o.price if price is None else price
        new_qty = o.qty if qty is None else qty
        if reason is None and (new_price, new_qty) == (o.price, o.qty):
            reason = RejectReason.AMEND_NO_CHANGE
        if reason is not None:
            return self._reject(order_id, reason, time, o.channel)
        kept = new_price == o.price and new_qty < o.qty
        event = Amended(o.order_id, o.side, o.price, o.qty, new_price, new_qty, o.owner, kept,
                        time, self.product, o.channel)
        if kept:
            o.qty = new_qty
            return [event]
        self.resting.remove(o)  # a new arrival now: its resting time becomes the amend's
        o.price, o.qty, o.time = new_price, new_qty, time
        return [event] + self._match(o, new_price, None, time)

    def expire_day_orders(self, *, time: int = 0) -> list[Event]:
        """Expire every resting DAY order, in arrival order."""
        _require_int("time", time)
        day = [o for o in self.resting if o.tif is TimeInForce.DAY]
        self.resting = [o for o in self.resting if o.tif is not TimeInForce.DAY]
        return [Expired(o.order_id, o.side, o.price, o.qty, o.owner, time, self.product, o.channel)
                for o in day]

    # ---- queries -----------------------------------------------------------------------
    def best_bid(self) -> int | None:
        """Highest resting buy price."""
        return max((o.price for o in self.resting if o.side is Side.BUY), default=None)

    def best_ask(self) -> int | None:
        """Lowest resting sell price."""
        return min((o.price for o in self.resting if o.side is Side.SELL), default=None)

    def depth(self, levels: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Aggregated (price, total qty) for the best `levels` prices of each side."""
        result = []
        for side in (Side.BUY, Side.SELL):
            prices: list[int] = []
            for o in self._priority(side):
                if o.price not in prices:
                    prices.append(o.price)
            result.append([(p, sum(o.qty for o in self.level(side, p))) for p in prices[:levels]])
        return result[0], result[1]

    def touch(self) -> tuple[int | None, int | None, int | None, int | None]:
        """(best bid, its qty, best ask, its qty), None for an empty side: from `depth(1)`."""
        bids, asks = self.depth(1)
        bid, bid_qty = bids[0] if bids else (None, None)
        ask, ask_qty = asks[0] if asks else (None, None)
        return bid, bid_qty, ask, ask_qty

    def order(self, order_id: int) -> RestingOrder | None:
        """Snapshot of one resting order."""
        o = self._find(order_id)
        return None if o is None else _frozen(o)

    def level(self, side: Side, price: int) -> list[RestingOrder]:
        """Resting orders at one price, in priority (arrival) order."""
        return [_frozen(o) for o in self.resting if o.side is side and o.price == price]

    def orders(self) -> list[RestingOrder]:
        """Every resting order, in arrival order."""
        return [_frozen(o) for o in self.resting]

    def snapshot(self) -> BookSnapshot:
        """The book as `OrderBook.snapshot()` shows it: each side best first, FIFO within."""
        return BookSnapshot(self.product, self.last_trade_price,
                            [_frozen(o) for o in self._priority(Side.BUY)],
                            [_frozen(o) for o in self._priority(Side.SELL)])

    def __len__(self) -> int:
        return len(self.resting)

    def __contains__(self, order_id: object) -> bool:
        return any(o.order_id == order_id for o in self.resting)


def _frozen(o: Order) -> RestingOrder:
    return RestingOrder(o.order_id, o.side, o.price, o.qty, o.owner, o.tif, o.channel, o.time)
