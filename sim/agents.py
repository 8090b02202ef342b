"""The enterprises' decisions: vectorised numpy per time step, orders through the Exchange.

Every (member, product) an enterprise trades is a *slot*: a user's (it buys what it uses), a
producer's (it sells what it makes), or a market maker's bid and ask (`sim.makers`).

- **Use and output respond to price.** Each day a user uses, and a producer makes, its base
  rate (its share of the national market, sim.population) times its plan around it (a draw
  per calendar month, moving day by day from one month's to the next), moved by the
  national price through the scenario's elasticities and by supply and demand events
  (`sim.national`).
- **Inventories buffer them.** A user keeps a target cover of days of use, a producer a
  working stock of days of output; both want less stock when the price stands above its
  normal (`inventory.cover_elasticity`): a user with cover to spare waits out a spike, a
  producer with full stock sells harder. Stock costs `carrying_cost_pct_year`. A user's
  *need* is its desired stock less what it holds; a producer's, its stock beyond its desired
  working stock. Users earn what they use at the national price (their own products pass
  input costs on), so cash follows use, not price.
- **Each decision** (a slot with a need of a lot or more acts with `act_pct` per step, as
  often again for every further order's worth of need it has) prices
  an order around the member's belief (the national price, scattered by its own noise),
  conceding more the larger its need, then chooses the venue (`sim.venue.route`): on the
  exchange (online at once, offline through the `Counter`) within its cap or floor, or off it
  at the national price with its own premium or discount when the exchange is worse and the
  need cannot wait. A member that has withdrawn from the exchange meets every need off it.
- **Holdings are exact integers** (cash in fen, stock in kg) and never go negative: an order
  reserves what it could spend (with the fee) or deliver, a fill settles at the trade price,
  a cancel or expiry releases the rest. Negotiated deals and block auctions (`sim.deals`) and
  market makers use the same ledger.

All randomness is drawn from each slot's own stream (sim.streams), keyed by day, step and
purpose: one member acting differently never changes another member's draws.
"""

from __future__ import annotations

import datetime as dt
import math
import operator
from calendar import monthrange
from collections import deque
from typing import Any

import numpy as np

from engine import Accepted, Amended, Cancelled, Channel, Expired, Side, TimeInForce, Trade
from sim.calendar import TradingCalendar
from sim.counter import Counter
from sim.national import National
from sim.population import DOMINANT_HEAVY, DOMINANT_LIGHT, Population
from sim.scenario import Scenario
from sim.streams import Streams, counter, normal, normal2, uniform
from sim.venue import EXCHANGE, OFF, OffExchange, cap_or_floor, delay_cost_bp, route

__all__ = ["Agents", "LedgerError"]

BUY = Side.BUY
SELL = Side.SELL
DAY = TimeInForce.DAY
OFFLINE = Channel.OFFLINE
USE, MAKE, BID, ASK = 0, 1, 2, 3  # slot kinds
PENDING = -1  # slot_oid value while an order waits at the counter
MAX_CONCESSION_BP = 150.0  # nobody concedes more than this from its belief
# 0-d float64 constants for the vectorised steps (see `Agents.__init__`)
_MAX_CONCESSION = np.array(MAX_CONCESSION_BP)
_ONE = np.array(1.0)
_BP = np.array(10_000.0)
REQUEST_SPACING_NS = 1_000  # requests within one step are 1 us apart
# purposes of a slot's draws (with the day and the step: sim.streams.counter)
# (DEAL is no longer drawn; it keeps its number so that the later purposes keep theirs)
(ACT, CONCEDE, ORDER, BELIEF, MONTH, AUCTION, DELAY, DEAL, PICK, FRICTION, HAGGLE,
 BLOCKS) = range(1, 13)


class LedgerError(AssertionError):
    """The agents' holdings or reservations are inconsistent (a bug, never user input)."""


def with_fee(value: int, bp: int) -> int:
    """A buyer's cost of `value` fen: the value plus the exchange fee on it, rounded down."""
    return value + value * bp // 10_000


def buy_reservation(cash: int, price: int, qty: int, lot: int, bp: int) -> tuple[int, int]:
    """What a buyer holding `cash` reserves to bid `qty` kg at `price`: (qty, cost with fee).

    Short of cash, the order shrinks to the whole lots the cash pays for with the fee counted
    unrounded, so at most one lot fewer than the rounded-down fee would allow (qty 0: none).
    """
    cost = with_fee(price * qty // 10, bp)
    if cost > cash:
        qty = cash * 10_000 // (10_000 + bp) * 10 // price // lot * lot
        if qty <= 0:
            return 0, 0
        cost = with_fee(price * qty // 10, bp)
    return qty, cost


def exact_product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A * b elementwise, exactly: int64 where no product can overflow, else Python ints.

    The scenario's bounds allow markets whose values pass 2**63 fen; there the arithmetic
    moves to Python integers (an object array) rather than wrapping.
    """
    if not len(a) or int(np.abs(a).max()) * int(np.abs(b).max()) < 1 << 62:
        return a * b
    return np.array([x * y for x, y in zip(a.tolist(), b.tolist(), strict=True)],
                    dtype=object)


def exact_sums(index: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """The sum of `values` per `index` (0..size-1), exactly (see `exact_product`)."""
    if values.dtype != object and (not len(values)
                                   or int(np.abs(values).max()) * len(values) < 1 << 62):
        out = np.zeros(size, dtype=np.int64)
        np.add.at(out, index, values)
        return out
    out = np.zeros(size, dtype=object)
    for i, v in zip(index.tolist(), values.tolist(), strict=True):
        out[i] += v
    return out


class Agents:
    """All enterprises of a run: their holdings, needs, open orders and decisions."""

    def __init__(self, sc: Scenario, pop: Population, calendar: TradingCalendar, ex: Any,
                 national: National, counter_: Counter, scale: int = 1) -> None:
        self.sc = sc
        # the counter's draws are keyed by the batch's second on the local clock (written as
        # the epoch second it is at UTC+8, the default's), so the zone only relabels the clock
        self._clock_shift = (sc.calendar.utc_offset_hours - 8) * 3600
        self.pop = pop
        self.cal = calendar
        self.ex = ex
        self.national = national
        self.counter = counter_
        self.scale = scale
        beh = sc.behaviour
        self.beh = beh
        self.codes = [p.code for p in sc.products]
        self.lot = [p.lot for p in sc.products]
        self.tick = [p.tick for p in sc.products]
        nprod = len(self.codes)
        n = len(pop)
        # ledger: free (unreserved) holdings, Python ints for exact, fast scalar updates
        self.cash: list[int] = pop.cash.tolist()
        # stock is one flat list, member m's stock of product p at m * P + p (one index on
        # the hot path, and a C-level gather of every slot's stock)
        self.P = nprod
        self.stock: list[int] = pop.stock.reshape(-1).tolist()

        # ---- slots: [users | producers | makers' bids | makers' asks]
        um, up = np.nonzero(pop.use_rate > 0)
        mm, mp = np.nonzero(pop.make_rate > 0)
        km, kp = np.nonzero(pop.maker)
        nu, nm, nk = len(um), len(mm), len(km)
        self.slot_m = np.concatenate([um, mm, km, km]).astype(np.int64)
        self.slot_p = np.concatenate([up, mp, kp, kp]).astype(np.int64)
        kind = np.concatenate([np.full(nu, USE), np.full(nm, MAKE), np.full(nk, BID),
                               np.full(nk, ASK)]).astype(np.int64)
        N = len(kind)
        self.N = N
        self.kind = kind
        self.is_buy = (kind == USE) | (kind == BID)
        self.is_user = kind == USE
        self.is_producer = kind == MAKE
        self.is_maker = kind >= BID
        self.makers_from = nu + nm  # maker slots are [makers_from, N)
        self.rate = np.concatenate([pop.use_rate[um, up], pop.make_rate[mm, mp],
                                    np.zeros(2 * nk)])
        self.inv_rate = 1.0 / np.maximum(self.rate, 1e-9)
        self.keys = Streams.sub(pop.keys[self.slot_m], self.slot_p * 4 + kind)
        lots = np.array(self.lot, dtype=float)
        ticks = np.array(self.tick, dtype=float)
        self.lot_s = lots[self.slot_p]
        self.tick_s = ticks[self.slot_p]
        # large members split their flow: no order above a share of members' daily use
        members_daily = (national.base_use * sc.population.members * scale
                         / pop.enterprises)
        self.members_daily = members_daily
        self.max_order = np.maximum(
            np.floor(members_daily[self.slot_p] * beh.max_order_pct / 100 / self.lot_s),
            1.0) * self.lot_s
        self.size_cap = np.minimum(np.maximum(self.rate * beh.order_days, self.lot_s),
                                   self.max_order)
        # each slot's own premium (a buyer) or discount (a seller) off the exchange, bp
        v = sc.venue
        median = np.where(self.is_buy, float(v.buyer_premium_bp), float(v.seller_discount_bp))
        # (a trait: from the member's trait stream, which is its own unless population.seed)
        traits = Streams.sub(pop.traits[self.slot_m], self.slot_p * 4 + kind)
        self.friction = median * np.exp(v.dispersion * normal(traits, FRICTION))
        dominant = self.is_producer & np.isin(self.slot_m, [DOMINANT_LIGHT - 1,
                                                            DOMINANT_HEAVY - 1])
        self.friction[dominant] = float(v.dominant_discount_bp)
        self.counter_cost_bp = delay_cost_bp(sc.counter.delay_minutes, v.delay_cost_bp_per_hour)
        # per-slot Python mirrors for the loops
        self.slot_m_l: list[int] = self.slot_m.tolist()
        self.slot_p_l: list[int] = self.slot_p.tolist()
        self.flat = self.slot_m * nprod + self.slot_p  # each slot's cell of the stock list
        self.flat_l: list[int] = self.flat.tolist()
        self._gather = operator.itemgetter(*self.flat_l) if N > 1 else (
            lambda xs: tuple(xs[i] for i in self.flat_l))
        # the price of each slot's resting order (0: none, -1: waiting at the counter), so
        # that decisions which would change nothing are dropped before the send loop
        self.order_px = np.zeros(N)
        self._order_px_mv = memoryview(self.order_px)  # scalar stores in the loops: see apply
        self.is_buy_l: list[bool] = self.is_buy.tolist()
        self.owner_l: list[int] = [m + 1 for m in self.slot_m_l]
        self.code_l: list[str] = [self.codes[p] for p in self.slot_p_l]
        self.side_l: list[Side] = [BUY if b else SELL for b in self.is_buy_l]
        self.lot_l: list[int] = [self.lot[p] for p in self.slot_p_l]
        # each slot's cell of the day's off-exchange deals (`OffExchange.add`'s key)
        self.off_cell_l: list[tuple[int, int, str]] = [
            (p, m + 1, "buy" if b else "sell")
            for m, p, b in zip(self.slot_m_l, self.slot_p_l, self.is_buy_l, strict=True)]
        # what a new order needs of its slot, in one tuple (one lookup on the hot path):
        # (member index, buys?, stock cell, lot, owner, product code, side)
        self.static_l: list[tuple[int, bool, int, int, int, str, Side]] = list(zip(
            self.slot_m_l, self.is_buy_l, self.flat_l, self.lot_l, self.owner_l, self.code_l,
            self.side_l, strict=True))
        self.slot_oid: list[int] = [0] * N
        self.pending_qty = np.zeros(N)  # qty of the slot's order waiting at the counter
        self._pending_mv = memoryview(self.pending_qty)
        # open orders: order id -> [slot, limit price, open qty, reserved fen (bids), fee bp]
        self.orders: dict[int, list[int]] = {}
        # negotiated deals: users whose use over `days` reaches the minimum block
        self.min_block = [p.min_block or p.lot for p in sc.products]
        nspec = sc.negotiation
        mblock = np.array(self.min_block, dtype=float)[self.slot_p]
        want = np.floor(self.rate * nspec.days / self.lot_s) * self.lot_s
        # a large user buys by negotiated blocks with chance `block_buyers_pct` (a trait)
        blocks = uniform(traits, BLOCKS) < nspec.block_buyers_pct / 100
        self.deal_size = np.where(self.is_user & (want >= mblock) & blocks, want, 0.0)
        self.deal_size_l: list[int] = self.deal_size.astype(np.int64).tolist()
        self.block_buyer = self.deal_size > 0  # users that buy by negotiated blocks
        self.block_need = mblock
        self.sellers_of = [np.flatnonzero(self.is_producer & (self.slot_p == j))
                           for j in range(nprod)]
        self.users_of = [np.flatnonzero(self.is_user & (self.slot_p == j))
                         for j in range(nprod)]
        # day state
        self.day = -1
        start = sc.calendar.start
        self._month0 = start.year * 12 + start.month - 1  # plans are keyed by month from here
        self.month: int | None = None  # the month of `_this_plan`
        self._this_plan = self._next_plan = np.zeros(N)  # this and next month's draws
        self.fee_bp = sc.exchange.fee_bp
        self.channel_open = {"online": True, "offline": True}
        self.band_lo = [0] * nprod
        self.band_hi = [0] * nprod
        self._ones = np.ones(N)  # the plan without intent noise
        self.mult = self._ones
        self.used = np.zeros(N)  # fractional use or output not yet a whole kg / lot
        self.flow = np.zeros(N)  # today's use or output, kg
        self.need = np.zeros(N)
        # need, order_px and pending_qty are numpy arrays for the vectorised decisions and
        # are only ever updated in place, so the send and settle loops store through
        # memoryviews of them (a scalar store costs a third of numpy's item assignment)
        self._need_mv = memoryview(self.need)
        self.urgent = np.zeros(N, dtype=bool)
        self.headroom = np.zeros(N)  # a user's stock room above its need, to its maximum cover
        self.active = np.zeros(N, dtype=bool)  # joined members' slots
        self.usable = np.zeros(N, dtype=bool)  # ... that may use the exchange today
        self.negotiable = np.zeros(N, dtype=bool)  # ... and buy by negotiated blocks
        self.online = np.zeros(N, dtype=bool)
        self.online_l: list[bool] = [False] * N
        self.belief = np.zeros(N)
        self.belief_ticks = np.zeros(N)  # belief / tick, negated for sellers (see _decide)
        self.limit = np.zeros(N)  # cap (buyers) or floor (sellers), yuan/t
        self.withdrawn = np.zeros(n, dtype=bool)  # members out of the exchange (events)
        self.off = OffExchange()
        self.sign = np.where(self.is_buy, 1.0, -1.0)
        # where each slot's best opposite price is in `_touch()`: a buyer's the ask
        self.touch_at = self.slot_p + np.where(self.is_buy, nprod, 0)
        self._books: tuple[list[Any], list[Any]] | None = None  # best_bid, best_ask methods
        # The constants of the per-step arithmetic are 0-d float64 arrays: the same float64
        # arithmetic as Python numbers, without numpy converting a scalar at every operation
        # (on the short arrays of one step, that costs as much as the operation itself)
        self._premium_bp = np.array(float(beh.premium_bp))  # every slot's base concession, bp
        self._premium_sd_bp = np.array(float(beh.premium_sd_bp))
        self._urgency_bp = np.array(float(beh.urgency_bp_per_day))
        # chance a one-order need does not act in a step
        self._idle = np.array(1.0 - beh.act_pct / 100)
        self._order_days = np.array(float(beh.order_days))
        self._zero = np.array(0.0)
        self.lo_s = self.hi_s = self.band_edge = np.zeros(N)
        self._cost_div = np.ones(N)  # today's 1 + sign * (fee + counter cost) / 10_000
        self._deal_dispersion = np.array(float(sc.venue.deal_dispersion))
        self.settle_s = np.zeros(N)
        self.nat_s = np.zeros(N)
        self.lot_need = np.full(N, np.inf)  # a slot's lot if it may decide today, else inf
        # totals of every flow in or out of the members' holdings (for the audit and summary)
        self.totals = {"income_fen": 0, "fees_fen": 0, "carrying_cost_fen": 0,
                       "used_kg": 0, "shortfall_kg": 0}
        self.produced_kg = [0] * nprod
        self.counts = {"orders": 0, "offline_orders": 0, "amends": 0, "cancels": 0,
                       "rejected": 0, "negotiated": 0, "off_exchange_deals": 0,
                       "block_auctions": 0, "block_bids": 0}
        from sim.deals import Deals
        from sim.makers import Makers

        self.deals = Deals(self)
        self.makers = Makers(self)
        del n

    # ------------------------------------------------------------------ the day

    def start_day(self, d: int, days_since: int) -> None:
        """Use and make today's flow, pay income and carrying costs, set needs and beliefs.

        `days_since` is the calendar days since the previous trading day (carrying costs run
        every day, not only on trading days).
        """
        self.day = d
        pop = self.pop
        nat = self.national
        joined = pop.join_day <= d
        self.active = joined[self.slot_m]
        online = (pop.online_day <= d)[self.slot_m]
        self.online = online
        self.online_l = online.tolist()
        channel_ok = np.where(online, self.channel_open["online"] or self.channel_open[
            "offline"], self.channel_open["offline"])
        self.usable = self.active & ~self.withdrawn[self.slot_m] & channel_ok
        self.negotiable = self.block_buyer & self.usable
        self.mult = self._plan(self.cal.days[d])
        price = nat.price
        self.nat_int = np.maximum(np.round(price), 1).astype(np.int64)
        self.nat_s = price[self.slot_p]
        base = np.where(nat.base_use > 0, nat.base_use, 1.0)
        use_factor = np.where(nat.base_use > 0, nat.use() / base, 1.0)
        factor = np.where(self.is_user, use_factor[self.slot_p],
                          np.where(self.is_producer, nat.supply_factor()[self.slot_p], 0.0))
        flow = np.where(self.active, self.rate * self.mult * factor, 0.0)
        self.flow = flow
        held = self.held()
        held, income = self._use_and_make(flow, held)
        self._settle_cash(days_since, held, income)
        self._needs(flow, nat.above_normal, held)
        # today's beliefs: the national price, scattered by each member's own noise
        noise = normal(self.keys, counter(d, BELIEF)) * (self.beh.belief_noise_bp / 10_000)
        self.belief = self.nat_s * np.exp(noise)
        self.belief_ticks = self.sign * self.belief / self.tick_s  # signed, in ticks
        cost = self.fee_bp + np.where(online, 0.0, self.counter_cost_bp)
        self.limit = cap_or_floor(self.sign, self.nat_s, self.friction, cost)  # every slot
        self._cost_div = 1 + self.sign * cost / 10_000  # cap_or_floor's divisor, for _limits
        self._clear_excess(held)
        ex = self.ex
        settle = np.array([float(ex.settlement(code)) for code in self.codes])
        self.settle_s = settle[self.slot_p]
        for j, code in enumerate(self.codes):
            self.band_lo[j], self.band_hi[j] = ex.band(code)
        self.lo_s = np.array(self.band_lo, dtype=float)[self.slot_p]
        self.hi_s = np.array(self.band_hi, dtype=float)[self.slot_p]
        self.band_edge = np.where(self.is_buy, self.lo_s, -self.hi_s)  # signed, see _decide
        self.lot_need = np.where(self.active & ~self.is_maker, self.lot_s, np.inf)
        self.makers.start_day(d)
        self.makers.restock()

    def _plan(self, date: dt.date) -> np.ndarray:
        """Each slot's use or output on `date` relative to its level (mean 1; see below).

        Each member plans each calendar month's use or output around its level: a normal draw
        z per month (counted from the scenario's start), from its own stream. Between the first
        days of two months its plan moves linearly from one draw to the next, so that no day
        of the year sees every member's stock target jump at once. The multiplier is
        exp(sigma z - sigma^2 v / 2), v being the interpolated draw's variance, which keeps
        each day's expected use at its level.
        """
        sigma = self.beh.intent_noise_pct / 100
        if not sigma:
            return self._ones
        month = date.year * 12 + date.month - 1 - self._month0
        if month != self.month:
            if self.month is not None and month == self.month + 1:
                this = self._next_plan
            else:
                this = normal(self.keys, counter(month, MONTH))
            self.month = month
            self._this_plan = this
            self._next_plan = normal(self.keys, counter(month + 1, MONTH))
        f = (date.day - 1) / monthrange(date.year, date.month)[1]
        z = (1 - f) * self._this_plan + f * self._next_plan
        v = (1 - f) ** 2 + f * f
        return np.exp(sigma * z - sigma * sigma * v / 2)

    def _limits(self, idx: np.ndarray, friction: np.ndarray) -> np.ndarray:
        """The cap (buyers) or floor (sellers) of slots `idx` at the given frictions (bp)."""
        # cap_or_floor's arithmetic, its divisor (which the friction does not enter) worked
        # out once a day: the same operations on the same values
        return self.nat_s[idx] * (_ONE + self.sign[idx] * friction / _BP) / self._cost_div[idx]

    def _use_and_make(self, flow: np.ndarray, held: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
        """Users use stock (and earn its value), producers add output to stock in whole lots.

        `held` is each slot's stock before; returns it after, and each member's income (fen,
        int64 or Python ints), which `_settle_cash` pays in with the day's carrying cost in
        one pass over the cash. A user short of stock uses what it has (the rest is a
        shortfall). Exact integers throughout.
        """
        self.used += flow
        whole = np.where(self.is_user, np.floor(self.used),
                         np.floor(self.used / self.lot_s) * self.lot_s)
        self.used -= whole
        whole = whole.astype(np.int64)
        take = np.where(self.is_user, np.minimum(whole, held), 0)
        made = np.where(self.is_producer, whole, 0)
        after = held - take + made
        changed = (after != held).nonzero()[0]  # flatnonzero, without its wrapper
        # stock[cell] = v for every changed cell, the loop in C (a few thousand a day)
        deque(map(self.stock.__setitem__, self.flat[changed].tolist(), after[changed].tolist()),
              maxlen=0)
        pay = exact_product(take, self.nat_int[self.slot_p]) // 10  # use at the national price
        income = exact_sums(self.slot_m, pay, len(self.cash))
        made_p = np.bincount(self.slot_p, weights=made, minlength=len(self.codes))
        for p, q in enumerate(made_p.astype(np.int64).tolist()):
            self.produced_kg[p] += q
        t = self.totals
        t["used_kg"] += int(take.sum())
        t["shortfall_kg"] += int((whole - take)[self.is_user].sum())
        t["income_fen"] += int(income.sum())  # exact: int64 only where the total fits (exact_sums)
        return after, income

    def _settle_cash(self, days: int, held: np.ndarray, income: np.ndarray) -> None:
        """Members earn today's `income`, then pay for their stock (at most their free cash).

        One pass over the cash for both: int64 where no value can overflow, else Python ints.
        The charge is exact integer arithmetic: stock value at the national price (fen) times
        the rate for the days, the rate counted in billionths.
        """
        rate = round(self.sc.inventory.carrying_cost_pct_year / 100 * days / 365 * 10**9)
        n = len(self.cash)
        if rate:
            due = exact_sums(self.slot_m, exact_product(held, self.nat_int[self.slot_p]) // 10, n)
            charge = (due // 10**9) * rate + (due % 10**9) * rate // 10**9  # floor(due*rate/1e9)
        else:
            charge = np.zeros(n, dtype=np.int64)
        cash = self.cash
        if income.dtype != object and charge.dtype != object and n:
            try:
                free = np.fromiter(cash, dtype=np.int64, count=n)
            except OverflowError:  # a cash beyond int64: the Python ints' path below
                free = None
            # int64 where no sum can overflow: every cash, income and charge below 2**62 / n
            if free is not None and int(max(free.max(), income.max(), charge.max())) < (
                    1 << 62) // n:
                free += income
                paid = np.minimum(charge, free)
                free -= paid
                cash[:] = free.tolist()
                self.totals["carrying_cost_fen"] += int(paid.sum())
                return
        # exact Python ints (every member at once, the loops in C)
        cash[:] = map(operator.add, cash, income.tolist())
        paid = list(map(min, charge.tolist(), cash))
        cash[:] = map(operator.sub, cash, paid)
        self.totals["carrying_cost_fen"] += sum(paid)

    def _needs(self, flow: np.ndarray, above: np.ndarray, held: np.ndarray) -> None:
        """Each slot's need today and whether it is urgent (see the module docstring)."""
        inv = self.sc.inventory
        z = above[self.slot_p]
        squeeze = np.exp(-inv.cover_elasticity * z)
        # np.minimum(np.maximum(...)) is np.clip without its Python wrapper
        cover = np.minimum(np.maximum(inv.target_cover_days * squeeze, inv.min_cover_days),
                           inv.max_cover_days)
        keep = np.minimum(np.maximum(inv.seller_cover_days * squeeze, 0.0), inv.seller_max_days)
        need = np.where(self.is_user, cover * flow - held - self.pending_qty,
                        np.where(self.is_producer, held - keep * flow, 0.0))
        self.need[:] = np.where(self.active, need, 0.0)
        # how far a block may stock a user beyond its target: up to its maximum cover
        self.headroom = np.where(self.is_user, (inv.max_cover_days - cover) * flow, 0.0)
        self.urgent = np.where(self.is_user, held + self.pending_qty < inv.min_cover_days * flow,
                               self.is_producer & (held > inv.seller_max_days * flow))

    def _clear_excess(self, held: np.ndarray) -> None:
        """Producers whose stock is beyond their maximum sell the excess off the exchange.

        They keep their maximum stock, so that what the exchange can take they still offer
        there; what their warehouses cannot hold goes to the national market at once.
        """
        inv = self.sc.inventory
        excess = np.where(self.is_producer & self.active,
                          held - inv.seller_max_days * self.flow, 0.0)
        idx = (excess >= self.lot_s).nonzero()[0]
        if len(idx):
            self.deal_off(idx, excess[idx])
        self.urgent &= ~self.is_producer | (held <= inv.seller_max_days * self.flow)

    def set_withdrawn(self, member: int, withdrawn: bool) -> None:
        """Take member index `member` out of the exchange from today, or bring it back.

        Its orders are the exchange's to cancel (`Exchange.suspend_member`); it keeps using
        and producing, and meets its needs off the exchange until it returns.
        """
        self.withdrawn[member] = withdrawn

    # ------------------------------------------------------------------ pricing

    def _decide(self, idx: np.ndarray, noise: np.ndarray, limit: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Limit price (yuan/t, on the tick), size (kg) and whether it can be placed today.

        Concession c (bp) = the mean + the slot's noise + urgency for need beyond
        `order_days` (`noise`: a standard normal draw per slot); a buyer bids belief*(1+c)
        rounded down to the tick, at most its cap, a
        seller asks belief*(1-c) rounded up, at least its floor; both within today's band (a
        buyer whose cap is below the band, or a seller whose floor is above it, cannot deal
        on the exchange today; one who would go beyond the band's edge goes to the edge, as
        on a limit-up or limit-down day). Size: the need, at most the slot's order size, in
        whole lots.
        """
        need = self.need[idx]
        conc = (self._premium_bp + self._premium_sd_bp * noise
                + self._urgency_bp * np.maximum(need * self.inv_rate[idx] - self._order_days,
                                                self._zero))
        np.minimum(conc, _MAX_CONCESSION, out=conc)
        # Prices are worked in signed ticks (a seller's negated), where a buyer's "at most its
        # cap" and a seller's "at least its floor" are both a minimum, and rounding down is
        # a buyer's floor and a seller's ceiling. Negating is exact, so this is bit for bit
        # the price worked out side by side.
        tick = self.tick_s[idx]
        sign = self.sign[idx]
        px = np.floor(self.belief_ticks[idx] * (_ONE + sign * conc / _BP))
        bound = np.floor(sign * limit / tick)
        px = sign * np.minimum(px, bound) * tick
        # within the band at its cap or floor: a buyer's cap >= lo, a seller's floor <= hi
        ok = bound * tick >= self.band_edge[idx]
        px = np.minimum(np.maximum(px, self.lo_s[idx]), self.hi_s[idx])
        lot = self.lot_s[idx]
        qty = np.floor(np.minimum(need, self.size_cap[idx]) / lot) * lot
        return px, qty, ok & (qty > self._zero)

    def touch(self) -> tuple[np.ndarray, np.ndarray]:
        """Each product's best bid and best ask now (nan for an empty side)."""
        both = self._touch()
        both[np.isinf(both)] = math.nan
        return both[:self.P], both[self.P:]

    def _touch(self) -> np.ndarray:
        """Every product's best bid, then every product's best ask (an empty side: -inf, inf).

        Indexed by `touch_at`, it is the best opposite price each slot sees; an empty side is
        an infinity beyond every limit (no bid: -inf, no ask: +inf), so it compares as no
        better than any cap or floor without a nan to compare (`sim.venue.route`).
        """
        if self._books is None:  # an exchange's books are its products' for good
            books = [self.ex.book(code) for code in self.codes]
            self._books = ([book.best_bid for book in books], [book.best_ask for book in books])
        inf = math.inf
        best_bids, best_asks = self._books
        bids = [-inf if (b := best_bid()) is None else b for best_bid in best_bids]
        asks = [inf if (a := best_ask()) is None else a for best_ask in best_asks]
        return np.array(bids + asks, dtype=float)

    # ------------------------------------------------------------------ decisions

    def auction_orders(self, t: int) -> None:
        """Opening call auction: some online slots with a need place their first order."""
        d = self.day
        u = uniform(self.keys, counter(d, 0, AUCTION))
        act = (self.usable & self.online & (self.need >= self.lot_need)
               & (u < self.beh.auction_pct / 100))
        idx = act.nonzero()[0]
        if not len(idx):
            return
        idx = idx[np.argsort(uniform(self.keys[idx], counter(d, 0, ORDER)), kind="stable")]
        px, qty, ok = self._decide(idx, normal(self.keys[idx], counter(d, 0, CONCEDE)),
                                   self.limit[idx])
        idx, px, qty = idx[ok], px[ok], qty[ok]
        self._send(idx, px.astype(np.int64).tolist(), qty.astype(np.int64).tolist(), t,
                   auction=True)

    def step(self, t: int, k: int) -> int:
        """Decision step k of the day at instant t; returns the next free instant.

        Users and producers with a need act (block buyers negotiate), market makers requote.
        """
        d = self.day
        # a need of a lot, in a joined member's slot; decisions come at a rate proportional
        # to need: a slot needing k orders' worth acts as k slots of one order each would
        idx = (self.need >= self.lot_need).nonzero()[0]
        if len(idx):
            chance = _ONE - self._idle ** np.maximum(self.need[idx] / self.size_cap[idx], _ONE)
            u = uniform(self.keys[idx], counter(d, k, ACT))
            acting = u < chance
            idx = idx[acting]
            # in a random order: given that it acts, a slot's u / chance is uniform
            idx = idx[(u[acting] / chance[acting]).argsort(kind="stable")]
        if len(idx):
            t, idx = self._negotiate(idx, t, k)
        if len(idx):
            t = self._route(idx, t, k)
        t = self.makers.quote(t, k)
        return t

    def _negotiate(self, idx: np.ndarray, t: int, k: int) -> tuple[int, np.ndarray]:
        """Block buyers with room for a block negotiate one (`sim.deals.Deals.negotiate`).

        A block buyer's decision is a negotiated block when its need, plus the room above its
        stock target up to its maximum cover, reaches the product's minimum block; the block is
        at most `negotiation.days` of its use. Buying ahead, it then holds more than its
        target and waits until it has used it down: it buys in lumps, at its own times.
        Returns the next free instant and the decisions left to route (those that did not
        deal: no block-sized room, or no seller with a block that the fee lets deal).
        """
        if not self.channel_open["offline"]:
            return t, idx
        room = self.need[idx] + self.headroom[idx]
        at = (self.negotiable[idx] & (room >= self.block_need[idx])).nonzero()[0]
        if not len(at):
            return t, idx
        d = self.day
        negotiate = self.deals.negotiate
        size, need, headroom = self.deal_size_l, self.need, self.headroom
        keep = None  # which decisions are left, once one has dealt
        for j, i in zip(at.tolist(), idx[at].tolist(), strict=True):
            if negotiate(i, min(size[i], int(need[i] + headroom[i])), t, counter(d, k, PICK)):
                if keep is None:
                    keep = np.ones(len(idx), dtype=bool)
                keep[j] = False
            t += REQUEST_SPACING_NS
        if keep is not None:
            idx = idx[keep]
        return t, idx

    def _route(self, idx: np.ndarray, t: int, k: int) -> int:
        """Price the deciding slots, choose each one's venue, and act on it.

        Each decision weighs its own off-exchange premium or discount: the member's own,
        varied by `venue.deal_dispersion` (search and haulage differ from deal to deal).
        """
        d = self.day
        haggle, concede = normal2(self.keys[idx], counter(d, k, HAGGLE))
        friction = self.friction[idx] * np.exp(self._deal_dispersion * haggle)
        limit = self._limits(idx, friction)
        px, qty, ok = self._decide(idx, concede, limit)
        touch = self._touch()[self.touch_at[idx]]
        buy = self.is_buy[idx]
        online = self.online[idx]
        urgent = self.urgent[idx]
        where = route(buy, online, self.usable[idx], urgent, touch, self.settle_s[idx], limit)
        # an urgent need crosses the spread (rare: most steps have none; count_nonzero is
        # any() without its Python wrapper)
        if np.count_nonzero(urgent):
            cross = (where == EXCHANGE) & urgent & np.isfinite(touch)
            px = np.where(cross & buy, np.maximum(px, touch), px)
            px = np.where(cross & ~buy, np.minimum(px, touch), px)
        # what `_send` would skip anyway: an order waiting at the counter, an offline slot's
        # open order, a re-price that is not toward the other side
        held = self.order_px[idx]
        toward = np.where(buy, px > held, px < held)
        ex_ = ((where == EXCHANGE) & ok
               & ((held == 0) | ((held > 0) & online & toward))).nonzero()[0]
        if len(ex_):
            self._send(idx[ex_], px[ex_].astype(np.int64).tolist(),
                       qty[ex_].astype(np.int64).tolist(), t)
            t += len(ex_) * REQUEST_SPACING_NS
        off = (where == OFF).nonzero()[0]
        if len(off):
            self.deal_off(idx[off], friction=friction[off])
        return t

    def deal_off(self, idx: np.ndarray, amount: np.ndarray | None = None,
                 friction: np.ndarray | None = None) -> None:
        """Meet each slot's need (or `amount`) off the exchange.

        At the national price with its premium (buyers) or discount (sellers), as far as its
        cash or stock allows.
        """
        need = self.need[idx] if amount is None else amount
        friction = self.friction[idx] if friction is None else friction
        lot = self.lot_s[idx]
        qty = (np.floor(need / lot) * lot).astype(np.int64).tolist()
        rel = _ONE + self.sign[idx] * friction / _BP  # 1 + f (buyers), 1 - f (sellers), exactly
        # np.rint is np.round's own arithmetic, without its Python wrapper
        prices = np.maximum(np.rint(self.nat_s[idx] * rel), _ONE).astype(np.int64).tolist()
        cash, stock, need_mv = self.cash, self.stock, self._need_mv
        slot_m, is_buy, flat, lots = self.slot_m_l, self.is_buy_l, self.flat_l, self.lot_l
        cell_of, today = self.off_cell_l, self.off.cells()  # OffExchange.add, inlined
        n = 0
        for i, q, price in zip(idx.tolist(), qty, prices, strict=True):
            if q <= 0:
                continue
            lot_ = lots[i]
            if is_buy[i]:
                m = slot_m[i]
                most = cash[m] * 10 // price // lot_ * lot_
                if most < q:
                    q = most
                    if q <= 0:
                        continue
                value = price * q // 10
                cash[m] -= value
                stock[flat[i]] += q
            else:
                f = flat[i]
                most = stock[f] // lot_ * lot_
                if most < q:
                    q = most
                    if q <= 0:
                        continue
                value = price * q // 10
                stock[f] -= q
                cash[slot_m[i]] += value
            cell = today.get(cell_of[i])
            if cell is None:
                today[cell_of[i]] = [q, value]
            else:
                cell[0] += q
                cell[1] += value
            need_mv[i] -= q
            n += 1
        self.counts["off_exchange_deals"] += n

    def _send(self, idx: np.ndarray | list[int], prices: list[int], qtys: list[int], t0: int,
              auction: bool = False, reprice_any: bool = False) -> None:
        """Turn decisions into requests: new orders, re-prices (amend) or counter lodgements.

        A slot with an order waiting at the counter does nothing; an offline slot with an open
        order, or any offline slot in the call auction, does nothing (the cheap tests come
        first: most decisions are skipped). A resting order is only re-priced toward the other
        side (a need that waits concedes more; it does not take back what it offered), unless
        `reprice_any` (market makers follow their inventory both ways). Buyers reserve
        price * qty plus the fee, sellers the quantity; a re-price swaps the reservation, and
        a refusal undoes it.
        """
        ex = self.ex
        submit = ex.submit_limit
        amend = ex.amend
        slot_m = self.slot_m_l
        slot_p = self.slot_p_l
        is_buy = self.is_buy_l
        owner = self.owner_l
        slot_oid = self.slot_oid
        online = self.online_l
        orders = self.orders
        cash = self.cash
        stock = self.stock
        flat = self.flat_l
        order_px = self._order_px_mv
        pending_qty = self._pending_mv
        lots = self.lot
        static = self.static_l
        counts = self.counts
        apply = self.apply
        bp = self.fee_bp
        reserve = buy_reservation
        online_open = self.channel_open["online"]
        offline_open = self.channel_open["offline"]
        spacing = REQUEST_SPACING_NS
        n_new = n_amend = n_rej = 0
        lodged: list[tuple[int, int, int, int, int]] = []  # (t, slot, price, qty, reserved)
        t = t0 - spacing
        idx_l = idx.tolist() if isinstance(idx, np.ndarray) else idx
        for i, price, qty in zip(idx_l, prices, qtys, strict=True):
            t += spacing
            oid = slot_oid[i]
            if oid:
                if oid == PENDING or not online[i] or not online_open:
                    continue
                rec = orders[oid]
                old_px, old_qty = rec[1], rec[2]
                buy = is_buy[i]
                if old_px == price or (not reprice_any and (price < old_px if buy
                                                            else price > old_px)):
                    continue
                m = slot_m[i]
                if buy:  # release the old reservation, reserve the new one, amend
                    held = rec[3]
                    cash[m] += held
                    qty, cost = reserve(cash[m], price, qty, lots[slot_p[i]], bp)
                    if not qty:
                        cash[m] -= held
                        continue
                    cash[m] -= cost
                else:
                    p = slot_p[i]
                    f = flat[i]
                    have = stock[f] + old_qty
                    if qty > have:
                        qty = have // lots[p] * lots[p]
                        if qty <= 0:
                            continue
                    stock[f] = have - qty
                evs = amend(owner[i], oid, price=price, qty=qty if qty != old_qty else None,
                            time=t)
                n_amend += 1
                if evs[0].__class__ is Amended:
                    rec[1] = price
                    rec[2] = qty
                    order_px[i] = price
                    if buy:
                        rec[3] = cost
                        rec[4] = bp
                    if len(evs) > 1:
                        apply(evs)
                else:  # refused: the old order stands, undo the reservation swap
                    n_rej += 1
                    if buy:
                        cash[m] += cost - held
                    else:
                        stock[f] += qty - old_qty
                continue
            off = not online[i] or not online_open
            if off and (auction or not offline_open):
                continue
            # a new order, online or at the counter: reserve its cash or stock first
            m, buy, f, lot, who, product, way = static[i]
            cost = 0
            if buy:  # buy_reservation, inlined (most requests are new orders)
                cost = price * qty // 10
                cost += cost * bp // 10_000
                have = cash[m]
                if cost > have:
                    qty, cost = reserve(have, price, qty, lot, bp)
                    if not qty:
                        continue
                elif not qty:
                    continue
                cash[m] = have - cost
            else:
                have = stock[f]
                if qty > have:
                    qty = have // lot * lot
                    if qty <= 0:
                        continue
                stock[f] = have - qty
            if off:
                lodged.append((t, i, price, qty, cost))
                slot_oid[i] = PENDING
                order_px[i] = -1.0
                if buy:
                    pending_qty[i] = qty
                continue
            evs = submit(who, product, way, price, qty, tif=DAY, time=t)
            n_new += 1
            ev0 = evs[0]
            if ev0.__class__ is Accepted:
                orders[ev0.order_id] = [i, price, qty, cost, bp]
                slot_oid[i] = ev0.order_id
                order_px[i] = price
                if len(evs) > 1:
                    apply(evs)
            else:
                n_rej += 1
                if buy:
                    cash[m] += cost
                else:
                    stock[f] += qty
        if lodged:
            self._lodge(lodged, t0, bp)
        n_off = len(lodged)
        counts["orders"] += n_new + n_off
        counts["offline_orders"] += n_off
        counts["amends"] += n_amend
        counts["rejected"] += n_rej

    def _lodge(self, lodged: list[tuple[int, int, int, int, int]], t0: int, bp: int) -> None:
        """Lodge a batch's offline orders at the counter, in the order they were decided.

        Each (time, slot, price, qty, reserved) gets the counter's keying delay drawn from
        its slot's own stream (one vectorised draw per batch sent at t0; a draw depends only
        on the slot and the batch's local second, so only the slots that lodge draw).
        """
        second = (t0 // 1_000_000_000 + self._clock_shift) & 0xFFFF
        slots = [i for _t, i, _price, _qty, _reserved in lodged]
        delays = self.counter.delays_ns(uniform(self.keys[slots],
                                                counter(self.day, second, DELAY)))
        self.counter.lodge_all((t, delay, i, price, qty, reserved, bp) for (
            t, i, price, qty, reserved), delay in zip(lodged, delays, strict=True))

    def key_in(self, t: int) -> int:
        """The counter keys in the lodged orders ready at t (already reserved), OFFLINE."""
        batch = self.counter.ready(t)
        if not batch:
            return 0
        submit = self.ex.submit_limit
        owner, code, side = self.owner_l, self.code_l, self.side_l
        orders, slot_oid, apply = self.orders, self.slot_oid, self.apply
        order_px, pending_qty = self._order_px_mv, self._pending_mv
        for _ready, _seq, slot, price, qty, reserved, bp in batch:
            pending_qty[slot] = 0
            evs = submit(owner[slot], code[slot], side[slot], price, qty, tif=DAY,
                         channel=OFFLINE, time=t)
            ev0 = evs[0]
            if ev0.__class__ is Accepted:
                orders[ev0.order_id] = [slot, price, qty, reserved, bp]
                slot_oid[slot] = ev0.order_id
                order_px[slot] = price
                if len(evs) > 1:
                    apply(evs)
            else:
                self.counts["rejected"] += 1
                slot_oid[slot] = 0
                order_px[slot] = 0.0
                if self.is_buy_l[slot]:
                    self.cash[self.slot_m_l[slot]] += reserved
                else:
                    self.stock[self.flat_l[slot]] += qty
        return len(batch)

    def cancel(self, i: int, t: int) -> None:
        """Cancel slot i's open order on the exchange (its reservation comes back)."""
        oid = self.slot_oid[i]
        if oid <= 0:
            return
        self.counts["cancels"] += 1
        self.apply(self.ex.cancel(self.owner_l[i], oid, time=t))

    # ------------------------------------------------------------------ events

    def apply(self, events: list) -> None:
        """Settle fills and release reservations for every event of a request (idempotent).

        A fill of q at price P of a bid placed at price L with fee f: the buyer pays P*q//10
        plus its fee and gets back L*q//10 plus its fee from the reservation; what rounding
        leaves of the reservation comes back when the order ends. A seller receives the value
        less its fee.
        """
        orders = self.orders
        cash = self.cash
        stock = self.stock
        slot_m = self.slot_m_l
        flat = self.flat_l
        slot_oid = self.slot_oid
        order_px = self._order_px_mv
        need = self._need_mv
        is_buy = self.is_buy_l
        bp = self.fee_bp
        mf = self.makers_from
        mk = self.makers
        dirty, first, count = mk.dirty_mv, mk.first, mk.count
        fees = 0
        for ev in events:
            cls = ev.__class__
            if cls is Trade:
                q = ev.qty
                value = ev.price * q // 10
                if ev.aggressor is BUY:
                    bo, so = ev.taker_order_id, ev.maker_order_id
                else:
                    bo, so = ev.maker_order_id, ev.taker_order_id
                rec = orders.get(bo)
                if rec is not None:
                    s, limit, left, reserved, f = rec
                    m = slot_m[s]
                    fee = value * f // 10_000
                    held = limit * q // 10
                    held += held * f // 10_000
                    fees += fee
                    stock[flat[s]] += q
                    left -= q
                    if left:
                        cash[m] += held - value - fee
                        rec[2] = left
                        rec[3] = reserved - held
                    else:  # filled: what rounding left of the reservation comes back too
                        cash[m] += reserved - value - fee
                        del orders[bo]
                        slot_oid[s] = 0
                        order_px[s] = 0.0
                    need[s] -= q
                    if s >= mf:
                        dirty[(s - first) % count] = True
                rec = orders.get(so)
                if rec is not None:
                    s = rec[0]
                    fee = value * bp // 10_000
                    cash[slot_m[s]] += value - fee
                    fees += fee
                    left = rec[2] - q
                    if left:
                        rec[2] = left
                    else:
                        del orders[so]
                        slot_oid[s] = 0
                        order_px[s] = 0.0
                    need[s] -= q
                    if s >= mf:
                        dirty[(s - first) % count] = True
            elif cls is Cancelled or cls is Expired:
                rec = orders.pop(ev.order_id, None)
                if rec is None:
                    continue
                s = rec[0]
                if is_buy[s]:
                    cash[slot_m[s]] += rec[3]
                else:
                    stock[flat[s]] += ev.qty
                slot_oid[s] = 0
                order_px[s] = 0.0
                if s >= mf:
                    dirty[(s - first) % count] = True
        if fees:
            self.totals["fees_fen"] += fees

    # ------------------------------------------------------------------ audit

    def audit(self) -> None:
        """Check the ledger: nothing negative; every open buy order reserves its value and fee."""
        for m, c in enumerate(self.cash):
            if c < 0:
                raise LedgerError(f"member {m + 1} has negative free cash {c}")
        for cell, q in enumerate(self.stock):
            if q < 0:
                m, p = divmod(cell, self.P)
                raise LedgerError(f"member {m + 1} has negative free stock {q} of {p}")
        for oid, (s, px, q, held, bp) in self.orders.items():
            if q <= 0 or px <= 0 or held < 0:
                raise LedgerError(f"order {oid} has open qty {q} at {px}, reserving {held}")
            if self.slot_oid[s] != oid:
                raise LedgerError(f"order {oid} is not its slot's order")
            if self.is_buy_l[s] and held < with_fee(px * q // 10, bp):
                raise LedgerError(f"order {oid} reserves {held} fen for {q} kg at {px} and "
                                  f"its {bp} bp fee")

    def holdings(self) -> tuple[list[int], list[list[int]]]:
        """Each member's total cash (fen) and stock (kg): free plus reserved in open orders."""
        cash = list(self.cash)
        P = self.P
        stock = [self.stock[m * P:(m + 1) * P] for m in range(len(cash))]
        for s, _px, q, held, _bp in self.orders.values():
            m, p = self.slot_m_l[s], self.slot_p_l[s]
            if self.is_buy_l[s]:
                cash[m] += held
            else:
                stock[m][p] += q
        for _ready, _seq, s, _px, q, held, _bp in self.counter.pending():
            m, p = self.slot_m_l[s], self.slot_p_l[s]
            if self.is_buy_l[s]:
                cash[m] += held
            else:
                stock[m][p] += q
        return cash, stock

    def held(self) -> np.ndarray:
        """Every slot's free stock now (kg), int64."""
        return np.array(self._gather(self.stock), dtype=np.int64)

