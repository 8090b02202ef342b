"""The benchmark's own correctness: the stream, the minimal book, the adapters and the CLI.

A benchmark is only as good as the claim that every book did the same work; these pin it.
"""

from __future__ import annotations

import json

import pytest

from benchmarks import competitors
from benchmarks.__main__ import COMMANDS, main
from benchmarks.event_book import EventMinimalBook
from benchmarks.minimal_book import MinimalBook
from benchmarks.stream import CANCEL, LIMIT, MARKET, StreamSpec, generate, replay
from engine import Accepted, CancelReason, OrderBook, Rejected, Side

SPEC = StreamSpec(events=20_000)
ALL_LEVELS = 1 << 30


@pytest.fixture(scope="module")
def stream():
    return generate(SPEC)


def test_same_seed_gives_the_same_stream(stream) -> None:
    assert generate(SPEC).requests == stream.requests


def test_another_seed_gives_another_stream(stream) -> None:
    assert generate(SPEC._replace(seed=SPEC.seed + 1)).requests != stream.requests


def test_mix_is_sixty_thirty_ten(stream) -> None:
    n = SPEC.events
    c = stream.counts
    assert c["limit"] + c["cancel"] + c["market"] == n == len(stream.requests)
    # binomial noise at n=20k is well under 1.5 points; substitutions only add limits
    assert abs(c["cancel"] / n - SPEC.p_cancel) < 0.015
    assert abs(c["market"] / n - (1 - SPEC.p_limit - SPEC.p_cancel)) < 0.015
    assert 0 < c["limit_crossing"] < c["limit"] // 2  # some cross, most rest


def test_prices_are_positive_and_on_the_tick_grid(stream) -> None:
    for op, _, side, price, qty in stream.requests:
        if op == LIMIT:
            assert price > 0 and price % SPEC.tick == 0
            assert isinstance(side, Side)
        if op != CANCEL:
            assert qty > 0 and qty % SPEC.lot == 0


def test_every_cancel_names_an_order_resting_in_the_engine_book(stream) -> None:
    book = OrderBook(tick=SPEC.tick, lot=SPEC.lot)
    for op, order_id, side, price, qty in stream.requests:
        if op == LIMIT:
            events = book.limit(order_id, side, price, qty)
        elif op == CANCEL:
            assert order_id in book
            events = book.cancel(order_id)
        else:
            assert op == MARKET
            events = book.market(order_id, side, qty)
        assert isinstance(events[0], Accepted) or op == CANCEL
        assert not any(isinstance(e, Rejected) for e in events)
    assert len(book) == stream.resting_at_end


def test_minimal_book_ends_like_the_engine_book(stream) -> None:
    engine_book = OrderBook(tick=SPEC.tick, lot=SPEC.lot)
    minimal = MinimalBook()
    replay(engine_book, stream.requests)
    replay(minimal, stream.requests)
    assert len(minimal) == len(engine_book)
    assert minimal.depth(ALL_LEVELS) == engine_book.depth(ALL_LEVELS)
    expected = [(o.order_id, o.side, o.price, o.qty) for o in _priority_order(engine_book)]
    assert minimal.resting() == expected


def _priority_order(book: OrderBook) -> list:
    """The engine book's resting orders: bids best first then asks best first, FIFO in a level."""
    bids, asks = book.depth(ALL_LEVELS)
    return [o for price, _ in bids for o in book.level(Side.BUY, price)] + [
        o for price, _ in asks for o in book.level(Side.SELL, price)
    ]


def test_event_minimal_book_returns_the_engine_books_events(stream) -> None:
    engine_book = OrderBook(tick=SPEC.tick, lot=SPEC.lot)
    event_book = EventMinimalBook()
    for op, order_id, side, price, qty in stream.requests:
        if op == LIMIT:
            assert event_book.limit(order_id, side, price, qty) == engine_book.limit(
                order_id, side, price, qty
            )
        elif op == CANCEL:
            assert event_book.cancel(order_id) == engine_book.cancel(order_id)
        else:
            assert event_book.market(order_id, side, qty) == engine_book.market(order_id, side, qty)
    assert event_book.depth(ALL_LEVELS) == engine_book.depth(ALL_LEVELS)


def test_event_minimal_book_cancels_a_market_remainder() -> None:
    book = EventMinimalBook()
    book.limit(1, Side.SELL, 100, 5)
    events = book.market(2, Side.BUY, 8)
    assert [type(e).__name__ for e in events] == ["Accepted", "Trade", "Cancelled"]
    assert events[-1].qty == 3 and events[-1].reason is CancelReason.MARKET_REMAINDER


def test_minimal_book_matches_price_then_time() -> None:
    book = MinimalBook()
    book.limit(1, Side.SELL, 101, 5)
    book.limit(2, Side.SELL, 100, 5)
    book.limit(3, Side.SELL, 100, 5)
    book.limit(4, Side.BUY, 101, 12)  # takes 2, 3, then 2 of order 1
    assert book.resting() == [(1, Side.SELL, 101, 3)]
    book.market(5, Side.BUY, 10)  # takes the rest; its remainder does not rest
    assert len(book) == 0 and book.best_ask() is None and book.best_bid() is None


def test_minimal_book_cancel_removes_the_level_when_it_empties() -> None:
    book = MinimalBook()
    book.limit(1, Side.BUY, 100, 5)
    book.limit(2, Side.BUY, 99, 5)
    book.cancel(1)
    assert book.best_bid() == 99
    book.cancel(7)  # unknown: ignored
    assert book.depth(5) == ([(99, 5)], [])


@pytest.mark.parametrize("comp", competitors.COMPETITORS, ids=lambda c: c.name)
def test_installed_competitor_ends_like_the_minimal_book(comp, stream) -> None:
    why = competitors.unavailable(comp)
    if why is not None:
        pytest.skip(why)
    requests = stream.requests[:5_000]
    minimal = MinimalBook()
    replay(minimal, requests)
    adapter = comp.make(SPEC.tick, SPEC.lot)
    replay(adapter, requests)
    assert (len(adapter), adapter.depth(ALL_LEVELS)) == (len(minimal), minimal.depth(ALL_LEVELS))


def test_engine_command_prints_and_writes_the_ratios(tmp_path, capsys) -> None:
    out = tmp_path / "engine.json"
    status = main(
        ["engine", "--events", "3000", "--repeat", "2", "--warmup", "500",
         "--competitors", "none", "--memory-orders", "2000", "--breakdown", "--json", str(out)]
    )  # fmt: skip
    assert status == 0
    printed = capsys.readouterr().out
    assert "OrderBook / minimal book:" in printed
    result = json.loads(out.read_text())
    assert result["results"]["OrderBook"]["same_end_state"] is True
    assert result["ratios"]["OrderBook/minimal"]["best"] > 0
    assert {m["book"] for m in result["memory"]} == {"OrderBook", "minimal"}
    assert all(m["bytes_per_order"] > 0 for m in result["memory"] if m["method"] == "tracemalloc")
    assert result["environment"]["python"]
    assert "ns per request by kind" in printed
    assert set(result["breakdown_ns_per_request"]) == {"OrderBook", "minimal", "minimal+events"}
    assert result["results"]["minimal+events"]["same_end_state"] is True


def test_engine_command_rejects_a_bad_count(capsys) -> None:
    assert main(["engine", "--events", "0"]) == 2
    assert "--events must be >= 1" in capsys.readouterr().out


def test_engine_command_rejects_an_unknown_competitor(capsys) -> None:
    assert main(["engine", "--competitors", "litebook,nonesuch"]) == 2
    assert "unknown competitor 'nonesuch'" in capsys.readouterr().out


def test_dispatcher_lists_the_engine_command() -> None:
    assert "engine" in COMMANDS
