"""The minimal book plus the events the book contract requires: what events alone cost.

`engine.OrderBook` must return, for every request, the same msgspec event objects: `Accepted`
for each limit or market order, a `Trade` per fill, `Cancelled` for a cancel or a market
remainder. `EventMinimalBook` is `MinimalBook` (same structures, same matching) that builds
exactly those events and nothing else: no checks, no cached totals, no snapshots. Its speed
against `MinimalBook` is the cost of the events themselves; `OrderBook` against it is the cost
of everything else OrderBook does. A test checks its events equal OrderBook's on the stream.
"""

from __future__ import annotations

from bisect import bisect_left
from itertools import islice

from benchmarks.minimal_book import MinimalBook
from engine.events import Accepted, Cancelled, CancelReason, Event, Trade
from engine.orders import Channel, Side, TimeInForce

_BUY = Side.BUY
_SELL = Side.SELL
_GTC = TimeInForce.GTC
_IOC = TimeInForce.IOC
_ONLINE = Channel.ONLINE
_USER = CancelReason.USER
_MARKET_REMAINDER = CancelReason.MARKET_REMAINDER
_MARKET = -(1 << 62)  # a threshold every key passes


class EventMinimalBook(MinimalBook):
    """MinimalBook that returns the contract's events (anonymous owner, time 0, online)."""

    __slots__ = ()

    def limit(self, order_id: int, side: Side, price: int, qty: int) -> list[Event]:
        """Match a GTC limit order, rest the remainder; return Accepted and its Trades."""
        events: list[Event] = [Accepted(order_id, side, price, qty, None, _GTC, 0, None, _ONLINE)]
        if side is _BUY:
            keys = self._ask_keys
            if keys and keys[-1] >= -price:
                qty = self._match_events(self._asks, keys, -price, qty, order_id, side, events)
            if qty:
                self._rest(self._bids, self._bid_keys, price, order_id, qty, True)
        else:
            keys = self._bid_keys
            if keys and keys[-1] >= price:
                qty = self._match_events(self._bids, keys, price, qty, order_id, side, events)
            if qty:
                self._rest(self._asks, self._ask_keys, -price, order_id, qty, False)
        return events

    def market(self, order_id: int, side: Side, qty: int) -> list[Event]:
        """Sweep the opposite side; return Accepted, Trades and Cancelled for a remainder."""
        events: list[Event] = [Accepted(order_id, side, None, qty, None, _IOC, 0, None, _ONLINE)]
        if side is _BUY:
            left = self._match_events(self._asks, self._ask_keys, _MARKET, qty, order_id, side,
                                      events)  # fmt: skip
        else:
            left = self._match_events(self._bids, self._bid_keys, _MARKET, qty, order_id, side,
                                      events)  # fmt: skip
        if left:
            events.append(
                Cancelled(order_id, side, None, left, None, _MARKET_REMAINDER, 0, None, _ONLINE)
            )
        return events

    def cancel(self, order_id: int) -> list[Event]:
        """Remove a resting order; return its Cancelled (nothing for an unknown id)."""
        order = self._orders.pop(order_id, None)
        if order is None:
            return []
        qty, key, buy = order
        if buy:
            levels, keys = self._bids, self._bid_keys
        else:
            levels, keys = self._asks, self._ask_keys
        level = levels[key]
        del level[order_id]
        if not level:
            del levels[key]
            if keys[-1] == key:
                keys.pop()
            else:
                del keys[bisect_left(keys, key)]
        if buy:
            return [Cancelled(order_id, _BUY, key, qty, None, _USER, 0, None, _ONLINE)]
        return [Cancelled(order_id, _SELL, -key, qty, None, _USER, 0, None, _ONLINE)]

    def _match_events(
        self, levels: dict, keys: list, threshold: int, qty: int, taker_id: int, side: Side,
        events: list,
    ) -> int:  # fmt: skip
        """MinimalBook._match, appending a Trade per fill; return the quantity left."""
        orders = self._orders
        append = events.append
        while keys:
            key = keys[-1]
            if key < threshold:
                break
            level = levels[key]
            price = key if key > 0 else -key
            filled = 0
            for maker_id, maker in level.items():
                open_qty = maker[0]
                if open_qty > qty:
                    maker[0] = open_qty - qty
                    append(Trade(price, qty, maker_id, taker_id, None, None, side, 0, None,
                                 _ONLINE))  # fmt: skip
                    qty = 0
                    break
                append(Trade(price, open_qty, maker_id, taker_id, None, None, side, 0, None,
                             _ONLINE))  # fmt: skip
                qty -= open_qty
                filled += 1
                if not qty:
                    break
            if filled == len(level):
                for maker_id in level:
                    del orders[maker_id]
                del levels[key]
                keys.pop()
            elif filled:
                for maker_id in tuple(islice(level, filled)):
                    del level[maker_id]
                    del orders[maker_id]
            if not qty:
                break
        return qty
