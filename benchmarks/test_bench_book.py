"""pytest-benchmark cases for the book: add, cancel, match and a mixed-stream slice.

Each case runs for `engine.OrderBook` and for the minimal book (benchmarks/minimal_book.py), so
the table pytest-benchmark prints compares them side by side. Every round gets fresh state
from a `setup` outside the timer (`benchmark.pedantic`), and every case asserts what the timed
work did, so it can never time nothing. Run: `.venv/bin/pytest benchmarks`; as a quick smoke
test: `.venv/bin/pytest benchmarks --benchmark-disable`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from benchmarks.minimal_book import MinimalBook
from benchmarks.stream import StreamSpec, generate, replay
from engine import OrderBook, Side

TICK, LOT, MID = 10, 10, 450_000
ORDERS = 10_000  # resting orders in the add / cancel / match cases
LEVELS = 100  # price levels per side they spread over
SLICE = 100_000  # events of the mixed stream
ROUNDS = 5
ALL_LEVELS = 1 << 30

BOOKS: dict[str, Callable[[], Any]] = {
    "OrderBook": lambda: OrderBook(tick=TICK, lot=LOT),
    "minimal": MinimalBook,
}


@pytest.fixture(params=sorted(BOOKS))
def make_book(request: pytest.FixtureRequest) -> Callable[[], Any]:
    """A factory of empty books of one kind (each case runs once per kind)."""
    return BOOKS[request.param]


def resting_orders(n: int, side: Side, first_id: int = 1) -> list[tuple[int, Side, int, int]]:
    """`n` orders on one side that never cross the other: (id, side, price, qty)."""
    sign = -1 if side is Side.BUY else 1
    return [
        (first_id + i, side, MID + sign * TICK * (1 + i % LEVELS), LOT * (1 + i % 10))
        for i in range(n)
    ]


def filled(book: Any, orders: list[tuple[int, Side, int, int]]) -> Any:
    """`book` with `orders` resting in it."""
    limit = book.limit
    for order_id, side, price, qty in orders:
        limit(order_id, side, price, qty)
    return book


@pytest.fixture(scope="module")
def mixed_slice() -> list:
    """The first SLICE events of the standard stream (generated once, never timed)."""
    return generate(StreamSpec(events=SLICE)).requests


@pytest.fixture(scope="module")
def mixed_end_state(mixed_slice: list) -> tuple[int, Any]:
    """Orders and full depth after the slice, by the minimal book: the expected end state."""
    book = MinimalBook()
    replay(book, mixed_slice)
    return len(book), book.depth(ALL_LEVELS)


def test_add_rests_every_non_crossing_order(benchmark, make_book) -> None:
    orders = resting_orders(ORDERS // 2, Side.BUY) + resting_orders(
        ORDERS // 2, Side.SELL, ORDERS // 2 + 1
    )
    random.Random(1).shuffle(orders)

    def setup():
        return (make_book(), orders), {}

    book = benchmark.pedantic(filled, setup=setup, rounds=ROUNDS, iterations=1)
    assert len(book) == ORDERS
    bids, asks = book.depth(ALL_LEVELS)
    assert len(bids) == len(asks) == LEVELS


def test_cancel_empties_the_book(benchmark, make_book) -> None:
    orders = resting_orders(ORDERS // 2, Side.BUY) + resting_orders(
        ORDERS // 2, Side.SELL, ORDERS // 2 + 1
    )
    ids = [order[0] for order in orders]
    random.Random(2).shuffle(ids)

    def cancel_all(book: Any) -> Any:
        cancel = book.cancel
        for order_id in ids:
            cancel(order_id)
        return book

    def setup():
        return (filled(make_book(), orders),), {}

    book = benchmark.pedantic(cancel_all, setup=setup, rounds=ROUNDS, iterations=1)
    assert len(book) == 0
    assert book.best_bid() is None and book.best_ask() is None


def test_match_sweeps_a_deep_book(benchmark, make_book) -> None:
    asks = resting_orders(ORDERS, Side.SELL)
    total = sum(order[3] for order in asks)
    # aggressive buy limits, each crossing into the book and taking several makers
    takers = []
    sent, next_id = 0, ORDERS + 1
    while sent < total:
        qty = min(LOT * 40, total - sent)
        takers.append((next_id, Side.BUY, MID + TICK * LEVELS, qty))
        sent += qty
        next_id += 1

    def setup():
        return (filled(make_book(), asks), takers), {}

    book = benchmark.pedantic(filled, setup=setup, rounds=ROUNDS, iterations=1)
    assert len(book) == 0  # every ask traded away, and no taker rests
    assert book.best_ask() is None and book.best_bid() is None


def test_mixed_stream_slice_ends_in_the_expected_state(
    benchmark, make_book, mixed_slice, mixed_end_state
) -> None:
    def run(book: Any) -> Any:
        replay(book, mixed_slice)
        return book

    def setup():
        return (make_book(),), {}

    book = benchmark.pedantic(run, setup=setup, rounds=3, iterations=1)
    assert (len(book), book.depth(ALL_LEVELS)) == mixed_end_state
