"""Order-book packages from PyPI, adapted to the benchmark stream (optional; never dependencies).

Each adapter gives a package's book the stream's interface: `limit(order_id, side, price, qty)`,
`market(order_id, side, qty)`, `cancel(order_id)`, plus `depth(levels)` and `len()` so the
benchmark can check it ended in the same state as the other books. Adapters map the stream's
order ids to the package's own ids and, where a package has no market order (or lets its
remainder rest), send the nearest equivalent and cancel what is left: the cheapest faithful
translation, counted in the package's time. Install a package into the venv to include it,
e.g. `.venv/bin/pip install lightmatchingengine`; one that is not installed is skipped.

Looked at and left out, with reasons, in benchmarks/README.md (liquibook, manticore-orderbook,
lumina-lob, quant-limit-engine, pyclob, order-matching, OrderBook, order-book, lobpy, pylobo).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib import metadata
from typing import Any, NamedTuple

from engine.orders import Side

_SYMBOL = "X"


class Competitor(NamedTuple):
    """A PyPI order book: distribution name, import name, implementation, adapter factory."""

    name: str  # PyPI distribution
    module: str  # what must import for it to run
    kind: str  # "pure Python", "Cython", "Rust", "C", ...
    make: Callable[[int, int], Any]  # (tick, lot) -> adapter


def _levels(pairs: dict[int, int], reverse: bool, levels: int) -> list[tuple[int, int]]:
    """Depth from {price: total qty}: non-empty levels, best first, at most `levels`."""
    out = [(p, q) for p, q in pairs.items() if q]
    out.sort(reverse=reverse)
    return out[:levels]


# -- lightmatchingengine (pure Python) ---------------------------------------------------------


class LightMatchingEngineAdapter:
    """lightmatchingengine: dict of price -> list per side; best price by min()/max() of keys."""

    def __init__(self, tick: int, lot: int) -> None:
        from lightmatchingengine.lightmatchingengine import LightMatchingEngine
        from lightmatchingengine.lightmatchingengine import Side as LSide

        self._engine = LightMatchingEngine()
        self._add = self._engine.add_order
        self._cancel = self._engine.cancel_order
        self._buy, self._sell = LSide.BUY, LSide.SELL
        self._ids: dict[int, int] = {}

    def limit(self, order_id: int, side: Side, price: int, qty: int) -> None:
        order, _ = self._add(_SYMBOL, price, qty, self._buy if side is Side.BUY else self._sell)
        if order.leaves_qty:
            self._ids[order_id] = order.order_id

    def market(self, order_id: int, side: Side, qty: int) -> None:
        # price 0 is its market order; a remainder would rest at price 0, so cancel it
        order, _ = self._add(_SYMBOL, 0, qty, self._buy if side is Side.BUY else self._sell)
        if order.leaves_qty:
            self._cancel(order.order_id, _SYMBOL)

    def cancel(self, order_id: int) -> None:
        self._cancel(self._ids.pop(order_id), _SYMBOL)

    def _book(self) -> Any:
        return self._engine.order_books.get(_SYMBOL)

    def depth(self, levels: int) -> tuple[list, list]:
        book = self._book()
        if book is None:
            return [], []
        bids = {p: sum(o.leaves_qty for o in q) for p, q in book.bids.items()}
        asks = {p: sum(o.leaves_qty for o in q) for p, q in book.asks.items()}
        return _levels(bids, True, levels), _levels(asks, False, levels)

    def __len__(self) -> int:
        book = self._book()
        return (
            0
            if book is None
            else sum(
                1
                for side in (book.bids, book.asks)
                for q in side.values()
                for o in q
                if o.leaves_qty
            )
        )


# -- pyorderbook (pure Python) -----------------------------------------------------------------


class PyOrderBookAdapter:
    """pyorderbook: heap of price levels per side, uuid order ids, Decimal prices."""

    _FAR = 10**15  # a price no ask reaches: a buy "market" order

    def __init__(self, tick: int, lot: int) -> None:
        import logging

        from pyorderbook import Book
        from pyorderbook.order import Order
        from pyorderbook.order import Side as PSide

        logging.getLogger("pyorderbook.book").setLevel(logging.WARNING)
        self._book = Book()
        self._match = self._book.match
        self._cancel = self._book.cancel
        self._order = Order
        self._bid, self._ask = PSide.BID, PSide.ASK
        self._orders: dict[int, Any] = {}

    def limit(self, order_id: int, side: Side, price: int, qty: int) -> None:
        order = self._order(self._bid if side is Side.BUY else self._ask, _SYMBOL, price, qty)
        self._match(order)
        if order.quantity:
            self._orders[order_id] = order

    def market(self, order_id: int, side: Side, qty: int) -> None:
        # no market orders: a limit at a price that crosses everything, remainder cancelled
        if side is Side.BUY:
            order = self._order(self._bid, _SYMBOL, self._FAR, qty)
        else:
            order = self._order(self._ask, _SYMBOL, 0, qty)
        self._match(order)
        if order.quantity:
            self._cancel(order)

    def cancel(self, order_id: int) -> None:
        self._cancel(self._orders.pop(order_id))

    def depth(self, levels: int) -> tuple[list, list]:
        lm = self._book.level_map[_SYMBOL]
        bids = {
            int(p): sum(o.quantity for o in lv.orders.values()) for p, lv in lm[self._bid].items()
        }
        asks = {
            int(p): sum(o.quantity for o in lv.orders.values()) for p, lv in lm[self._ask].items()
        }
        return _levels(bids, True, levels), _levels(asks, False, levels)

    def __len__(self) -> int:
        return len(self._book.order_map)


# -- akhil4n-orderbook (pure Python) and cython-orderbook (its Cython build) -------------------


class _AkhilAdapter:
    """akhil4n-orderbook's design: SortedDict of levels per side, OrderedDict FIFO per level."""

    def __init__(self, module: Any) -> None:
        self._book = module.OrderBook()
        self._add_limit = self._book.add_limit_order
        self._add_market = self._book.add_market_order
        self._cancel = self._book.cancel_order
        self._order = module.Order
        self._bid, self._ask = module.OrderSide.BID, module.OrderSide.ASK
        self._ids: dict[int, Any] = {}

    def limit(self, order_id: int, side: Side, price: int, qty: int) -> None:
        order = self._new(self._bid if side is Side.BUY else self._ask, price, qty)
        self._add_limit(order)
        if order.remaining_quantity:
            self._ids[order_id] = order.order_id

    def market(self, order_id: int, side: Side, qty: int) -> None:
        self._add_market(self._market_order(self._bid if side is Side.BUY else self._ask, qty))

    def _new(self, side: Any, price: int, qty: int) -> Any:
        raise NotImplementedError

    def _market_order(self, side: Any, qty: int) -> Any:
        raise NotImplementedError

    def cancel(self, order_id: int) -> None:
        self._cancel(self._ids.pop(order_id))

    def depth(self, levels: int) -> tuple[list, list]:
        def side(book_side: Any) -> dict[int, int]:
            return {
                p: sum(o.remaining_quantity for o in lv.queue.values())
                for p, lv in book_side.items()
            }

        return (
            _levels(side(self._book.bids), True, levels),
            _levels(side(self._book.asks), False, levels),
        )

    def __len__(self) -> int:
        return len(self._book.orders)


class AkhilOrderBookAdapter(_AkhilAdapter):
    """akhil4n-orderbook (pure Python)."""

    def __init__(self, tick: int, lot: int) -> None:
        import orderbook

        self._market_cls = orderbook.MarketOrder
        super().__init__(orderbook)

    def _new(self, side: Any, price: int, qty: int) -> Any:
        return self._order(side, price, qty)

    def _market_order(self, side: Any, qty: int) -> Any:
        return self._market_cls(side, qty)


class CythonOrderBookAdapter(_AkhilAdapter):
    """cython-orderbook: the same design compiled with Cython (typed int prices)."""

    def __init__(self, tick: int, lot: int) -> None:
        import cython_orderbook

        super().__init__(cython_orderbook)

    def _new(self, side: Any, price: int, qty: int) -> Any:
        return self._order(side, qty, price)  # its Order takes (side, quantity, price)

    def _market_order(self, side: Any, qty: int) -> Any:
        return self._order(side, qty, 0)  # its market path ignores the price

    def depth(self, levels: int) -> tuple[list, list]:
        try:
            return super().depth(levels)
        except AttributeError:  # compiled levels hide their queues
            return [], []


# -- litebook (Rust) ---------------------------------------------------------------------------


class LitebookAdapter:
    """litebook: a Rust book behind PyO3; float prices and quantities, uuid order ids."""

    def __init__(self, tick: int, lot: int) -> None:
        import litebook

        self._tick = tick
        self._book = litebook.OrderBook(tick_size=float(tick))
        self._create = self._book.create_order
        self._add = self._book.add
        self._cancel = self._book.cancel
        self._buy, self._sell = litebook.OrderType.Buy, litebook.OrderType.Sell
        self._ids: dict[int, str] = {}
        self._far = float(10**12 * tick)

    def limit(self, order_id: int, side: Side, price: int, qty: int) -> None:
        lside = self._buy if side is Side.BUY else self._sell
        order = self._create(lside, float(price), float(qty))
        self._add(order)
        if order.is_open():
            self._ids[order_id] = order.id

    def market(self, order_id: int, side: Side, qty: int) -> None:
        # no market orders: a limit that crosses everything, remainder cancelled
        if side is Side.BUY:
            order = self._create(self._buy, self._far, float(qty))
        else:
            order = self._create(self._sell, float(self._tick), float(qty))
        self._add(order)
        if order.is_open():
            self._cancel(order.id)

    def cancel(self, order_id: int) -> None:
        self._cancel(self._ids.pop(order_id))

    def depth(self, levels: int) -> tuple[list, list]:
        def side(orders: list) -> dict[int, int]:
            out: dict[int, int] = {}
            for o in orders:
                p = o.price_in_ticks * self._tick
                out[p] = out.get(p, 0) + int(o.quantity)
            return out

        return (
            _levels(side(self._book.buy_orders), True, levels),
            _levels(side(self._book.sell_orders), False, levels),
        )

    def __len__(self) -> int:
        return len(self._book.buy_orders) + len(self._book.sell_orders)


# -- obook (C, through ctypes) -----------------------------------------------------------------


class OBookAdapter:
    """obook: a C matching engine called through ctypes; integer prices and quantities."""

    _DRAIN = 4096  # requests between drains of its event buffer

    def __init__(self, tick: int, lot: int) -> None:
        import obook

        self._book = obook.Book(max_orders=1 << 20)
        self._submit = self._book.submit
        self._cancel = self._book.cancel
        self._market_type, self._ioc = obook.MARKET, obook.IOC
        self._buy, self._sell = obook.BUY, obook.SELL
        self._ids: dict[int, int] = {}
        self._pending = 0

    def _tick(self) -> None:
        self._pending += 1
        if self._pending >= self._DRAIN:
            self._pending = 0
            self._book.events()  # the engine buffers events until read

    # every order gets its own user (= stream order id): obook never trades a user with itself

    def limit(self, order_id: int, side: Side, price: int, qty: int) -> None:
        self._ids[order_id] = self._submit(
            order_id, self._buy if side is Side.BUY else self._sell, price, qty
        ).order_id
        self._tick()

    def market(self, order_id: int, side: Side, qty: int) -> None:
        self._submit(
            order_id,
            self._buy if side is Side.BUY else self._sell,
            0,
            qty,
            type=self._market_type,
            tif=self._ioc,
        )
        self._tick()

    def cancel(self, order_id: int) -> None:
        self._cancel(self._ids.pop(order_id), order_id)
        self._tick()

    def depth(self, levels: int) -> tuple[list, list]:
        bids: dict[int, int] = {}
        asks: dict[int, int] = {}
        for o in self._book.book():
            side = bids if o.side == self._buy else asks
            side[o.price] = side.get(o.price, 0) + o.qty - o.filled
        return _levels(bids, True, levels), _levels(asks, False, levels)

    def __len__(self) -> int:
        return len(self._book.book())


COMPETITORS: tuple[Competitor, ...] = (
    Competitor(
        "lightmatchingengine", "lightmatchingengine", "pure Python", LightMatchingEngineAdapter
    ),
    Competitor("pyorderbook", "pyorderbook", "pure Python", PyOrderBookAdapter),
    Competitor("akhil4n-orderbook", "orderbook", "pure Python", AkhilOrderBookAdapter),
    Competitor("cython-orderbook", "cython_orderbook", "Cython", CythonOrderBookAdapter),
    Competitor("litebook", "litebook", "Rust", LitebookAdapter),
    Competitor("obook", "obook", "C via ctypes", OBookAdapter),
)


def unavailable(comp: Competitor) -> str | None:
    """Why `comp` cannot run here (not installed, fails to import), or None if it can."""
    try:
        metadata.version(comp.name)
    except metadata.PackageNotFoundError:
        return f"not installed (.venv/bin/pip install {comp.name})"
    try:
        importlib.import_module(comp.module)
    except Exception as exc:  # a broken third-party install must not stop the benchmark
        return f"does not import: {type(exc).__name__}: {exc}"
    return None


def version(comp: Competitor) -> str:
    """The installed version of `comp`, or '?'."""
    try:
        return metadata.version(comp.name)
    except metadata.PackageNotFoundError:
        return "?"
