"""A simulator run's own workload: record every request it makes, replay it without the agents.

Splits the cost of a run three ways on exactly the requests the agents made: the order books'
matching alone, the exchange around the books (checks, sessions, listener delivery), and the
simulator's own Python (agents, counter, deals, recorder). Recording patches the public methods
of `engine.Exchange` (top-level calls only: what the agents asked) and `engine.OrderBook` (what
the exchange asked of each book) for one run and restores them after, whatever happens.
Replays run with the cyclic garbage collector paused, as `sim.run` runs, so the shares are
comparable; `check` first proves that a replay trades exactly what the run traded.

`by_part` goes one level further: it times a run part by part (the members' decisions, the
market makers, the day's start, the recorder, ...) and subtracts from each part the replay time
of the exchange calls that part made, so the simulator's own Python is shown where it is spent.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import time
from collections.abc import Iterator
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
        self.parts: list[str] = []  # the part of the run (`_part_methods`) making each call
        self.book_trades: list[tuple] = []  # every Trade the books returned to the exchange


def _trades(events: list) -> list[tuple]:
    from engine import Trade

    return [(e.product, e.price, e.qty, e.maker_order_id, e.taker_order_id)
            for e in events if type(e) is Trade]


def record(scale: int = 1, seed: int = 1, until: str | None = None) -> Workload:
    """Run baotou-2024 once, recording every exchange command and every book call it causes.

    Each exchange command is tagged with the part of the run that made it (`Workload.parts`).
    """
    from engine import Exchange, OrderBook
    from sim import Simulation, load_scenario

    sc = load_scenario("baotou-2024")
    sim = Simulation(sc, seed, dt.date.fromisoformat(until) if until else None, scale)
    w = Workload(sc, [(m.member_id, m.joined) for m in sim.exchange.members()])
    depth = [0]
    clock = _PartClock()

    def exchange_wrapper(name: str, method: Any) -> Any:
        def recorded(self: Any, *args: Any, **kwargs: Any) -> Any:
            top = not depth[0]
            if top:
                w.exchange_calls.append((name, args, kwargs))
                w.parts.append(clock.stack[-1])
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
        with clock.installed():
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


# ---------------------------------------------------------------------- part by part

SETUP = "setup and results"
SESSION = "opening and closing the day (events, auctions uncrossed, expiries settled)"


def _part_methods() -> list[tuple[Any, str, str]]:
    """(class, method, part): the calls that mark where each part of a run begins and ends."""
    from sim.agents import Agents
    from sim.deals import Deals
    from sim.makers import Makers
    from sim.national import National
    from sim.recorder import Recorder
    from sim.runner import Simulation
    from sim.venue import OffExchange

    day = "day start (use, output, stock, cash, carrying costs, needs, beliefs)"
    recorder = "recorder (touch samples; trades, quotes and deals tallied and written)"
    return [
        (Simulation, "run_day", SESSION),
        (National, "start_day", "national market (today's prices)"),
        (Agents, "start_day", day),
        (Agents, "auction_orders", "call-auction orders"),
        (Agents, "key_in", "counter (offline orders keyed in)"),
        (Agents, "step", "decisions (pricing, venue, orders, off-exchange deals, negotiation)"),
        (Makers, "quote", "market makers' quotes"),
        (Deals, "open_block", "block auctions"),
        (Deals, "settle_block", "block auctions"),
        (Simulation, "_nonmembers", "non-members' off-exchange use"),
        (OffExchange, "take_day", recorder),
        (Recorder, "sample", recorder),
        (Recorder, "end_day", recorder),
    ]


class _PartClock:
    """Exclusive wall time per part of a run: a part's time excludes the parts it calls."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.stack = [SETUP]
        self._last = time.perf_counter()

    def _switch(self, now: float) -> None:
        part = self.stack[-1]
        self.seconds[part] = self.seconds.get(part, 0.0) + now - self._last
        self._last = now

    def _wrap(self, part: str, method: Any) -> Any:
        clock = self

        def timed(*args: Any, **kwargs: Any) -> Any:
            clock._switch(time.perf_counter())
            clock.stack.append(part)
            try:
                return method(*args, **kwargs)
            finally:
                clock._switch(time.perf_counter())
                clock.stack.pop()
        return timed

    @contextlib.contextmanager
    def installed(self) -> Iterator[_PartClock]:
        """Time the parts while the block runs; the methods are restored after it."""
        marks = _part_methods()
        originals = [(cls, name, cls.__dict__[name]) for cls, name, _ in marks]
        try:
            for (cls, name, method), (_, _, part) in zip(originals, marks, strict=True):
                setattr(cls, name, self._wrap(part, method))
            self._last = time.perf_counter()
            yield self
        finally:
            for cls, name, method in originals:
                setattr(cls, name, method)
            self._switch(time.perf_counter())


def time_parts(scale: int = 1, seed: int = 1, until: str | None = None) -> dict[str, float]:
    """Seconds of one `sim.run` of baotou-2024 spent in each part (exchange calls included).

    The parts add up to the run's wall time (setup and results being what no part holds).
    """
    from sim import run

    gc.collect()
    clock = _PartClock()
    with clock.installed():
        run("baotou-2024", seed=seed, until=until, scale=scale)
    return clock.seconds


def replay_exchange_by_part(w: Workload) -> dict[str, float]:
    """Seconds of the exchange replay spent on each part's calls.

    One timer per stretch of consecutive calls from one part, so the timing adds little.
    """
    calls = _exchange_calls(w)
    stretches: list[tuple[str, list[Call]]] = []
    for part, call in zip(w.parts, calls, strict=True):
        if not stretches or stretches[-1][0] != part:
            stretches.append((part, []))
        stretches[-1][1].append(call)
    out: dict[str, float] = {}
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        clock = time.perf_counter
        for part, group in stretches:
            start = clock()
            for method, args, kwargs in group:
                method(*args, **kwargs)
            out[part] = out.get(part, 0.0) + clock() - start
    finally:
        if was_enabled:
            gc.enable()
    return out


def by_part(parts: dict[str, float], w: Workload, repeat: int) -> list[dict[str, Any]]:
    """Each part of a run: its seconds, the exchange's share of them, and its own Python.

    `parts` is `time_parts` of a run (time it before recording `w`: a recorded workload held
    in memory makes the run's closing garbage collection slower); the exchange's share is the
    best of `repeat` replays of `w` (by total). Largest own Python first.
    """
    replays = [replay_exchange_by_part(w) for _ in range(repeat)]
    exchange = min(replays, key=lambda p: sum(p.values()))
    rows = [{"part": part, "seconds": s, "exchange_seconds": exchange.get(part, 0.0),
             "own_seconds": s - exchange.get(part, 0.0),
             "exchange_calls": w.parts.count(part)} for part, s in parts.items()]
    rows.sort(key=lambda r: -r["own_seconds"])
    return rows
