"""One product's limit order book with price-time priority.

How matching works
------------------
Each side of the book is a `BookSide`: a dict from a *sort key* to a `Level`, plus the list of
keys kept sorted ascending so that the best level is always the last element. The key of a
bid level is its price and the key of an ask level is minus its price, so one type serves
both sides and "best" is always `keys[-1]`. An incoming order reaches a level of the opposite
side when that level's key is at least the incoming order's *limit key* (`sign * price`).

A `Level` is an insertion-ordered dict from order id to order, plus a cached open total:
insertion order is time priority, a cancel is an O(1) `del`, and an empty dict is an empty
level. Matching walks a level's orders oldest first, only lowering quantities as it goes, and
then deletes the prefix of orders it used up in one step. (CPython dicts do not shrink on
delete, so a level that was once very deep and is drained one order per request pays a scan
over the freed slots; it is compacted on the next growth of the dict.)

Every public request returns the events it caused, in order. A request that cannot be
honoured returns exactly one `Rejected` and changes nothing; misuse of the API raises before
anything changes: `TypeError` for a value of the wrong type (a float price, a bool time, a
side that is not a `Side`, a channel that is not a `Channel`, a `post_only` that is not a
bool), `ValueError` for an int outside the signed 64-bit range [-2**63, 2**63 - 1], which
every int argument (ids, prices, quantities, times) must be in, as a journal record holds it.

Checks on the hot path
----------------------
The request methods test their arguments at the cost of a few comparisons. Types first, with
`x.__class__ is int` (exact: no bool, no numpy int; cheaper here than `type(x) is int`). Then
one conservative test of everything else: it passes the common case (a price whose level
already rests, which proves it positive, on the grid and in range; small ints; a known
channel) and sends anything else to a slow path (`_check_order`) that raises for misuse,
returns the one `Rejected`, or finds the request valid after all (a large but valid int, a
price of a new level). Only the time is tested exactly on every request (`bit_length`): times
are rarely small ints.
"""

from __future__ import annotations

import enum
from bisect import bisect_left, insort
from itertools import islice
from typing import Any

import msgspec

from engine.events import (
    Accepted,
    Amended,
    Cancelled,
    CancelReason,
    Event,
    Expired,
    Rejected,
    RejectReason,
    Trade,
)
from engine.orders import Channel, Order, RestingOrder, Side, TimeInForce

__all__ = [
    "BookSnapshot",
    "InvariantError",
    "OrderBook",
    "SelfTradePolicy",
    "TradePriceRule",
]

BUY = Side.BUY
SELL = Side.SELL
GTC = TimeInForce.GTC
DAY = TimeInForce.DAY
IOC = TimeInForce.IOC
FOK = TimeInForce.FOK
ONLINE = Channel.ONLINE
OFFLINE = Channel.OFFLINE

INT64_MIN = -(1 << 63)  # every int argument (ids, prices, quantities, times) is a signed
INT64_MAX = (1 << 63) - 1  # 64-bit int, what the journal's MessagePack records hold
_SMALL = (1 << 30) - 1  # ints up to this size pass the fast range tests; larger take the exact
_NEG_SMALL = -_SMALL  # (a constant: `-_SMALL` would negate, and allocate, on every call)

_IOC_REMAINDER = CancelReason.IOC_REMAINDER
_MARKET_REMAINDER = CancelReason.MARKET_REMAINDER
_SELF_TRADE = CancelReason.SELF_TRADE
_USER = CancelReason.USER


class SelfTradePolicy(enum.Enum):
    """What happens when an order would trade with a resting order of the same owner."""

    CANCEL_RESTING = "cancel_resting"  # cancel the resting order, keep matching
    CANCEL_INCOMING = "cancel_incoming"  # cancel what is left of the incoming order
    CANCEL_BOTH = "cancel_both"  # cancel both


class TradePriceRule(enum.Enum):
    """At what price a match prints."""

    MAKER = "maker"  # the resting order's price
    MEDIAN = "median"  # median of buy price, sell price and last trade (SHFE/DCE convention)


class InvariantError(AssertionError):
    """The book's internal state is inconsistent: a bug, never a user error."""


class BookSnapshot(msgspec.Struct, frozen=True):
    """Everything observable about a book: levels best first, orders in priority order."""

    product: str | None
    last_trade_price: int | None
    bids: list[RestingOrder]
    asks: list[RestingOrder]


class Level(dict):
    """The resting orders at one price: order id -> order, oldest first, and the open total.

    A dict subclass rather than a wrapper, because a level is created for most new prices and
    a plain dict is the cheapest ordered map there is.
    """

    __slots__ = ("price", "total")


def _new_level(levels: dict, keys: list, key: int, price: int) -> Level:
    """File a new, empty level under `key`, keeping `keys` sorted."""
    level = levels[key] = Level()
    level.price = price
    level.total = 0
    if not keys or key > keys[-1]:
        keys.append(key)
    else:
        insort(keys, key)
    return level


class BookSide:
    """One side of the book: levels by sort key, keys sorted ascending, best last."""

    __slots__ = ("side", "sign", "levels", "keys")

    def __init__(self, side: Side) -> None:
        self.side = side
        self.sign = 1 if side is BUY else -1
        self.levels: dict[int, Level] = {}
        self.keys: list[int] = []

    def iter_levels(self):
        """Levels from best to worst."""
        levels = self.levels
        for key in reversed(self.keys):
            yield levels[key]


def _snapshot(o: Order) -> RestingOrder:
    return RestingOrder(o.order_id, o.side, o.price, o.qty, o.owner, o.tif, o.channel, o.time)


def _reject(order_id, reason: RejectReason, detail: str, time: int, product, channel) -> list:
    return [Rejected(order_id, reason, detail, time, product, channel)]


def _misuse(name: str, value: Any, expected: str) -> TypeError:
    return TypeError(f"{name} must be {expected}, got {type(value).__name__} {value!r}")


class OrderBook:
    """A price-time-priority limit order book for one product.

    Prices are integers on the `tick` grid, quantities positive integer multiples of `lot`.
    Every request returns the list of events it caused, in order.
    """

    __slots__ = (
        "tick",
        "lot",
        "product",
        "stp",
        "trade_price",
        "last_trade_price",
        "_orders",
        "_bids",
        "_asks",
        "_median",
    )

    def __init__(
        self,
        tick: int = 1,
        lot: int = 1,
        *,
        product: str | None = None,
        stp: SelfTradePolicy = SelfTradePolicy.CANCEL_RESTING,
        trade_price: TradePriceRule = TradePriceRule.MAKER,
    ) -> None:
        for name, value in (("tick", tick), ("lot", lot)):
            if type(value) is not int:
                raise TypeError(f"{name} must be an int, got {value!r}")
            if not 1 <= value <= INT64_MAX:
                raise ValueError(f"{name} must be an int from 1 to 2**63 - 1, got {value!r}")
        if not isinstance(stp, SelfTradePolicy):
            raise _misuse("stp", stp, "a SelfTradePolicy")
        if not isinstance(trade_price, TradePriceRule):
            raise _misuse("trade_price", trade_price, "a TradePriceRule")
        self.tick = tick
        self.lot = lot
        self.product = product
        self.stp = stp
        self.trade_price = trade_price
        self.last_trade_price: int | None = None
        self._orders: dict[int, Order] = {}  # live orders, in arrival order
        self._bids = BookSide(BUY)
        self._asks = BookSide(SELL)
        self._median = trade_price is TradePriceRule.MEDIAN

    # ------------------------------------------------------------------ requests

    def limit(
        self,
        order_id: int,
        side: Side,
        price: int,
        qty: int,
        owner: Any = None,
        tif: TimeInForce = GTC,
        post_only: bool = False,
        *,
        channel: Channel = ONLINE,
        time: int = 0,
    ) -> list[Event]:
        """Submit a limit order: it trades with what it crosses, then rests, per its `tif`."""
        # Misuse raises before anything changes (see "Checks on the hot path" in the module
        # docstring): first the exact int tests, then one conservative test of everything
        # else, whose slow path (_check_order) tells misuse, a Rejected and a valid order apart.
        if (order_id.__class__ is not int or price.__class__ is not int
                or qty.__class__ is not int or time.__class__ is not int):
            raise _misuse_args(order_id=order_id, price=price, qty=qty, time=time)
        # Sort keys (see "How matching works"): own levels under `key`, and the opposite
        # levels this order reaches are those at or above `limit_key`.
        if side is BUY:
            opp = self._asks
            own = self._bids
            key = price
            limit_key = -price
        elif side is SELL:
            opp = self._bids
            own = self._asks
            key = -price
            limit_key = price
        else:
            raise _misuse("side", side, "a Side")
        orders = self._orders
        level = own.levels.get(key)  # a level at this price proves the price valid
        if ((level is None and (price <= 0 or price % self.tick or price > _SMALL))
                or qty <= 0 or qty % self.lot or qty > _SMALL
                or order_id > _SMALL or order_id < _NEG_SMALL or order_id in orders
                or time.bit_length() > 63 or (channel is not ONLINE and channel is not OFFLINE)):
            bad = self._check_order(order_id, price, qty, tif, post_only, channel, time)
            if bad is not None:
                return bad
        okeys = opp.keys
        if not okeys or okeys[-1] < limit_key:  # crosses nothing: the common case, one branch
            if post_only is not False and post_only is not True:
                raise _misuse("post_only", post_only, "a bool")
            if tif is not GTC and tif is not DAY:
                if tif is IOC:
                    return [Accepted(order_id, side, price, qty, owner, tif, time, self.product,
                                     channel),
                            Cancelled(order_id, side, price, qty, owner, _IOC_REMAINDER, time,
                                      self.product, channel)]
                if tif is FOK:
                    return _reject(order_id, RejectReason.FOK_CANNOT_FILL,
                                   f"fill-or-kill at {price} crosses nothing", time,
                                   self.product, channel)
                raise _misuse("tif", tif, "a TimeInForce")
            events: list[Event] = [Accepted(order_id, side, price, qty, owner, tif, time,
                                            self.product, channel)]
            if level is None:
                level = _new_level(own.levels, own.keys, key, price)
            level.total += qty
            level[order_id] = orders[order_id] = Order(order_id, side, level.price, qty, owner,
                                                       tif, channel, time)
            return events
        if tif is not GTC and tif is not DAY and tif is not IOC and tif is not FOK:
            raise _misuse("tif", tif, "a TimeInForce")
        if post_only is not False:
            if post_only is not True:
                raise _misuse("post_only", post_only, "a bool")
            return _reject(order_id, RejectReason.POST_ONLY_WOULD_CROSS,
                           f"post-only {side.value} at {price} would cross "
                           f"{opp.sign * okeys[-1]}", time, self.product, channel)
        if tif is FOK and not self._fillable(opp, limit_key, qty, owner):
            return _reject(order_id, RejectReason.FOK_CANNOT_FILL,
                           f"fill-or-kill for {qty} cannot fill completely at {price}",
                           time, self.product, channel)
        events = [Accepted(order_id, side, price, qty, owner, tif, time, self.product, channel)]
        qty = self._take(opp, order_id, side, price, limit_key, qty, owner, channel, time,
                         events)
        if qty <= 0:  # filled, or stopped by self-trade prevention (-1)
            return events
        if tif is IOC:
            events.append(Cancelled(order_id, side, price, qty, owner, _IOC_REMAINDER, time,
                                    self.product, channel))
            return events
        # rest what is left at the tail of its level (none rested at a price that crossed)
        level = _new_level(own.levels, own.keys, key, price)
        level.total = qty
        level[order_id] = orders[order_id] = Order(order_id, side, level.price, qty, owner, tif,
                                                   channel, time)
        return events

    def market(
        self,
        order_id: int,
        side: Side,
        qty: int,
        owner: Any = None,
        *,
        protection: int | None = None,
        channel: Channel = ONLINE,
        time: int = 0,
    ) -> list[Event]:
        """Submit a market order: sweep the opposite side, never rest.

        A `protection` price stops the sweep at levels worse than it; whatever is left is
        cancelled.
        """
        if (order_id.__class__ is not int or qty.__class__ is not int
                or time.__class__ is not int):
            raise _misuse_args(order_id=order_id, qty=qty, time=time)
        if protection is not None and protection.__class__ is not int:
            raise _misuse("protection", protection, "an int or None")
        if side is BUY:
            opp = self._asks
        elif side is SELL:
            opp = self._bids
        else:
            raise _misuse("side", side, "a Side")
        if (qty <= 0 or qty % self.lot or qty > _SMALL
                or order_id > _SMALL or order_id < _NEG_SMALL or order_id in self._orders
                or time.bit_length() > 63 or (channel is not ONLINE and channel is not OFFLINE)):
            bad = self._check_order(order_id, None, qty, IOC, False, channel, time)
            if bad is not None:
                return bad
        if protection is not None and (protection <= 0 or protection % self.tick
                                       or protection > _SMALL):
            bad = self._check_order(order_id, protection, self.lot, IOC, False, channel, time)
            if bad is not None:
                return bad
        if not opp.keys:
            return _reject(order_id, RejectReason.NO_LIQUIDITY,
                           f"market {side.value} with no {opp.side.value} orders resting",
                           time, self.product, channel)
        events: list[Event] = [Accepted(order_id, side, protection, qty, owner, IOC, time,
                                        self.product, channel)]
        limit_key = None if protection is None else opp.sign * protection
        qty = self._take(opp, order_id, side, protection, limit_key, qty, owner, channel, time,
                         events)
        if qty > 0:
            events.append(Cancelled(order_id, side, protection, qty, owner, _MARKET_REMAINDER,
                                    time, self.product, channel))
        return events

    def cancel(self, order_id: int, *, time: int = 0) -> list[Event]:
        """Cancel a resting order's whole open quantity."""
        if order_id.__class__ is not int or time.__class__ is not int or time.bit_length() > 63:
            check_ints(order_id=order_id, time=time)
        order = self._orders.pop(order_id, None)
        if order is None:
            check_ints(order_id=order_id)  # (a resting order's id is in range)
            return _reject(order_id, RejectReason.UNKNOWN_ORDER,
                           f"no resting order with id {order_id}", time, self.product, ONLINE)
        side = order.side
        price = order.price
        qty = order.qty
        if side is BUY:
            own = self._bids
            key = price
        else:
            own = self._asks
            key = -price
        level = own.levels[key]
        del level[order_id]
        if level:
            level.total -= qty
        else:
            del own.levels[key]
            keys = own.keys
            if keys[-1] == key:
                keys.pop()
            else:
                del keys[bisect_left(keys, key)]
        return [Cancelled(order_id, side, price, qty, order.owner, _USER, time, self.product,
                          order.channel)]

    def amend(
        self,
        order_id: int,
        price: int | None = None,
        qty: int | None = None,
        *,
        time: int = 0,
    ) -> list[Event]:
        """Change a resting order's price and/or open quantity.

        Lowering the quantity at the same price keeps time priority; a price change or a
        quantity increase re-queues the order at the tail, where it may trade at once.
        """
        if (order_id.__class__ is not int or time.__class__ is not int or time.bit_length() > 63
                or (price is not None and (price.__class__ is not int or price > _SMALL
                                           or price < _NEG_SMALL))
                or (qty is not None and (qty.__class__ is not int or qty > _SMALL
                                         or qty < _NEG_SMALL))):
            check_ints(order_id=order_id, time=time)
            check_optional_ints(price=price, qty=qty)
        product = self.product
        order = self._orders.get(order_id)
        if order is None:
            check_ints(order_id=order_id)  # (a resting order's id is in range)
            return _reject(order_id, RejectReason.UNKNOWN_ORDER,
                           f"no resting order with id {order_id}", time, product, ONLINE)
        channel = order.channel
        if price is not None:
            if price <= 0:
                return _reject(order_id, RejectReason.PRICE_NOT_POSITIVE,
                               f"price {price} is not positive", time, product, channel)
            if price % self.tick:
                return _reject(order_id, RejectReason.PRICE_OFF_TICK,
                               f"price {price} is not a multiple of the tick {self.tick}",
                               time, product, channel)
        if qty is not None and (qty <= 0 or qty % self.lot):
            return _reject(order_id, RejectReason.QTY_NOT_LOT_MULTIPLE,
                           f"quantity {qty} is not a positive multiple of the lot {self.lot}",
                           time, product, channel)
        old_price = order.price
        old_qty = order.qty
        new_price = old_price if price is None else price
        new_qty = old_qty if qty is None else qty
        if new_price == old_price and new_qty == old_qty:
            return _reject(order_id, RejectReason.AMEND_NO_CHANGE,
                           "amend changes neither price nor quantity", time, product, channel)
        side = order.side
        owner = order.owner
        if new_price == old_price and new_qty < old_qty:
            own = self._bids if side is BUY else self._asks
            own.levels[own.sign * old_price].total -= old_qty - new_qty
            order.qty = new_qty
            return [Amended(order_id, side, old_price, old_qty, new_price, new_qty, owner, True,
                            time, product, channel)]
        # priority is lost: leave the book, then come back as a new arrival
        self._remove(order)
        order.price = new_price
        order.qty = new_qty
        order.time = time
        events: list[Event] = [Amended(order_id, side, old_price, old_qty, new_price, new_qty,
                                       owner, False, time, product, channel)]
        opp, own = (self._asks, self._bids) if side is BUY else (self._bids, self._asks)
        limit_key = opp.sign * new_price
        okeys = opp.keys
        if okeys and okeys[-1] >= limit_key:
            new_qty = self._take(opp, order_id, side, new_price, limit_key, new_qty, owner,
                                 channel, time, events)
            if new_qty <= 0:
                return events
            order.qty = new_qty
        key = own.sign * new_price
        level = own.levels.get(key)
        if level is None:
            level = _new_level(own.levels, own.keys, key, new_price)
        order.price = level.price
        level[order_id] = self._orders[order_id] = order
        level.total += new_qty
        return events

    def expire_day_orders(self, *, time: int = 0) -> list[Event]:
        """Expire every resting DAY order (the close of a session), in arrival order."""
        check_ints(time=time)
        product = self.product
        events: list[Event] = []
        for order in [o for o in self._orders.values() if o.tif is DAY]:
            qty = order.qty
            self._remove(order)
            events.append(Expired(order.order_id, order.side, order.price, qty, order.owner,
                                  time, product, order.channel))
        return events

    # ------------------------------------------------------------------ matching internals

    def _check_order(self, order_id: int, price: int | None, qty: int, tif: Any,
                     post_only: Any, channel: Any, time: int) -> list[Event] | None:
        """The slow path of limit and market: raise for misuse, else the one Rejected, else None.

        Called when the conservative fast test fails; None means the order is valid after all
        (a large but valid int, or a price whose level does not exist yet). Misuse is checked
        first, then the rejects in the documented order: price, tick, lot, duplicate id.
        """
        if channel is not ONLINE and channel is not OFFLINE:
            raise _misuse("channel", channel, "a Channel")
        if tif is not GTC and tif is not DAY and tif is not IOC and tif is not FOK:
            raise _misuse("tif", tif, "a TimeInForce")
        if post_only is not False and post_only is not True:
            raise _misuse("post_only", post_only, "a bool")
        check_ints(order_id=order_id, qty=qty, time=time)
        check_optional_ints(price=price)
        product = self.product
        if price is not None:
            if price <= 0:
                return _reject(order_id, RejectReason.PRICE_NOT_POSITIVE,
                               f"price {price} is not positive", time, product, channel)
            if price % self.tick:
                return _reject(order_id, RejectReason.PRICE_OFF_TICK,
                               f"price {price} is not a multiple of the tick {self.tick}",
                               time, product, channel)
        if qty <= 0 or qty % self.lot:
            return _reject(order_id, RejectReason.QTY_NOT_LOT_MULTIPLE,
                           f"quantity {qty} is not a positive multiple of the lot {self.lot}",
                           time, product, channel)
        if order_id in self._orders:
            return _reject(order_id, RejectReason.DUPLICATE_ORDER_ID,
                           f"order id {order_id} is already resting", time, product, channel)
        return None

    def _take(self, opp: BookSide, order_id: int, side: Side, price: int | None,
              limit_key: int | None, qty: int, owner: Any, channel: Channel, time: int,
              events: list) -> int:
        """Match an incoming order against `opp`, appending events; return the open rest.

        `price` is the taker's limit (None for a market order). Returns -1 when self-trade
        prevention cancelled the incoming order, so that nothing of it rests.
        """
        keys = opp.keys
        levels = opp.levels
        orders = self._orders
        product = self.product
        median = self._median
        stp = self.stp if owner is not None else None
        last = self.last_trade_price
        while keys:
            key = keys[-1]
            if limit_key is not None and key < limit_key:
                break
            level = levels[key]
            level_price = level.price
            used = 0  # orders at the front of the level that are filled or cancelled
            for maker in level.values():
                maker_qty = maker.qty
                if stp is not None and maker.owner == owner:
                    if stp is not SelfTradePolicy.CANCEL_INCOMING:
                        events.append(Cancelled(maker.order_id, maker.side, level_price,
                                                maker_qty, maker.owner, _SELF_TRADE, time,
                                                product, maker.channel))
                        level.total -= maker_qty
                        del orders[maker.order_id]
                        used += 1
                    if stp is not SelfTradePolicy.CANCEL_RESTING:
                        events.append(Cancelled(order_id, side, price, qty, owner, _SELF_TRADE,
                                                time, product, channel))
                        qty = -1
                        break
                    continue
                if median:
                    taker_price = level_price if price is None else price
                    ref = level_price if last is None else last
                    lo, hi = ((taker_price, level_price) if taker_price < level_price
                              else (level_price, taker_price))
                    trade_price = lo if ref < lo else hi if ref > hi else ref
                else:
                    trade_price = level_price
                fill = qty if qty < maker_qty else maker_qty
                events.append(Trade(trade_price, fill, maker.order_id, order_id, maker.owner,
                                    owner, side, time, product, channel))
                last = trade_price
                qty -= fill
                level.total -= fill
                if fill == maker_qty:
                    del orders[maker.order_id]
                    used += 1
                    if not qty:
                        break
                else:
                    maker.qty = maker_qty - fill
                    break
            if used == len(level):
                keys.pop()
                del levels[key]
            elif used == 1:
                del level[next(iter(level))]
            elif used:
                for maker_id in list(islice(level, used)):
                    del level[maker_id]
            if qty <= 0:
                break
        self.last_trade_price = last
        return qty

    def _fillable(self, opp: BookSide, limit_key: int, qty: int, owner: Any) -> bool:
        """Could an incoming order fill `qty` completely at once? (FOK, decided before any fill)."""
        levels = opp.levels
        keys = opp.keys
        skip_own = self.stp is SelfTradePolicy.CANCEL_RESTING
        available = 0
        for i in range(len(keys) - 1, -1, -1):
            key = keys[i]
            if key < limit_key:
                break
            level = levels[key]
            if owner is None:
                available += level.total
            else:
                for maker in level.values():
                    if maker.owner == owner:
                        if skip_own:
                            continue
                        return available >= qty
                    available += maker.qty
                    if available >= qty:
                        return True
            if available >= qty:
                return True
        return available >= qty

    def _remove(self, order: Order) -> None:
        """Take a resting order out of the book (expiry, re-queue)."""
        own = self._bids if order.side is BUY else self._asks
        key = own.sign * order.price
        level = own.levels[key]
        del level[order.order_id]
        del self._orders[order.order_id]
        level.total -= order.qty
        if not level:
            del own.levels[key]
            keys = own.keys
            del keys[bisect_left(keys, key)]

    # ------------------------------------------------------------------ queries

    def best_bid(self) -> int | None:
        """The highest resting buy price, or None."""
        keys = self._bids.keys
        return keys[-1] if keys else None

    def best_ask(self) -> int | None:
        """The lowest resting sell price, or None."""
        keys = self._asks.keys
        return -keys[-1] if keys else None

    def touch(self) -> tuple[int | None, int | None, int | None, int | None]:
        """(best bid, its total open qty, best ask, its total open qty); None for an empty side.

        The same as the first level of `depth(1)`, without building the lists: for callers
        that sample the touch often (the simulator's recorder, at every decision step).
        """
        keys = self._bids.keys
        if keys:
            level = self._bids.levels[keys[-1]]
            bid, bid_qty = level.price, level.total
        else:
            bid = bid_qty = None
        keys = self._asks.keys
        if keys:
            level = self._asks.levels[keys[-1]]
            return bid, bid_qty, level.price, level.total
        return bid, bid_qty, None, None

    def depth(self, levels: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Aggregated (price, total open qty) of the best `levels` levels of each side."""
        if type(levels) is not int:
            raise TypeError(f"levels must be an int, got {levels!r}")
        if levels < 0:
            raise ValueError(f"levels must be an int >= 0, got {levels!r}")
        out = []
        for book_side in (self._bids, self._asks):
            table = book_side.levels
            keys = book_side.keys
            n = len(keys)
            out.append([(table[keys[i]].price, table[keys[i]].total)
                        for i in range(n - 1, max(n - 1 - levels, -1), -1)])
        return out[0], out[1]

    def order(self, order_id: int) -> RestingOrder | None:
        """A snapshot of one resting order, or None if it is not resting."""
        check_ints(order_id=order_id)  # True or 1.0 would find order 1
        order = self._orders.get(order_id)
        return None if order is None else _snapshot(order)

    def level(self, side: Side, price: int) -> list[RestingOrder]:
        """The resting orders at one price, in time priority."""
        check_ints(price=price)  # a float 10.0 would find the level at 10
        book_side = self._side(side)
        level = book_side.levels.get(book_side.sign * price)
        return [] if level is None else [_snapshot(o) for o in level.values()]

    def orders(self) -> list[RestingOrder]:
        """Every resting order, in arrival order."""
        return [_snapshot(o) for o in self._orders.values()]

    def volume(self, side: Side) -> int:
        """Total open quantity resting on one side."""
        return sum(level.total for level in self._side(side).levels.values())

    def snapshot(self) -> BookSnapshot:
        """Everything observable about the book, for comparison and journalling."""
        return BookSnapshot(
            self.product,
            self.last_trade_price,
            [_snapshot(o) for lv in self._bids.iter_levels() for o in lv.values()],
            [_snapshot(o) for lv in self._asks.iter_levels() for o in lv.values()],
        )

    def __len__(self) -> int:
        return len(self._orders)

    def __contains__(self, order_id: object) -> bool:
        return order_id in self._orders

    def __repr__(self) -> str:
        return (f"OrderBook(product={self.product!r}, orders={len(self._orders)}, "
                f"bid={self.best_bid()}, ask={self.best_ask()})")

    def _side(self, side: Side) -> BookSide:
        if side is BUY:
            return self._bids
        if side is SELL:
            return self._asks
        raise _misuse("side", side, "a Side")

    # ------------------------------------------------------------------ self-audit

    def check_invariants(self) -> None:
        """O(n) audit of every structural invariant; raises InvariantError on the first breach."""
        seen: set[int] = set()
        for book_side in (self._bids, self._asks):
            keys = book_side.keys
            if any(keys[i] >= keys[i + 1] for i in range(len(keys) - 1)):
                raise InvariantError(f"{book_side.side.value} keys not strictly ascending")
            if set(keys) != set(book_side.levels) or len(keys) != len(book_side.levels):
                raise InvariantError(f"{book_side.side.value} keys and levels disagree")
            for key, level in book_side.levels.items():
                if book_side.sign * level.price != key:
                    raise InvariantError(f"level {level.price} filed under key {key}")
                if level.price <= 0 or level.price % self.tick:
                    raise InvariantError(f"level price {level.price} invalid")
                live = list(level.values())
                if not live:
                    raise InvariantError(f"level {level.price} is empty but still filed")
                if any(o.order_id != oid for oid, o in level.items()):
                    raise InvariantError(f"level {level.price} files an order under another id")
                if sum(o.qty for o in live) != level.total:
                    raise InvariantError(f"level {level.price}: cached total {level.total} "
                                         f"is not the sum of its orders")
                for o in live:
                    if o.side is not book_side.side or o.price != level.price:
                        raise InvariantError(f"order {o.order_id} filed at the wrong level")
                    if o.qty <= 0 or o.qty % self.lot:
                        raise InvariantError(f"order {o.order_id} open qty {o.qty} invalid")
                    if self._orders.get(o.order_id) is not o:
                        raise InvariantError(f"order {o.order_id} in a level but not indexed")
                    if o.order_id in seen:
                        raise InvariantError(f"order {o.order_id} rests twice")
                    seen.add(o.order_id)
        if len(seen) != len(self._orders):
            raise InvariantError("indexed orders that rest at no level")
        bid, ask = self.best_bid(), self.best_ask()
        if bid is not None and ask is not None and bid >= ask:
            raise InvariantError(f"book crossed at rest: bid {bid} >= ask {ask}")


def _misuse_args(**values: Any) -> TypeError:
    """The TypeError for the first of `values` that is not an exact int."""
    for name, value in values.items():
        if value.__class__ is not int:
            return _misuse(name, value, "an int")
    raise AssertionError("called without a bad argument")  # pragma: no cover


def check_ints(**values: Any) -> None:
    """Raise for the first of `values` that is not an int in the signed 64-bit range.

    TypeError for a value that is not an exact int (None, bool and numpy ints are misuse),
    ValueError for one outside [INT64_MIN, INT64_MAX].
    """
    for name, value in values.items():
        if value.__class__ is not int:
            raise _misuse(name, value, "an int")
        if value < INT64_MIN or value > INT64_MAX:
            raise ValueError(f"{name} must be in the signed 64-bit range [-2**63, 2**63 - 1], "
                             f"got {value}")


def check_optional_ints(**values: Any) -> None:
    """`check_ints` for arguments that may also be None."""
    for name, value in values.items():
        if value is not None:
            check_ints(**{name: value})
