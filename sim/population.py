"""The population: enterprises with province, role, join date, channel, intents and holdings.

Built once per run from the scenario and one seeded numpy Generator, on the scenario's FULL
calendar (so a run cut short with `until` is an exact prefix of the full run). Member ids are
1..n; member 1 is the dominant light-rare-earth seller, member 2 the dominant heavy one.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from sim.calendar import trading_days
from sim.scenario import Scenario

__all__ = ["DOMINANT_HEAVY", "DOMINANT_LIGHT", "NEVER", "Population", "build_population"]

DOMINANT_LIGHT = 1  # member id of the dominant light-rare-earth seller
DOMINANT_HEAVY = 2  # member id of the dominant heavy-rare-earth seller
NEVER = 1 << 30  # a day index no run reaches
SIZE_SIGMA = 0.8  # log-sd of enterprise size (lognormal), which sets each one's share of intents


def _exact_counts(weights: np.ndarray, n: int) -> np.ndarray:
    """Split n into integer counts proportional to weights (largest remainder, deterministic)."""
    w = np.asarray(weights, dtype=float)
    quota = w / w.sum() * n
    counts = np.floor(quota).astype(np.int64)
    rest = n - int(counts.sum())
    order = np.argsort(-(quota - counts), kind="stable")
    counts[order[:rest]] += 1
    return counts


class Population:
    """Every enterprise of a run, as parallel numpy arrays indexed by member id - 1."""

    def __init__(
        self,
        *,
        provinces: list[str],
        roles: list[str],
        products: list[str],
        province: np.ndarray,
        role: np.ndarray,
        join_day: np.ndarray,
        online_day: np.ndarray,
        buy_rate: np.ndarray,
        sell_rate: np.ndarray,
        trade_rate: np.ndarray,
        cash: np.ndarray,
        stock: np.ndarray,
        days_total: int,
    ) -> None:
        self.provinces = provinces  # names, indexed by `province`
        self.roles = roles  # names, indexed by `role`
        self.products = products  # codes, the column order of the per-product arrays
        self.province = province  # int [n]
        self.role = role  # int [n]
        self.join_day = join_day  # int [n]: first trading day (index) as a member
        self.online_day = online_day  # int [n]: first trading day trading online (NEVER if not)
        self.buy_rate = buy_rate  # float [n, P]: buying intent, kg per trading day
        self.sell_rate = sell_rate  # float [n, P]: selling intent (output), kg per trading day
        self.trade_rate = trade_rate  # float [n, P]: a trader's intake to resell, kg per day
        self.cash = cash  # int64 [n]: opening cash, fen
        self.stock = stock  # int64 [n, P]: opening stock, kg (multiples of the lot)
        self.days_total = days_total  # trading days of the full calendar

    def __len__(self) -> int:
        return len(self.role)

    @property
    def ids(self) -> list[int]:
        """Member ids, 1..n."""
        return list(range(1, len(self) + 1))

    def members_on(self, day: int) -> int:
        """How many members have joined by trading day `day`."""
        return int(np.count_nonzero(self.join_day <= day))

    def online_on(self, day: int) -> int:
        """How many joined members trade online on trading day `day`."""
        return int(np.count_nonzero((self.join_day <= day) & (self.online_day <= day)))

    def province_count_on(self, day: int) -> int:
        """How many distinct provinces the members joined by `day` come from."""
        return len(np.unique(self.province[self.join_day <= day]))


def _schedule_days(sc: Scenario, days: list[dt.date], count: int) -> np.ndarray:
    """Trading-day indices at which `count` members switch online, following the schedule."""
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    points = [(0.0, 0.0)]
    for date, pct in sorted(sc.population.online_schedule):
        idx = sum(1 for d in days if d <= date)
        points.append((float(idx), pct / 100.0))
    if points[-1][1] < 1.0:
        points.append((float(len(days)), 1.0))
    xs = np.array([p[0] for p in points])
    ys = np.maximum.accumulate(np.array([p[1] for p in points]))
    targets = (np.arange(count) + 1) / count
    at = np.interp(targets, ys, xs, left=0.0, right=float(len(days)))
    return np.clip(np.ceil(at).astype(np.int64), 1, max(len(days) - 1, 1))


def _spread(daily: float, size: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Daily rates proportional to size whose sum over each member's days is `daily` per day.

    Members who join late get the same rate as an early member of their size, scaled so the
    product's total intent over the calendar is fixed whatever the join order.
    """
    return daily * size / float((size * active).sum())


def _some(candidates: np.ndarray, size: np.ndarray, k: float,
          rng: np.random.Generator) -> np.ndarray:
    """About k of the candidates (at least one), drawn by enterprise size, in id order."""
    want = int(np.clip(round(k), 1, len(candidates))) if len(candidates) else 0
    if want == len(candidates):
        return candidates
    w = size[candidates]
    return np.sort(rng.choice(candidates, size=want, replace=False, p=w / w.sum()))


def build_population(sc: Scenario, rng: np.random.Generator, scale: int = 1) -> Population:
    """Draw the enterprises of a scenario (population and intents multiplied by `scale`)."""
    pop = sc.population
    cal = sc.calendar
    days = trading_days(cal.start, cal.end, cal.holidays)
    ndays = max(len(days), 1)
    n = pop.members * scale
    n_start = pop.members_at_start * scale
    codes = [p.code for p in sc.products]
    nprod = len(codes)
    prov_names = [name for name, _ in pop.provinces]
    prov_w = np.array([w for _, w in pop.provinces], dtype=float)
    role_names = [r.name for r in sc.roles]

    # provinces: the first members cover every province once, the rest by weight
    province = np.empty(n, dtype=np.int64)
    k = min(len(prov_names), n)
    province[:k] = np.arange(k)
    province[k:] = rng.choice(len(prov_names), size=n - k, p=prov_w / prov_w.sum())

    # roles: exact counts by weight; the dominant sellers are separators
    sep = role_names.index("separator")
    role = np.empty(n, dtype=np.int64)
    ndom = min(2, n)
    role[:ndom] = sep
    counts = _exact_counts(np.array([r.weight_pct for r in sc.roles]), n - ndom)
    rest = np.repeat(np.arange(len(role_names)), counts)
    role[ndom:] = rng.permutation(rest)

    # join days: start members on day 0, the others spread evenly over the calendar
    join_day = np.zeros(n, dtype=np.int64)
    n_new = n - n_start
    if n_new:
        join_day[n_start:] = np.sort(rng.integers(1, max(ndays, 2), size=n_new))

    # the Online Enterprise Doubling Plan
    online_day = np.full(n, NEVER, dtype=np.int64)
    online_start = min(n_start, max(ndom, round(pop.online_at_start_pct / 100 * n_start)))
    start_pool = np.arange(ndom, n_start)
    chosen = rng.choice(start_pool, size=online_start - ndom, replace=False)
    online_day[:ndom] = 0
    online_day[chosen] = 0
    new_online = round(pop.new_members_online_pct / 100 * n_new)
    new_chosen = rng.choice(np.arange(n_start, n), size=new_online, replace=False)
    online_day[new_chosen] = join_day[new_chosen]
    target_end = round(online_start * (1 + pop.online_growth_pct / 100))
    offline_start = np.setdiff1d(start_pool, chosen)
    switchers = int(np.clip(target_end - online_start - new_online, 0, len(offline_start)))
    who = rng.choice(offline_start, size=switchers, replace=False)
    online_day[who] = _schedule_days(sc, days, switchers)

    # intents: each member's share of its products' demand/supply, by enterprise size
    months = ((cal.end - cal.start).days + 1) / 30.4375
    size = rng.lognormal(0.0, SIZE_SIGMA, size=n)
    active = (ndays - join_day) / ndays  # share of the calendar each member is a member
    buy_rate = np.zeros((n, nprod))
    sell_rate = np.zeros((n, nprod))
    trade_rate = np.zeros((n, nprod))
    beh = sc.behaviour
    traders = np.flatnonzero(role == role_names.index("trader")) if "trader" in role_names else []
    tr_role = next((r for r in sc.roles if r.name == "trader"), None)
    trader_products = set(tr_role.quotes) if tr_role is not None else set()
    for j, p in enumerate(sc.products):
        daily = p.monthly_tonnes * 1000.0 * months / ndays * scale * beh.volume_factor
        lot_rate = p.lot / pop.lot_every_days  # a member trading p needs a lot this often
        buying = [i for i, r in enumerate(sc.roles) if p.code in r.buys]
        buyers = np.flatnonzero(np.isin(role, buying))
        buyers = _some(buyers, size, daily / lot_rate, rng)
        if len(buyers):
            buy_rate[buyers, j] = _spread(daily, size[buyers], active[buyers])
        supply = daily * beh.supply_ratio
        dom = {"light": DOMINANT_LIGHT - 1, "heavy": DOMINANT_HEAVY - 1}.get(p.dominant or "")
        share = p.dominant_share_pct / 100 if dom is not None and dom < n else 0.0
        if share:
            sell_rate[dom, j] = supply * share
        sellers = np.flatnonzero(
            np.isin(role, [i for i, r in enumerate(sc.roles) if p.code in r.sells])
        )
        sellers = _some(sellers[sellers >= ndom], size, supply * (1 - share) / lot_rate, rng)
        if len(sellers):
            sell_rate[sellers, j] = _spread(supply * (1 - share), size[sellers],
                                            active[sellers])
        elif share:
            sell_rate[dom, j] = supply
        # traders buy to resell: their intake is a share of the product's demand
        intake = daily * beh.trader_turnover_pct / 100
        if intake > 0 and len(traders) and p.code in trader_products:
            dealers = _some(traders, size, intake / lot_rate, rng)
            trade_rate[dealers, j] = _spread(intake, size[dealers], active[dealers])
    # opening holdings (exact integers: stock in whole lots, cash in fen)
    lots = np.array([p.lot for p in sc.products], dtype=np.int64)
    ref = np.array([p.reference_price for p in sc.products], dtype=np.int64)
    stock_kg = sell_rate * pop.stock_days + trade_rate * pop.trader_stock_days
    stock = (np.floor(stock_kg / lots) * lots).astype(np.int64)
    buy_value = ((buy_rate + trade_rate) * ref).sum(axis=1) / 10  # fen per day
    cash = np.floor(buy_value * pop.cash_days).astype(np.int64)
    return Population(
        provinces=prov_names,
        roles=role_names,
        products=codes,
        province=province,
        role=role,
        join_day=join_day,
        online_day=online_day,
        buy_rate=buy_rate,
        sell_rate=sell_rate,
        trade_rate=trade_rate,
        cash=cash,
        stock=stock,
        days_total=len(days),
    )
