"""A simulator run's own workload: record every request it makes, replay it without the agents.

Splits the cost of a run three ways on exactly the requests the agents made: the order books'
matching alone, the exchange around the books (checks, sessions, listener delivery), and the
simulator's own Python (agents, counter, deals, recorder). Recording patches the public methods
of `engine.Exchange` (top-level calls only: what the agents asked) and `engine.OrderBook` (what
the exchange asked of each book) for one run and restores them after, whatever happens.
Replays run with the cyclic garbage collector paused, as `sim.run` runs, so the shares are
comparable; `check` first proves that a replay trades exactly what the run traded.
"""

from __future__ import annotations

import datetime as dt
import gc
import time
from typing import Any

EXCHANGE_COMMANDS = (
    "suspend_member", "reinstate_member", "begin_day", "open_market", "close_market",
    "submit_limit", "submit_market", "cancel", "amend", "register_negotiated",
    "open_block_auction", "bid_block_auction", "settle_block_auction",
)
BOOK_METHODS = ("limit", "market", "cancel", "amend", "expire_day_orders")

Call = tuple[Any, tuple, dict]


class Workload:
    """The recorded calls of one run, its members, and the trades each layer returned."""

    def __init__(self, scenario: Any, members: list[tuple[Any, int]]) -> None:
        self.scenario = scenario
        self.members = members
        self.exchange_calls: list[tuple[str, tuple, dict]] = []
        self.book_calls: list[tuple[str, str, tuple, dict]] = []
        self.exchange_trades: list[tuple] = []  # every Trade the agents were returned
        self.book_trades: list[tuple] = []  # every Trade the books returned to the exchange


def _trades(events: list) -> list[tuple]:
    from engine import Trade

    return [(e.product, e.price, e.qty, e.maker_order_id, e.taker_order_id)
            for e in events if type(e) is Trade]


def record(scale: int = 1, seed: int = 1, until: str | None = None) -> Workload:
    """Run baotou-2024 once, recording every exchange command and every book call it causes."""
    from engine import Exchange, OrderBook
    from sim import Simulation, load_scenario

    sc = load_scenario("baotou-2024")
    sim = Simulation(sc, seed, dt.date.fromisoformat(until) if until else None, scale)
    w = Workload(sc, [(m.member_id, m.joined) for m in sim.exchange.members()])
    depth = [0]

    def exchange_wrapper(name: str, method: Any) -> Any:
        def recorded(self: Any, *args: Any, **kwargs: Any) -> Any:
            top = not depth[0]
            if top:
                w.exchange_calls.append((name, args, kwargs))
            depth[0] += 1
            try:
                events = method(self, *args, **kwargs)
            finally:
                depth[0] -= 1
            if top:
                w.exchange_trades.extend(_trades(events))
            return events
        return recorded

    def book_wrapper(name: str, method: Any) -> Any:
        def recorded(self: Any, *args: Any, **kwargs: Any) -> Any:
            w.book_calls.append((self.product, name, args, kwargs))
            events = method(self, *args, **kwargs)
            w.book_trades.extend(_trades(events))
            return events
        return recorded

    originals = [(cls, name, cls.__dict__[name])
                 for cls, names in ((Exchange, EXCHANGE_COMMANDS), (OrderBook, BOOK_METHODS))
                 for name in names]
    try:
        for cls, name, method in originals:
            wrap = exchange_wrapper if cls is Exchange else book_wrapper
            setattr(cls, name, wrap(name, method))
        for _ in range(sim.ndays):
            sim.run_day()
    finally:
        for cls, name, method in originals:
            setattr(cls, name, method)
    return w


def _exchange_calls(w: Workload) -> list[Call]:
    """The run's exchange commands, bound to a fresh exchange with one cheap listener."""
    from sim.runner import build_exchange

    ex = build_exchange(w.scenario)
    for member, joined in w.members:
        ex.add_member(member, joined=joined)
    ex.subscribe([].append)  # as cheap as the recorder's own listener
    return [(getattr(ex, name), args, kwargs) for name, args, kwargs in w.exchange_calls]


def _book_calls(w: Workload) -> list[Call]:
    """The run's book calls, bound to fresh books with the scenario's tick, lot and rules."""
    from sim.runner import build_exchange

    ex = build_exchange(w.scenario)
    books = {p.code: ex.book(p.code) for p in w.scenario.products}
    return [(getattr(books[code], name), args, kwargs)
            for code, name, args, kwargs in w.book_calls]


def replay_exchange(w: Workload) -> float:
    """Seconds to replay the run's exchange commands (exchange and books, no agents)."""
    return _timed(_exchange_calls(w))


def replay_books(w: Workload) -> float:
    """Seconds to replay the run's book calls (the matching alone)."""
    return _timed(_book_calls(w))


def check(w: Workload) -> None:
    """Raise AssertionError unless both replays return exactly the trades the run returned."""
    for calls, expected, what in ((_exchange_calls(w), w.exchange_trades, "exchange"),
                                  (_book_calls(w), w.book_trades, "book")):
        got: list[tuple] = []
        for method, args, kwargs in calls:
            got.extend(_trades(method(*args, **kwargs)))
        if got != expected:
            raise AssertionError(f"the {what} replay traded differently from the run "
                                 f"({len(got)} trades against {len(expected)})")


def _timed(calls: list[Call]) -> float:
    """Seconds to make every call in order, with the cyclic collector paused (as sim.run)."""
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        for method, args, kwargs in calls:
            method(*args, **kwargs)
        return time.perf_counter() - start
    finally:
        if was_enabled:
            gc.enable()
