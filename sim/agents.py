"""The enterprises' decisions: vectorised numpy draws per time step, orders through the Exchange.

Every (member, product, side) an enterprise trades is a *slot* with a *need*: a consumer's
buying need and a producer's output accrue every day (monthly intents drawn around the
scenario's targets); a trader's buying need accrues its intake, and what it buys becomes the
need of its selling slot, so traders stand on both sides and resell what they buy. A slot with
a need of at least a lot places a DAY limit order for part of it, priced around the member's
belief of the price: the fundamental, lifted or lowered by the part of yesterday's gap
between the settlement price and the fundamental that the market remembers (so that a
shortage or a glut moves prices day after day). Consumers and producers concede a little
toward the other side, traders bid below and ask above it, and everyone concedes more the
longer a need stays unmet.
Each step one vectorised draw decides which slots act and at what price and size; then a plain
loop sends the orders (online at once; offline ones through the `Counter`), re-prices open
orders with `amend`, and applies the returned events, so agents see fills on their next step.

Holdings are exact integers (cash in fen, stock in kg) and never go negative: an order reserves
what it could spend or deliver, a fill settles at the trade price, and a cancel or expiry
releases the rest. Negotiated deals and block auctions (`sim.deals`) use the same ledger.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from engine import (
    Accepted,
    Amended,
    Cancelled,
    Channel,
    Expired,
    Side,
    TimeInForce,
    Trade,
)
from sim.calendar import TradingCalendar
from sim.counter import Counter
from sim.deals import Deals
from sim.population import Population
from sim.scenario import Scenario

__all__ = ["Agents", "LedgerError"]

BUY = Side.BUY
SELL = Side.SELL
DAY = TimeInForce.DAY
OFFLINE = Channel.OFFLINE
PENDING = -1  # slot_oid value while an order waits at the counter
BACKLOG_DAYS = 30.0  # a need never accumulates beyond this many days of intent
MAX_CONCESSION_BP = 150.0  # nobody concedes more than this from its belief
REQUEST_SPACING_NS = 1_000  # requests within one step are 1 us apart
TRADER_NOISE = 0.25  # traders' belief scatter relative to other enterprises'


class LedgerError(AssertionError):
    """The agents' holdings or reservations are inconsistent (a bug, never user input)."""


class Agents:
    """All enterprises of a run: their holdings, needs, open orders and decisions."""

    def __init__(self, sc: Scenario, pop: Population, calendar: TradingCalendar, ex: Any,
                 paths: np.ndarray, rng: np.random.Generator, counter: Counter,
                 scale: int = 1) -> None:
        self.sc = sc
        self.pop = pop
        self.cal = calendar
        self.ex = ex
        self.paths = paths
        self.rng = rng
        self.counter = counter
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
        self.stock: list[list[int]] = pop.stock.tolist()
        ref = np.array([p.reference_price for p in sc.products], dtype=float)
        # fen per trading day: buyers' sales outside the exchange
        self.income = np.floor((pop.buy_rate * ref).sum(axis=1) / 10).astype(np.int64)

        # ---- slots: [consumers' buys | producers' sells | traders' buys | traders' sells]
        bm, bp = np.nonzero(pop.buy_rate > 0)
        sm, sp = np.nonzero(pop.sell_rate > 0)
        tm, tp = np.nonzero(pop.trade_rate > 0)
        nb, ns, nt = len(bm), len(sm), len(tm)
        self.slot_m = np.concatenate([bm, sm, tm, tm]).astype(np.int64)
        self.slot_p = np.concatenate([bp, sp, tp, tp]).astype(np.int64)
        N = len(self.slot_m)
        self.N = N
        self.is_buy = np.zeros(N, dtype=bool)
        self.is_buy[:nb] = True
        self.is_buy[nb + ns: nb + ns + nt] = True
        self.is_trader = np.zeros(N, dtype=bool)
        self.is_trader[nb + ns:] = True
        self.is_seller_need = np.zeros(N, dtype=bool)  # producers' output
        self.is_seller_need[nb: nb + ns] = True
        # a trader's buy slot accrues intake; what it buys becomes its sell slot's need
        self.accrues = np.ones(N, dtype=bool)
        self.accrues[nb + ns + nt:] = False
        resell = np.full(N, -1, dtype=np.int64)
        resell[nb + ns: nb + ns + nt] = np.arange(nb + ns + nt, N)
        self.rate = np.concatenate([pop.buy_rate[bm, bp], pop.sell_rate[sm, sp],
                                    pop.trade_rate[tm, tp], pop.trade_rate[tm, tp]])
        lots = np.array(self.lot, dtype=float)
        ticks = np.array(self.tick, dtype=float)
        self.lot_s = lots[self.slot_p]
        self.tick_s = ticks[self.slot_p]
        # updated in place only (never rebound), so its memoryview stays valid: apply() reads
        # and writes needs through it as Python floats, half the cost of numpy scalar
        # arithmetic and the same IEEE result in the same order
        self.need = np.zeros(N)
        self._need_mv = memoryview(self.need)
        # large members split their flow: no order above a share of the product's daily intent
        market_daily = (pop.buy_rate.sum(axis=0) * beh.max_order_pct / 100)[self.slot_p]
        self.max_order = np.maximum(np.floor(market_daily / self.lot_s), 1.0) * self.lot_s
        self.produced = np.zeros(N)  # fractional output not yet a whole lot
        self.mult = np.ones(N)
        self.noise = np.where(self.is_trader, TRADER_NOISE, 1.0)  # traders watch closely
        # mean concession toward the other side: traders are patient (bid low, ask high)
        self.base_bp = np.where(self.is_trader, -float(beh.trader_half_spread_bp),
                                float(beh.premium_bp))
        # per-slot Python mirrors for the loop
        self.slot_m_l: list[int] = self.slot_m.tolist()
        self.slot_p_l: list[int] = self.slot_p.tolist()
        self.is_buy_l: list[bool] = self.is_buy.tolist()
        self.resell_l: list[int] = resell.tolist()
        # each slot's request arguments: exchange member id, product code and side
        self.owner_l: list[int] = [m + 1 for m in self.slot_m_l]
        self.code_l: list[str] = [self.codes[p] for p in self.slot_p_l]
        self.side_l: list[Side] = [BUY if b else SELL for b in self.is_buy_l]
        self.slot_oid: list[int] = [0] * N
        # open orders: order id -> [slot, limit price, open qty]
        self.orders: dict[int, list[int]] = {}
        # per product: seller need slots and their weights (negotiation counterparties)
        self.sellers_of = [np.flatnonzero(self.is_seller_need & (self.slot_p == j))
                           for j in range(nprod)]
        consumer = self.is_buy & ~self.is_trader
        self.buyers_of = [np.flatnonzero(consumer & (self.slot_p == j)) for j in range(nprod)]
        self.min_block = [p.min_block or p.lot for p in sc.products]
        # negotiated deals: buyers whose intent over `days` reaches the minimum block
        nspec = sc.negotiation
        mblock = np.array(self.min_block, dtype=float)[self.slot_p]
        want = np.floor(self.rate * nspec.days / self.lot_s) * self.lot_s
        self.deal_size = np.where(consumer & (want >= mblock), want, 0.0)
        self.deal_slots = np.flatnonzero(self.deal_size > 0) if nspec.probability_pct else (
            np.zeros(0, dtype=np.int64))
        self.deal_size_l: list[int] = self.deal_size.astype(np.int64).tolist()
        self._deal_p = np.array(nspec.probability_pct / 100)
        self.day = -1
        self.month = -1
        self.band_lo = [0] * nprod
        self.band_hi = [0] * nprod
        self.band_lo_a = np.zeros(nprod)
        self.band_hi_a = np.zeros(nprod)
        self.lo_s = self.hi_s = self.signed_ticks = self.bp_ticks = np.zeros(N)
        # static per-slot quantities of `_decide`
        self.sign = np.where(self.is_buy, 1.0, -1.0)
        self.signed_tick = self.sign * self.tick_s
        self.inv_rate = 1.0 / np.maximum(self.rate, 1e-9)
        self.size_cap = np.minimum(np.maximum(self.rate * beh.order_days, self.lot_s),
                                   self.max_order)
        # the scalars of every step as 0-d float64 arrays: numpy converts a Python number
        # operand on each call (a third of a small ufunc's cost); same values, same results
        self.act_p = np.array(beh.act_pct / 100)
        self._premium_sd = np.array(float(beh.premium_sd_bp))
        self._urgency = np.array(float(beh.urgency_bp_per_day))
        self._order_days = np.array(float(beh.order_days))
        self._max_conc = np.array(MAX_CONCESSION_BP)
        self._zero = np.array(0.0)
        self.active = np.zeros(N, dtype=bool)
        self.lot_active = np.full(N, np.inf)  # a slot's lot if its member has joined, else inf
        self.deal_active = np.zeros(len(self.deal_slots), dtype=bool)  # active[deal_slots]
        self.online = np.zeros(N, dtype=bool)
        self.online_l: list[bool] = [False] * N
        self.belief = np.zeros(N)
        self.memory = beh.price_memory_pct / 100
        self.gap = np.zeros(nprod)  # log(anchor / fundamental) per product, see start_day
        self.anchor = np.asarray(paths[0], dtype=float).copy()  # what the market believes today
        self.produced_kg = [0] * nprod  # output added to producers' stock, per product
        self.income_fen = 0  # cash paid to buyers from their sales outside the exchange
        self.withdrawn = np.zeros(n, dtype=bool)  # members taken out by an intervention
        self.deals = Deals(self)
        self.counts = {"orders": 0, "offline_orders": 0, "amends": 0, "rejected": 0,
                       "negotiated": 0, "block_auctions": 0, "block_bids": 0}
        del n

    # ------------------------------------------------------------------ the day

    def start_day(self, d: int) -> None:
        """Accrue needs and output, pay income, draw today's beliefs and read today's bands."""
        self.day = d
        pop = self.pop
        rng = self.rng
        beh = self.beh
        joined = pop.join_day <= d
        self.active = (joined & ~self.withdrawn)[self.slot_m]
        self.lot_active = np.where(self.active, self.lot_s, np.inf)
        self.deal_active = self.active[self.deal_slots]
        self.online = (pop.online_day <= d)[self.slot_m]
        self.online_l = self.online.tolist()
        month = self.cal.days[d].month
        if month != self.month:
            self.month = month
            sigma = beh.intent_noise_pct / 100
            self.mult = np.exp(rng.normal(-sigma * sigma / 2, sigma, size=self.N)) if sigma else (
                np.ones(self.N))
        acc = np.where(self.active & self.accrues, self.rate * self.mult, 0.0)
        np.minimum(self.need + acc, np.maximum(self.rate * BACKLOG_DAYS, self.lot_s), out=self.need)
        # producers' output becomes stock in whole lots
        self.produced += np.where(self.is_seller_need, acc, 0.0)
        whole = np.floor(self.produced / self.lot_s) * self.lot_s
        self.produced -= whole
        stock = self.stock
        made = self.produced_kg
        slot_m, slot_p = self.slot_m_l, self.slot_p_l
        out = whole.nonzero()[0]
        for i, q in zip(out.tolist(), whole[out].astype(np.int64).tolist(), strict=True):
            p = slot_p[i]
            stock[slot_m[i]][p] += q
            made[p] += q
        # every joined member's income, added in one C-level pass over the exact int ledger
        pay = np.where(joined, self.income, 0).tolist()
        self.cash[:] = map(operator.add, self.cash, pay)
        self.income_fen += sum(pay)
        # today's anchor: the fundamental, lifted or lowered by the part of yesterday's gap
        # between the settlement and the fundamental that the market remembers (a shortage
        # that lifted yesterday's prices lifts today's beliefs: prices discover scarcity)
        fund = self.paths[d]
        if d > 0 and self.memory:
            prev = self.paths[d - 1]
            settle = np.array([float(self.ex.settlement(code)) for code in self.codes])
            self.gap = self.memory * np.log(settle / prev)
        self.anchor = fund * np.exp(self.gap)
        f = self.anchor[self.slot_p]
        # beliefs scatter afresh every day: no member is persistently wrong about the price
        daily = rng.normal(0.0, beh.belief_noise_bp / 10_000, size=self.N) * self.noise
        self.belief = f * np.exp(daily)
        for j, code in enumerate(self.codes):
            self.band_lo[j], self.band_hi[j] = self.ex.band(code)
        self.band_lo_a = np.array(self.band_lo, dtype=float)
        self.band_hi_a = np.array(self.band_hi, dtype=float)
        self.lo_s = self.band_lo_a[self.slot_p]
        self.hi_s = self.band_hi_a[self.slot_p]
        ticks = self.belief / self.tick_s
        self.signed_ticks = self.sign * ticks
        self.bp_ticks = ticks / 10_000

    def set_withdrawn(self, member: int, withdrawn: bool) -> None:
        """Take member index `member` out of trading from the next day's start, or bring it back.

        Its orders are the exchange's to cancel (`Exchange.suspend_member`); its needs and
        output keep accruing, so a returning seller comes back with stock to sell.
        """
        self.withdrawn[member] = withdrawn

    # ------------------------------------------------------------------ pricing

    def _decide(self, idx: np.ndarray) -> tuple[list[int], list[int]]:
        """Limit price and size of each acting slot (few numpy calls: they run every step).

        Concession c (bp) = the slot's mean + noise + urgency for need beyond `order_days`;
        a buyer bids belief*(1+c) rounded down to the tick, a seller asks belief*(1-c)
        rounded up, clipped to today's band. Size: the need, at most the slot's order size,
        in whole lots.
        """
        need = self.need[idx]
        conc = (self.base_bp[idx] + self._premium_sd * self.rng.standard_normal(len(idx))
                + self._urgency * np.maximum(need * self.inv_rate[idx] - self._order_days,
                                             self._zero))
        np.minimum(conc, self._max_conc, out=conc)
        # sign * price_in_ticks = sign*belief/tick + belief/tick * c / 10_000, floored
        px = np.floor(self.signed_ticks[idx] + self.bp_ticks[idx] * conc)
        px *= self.signed_tick[idx]  # exact: whole ticks times a +-tick
        np.maximum(px, self.lo_s[idx], out=px)  # clip to the band (np.clip costs twice as much)
        np.minimum(px, self.hi_s[idx], out=px)
        lot = self.lot_s[idx]
        qty = np.floor(np.minimum(need, self.size_cap[idx]) / lot) * lot
        return px.astype(np.int64).tolist(), qty.astype(np.int64).tolist()

    # ------------------------------------------------------------------ decisions

    def auction_orders(self, t: int) -> None:
        """Opening call auction: some online need slots place their first order of the day."""
        rng = self.rng
        u = rng.random(self.N)
        act = (self.active & self.online & (self.need >= self.lot_s)
               & (u < self.beh.auction_pct / 100))
        idx = act.nonzero()[0]
        if not len(idx):
            return
        rng.shuffle(idx)
        prices, qtys = self._decide(idx)
        self._send(idx, prices, qtys, t, auction=True)

    def step(self, t: int) -> None:
        """One decision step at instant t: slots with a need act, then large buyers negotiate."""
        rng = self.rng
        act = rng.random(self.N) < self.act_p
        act &= self.need >= self.lot_active  # a need of a lot, in a joined member's slot
        idx = act.nonzero()[0]  # as np.flatnonzero, without its two Python-level calls
        if len(idx):
            rng.shuffle(idx)
            prices, qtys = self._decide(idx)
            self._send(idx, prices, qtys, t)
        slots = self.deal_slots
        if len(slots):
            draw = rng.random(len(slots)) < self._deal_p
            draw &= self.deal_active
            negotiate = self.deals.negotiate
            size = self.deal_size_l
            t += len(idx) * REQUEST_SPACING_NS
            for i in slots[draw].tolist():
                negotiate(i, size[i], t)
                t += REQUEST_SPACING_NS

    def _send(self, idx: np.ndarray, prices: list[int], qtys: list[int], t0: int,
              auction: bool = False) -> None:
        """Turn decisions into requests: new orders, re-prices (amend) or counter lodgements.

        `_decide` sizes every decision at a lot or more. A slot with an order waiting at the
        counter does nothing; an offline slot with an open order, or any offline slot in the
        call auction, does nothing (the cheap tests come first: most decisions are skipped).
        """
        ex = self.ex
        submit = ex.submit_limit
        amend = ex.amend
        slot_m = self.slot_m_l
        slot_p = self.slot_p_l
        is_buy = self.is_buy_l
        owner = self.owner_l
        code = self.code_l
        side = self.side_l
        slot_oid = self.slot_oid
        online = self.online_l
        orders = self.orders
        cash = self.cash
        stock = self.stock
        lots = self.lot
        counts = self.counts
        apply = self.apply
        lodge = self.counter.lodge
        spacing = REQUEST_SPACING_NS
        n_new = n_amend = n_off = n_rej = 0
        t = t0 - spacing
        for i, price, qty in zip(idx.tolist(), prices, qtys, strict=True):
            t += spacing
            oid = slot_oid[i]
            if oid:
                if oid == PENDING or not online[i]:
                    continue
                rec = orders[oid]
                old_px, old_qty = rec[1], rec[2]
                if old_px == price:
                    continue
                # release the old reservation, reserve the new one, amend
                m = slot_m[i]
                buy = is_buy[i]
                if buy:
                    cash[m] += old_px * old_qty // 10
                    cost = price * qty // 10
                    if cost > cash[m]:
                        lot = lots[slot_p[i]]
                        qty = cash[m] * 10 // price // lot * lot
                        if qty <= 0:
                            cash[m] -= old_px * old_qty // 10
                            continue
                        cost = price * qty // 10
                    cash[m] -= cost
                else:
                    p = slot_p[i]
                    row = stock[m]
                    row[p] += old_qty
                    if qty > row[p]:
                        qty = row[p] // lots[p] * lots[p]
                        if qty <= 0:
                            row[p] -= old_qty
                            continue
                    row[p] -= qty
                evs = amend(owner[i], oid, price=price, qty=qty if qty != old_qty else None,
                            time=t)
                n_amend += 1
                if evs[0].__class__ is Amended:
                    rec[1] = price
                    rec[2] = qty
                    if len(evs) > 1:
                        apply(evs)
                else:  # rejected: the old order stands, undo the reservation swap
                    n_rej += 1
                    if buy:
                        cash[m] += cost - old_px * old_qty // 10
                    else:
                        stock[m][p] += qty - old_qty
                continue
            off = not online[i]
            if off and auction:
                continue
            # a new order, online or at the counter: reserve its cash or stock first
            m = slot_m[i]
            buy = is_buy[i]
            if buy:
                cost = price * qty // 10
                if cost > cash[m]:
                    lot = lots[slot_p[i]]
                    qty = cash[m] * 10 // price // lot * lot
                    if qty <= 0:
                        continue
                    cost = price * qty // 10
                cash[m] -= cost
            else:
                p = slot_p[i]
                row = stock[m]
                have = row[p]
                if qty > have:
                    qty = have // lots[p] * lots[p]
                    if qty <= 0:
                        continue
                row[p] = have - qty
            if off:
                lodge(t, i, price, qty)
                slot_oid[i] = PENDING
                n_off += 1
                continue
            evs = submit(owner[i], code[i], side[i], price, qty, tif=DAY, time=t)
            n_new += 1
            ev0 = evs[0]
            if ev0.__class__ is Accepted:
                orders[ev0.order_id] = [i, price, qty]
                slot_oid[i] = ev0.order_id
                if len(evs) > 1:
                    apply(evs)
            else:
                n_rej += 1
                if buy:
                    cash[m] += cost
                else:
                    stock[m][p] += qty
        counts["orders"] += n_new + n_off
        counts["offline_orders"] += n_off
        counts["amends"] += n_amend
        counts["rejected"] += n_rej

    def key_in(self, t: int) -> int:
        """The counter keys in the lodged orders ready at t (already reserved), OFFLINE."""
        batch = self.counter.ready(t)
        if not batch:
            return 0
        submit = self.ex.submit_limit
        owner, code, side = self.owner_l, self.code_l, self.side_l
        orders, slot_oid, apply = self.orders, self.slot_oid, self.apply
        for _ready, _seq, slot, price, qty in batch:
            evs = submit(owner[slot], code[slot], side[slot], price, qty, tif=DAY,
                         channel=OFFLINE, time=t)
            ev0 = evs[0]
            if ev0.__class__ is Accepted:
                orders[ev0.order_id] = [slot, price, qty]
                slot_oid[slot] = ev0.order_id
                if len(evs) > 1:
                    apply(evs)
            else:
                self.counts["rejected"] += 1
                slot_oid[slot] = 0
                m = self.slot_m_l[slot]
                if self.is_buy_l[slot]:
                    self.cash[m] += price * qty // 10
                else:
                    self.stock[m][self.slot_p_l[slot]] += qty
        return len(batch)

    # ------------------------------------------------------------------ events

    def apply(self, events: list) -> None:
        """Settle fills and release reservations for every event of a request (idempotent)."""
        orders = self.orders
        cash = self.cash
        stock = self.stock
        slot_m = self.slot_m_l
        slot_p = self.slot_p_l
        slot_oid = self.slot_oid
        is_buy = self.is_buy_l
        resell = self.resell_l
        need = self._need_mv
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
                    s = rec[0]
                    m = slot_m[s]
                    cash[m] += rec[1] * q // 10 - value
                    stock[m][slot_p[s]] += q
                    rec[2] -= q
                    if not rec[2]:
                        del orders[bo]
                        slot_oid[s] = 0
                    need[s] -= q
                    r = resell[s]
                    if r >= 0:
                        need[r] += q
                rec = orders.get(so)
                if rec is not None:
                    s = rec[0]
                    cash[slot_m[s]] += value
                    rec[2] -= q
                    if not rec[2]:
                        del orders[so]
                        slot_oid[s] = 0
                    need[s] -= q
            elif cls is Cancelled or cls is Expired:
                rec = orders.get(ev.order_id)
                if rec is None:
                    continue
                s = rec[0]
                q = ev.qty
                if is_buy[s]:
                    cash[slot_m[s]] += rec[1] * q // 10
                else:
                    stock[slot_m[s]][slot_p[s]] += q
                rec[2] -= q
                if rec[2] <= 0:
                    del orders[ev.order_id]
                    slot_oid[s] = 0

    # ------------------------------------------------------------------ audit

    def audit(self) -> None:
        """Check the ledger: nothing negative, reservations match the open orders exactly."""
        for m, c in enumerate(self.cash):
            if c < 0:
                raise LedgerError(f"member {m + 1} has negative free cash {c}")
        for m, row in enumerate(self.stock):
            for p, q in enumerate(row):
                if q < 0:
                    raise LedgerError(f"member {m + 1} has negative free stock {q} of {p}")
        for oid, (s, px, q) in self.orders.items():
            if q <= 0 or px <= 0:
                raise LedgerError(f"order {oid} has open qty {q} at {px}")
            if self.slot_oid[s] != oid:
                raise LedgerError(f"order {oid} is not its slot's order")

    def holdings(self) -> tuple[list[int], list[list[int]]]:
        """Each member's total cash (fen) and stock (kg): free plus reserved in open orders."""
        cash = list(self.cash)
        stock = [list(r) for r in self.stock]
        for s, px, q in self.orders.values():
            m, p = self.slot_m_l[s], self.slot_p_l[s]
            if self.is_buy_l[s]:
                cash[m] += px * q // 10
            else:
                stock[m][p] += q
        for _ready, _seq, s, px, q in self.counter.pending():
            m, p = self.slot_m_l[s], self.slot_p_l[s]
            if self.is_buy_l[s]:
                cash[m] += px * q // 10
            else:
                stock[m][p] += q
        return cash, stock
