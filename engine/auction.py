"""The call auction as pure functions: the uniform uncrossing price and its allocation.

How the price is found. Let D(p) be the bid quantity priced at or above p and S(p) the ask
quantity priced at or below p. The executable quantity at p is min(D(p), S(p)). The auction
price maximises it, subject to every strictly better-priced order filling completely (bids
above p and asks below p); at such a price one side at p fills fully, since the executed
quantity is min(D, S). The prices meeting both rules form one interval [lo, hi] of the tick
grid whose ends are order prices. Ties inside it are broken by a setting:

- "reference": the grid price nearest the reference (the previous settlement price), as
  Chinese futures exchanges do; the lower one if two are equally near.
- "imbalance": the least |D(p) - S(p)|, then the middle of those prices (the lower middle
  when their count is even), as the Shanghai Stock Exchange does.

Between two consecutive order prices D and S are constant, so the search visits each order
price once and each gap once: O(n log n) for the sort, then O(k) for k distinct prices.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

TIE_BREAKS = ("reference", "imbalance")


def _aggregate(orders: Iterable[tuple[int, int]], tick: int, what: str) -> dict[int, int]:
    total: dict[int, int] = {}
    for price, qty in orders:
        if type(price) is not int or type(qty) is not int:
            raise TypeError(f"{what}: price and qty must be ints, got {price!r}, {qty!r}")
        if price <= 0 or price % tick:
            raise ValueError(f"{what}: price {price} is not a positive multiple of tick {tick}")
        if qty <= 0:
            raise ValueError(f"{what}: qty {qty} is not positive")
        total[price] = total.get(price, 0) + qty
    return total


def auction_price(
    bids: Iterable[tuple[int, int]],
    asks: Iterable[tuple[int, int]],
    reference: int | None = None,
    tie_break: str = "reference",
    *,
    tick: int = 1,
) -> tuple[int, int] | None:
    """The uniform call-auction price and executable quantity, or None when nothing crosses.

    `bids` and `asks` are (price, qty) pairs with prices on the `tick` grid; `reference` (the
    previous settlement) is needed by the "reference" tie-break; see the module docstring.
    """
    if tie_break not in TIE_BREAKS:
        raise ValueError(f"tie_break must be one of {TIE_BREAKS}, got {tie_break!r}")
    if type(tick) is not int or tick < 1:
        raise ValueError(f"tick must be a positive int, got {tick!r}")
    if tie_break == "reference" and type(reference) is not int:
        raise TypeError(f"the 'reference' tie-break needs an int reference, got {reference!r}")
    bid_at = _aggregate(bids, tick, "bids")
    ask_at = _aggregate(asks, tick, "asks")
    if not bid_at or not ask_at or max(bid_at) < min(ask_at):
        return None
    prices = sorted(bid_at.keys() | ask_at.keys())
    k = len(prices)
    demand = [0] * k  # D(x_i): bids at or above x_i
    running = 0
    for i in range(k - 1, -1, -1):
        running += bid_at.get(prices[i], 0)
        demand[i] = running
    supply = [0] * k  # S(x_i): asks at or below x_i
    running = 0
    for i in range(k):
        running += ask_at.get(prices[i], 0)
        supply[i] = running
    best = max(min(d, s) for d, s in zip(demand, supply, strict=True))
    if best == 0:
        return None
    # valid order prices: best quantity and every strictly better order fills
    valid = [
        i
        for i in range(k)
        if min(demand[i], supply[i]) == best
        and (demand[i + 1] if i + 1 < k else 0) <= best
        and (supply[i - 1] if i else 0) <= best
    ]
    first, last = valid[0], valid[-1]
    lo, hi = prices[first], prices[last]
    if tie_break == "reference":
        assert reference is not None
        p = min(max(reference, lo), hi)
        down = lo + (p - lo) // tick * tick
        # down + tick <= hi whenever p > down, because hi is on the grid and p <= hi
        return (down if 2 * (p - down) <= tick else down + tick), best
    # least imbalance: segments (first grid price, last grid price, imbalance) inside [lo, hi]
    segments: list[tuple[int, int, int]] = []
    for i in range(first, last + 1):
        segments.append((prices[i], prices[i], abs(demand[i] - supply[i])))
        if i < last and prices[i + 1] - prices[i] > tick:
            segments.append(
                (prices[i] + tick, prices[i + 1] - tick, abs(demand[i + 1] - supply[i]))
            )
    least = min(seg[2] for seg in segments)
    a = min(seg[0] for seg in segments if seg[2] == least)
    b = max(seg[1] for seg in segments if seg[2] == least)
    return a + (b - a) // tick // 2 * tick, best


def allocate(orders: Sequence[tuple[int, int]], buy: bool, price: int, qty: int) -> list[int]:
    """Fill of each order of one side at the auction price, orders given in time priority.

    Orders priced better than `price` fill completely, orders at `price` fill in the given
    (arrival) order until `qty` is used up, worse ones get nothing. Raises ValueError when the
    orders cannot supply exactly `qty`, which means the price and quantity are not theirs.
    """
    fills = [0] * len(orders)
    left = qty
    for i, (p, q) in enumerate(orders):
        if (p > price) if buy else (p < price):
            fills[i] = q
            left -= q
    if left < 0:
        raise ValueError(f"better-priced orders exceed the auction quantity {qty}")
    for i, (p, q) in enumerate(orders):
        if left == 0:
            break
        if p == price:
            fill = q if q < left else left
            fills[i] = fill
            left -= fill
    if left:
        raise ValueError(f"orders at or better than {price} fall {left} short of {qty}")
    return fills


def pair_fills(
    buys: Sequence[tuple[int, int]], sells: Sequence[tuple[int, int]]
) -> list[tuple[int, int, int]]:
    """Pair two sides' fills into trades: (buy key, sell key, qty), walking both in order.

    `buys` and `sells` are (key, fill qty) in priority order with equal totals.
    """
    out: list[tuple[int, int, int]] = []
    j = 0
    sell_left = sells[0][1] if sells else 0
    for key, q in buys:
        while q:
            while sell_left == 0:
                j += 1
                sell_left = sells[j][1]
            take = q if q < sell_left else sell_left
            out.append((key, sells[j][0], take))
            q -= take
            sell_left -= take
    return out
