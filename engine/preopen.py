"""The pre-open call auction of one product: orders collect without matching, then uncross.

Orders live here, outside the continuous book, from `begin_day` to `open_market`; the
exchange validates them first. At the open `uncross` finds the uniform price with
`engine.auction.auction_price`, fills better-priced orders fully and orders at the price in
arrival order, and pairs the fills into trades: both sides walked in priority order (best
price, then arrival), each trade's maker being the earlier of its two orders. What is left is
handed back in arrival order so that it enters the book with its time priority.

Self-trade prevention is applied on entry: an order whose price crosses an opposite order of
the same owner meets the exchange's policy at once, so no two orders of one owner can both
fill at the auction price (that would need the bid to be at or above the ask).
"""

from __future__ import annotations

from typing import Any

from engine.auction import allocate, auction_price, pair_fills
from engine.orders import Order, RestingOrder, Side

BUY = Side.BUY


def _priority_key(item: tuple[int, Order]) -> tuple[int, int]:
    index, order = item
    return (-order.price if order.side is BUY else order.price), index


class PreOpenBook:
    """Orders collected in the call auction, in arrival order, indexed by owner for STP."""

    __slots__ = ("orders", "_by_owner")

    def __init__(self) -> None:
        self.orders: dict[int, Order] = {}  # live orders in arrival order
        self._by_owner: dict[Any, dict[int, Order]] = {}

    def __len__(self) -> int:
        return len(self.orders)

    def __contains__(self, order_id: object) -> bool:
        return order_id in self.orders

    def add(self, order: Order) -> None:
        """Queue an order at the tail (time priority is arrival order)."""
        self.orders[order.order_id] = order
        self._by_owner.setdefault(order.owner, {})[order.order_id] = order

    def remove(self, order_id: int) -> Order:
        """Take an order out; it must be present."""
        order = self.orders.pop(order_id)
        own = self._by_owner[order.owner]
        del own[order_id]
        if not own:
            del self._by_owner[order.owner]
        return order

    def crossing_own(self, side: Side, price: int, owner: Any) -> list[Order]:
        """The owner's opposite-side orders that `price` would cross, in priority order."""
        own = self._by_owner.get(owner)
        if not own:
            return []
        if side is BUY:
            hits = [o for o in own.values() if o.side is not BUY and o.price <= price]
            hits.sort(key=lambda o: o.price)
        else:
            hits = [o for o in own.values() if o.side is BUY and o.price >= price]
            hits.sort(key=lambda o: -o.price)
        return hits  # sorts are stable: arrival order within a price

    def snapshot(self) -> list[RestingOrder]:
        """Every collected order, in arrival order."""
        return [
            RestingOrder(o.order_id, o.side, o.price, o.qty, o.owner, o.tif, o.channel, o.time)
            for o in self.orders.values()
        ]

    def uncross(
        self, reference: int, tie_break: str, tick: int
    ) -> tuple[int | None, int, list[tuple[Order, Order, int]], list[Order]]:
        """Run the auction: (price, qty, [(maker, taker, qty)], leftovers in arrival order).

        Fills reduce the orders' `qty`; the collection is emptied.
        """
        arrival = list(self.orders.values())
        bids = [(i, o) for i, o in enumerate(arrival) if o.side is BUY]
        asks = [(i, o) for i, o in enumerate(arrival) if o.side is not BUY]
        result = auction_price(
            [(o.price, o.qty) for _, o in bids],
            [(o.price, o.qty) for _, o in asks],
            reference,
            tie_break,
            tick=tick,
        )
        self.orders = {}
        self._by_owner = {}
        if result is None:
            return None, 0, [], arrival
        price, qty = result
        sides = []
        for side_orders, buy in ((bids, True), (asks, False)):
            fills = allocate([(o.price, o.qty) for _, o in side_orders], buy, price, qty)
            ranked = sorted(
                ((i, o, f) for (i, o), f in zip(side_orders, fills, strict=True) if f),
                key=lambda t: _priority_key((t[0], t[1])),
            )
            sides.append([((i, o), f) for i, o, f in ranked])
        matches = []
        for (bi, bo), (si, so), q in pair_fills(sides[0], sides[1]):
            maker, taker = (bo, so) if bi < si else (so, bo)
            matches.append((maker, taker, q))
            bo.qty -= q
            so.qty -= q
        return price, qty, matches, [o for o in arrival if o.qty]
