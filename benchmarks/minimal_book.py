"""The ceiling of plain Python: a minimal price-time-priority book with no events and no checks.

`python -m benchmarks engine` measures `engine.OrderBook` against this book on the same stream,
so it must be a fair, competent book, not a strawman. It does exactly the matching work of the
real book for GTC limit orders, market orders and cancels, and nothing else:

- `_orders` maps order id -> order, an order being a 3-item list `[open_qty, key, is_buy]`.
- Each side has a dict `key -> level` and a plain Python list of its keys kept sorted with
  `bisect`, so the best level is always the *last* key (O(1) to read, `list.pop()` to drop).
  Bids use `key = price`, asks `key = -price`; one matching routine then serves both sides:
  a taker with limit `price` matches the opposite side while `opposite_keys[-1] >= threshold`,
  with `threshold = -price` for a buy and `price` for a sell.
- A level is a dict `order_id -> order`: insertion order is time priority, `del` is an O(1)
  cancel, and `not level` says the level is empty (the "insertion-ordered map" of exchange-core).

A bisected list beats a balanced tree or `SortedList` here: books have a few thousand levels at
most, so the memmove of an insert is cheaper than any Python-level tree walk. Rejects are not
checked (the benchmark stream never sends a bad request); unknown cancels are ignored.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from itertools import islice

from engine.orders import Side

_BUY = Side.BUY
_MARKET = -(1 << 62)  # a threshold every key passes: a market order takes any price


class MinimalBook:
    """Minimal limit order book: dict of orders, bisected price ladder, FIFO dict per level."""

    __slots__ = ("_orders", "_bids", "_asks", "_bid_keys", "_ask_keys")

    def __init__(self) -> None:
        self._orders: dict[int, list] = {}
        self._bids: dict[int, dict[int, list]] = {}
        self._asks: dict[int, dict[int, list]] = {}
        self._bid_keys: list[int] = []
        self._ask_keys: list[int] = []

    # -- requests ------------------------------------------------------------------------------

    def limit(self, order_id: int, side: Side, price: int, qty: int) -> None:
        """Match a GTC limit order against the opposite side; rest what is left."""
        if side is _BUY:
            keys = self._ask_keys
            if keys and keys[-1] >= -price:
                qty = self._match(self._asks, keys, -price, qty)
            if qty:
                self._rest(self._bids, self._bid_keys, price, order_id, qty, True)
        else:
            keys = self._bid_keys
            if keys and keys[-1] >= price:
                qty = self._match(self._bids, keys, price, qty)
            if qty:
                self._rest(self._asks, self._ask_keys, -price, order_id, qty, False)

    def market(self, order_id: int, side: Side, qty: int) -> None:
        """Sweep the opposite side for `qty`; a remainder is dropped, never rests."""
        if side is _BUY:
            self._match(self._asks, self._ask_keys, _MARKET, qty)
        else:
            self._match(self._bids, self._bid_keys, _MARKET, qty)

    def cancel(self, order_id: int) -> None:
        """Remove a resting order; an unknown id is ignored."""
        order = self._orders.pop(order_id, None)
        if order is None:
            return
        key = order[1]
        if order[2]:
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

    # -- internals -----------------------------------------------------------------------------

    def _rest(self, levels: dict, keys: list, key: int, order_id: int, qty: int, buy: bool) -> None:
        order = [qty, key, buy]
        self._orders[order_id] = order
        level = levels.get(key)
        if level is None:
            levels[key] = {order_id: order}
            if not keys or key > keys[-1]:
                keys.append(key)
            else:
                insort(keys, key)
        else:
            level[order_id] = order

    def _match(self, levels: dict, keys: list, threshold: int, qty: int) -> int:
        """Fill `qty` against levels whose key is >= threshold, best first; return what is left."""
        orders = self._orders
        while keys:
            key = keys[-1]
            if key < threshold:
                break
            level = levels[key]
            filled = 0
            for maker in level.values():
                open_qty = maker[0]
                if open_qty > qty:
                    maker[0] = open_qty - qty
                    qty = 0
                    break
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

    # -- queries (for verification; never on the timed path) ---------------------------------

    def __len__(self) -> int:
        return len(self._orders)

    def __contains__(self, order_id: object) -> bool:
        return order_id in self._orders

    def open_qty(self, order_id: int) -> int | None:
        """Open quantity of a resting order, or None if it is not resting."""
        order = self._orders.get(order_id)
        return None if order is None else order[0]

    def best_bid(self) -> int | None:
        """Highest resting buy price, or None."""
        return self._bid_keys[-1] if self._bid_keys else None

    def best_ask(self) -> int | None:
        """Lowest resting sell price, or None."""
        return -self._ask_keys[-1] if self._ask_keys else None

    def depth(self, levels: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """(bids, asks): up to `levels` (price, total open qty) pairs per side, best first."""
        bids = [
            (k, sum(o[0] for o in self._bids[k].values())) for k in self._bid_keys[::-1][:levels]
        ]
        asks = [
            (-k, sum(o[0] for o in self._asks[k].values())) for k in self._ask_keys[::-1][:levels]
        ]
        return bids, asks

    def resting(self) -> list[tuple[int, Side, int, int]]:
        """Every resting order as (order_id, side, price, open qty), in priority order per side."""
        out = []
        for levels, keys, side, sign in (
            (self._bids, self._bid_keys, Side.BUY, 1),
            (self._asks, self._ask_keys, Side.SELL, -1),
        ):
            for key in reversed(keys):
                for order_id, order in levels[key].items():
                    out.append((order_id, side, sign * key, order[0]))
        return out
