"""China's national spot market around the exchange: each product's national price and use.

The national price is what a member could deal at off the exchange. For product j on trading
day d, in logs:

    rest-of-market  f_j(d) = a_j(d) + n_j(d) + x_j(d)
    national        p_j(d) = (1 - w) f_j(d) + w s_j(d-1)    (s: yesterday's settlement,
                                                             when the product traded and
                                                             was not held back by its band)

- a_j is the scenario's anchor path (dated points, log-linear between them);
- n_j is daily noise around it with the facts' volatility (a mean-reverting walk, still on a
  share of days for La and Ce), drawn from the product's own random stream;
- x_j is the response to national shocks: it closes `adjust_pct` of its gap to the
  equilibrium e_j each day, and e_j follows from the supply and demand shifts in force
  (`[[events]]` supply/demand) through the scenario's elasticities (`equilibrium`);
- w is the weight of the exchange's settlement (its price-discovery role). A day that traded
  at its band's top says only that the price is at least there: its settlement does not pull
  a national price above it down (nor, at the bottom, one below it up).

Co-products: the products of an ore group are mined together, paced by the group's `pace`
product; the ore's output rises `group.supply_elasticity` percent per percent of the pace
price, so a supply cut of the ore lifts the pace product most and its surplus co-products
(La, Ce, with very elastic own supply from stocks) barely, and a demand boom for the pace
product makes more of every co-product.

Derived products: a product that `follows` another is made from it or valued by it (PrNd
metal from the oxide, at a near-constant ratio of prices). Its equilibrium response is that
product's plus what its own shifts do to its margin, `e = e_in + (d - s) / (ed + es)`, and its
makers make what its market uses (processing capacity is not the constraint), so a demand
boom for PrNd oxide lifts the metal with it instead of flooding it as a co-product.

National use (kg per trading day) is the scenario's `monthly_tonnes` at the anchor path,
shifted by demand events and moved by the price with the demand elasticity. Members use
their share of it (sim.population); what non-members use is dealt off the exchange.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np

from sim.scenario import DemandEvent, Scenario, SupplyEvent
from sim.streams import counter, normal, uniform

__all__ = ["National", "anchor_path", "equilibrium", "shift_vectors"]

NOISE, STILL = 1, 2  # purposes of the national streams' draws


def anchor_path(anchors: list[tuple[dt.date, int]], reference: int,
                days: list[dt.date]) -> np.ndarray:
    """Log anchor price on each trading day: log-linear between the points, flat outside."""
    if not anchors:
        return np.full(len(days), math.log(reference))
    xs = np.array([a.toordinal() for a, _ in anchors], dtype=float)
    ys = np.log(np.array([p for _, p in anchors], dtype=float))
    at = np.array([d.toordinal() for d in days], dtype=float)
    return np.interp(at, xs, ys)


def equilibrium(sc: Scenario, demand: np.ndarray, supply: np.ndarray) -> np.ndarray:
    """Equilibrium log price change of each product for log shifts of demand and supply.

    Demand ln D = demand - ed * e; supply ln S = supply + eo * e_pace (co-products of an ore)
    + es * e. The pace product of a group solves e = (demand - supply) / (ed + eo + es); its
    co-products then e = (demand - supply - eo * e_pace) / (ed + es); a product outside any
    group e = (demand - supply) / (ed + es); a product that follows another adds that one's
    response, e_in + (demand - supply) / (ed + es). A zero denominator means no finite response.
    """
    codes = [p.code for p in sc.products]
    out = np.zeros(len(codes))
    groups = {g.name: g for g in sc.national.groups}
    pace_e: dict[str, float] = {}
    for g in sc.national.groups:
        k = codes.index(g.pace)
        p = sc.products[k]
        out[k] = _solve(demand[k] - supply[k], p.demand_elasticity + g.supply_elasticity
                        + p.supply_elasticity)
        pace_e[g.name] = out[k]
    for j, p in enumerate(sc.products):
        if p.group is not None and p.code == groups[p.group].pace:
            continue
        push = 0.0
        if p.group is not None:
            push = groups[p.group].supply_elasticity * pace_e[p.group]
        out[j] = _solve(demand[j] - supply[j] - push, p.demand_elasticity + p.supply_elasticity)
    for j in _follow_order(sc):  # each after the product it follows
        out[j] += out[codes.index(sc.products[j].follows)]
    return out


def _follow_order(sc: Scenario) -> list[int]:
    """Positions of the products that follow another, each after the one it follows."""
    codes = [p.code for p in sc.products]
    depth: dict[int, int] = {}
    for j, p in enumerate(sc.products):
        n, code = 0, p.follows
        while code is not None:  # the scenario's checks refuse loops
            n += 1
            code = sc.products[codes.index(code)].follows
        depth[j] = n
    return sorted((j for j in depth if depth[j]), key=lambda j: (depth[j], j))


def _solve(gap: float, slope: float) -> float:
    if slope > 0:
        return gap / slope
    return 0.0 if gap == 0 else math.copysign(math.inf, gap)


def shift_vectors(sc: Scenario, events: list) -> tuple[np.ndarray, np.ndarray]:
    """The log demand and supply shifts per product after the given supply/demand events."""
    codes = [p.code for p in sc.products]
    demand = np.zeros(len(codes))
    supply = np.zeros(len(codes))
    for ev in events:
        if not isinstance(ev, SupplyEvent | DemandEvent):
            continue
        targets = ev.products or sc.group_products(ev.group)
        step = math.log1p(ev.pct / 100)
        vec = supply if isinstance(ev, SupplyEvent) else demand
        for code in targets:
            vec[codes.index(code)] += step
    return demand, supply


class National:
    """The national market of one run, advanced a trading day at a time."""

    def __init__(self, sc: Scenario, days: list[dt.date], keys: np.ndarray,
                 use_scale: float) -> None:
        self.sc = sc
        n = len(sc.products)
        self.codes = [p.code for p in sc.products]
        self.anchor = np.stack([anchor_path(p.anchors, p.reference_price, days)
                                for p in sc.products], axis=1) if days else np.zeros((0, n))
        self.noise = self._noise(sc, len(days), keys)
        nat = sc.national
        self.w = nat.settlement_weight_pct / 100
        self.by_volume = nat.weight_by_volume
        self.normal_volume: np.ndarray | None = None  # each product's usual exchange volume
        self.adjust = nat.adjust_pct / 100
        self.normal_step = 1.0 - 0.5 ** (1.0 / nat.normal_halflife_days)
        self.ed = np.array([p.demand_elasticity for p in sc.products])
        # the products that follow another: made to what their market uses
        self.made_to_use = np.array([j for j, p in enumerate(sc.products)
                                     if p.follows is not None], dtype=np.int64)
        months = ((sc.calendar.end - sc.calendar.start).days + 1) / 30.4375
        per_day = months / max(len(days), 1)
        # national use per trading day at the anchor path, kg (every member's and non-member's)
        self.base_use = np.array([p.monthly_tonnes * 1000.0 * per_day for p in sc.products]
                                 ) * sc.behaviour.volume_factor * use_scale
        self.demand = np.zeros(n)  # log shifts in force
        self.supply = np.zeros(n)
        self.target = np.zeros(n)  # equilibrium log response to the shifts in force
        self.x = np.zeros(n)  # the response so far
        self.log_price = self.anchor[0].copy() if days else np.zeros(n)
        self.log_normal = self.log_price.copy()
        self.var = (np.array([p.volatility_bp for p in sc.products]) / 10_000) ** 2
        self.price = np.exp(self.log_price)
        self.deviation = np.zeros(n)  # log(price / anchor): what use and output respond to
        self.day = -1

    @staticmethod
    def _noise(sc: Scenario, ndays: int, keys: np.ndarray) -> np.ndarray:
        """Daily log noise per product: a mean-reverting walk, still on a share of days."""
        n = len(sc.products)
        out = np.zeros((ndays, n))
        if not ndays:
            return out
        sigma = np.array([p.volatility_bp / 10_000 for p in sc.products])
        kappa = np.array([p.reversion_pct / 100 for p in sc.products])
        flat = np.array([p.flat_pct / 100 for p in sc.products])
        move = sigma / np.sqrt(np.maximum(1.0 - flat, 1e-9))  # moves that happen are larger
        level = np.zeros(n)
        for d in range(1, ndays):
            shocks = normal(keys, counter(d, NOISE)) * move
            still = uniform(keys, counter(d, STILL)) < flat
            level = np.where(still, level, level * (1 - kappa) + shocks)
            out[d] = level
        return out

    def apply_shift(self, ev: SupplyEvent | DemandEvent) -> None:
        """A national supply or demand event takes effect: move the equilibrium."""
        d, s = shift_vectors(self.sc, [ev])
        self.demand += d
        self.supply += s
        self.target = equilibrium(self.sc, self.demand, self.supply)

    def start_day(self, d: int, settlement: list[int], volume: list[int],
                  at_limit: list[int] | None = None) -> np.ndarray:
        """Today's national prices (yuan/t, floats), from yesterday's settlements.

        `volume` is what each product traded yesterday (kg; 0: no trade, no pull). With
        `national.weight_by_volume` a settlement pulls with its weight times yesterday's volume
        over the product's usual one (at most 1): a day of a few tonnes discovers little.
        `at_limit` says which products traded at their band's top (1) or bottom (-1)
        yesterday: such a settlement is censored (the price would have gone further), so it
        does not pull the national price back across it.
        """
        self.day = d
        self.x += self.adjust * (self.target - self.x)
        rest = self.anchor[d] + self.noise[d] + self.x
        if d > 0 and self.w:
            pull = np.log(np.asarray(settlement, dtype=float))
            vol = np.asarray(volume, dtype=float)
            fresh = vol > 0
            if at_limit is not None:
                edge = np.asarray(at_limit)
                fresh &= ~(((edge > 0) & (pull < rest)) | ((edge < 0) & (pull > rest)))
            w = self.w
            if self.by_volume:
                w = self.w * self._volume_share(vol)
            logp = np.where(fresh, (1 - w) * rest + w * pull, rest)
        else:
            logp = rest
        if d > 0:
            self.var += 0.06 * ((logp - self.log_price) ** 2 - self.var)  # ~ a month's memory
            self.log_normal += self.normal_step * (logp - self.log_normal)
        else:
            self.log_normal = logp.copy()
        self.log_price = logp
        self.price = np.exp(logp)
        self.deviation = logp - self.anchor[d]
        return self.price

    def _volume_share(self, vol: np.ndarray) -> np.ndarray:
        """Yesterday's volume over the usual (at most 1), then yesterday joins the usual.

        The usual volume is remembered with `normal_halflife_days`, from the first day seen.
        """
        usual = vol if self.normal_volume is None else self.normal_volume
        share = np.minimum(vol / np.where(usual > 0, usual, 1.0), 1.0)
        share[usual <= 0] = 1.0  # nothing usual yet: the first trade counts fully
        self.normal_volume = usual + self.normal_step * (vol - usual)
        return share

    @property
    def vol_bp(self) -> np.ndarray:
        """Each product's recent daily volatility of the national price, in basis points."""
        return np.sqrt(self.var) * 10_000

    @property
    def above_normal(self) -> np.ndarray:
        """log(price / normal price): how far today's price stands above what members expect."""
        return self.log_price - self.log_normal

    def use(self) -> np.ndarray:
        """National use today per product (kg): the base, shifted and moved by price."""
        return self.base_use * np.exp(self.demand - self.ed * self.deviation)

    def supply_factor(self) -> np.ndarray:
        """Producers' output today relative to their base: shifts and the price response.

        ln output = supply shift + es * deviation (+ eo * the pace product's deviation for
        the co-products of an ore), as in `equilibrium`; a product that follows another is
        made to what its market uses, so its output moves with its use.
        """
        sc = self.sc
        log_f = self.supply + np.array([p.supply_elasticity for p in sc.products]) * self.deviation
        for g in sc.national.groups:
            k = self.codes.index(g.pace)
            for code in sc.group_products(g.name):
                log_f[self.codes.index(code)] += g.supply_elasticity * self.deviation[k]
        made = self.made_to_use
        if len(made):
            log_f[made] = (self.demand - self.ed * self.deviation)[made]
        return np.exp(log_f)
