"""pytest-benchmark: what the exchange adds over its book on the standard mixed stream.

The same slice of the standard stream (benchmarks/stream.py) is replayed into a bare
`OrderBook` and into an `Exchange` in continuous trading, each through a thin adapter with the
replay's `limit`/`cancel`/`market` methods, so both pay the same call overhead. Orders carry
owners (one of 50 members, by order id) in both runs, so self-trade prevention acts alike and
both must end with the same book. Compare the two means: the exchange's per-request cost over
the book's is the overhead of member, session and band checks, id bookkeeping and tallies.
"""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.stream import StreamSpec, generate, replay
from engine import Exchange, OrderBook, Product

SLICE = 100_000
MEMBERS = 50
TICK, LOT = 10, 10
PRODUCT = Product("X", "stream", tick=TICK, lot=LOT, reference_price=450_000, band_pct=None)
ALL_LEVELS = 1 << 30


class BookAdapter:
    """The bare book, with owners, behind the replay's three methods."""

    def __init__(self) -> None:
        self.book = OrderBook(tick=TICK, lot=LOT, product="X")

    def limit(self, order_id: int, side: Any, price: int, qty: int) -> list:
        return self.book.limit(order_id, side, price, qty, order_id % MEMBERS)

    def cancel(self, order_id: int) -> list:
        return self.book.cancel(order_id)

    def market(self, order_id: int, side: Any, qty: int) -> list:
        return self.book.market(order_id, side, qty, order_id % MEMBERS)


class ExchangeAdapter:
    """An exchange in continuous trading behind the same three methods."""

    def __init__(self) -> None:
        self.ex = Exchange([PRODUCT])
        for member in range(MEMBERS):
            self.ex.add_member(member)
        self.ex.begin_day(time=0)
        self.ex.open_market(time=0)
        self.book = self.ex.book("X")

    def limit(self, order_id: int, side: Any, price: int, qty: int) -> list:
        return self.ex.submit_limit(order_id % MEMBERS, "X", side, price, qty, time=1,
                                    order_id=order_id)

    def cancel(self, order_id: int) -> list:
        return self.ex.cancel(order_id % MEMBERS, order_id, time=1)

    def market(self, order_id: int, side: Any, qty: int) -> list:
        return self.ex.submit_market(order_id % MEMBERS, "X", side, qty, time=1,
                                     order_id=order_id)


@pytest.fixture(scope="module")
def mixed_slice() -> list:
    """The first SLICE events of the standard stream (generated once, never timed)."""
    return generate(StreamSpec(events=SLICE)).requests


@pytest.fixture(scope="module")
def book_end_state(mixed_slice: list) -> tuple[int, Any]:
    adapter = BookAdapter()
    replay(adapter, mixed_slice)
    return len(adapter.book), adapter.book.depth(ALL_LEVELS)


@pytest.mark.parametrize("venue", [BookAdapter, ExchangeAdapter], ids=["book", "exchange"])
def test_exchange_ends_like_its_book_on_the_mixed_stream(benchmark, venue, mixed_slice,
                                                         book_end_state) -> None:
    def run(adapter: Any) -> Any:
        replay(adapter, mixed_slice)
        return adapter

    adapter = benchmark.pedantic(run, setup=lambda: ((venue(),), {}), rounds=3, iterations=1)
    assert (len(adapter.book), adapter.book.depth(ALL_LEVELS)) == book_end_state
