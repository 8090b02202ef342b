"""The standard mixed request stream of the engine benchmark, generated from one seed.

Mix (issue 2, section 4): 60% new GTC limit orders around a drifting mid, 30% cancels of live
orders, 10% market orders. The stream is pre-generated as a list of plain tuples
`(op, order_id, side, price, qty)` so that generating it is never timed:

- `(LIMIT, id, side, price, qty)`: a GTC limit order;
- `(CANCEL, id, None, 0, 0)`: cancel of an order that is resting at that point;
- `(MARKET, id, side, 0, qty)`: a market order without protection.

How liveness is known. Which orders are live depends on matching (a limit or market order may
fill a resting order completely), so the generator replays every request it emits through its
own `MinimalBook` as it goes, and asks that book whether an order is still resting. Any book
with the same matching rules gives the same answer, which the benchmark tests check against
`engine.OrderBook`. A cancel picks uniformly among live orders: candidates sit in a list
(O(1) uniform draw, swap-remove); a drawn order that the book has filled meanwhile is dropped
from the list and the draw repeated, so the pick is uniform over orders still resting.

Prices: the mid is a random walk on the tick grid (one tick up or down with probability
`drift` each event). A limit order's distance from the mid, in ticks, is
`floor(Exponential(spread)) - cross`, measured away from the market (below the mid for a buy),
so most orders rest over a few dozen levels and those with a negative distance cross.
Quantities are 1-10 lots, uniformly, for both limit and market orders. A market order is
sent only against a non-empty side (otherwise it would be a reject, not a match), and a cancel
only when something rests; otherwise that event becomes a limit order instead.
Every random number comes from one `numpy.random.Generator` seeded with `seed`.

With the defaults the book regulates itself at roughly 1,000-4,000 resting orders over about
170 levels, and about one limit order in six trades on arrival: a busy but not deep book.
"""

from __future__ import annotations

from time import perf_counter_ns
from typing import NamedTuple

import numpy as np

from benchmarks.minimal_book import MinimalBook
from engine.orders import Side

LIMIT = 0
CANCEL = 1
MARKET = 2

# what each request turned out to be, for per-kind timings (Stream.kinds)
KIND_REST = 0  # a limit order that rested without trading
KIND_CROSS = 1  # a limit order that traded on arrival
KIND_CANCEL = 2
KIND_MARKET = 3
KIND_NAMES = ("limit, rests", "limit, trades", "cancel", "market")

_MAX_DISTANCE = 1_000  # ticks from the mid; caps the exponential tail
_MIN_MID = _MAX_DISTANCE + 1  # ticks; the mid never walks below this

Request = tuple[int, int, Side | None, int, int]


class StreamSpec(NamedTuple):
    """The knobs of the standard stream; the defaults are the benchmark's."""

    events: int = 1_000_000
    seed: int = 20240101
    tick: int = 10  # CNY/t
    lot: int = 10  # kg
    start_mid: int = 450_000  # CNY/t, on the tick grid
    p_limit: float = 0.60
    p_cancel: float = 0.30  # market orders get the rest (0.10)
    drift: float = 0.10  # probability per event that the mid moves one tick (up or down)
    spread: float = 16.0  # mean distance of a limit order from the mid, in ticks
    cross: int = 2  # distances below zero cross the mid by up to this many ticks
    max_limit_lots: int = 10
    max_market_lots: int = 10


class Stream(NamedTuple):
    """A generated stream and what it contains."""

    spec: StreamSpec
    requests: list[Request]
    counts: dict[str, int]  # requests per kind, after substitutions
    resting_at_end: int  # orders resting once the whole stream has run
    kinds: bytearray  # per request: KIND_REST, KIND_CROSS, KIND_CANCEL or KIND_MARKET


def generate(spec: StreamSpec | None = None) -> Stream:
    """Generate the stream described by `spec` (default: the standard one) from `spec.seed`."""
    spec = StreamSpec() if spec is None else spec
    n = spec.events
    if n < 0:
        raise ValueError(f"events must be >= 0, got {n}")
    rng = np.random.Generator(np.random.PCG64(spec.seed))
    tick, lot = spec.tick, spec.lot
    kind_u = rng.random(n).tolist()
    buy_u = (rng.random(n) < 0.5).tolist()
    step = rng.choice(
        np.array([-1, 0, 1]), size=n, p=[spec.drift / 2, 1 - spec.drift, spec.drift / 2]
    ).tolist()
    dist = np.floor(rng.exponential(spec.spread, n)).astype(np.int64) - spec.cross
    dist = np.minimum(dist, _MAX_DISTANCE).tolist()
    limit_lots = rng.integers(1, spec.max_limit_lots + 1, n).tolist()
    market_lots = rng.integers(1, spec.max_market_lots + 1, n).tolist()
    pick_u = rng.random(n).tolist()

    book = MinimalBook()
    open_qty = book.open_qty  # the liveness oracle: None once an order has left the book
    live: list[int] = []  # candidates for a cancel: every id that rested, minus those removed
    where: dict[int, int] = {}  # id -> index in `live`

    def drop(i: int) -> None:
        last = live.pop()
        if i < len(live):
            live[i] = last
            where[last] = i
        # the caller forgets the dropped id's index

    p_limit, p_cancel_end = spec.p_limit, spec.p_limit + spec.p_cancel
    mid_ticks = spec.start_mid // tick
    counts = {"limit": 0, "limit_crossing": 0, "cancel": 0, "market": 0}
    requests: list[Request] = []
    kinds = bytearray()
    append = requests.append
    next_id = 1
    for i in range(n):
        mid_ticks = max(_MIN_MID, mid_ticks + step[i])  # keeps every price positive
        u = kind_u[i]
        buy = buy_u[i]
        if p_limit <= u < p_cancel_end:  # cancel a live order
            victim = None
            pu = pick_u[i]
            while live:
                j = int(pu * len(live))
                oid = live[j]
                drop(j)
                del where[oid]
                if open_qty(oid) is not None:
                    victim = oid
                    break
                pu = rng.random()  # filled meanwhile: draw again among those left
            if victim is not None:
                book.cancel(victim)
                append((CANCEL, victim, None, 0, 0))
                counts["cancel"] += 1
                kinds.append(KIND_CANCEL)
                continue
        elif u >= p_cancel_end:  # market order, only against a non-empty side
            side = Side.BUY if buy else Side.SELL
            if (book.best_ask() if buy else book.best_bid()) is not None:
                qty = market_lots[i] * lot
                book.market(next_id, side, qty)
                append((MARKET, next_id, side, 0, qty))
                next_id += 1
                counts["market"] += 1
                kinds.append(KIND_MARKET)
                continue
        # a limit order (also the fallback of a cancel or market order that had no target)
        d = dist[i]
        if buy:
            side, price = Side.BUY, (mid_ticks - d) * tick
        else:
            side, price = Side.SELL, (mid_ticks + d) * tick
        qty = limit_lots[i] * lot
        oid = next_id
        next_id += 1
        book.limit(oid, side, price, qty)
        append((LIMIT, oid, side, price, qty))
        counts["limit"] += 1
        left = open_qty(oid)
        if left is not None:
            where[oid] = len(live)
            live.append(oid)
        if left != qty:
            counts["limit_crossing"] += 1
            kinds.append(KIND_CROSS)
        else:
            kinds.append(KIND_REST)
    return Stream(spec, requests, counts, len(book), kinds)


def replay(book: object, requests: list[Request]) -> None:
    """Send every request to `book` through its `limit`, `cancel` and `market` methods.

    The one replay loop used for every book in the benchmark, so each pays the same overhead.
    """
    limit, cancel, market = book.limit, book.cancel, book.market  # type: ignore[attr-defined]
    for op, order_id, side, price, qty in requests:
        if op == LIMIT:
            limit(order_id, side, price, qty)
        elif op == CANCEL:
            cancel(order_id)
        else:
            market(order_id, side, qty)


def replay_by_kind(book: object, requests: list[Request], kinds: bytearray) -> list[int]:
    """Replay like `replay`, timing each request; return total nanoseconds per request kind.

    Each request pays the same clock overhead (two `perf_counter_ns` calls) in every book, so
    the totals compare books kind by kind, though they overstate every book's absolute time.
    """
    limit, cancel, market = book.limit, book.cancel, book.market  # type: ignore[attr-defined]
    clock = perf_counter_ns
    totals = [0] * len(KIND_NAMES)
    for (op, order_id, side, price, qty), kind in zip(requests, kinds, strict=True):
        if op == LIMIT:
            start = clock()
            limit(order_id, side, price, qty)
            totals[kind] += clock() - start
        elif op == CANCEL:
            start = clock()
            cancel(order_id)
            totals[kind] += clock() - start
        else:
            start = clock()
            market(order_id, side, qty)
            totals[kind] += clock() - start
    return totals
