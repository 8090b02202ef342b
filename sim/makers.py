"""Market makers: traders that quote both sides of their products through the session.

Each market maker of a product (sim.population draws them among the traders) holds an
inventory around its target and quotes a bid and an ask around the national price:

    x     = (inventory - target) / span, clipped to [-1, 1]
    span  = max(limit - target, lot * k (1 + h) / (2 h (1 - k)))   (k, h: skew, half-spread)
    mid   = national * (1 - skew_bp * x / 10^4)       (long: quote lower to sell; short: higher)
    half  = half_spread_bp + vol_spread * volatility_bp + inventory_spread_bp * |x|

so spreads widen with the product's recent volatility and with inventory away from target.
Quotes are clipped to the day's band, but never through the mid: when the band holds the price
below the national one, makers bid at its top and do not offer there (they would sell below
their own value), so a band-locked market trades only what its users and producers bring.
The span's floor keeps one lot from moving a maker's mid by more than two half-spreads, so
makers a lot apart never trade a lot back and forth between themselves (`_lots_per_span`).
It stops bidding at its inventory limit and offering when it has nothing to sell.

Makers restock off the exchange (`makers.restock_off_exchange`): a trader's stock comes from
wherever it is cheapest. When the exchange's settlement pays for buying off the exchange (at
the national price with the maker's own buyer's premium) and reselling on it (net of its
fee), a maker short of its target buys the rest off the exchange at the start of the day,
and a maker at or below its target asks no less than that cost that day (it would not resell
below what replacing the stock costs; one long beyond its target sells down as before).
This is the arbitrage that bounds a venue shock: when a large seller leaves, the exchange's
price rises to the off-exchange cost and the makers bring supply back.

Online makers requote at every decision step whose quote moved by a quarter of its
half-spread or more (after fills, or a new day); offline makers can only lodge one pair of
quotes a day at the counter. Quotes are DAY orders on the members' ledger, like every other
order (`sim.agents`). A maker's quotes change only when its inventory does (a fill) or the
day does, so only those makers are requoted (`dirty`, which the agents' `apply` sets on a
maker's fill).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["Makers"]

# 0-d float64 constants of the quoting arithmetic (see `Makers.__init__`)
_ZERO, _ONE, _MINUS_ONE, _BP = (np.array(v) for v in (0.0, 1.0, -1.0, 10_000.0))


class Makers:
    """The market makers of one run, quoting on the agents' ledger."""

    def __init__(self, agents: Any) -> None:
        a = agents
        self.a = a
        first = a.makers_from
        count = (a.N - first) // 2
        self.bid = np.arange(first, first + count)
        self.ask = self.bid + count
        self.m = a.slot_m[self.bid]
        self.p = a.slot_p[self.bid]
        self.ask_l: list[int] = self.ask.tolist()
        spec = a.sc.makers
        self.spec = spec
        self.target = a.pop.maker_target[self.m, self.p]
        self.limit = self.target * spec.limit_multiple
        self.size = a.pop.quote_size[self.p].astype(float)
        self.tick = a.tick_s[self.bid]
        self.lot = a.lot_s[self.bid]
        self.premium = a.friction[self.bid]  # each maker's own off-exchange premium, bp
        self.floor = np.zeros(count)  # today's least ask (0: none), yuan/t
        self.span = np.maximum(np.maximum(self.limit - self.target, 1.0),
                               self.lot * _lots_per_span(spec.skew_bp, spec.half_spread_bp))
        self.live = np.zeros(count, dtype=bool)  # may quote today
        self.online = np.zeros(count, dtype=bool)
        self.quoted_today = np.zeros(count, dtype=bool)  # offline makers: one lodgement a day
        self.vol = np.zeros(count)
        self.dirty = np.ones(count, dtype=bool)  # quotes to recompute (new day, or a fill)
        self.dirty_mv = memoryview(self.dirty)  # for the agents' settle loop (in place only)
        self.can = np.zeros(count, dtype=bool)  # may quote today
        self.first = first
        self.count = count
        # the quoting constants as 0-d float64 arrays: the same float64 arithmetic as Python
        # numbers, without numpy converting a scalar at every operation on a few makers
        self._skew_bp = np.array(float(spec.skew_bp))
        self._half_spread_bp = np.array(float(spec.half_spread_bp))
        self._vol_spread = np.array(float(spec.vol_spread))
        self._inventory_spread_bp = np.array(float(spec.inventory_spread_bp))

    def __len__(self) -> int:
        return len(self.bid)

    def start_day(self, d: int) -> None:
        """Who may quote today, and each product's recent volatility."""
        a = self.a
        if not len(self):
            return
        self.live = a.usable[self.bid]
        self.online = a.online[self.bid]
        self.quoted_today[:] = False
        self.floor[:] = 0.0
        self.dirty[:] = True
        self.vol = a.national.vol_bp[self.p]
        if not a.channel_open["online"]:
            self.can = self.live & ~self.online & a.channel_open["offline"]
        else:
            self.can = self.live & (self.online | a.channel_open["offline"])

    def restock(self) -> None:
        """Makers short of target buy off the exchange when selling on it covers the cost.

        The cost is the national price with the maker's own premium; the exchange covers it
        when its settlement, less the fee, is at least that (`floor`, on the tick, is then
        the least ask for the day of a maker at or below its target: one long beyond it
        would not restock, and sells down as before). Runs once a day, after `start_day`.
        """
        a = self.a
        if not len(self) or not self.spec.restock_off_exchange:
            return
        bid = self.bid
        cost = a.nat_s[bid] * (1 + self.premium / 10_000)
        floor = np.ceil(cost / (1 - a.fee_bp / 10_000) / self.tick) * self.tick
        which = (self.can & (a.settle_s[bid] >= floor)).nonzero()[0]
        if not len(which):
            return
        short = self.target[which] - self.inventory(which)
        # a maker long beyond its target would not restock: it sells down as before
        keeps = which[short >= 0]
        self.floor[keeps] = floor[keeps]
        buy = short >= self.lot[which]
        if np.count_nonzero(buy):
            slots = bid[which[buy]]
            a.deal_off(slots, short[buy])
            a.need[slots] = 0.0  # a maker's slots carry no need (deal_off counted one down)

    def inventory(self, which: np.ndarray) -> np.ndarray:
        """Makers' stock of their product: free plus what their open asks reserve (kg)."""
        a = self.a
        stock, orders, oid = a.stock, a.orders, a.slot_oid
        flat, ask_l = a.flat_l, self.ask_l
        out = []
        for j in which.tolist():
            s = ask_l[j]
            held = stock[flat[s]]
            o = oid[s]
            if o > 0:
                held += orders[o][2]
            out.append(held)
        return np.array(out, dtype=float)

    def quotes(self, which: np.ndarray, inventory: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Bid and ask prices and sizes of the makers `which` holding `inventory`.

        Prices in yuan/t, on the tick and within the band, the ask no lower than today's
        restocking `floor` (no ask at all when the band's top is below it); sizes in kg. A side
        the band clips through the maker's mid (an ask at the band's top below it, a bid at
        the bottom above it) is not quoted: a maker does not sell below its own value.
        (Clipping is written as np.minimum(np.maximum(...)): what np.clip computes, without
        its Python wrapper, which costs more than the arithmetic on a few dozen makers.)
        """
        a = self.a
        minimum, maximum = np.minimum, np.maximum
        target, limit = self.target[which], self.limit[which]
        x = minimum(maximum((inventory - target) / self.span[which], _MINUS_ONE), _ONE)
        slots = self.bid[which]
        mid = a.nat_s[slots] * (_ONE - self._skew_bp * x / _BP)
        half = (self._half_spread_bp + self._vol_spread * self.vol[which]
                + self._inventory_spread_bp * np.abs(x))
        tick = self.tick[which]
        bid = np.floor(mid * (_ONE - half / _BP) / tick) * tick
        ask = np.ceil(mid * (_ONE + half / _BP) / tick) * tick
        lo, hi = a.lo_s[slots], a.hi_s[slots]
        floor = self.floor[which]
        ask = maximum(ask, floor)  # no resale below what restocking costs (0: no floor)
        bid = minimum(maximum(bid, lo), hi)
        ask = minimum(maximum(ask, lo), hi)
        lot = self.lot[which]
        size = self.size[which]
        room = maximum(limit - inventory, _ZERO)
        bid_qty = np.floor(minimum(size, room) / lot) * lot
        ask_qty = np.floor(minimum(size, inventory) / lot) * lot
        # a band that holds the price away from the national one clips a quote through the
        # maker's own value (mid): it would sell below it or buy above it. A maker would
        # rather not quote that side (its bid at the band's top, below its value, stands)
        bid_qty[bid > mid] = 0.0
        ask_qty[ask < mid] = 0.0
        ask_qty[ask < floor] = 0.0  # the band's top is below the cost: nothing to sell today
        # a band too narrow for both sides: keep the side that reduces x
        crossed = (bid >= ask) & (bid_qty > 0) & (ask_qty > 0)
        if np.count_nonzero(crossed):  # rare: skip the masked stores
            bid_qty[crossed & (x >= 0)] = 0.0
            ask_qty[crossed & (x < 0)] = 0.0
        return bid, ask, bid_qty, ask_qty

    def quote(self, t: int, k: int) -> int:
        """Requote every maker whose quote changed; returns the next free instant."""
        a = self.a
        if not len(self):
            return t
        # offline makers lodge once a day (quoted_today is only ever set for them)
        which = (self.can & self.dirty & ~self.quoted_today).nonzero()[0]
        if not len(which):
            return t
        self.dirty[which] = False
        self.quoted_today[which[~self.online[which]]] = True
        bid, ask, bid_qty, ask_qty = self.quotes(which, self.inventory(which))
        # a quote moves only when its price would change by a quarter of the half-spread
        moved = np.maximum((ask - bid) / 8, self.tick[which])
        # each maker's bid then its ask, maker by maker: the order the requests go in
        sides = _pairs(self.bid[which], self.ask[which])
        px = _pairs(bid, ask)
        q = _pairs(bid_qty, ask_qty)
        # the resting order's price (sim.agents: order_px is > 0 exactly while one rests)
        rest = a.order_px[sides]
        resting = rest > 0
        cancel = sides[(q < 1) & resting].tolist()
        # close enough: keep its place in the queue
        send = (q >= 1) & ~(resting & (np.abs(rest - px) < moved.repeat(2)))  # each twice
        slots = sides[send].tolist()
        prices = px[send].astype(np.int64).tolist()
        qtys = q[send].astype(np.int64).tolist()
        for s in cancel:
            a.cancel(s, t)
            t += 1_000
        if slots:
            a._send(slots, prices, qtys, t, reprice_any=True)
            t += 1_000 * len(slots)
        return t


def _lots_per_span(skew_bp: float, half_spread_bp: float) -> float:
    """The fewest lots between a maker's target and its limit, for `x` (the skew's scale).

    Two makers one lot apart (x differing by d = lot / span) quote ask and bid
    N(1 - k x_long)(1 + h) and N(1 - k x_short)(1 - h) (k, h: skew and least half-spread as
    fractions; extra widening only parts them more). The ask stays above the bid for every
    x_short <= 1 - d when span = lot * k (1 + h) / (2 h (1 - k)): one lot never moves a
    maker's quotes through another's (to first order, by two half-spreads). Without this
    floor, in a product whose inventory span is a few lots or less (thin products, or any
    product when use is scaled down), one fill swapped two makers' places and the lot was
    passed from maker to maker all day: a hot potato of volume nobody needs. With no
    half-spread, the skew is off (an infinite span).
    """
    if not skew_bp:
        return 0.0
    if not half_spread_bp or skew_bp >= 10_000:
        return float("inf")
    k, h = skew_bp / 10_000, half_spread_bp / 10_000
    return k * (1 + h) / (2 * h * (1 - k))


def _pairs(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """first[0], second[0], first[1], second[1], ...: two arrays interleaved."""
    out = np.empty(2 * len(first), dtype=first.dtype)
    out[0::2] = first
    out[1::2] = second
    return out
