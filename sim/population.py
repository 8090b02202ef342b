"""The members: enterprises with province, role, size, join date, channel, use, output, holdings.

Members are some of the national market's enterprises (`national.enterprises`): together they
use and make `members / enterprises` of the national market's use and output of each product
(the rest is non-members', dealt off the exchange), shared among the members by size. So more
members bring more of the national market to the exchange.

Every attribute of member i is drawn from member i's own random stream (`sim.streams`), keyed
by what is drawn: adding members, or changing one, leaves every other member exactly as it
was. Counts that the scenario fixes are kept exact by ranking those draws (which start
members trade online, which switch online and in what order) or, for members who join, by
sampling them systematically in the order they join (which of them join online), so that
members joining later change nobody before them. Built on the scenario's FULL
calendar, so a run cut short with `until` is an exact prefix of the full run. Member ids are
1..n; member 1 is the dominant light-rare-earth producer, member 2 the dominant heavy one.

With `population.seed` set, who the members are (every attribute here, and each member's own
off-exchange premium) is drawn from that seed's member streams instead of the run's: runs of
different seeds then share one population and differ only in what the members do and in the
national noise, which separates the spread due to who the members are from the noise.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from sim.calendar import trading_days
from sim.national import anchor_path
from sim.scenario import Scenario
from sim.streams import Streams, normal, uniform

__all__ = ["DOMINANT_HEAVY", "DOMINANT_LIGHT", "NEVER", "Population", "build_population"]

DOMINANT_LIGHT = 1  # member id of the dominant light-rare-earth producer
DOMINANT_HEAVY = 2  # member id of the dominant heavy-rare-earth producer
NEVER = 1 << 30  # a day index no run reaches
STRATA = 20  # weight strata of the members who join later, for their channel (_systematic)
HOLDING_CAP = float(1 << 62)  # the most opening cash (fen) or stock (kg) a member is given
# what a member's draw is for (a member's stream is keyed by these, plus a product index)
PROVINCE, ROLE, SIZE, JOIN, ONLINE, NEW_ONLINE, SWITCH, PREMIUM = range(1, 9)
BUYS, SELLS, MAKES = 100, 200, 300  # + product index


class Population:
    """Every member of a run, as parallel numpy arrays indexed by member id - 1."""

    def __init__(self, *, provinces: list[str], roles: list[str], products: list[str],
                 keys: np.ndarray, traits: np.ndarray, province: np.ndarray, role: np.ndarray,
                 size: np.ndarray, join_day: np.ndarray, online_day: np.ndarray,
                 use_rate: np.ndarray, make_rate: np.ndarray, maker: np.ndarray,
                 maker_target: np.ndarray, quote_size: np.ndarray, cash: np.ndarray,
                 stock: np.ndarray, days_total: int, enterprises: int) -> None:
        self.provinces = provinces  # names, indexed by `province`
        self.roles = roles  # names, indexed by `role`
        self.products = products  # codes, the column order of the per-product arrays
        self.keys = keys  # uint64 [n]: each member's random stream (what it does)
        self.traits = traits  # uint64 [n]: the streams its traits were drawn from (who it is)
        self.province = province  # int [n]
        self.role = role  # int [n]
        self.size = size  # float [n]: enterprise size (lognormal, mean mean_size)
        self.join_day = join_day  # int [n]: first trading day (index) as a member
        self.online_day = online_day  # int [n]: first trading day online (NEVER if not)
        self.use_rate = use_rate  # float [n, P]: use at the anchor path, kg per trading day
        self.make_rate = make_rate  # float [n, P]: output at the anchor path, kg per day
        self.maker = maker  # bool [n, P]: makes a market in the product
        self.maker_target = maker_target  # float [n, P]: a market maker's target stock, kg
        self.quote_size = quote_size  # int [P]: a market maker's quote size, kg
        self.cash = cash  # int64-valued [n]: opening cash, fen
        self.stock = stock  # int64-valued [n, P]: opening stock, kg (whole lots)
        self.days_total = days_total  # trading days of the full calendar
        self.enterprises = enterprises  # the national market's enterprises (scaled)

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
    """Trading-day indices at which the 1st..count-th switcher goes online, by the schedule."""
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


def _pick(u: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Categories drawn by weight, one per uniform draw."""
    cum = np.cumsum(weights / weights.sum())
    return np.minimum(np.searchsorted(cum, u, side="right"), len(weights) - 1)


def _participation(volume: float, lot: int, every: float, candidates: float) -> float:
    """Share of an eligible role's enterprises that trade a product, at most all of them.

    Each trades a lot per `every` days on average, so small markets have few traders.
    """
    if candidates <= 0 or volume <= 0:
        return 0.0
    return min(1.0, volume * every / lot / candidates)


def _shares(size: np.ndarray, chosen: np.ndarray, total: float, active: np.ndarray,
            mean_active: float) -> np.ndarray:
    """Daily rates of the chosen members, by size, whose use over the run is their share.

    The members are the national market's enterprises in the share `members / enterprises`;
    their use (or output) of a product is that share of the national figure, divided among
    the members who use (make) it by size. Members who join later use only from then on, so
    the rates are set on member-days: over the run the chosen members use `total` times the
    share of the calendar an average member is a member (`mean_active`), whichever members
    happen to join late. A member's rate is relative to its peers': its own draws never
    change, whoever else is a member.
    """
    if not chosen.any():
        return np.zeros(0)
    weight = (size[chosen] * active[chosen]).sum()
    if weight == 0:  # none of them is a member within the run (a short calendar): no use
        return np.zeros(int(chosen.sum()))
    return size[chosen] * (total * mean_active / weight)


def build_population(sc: Scenario, streams: Streams, scale: int = 1) -> Population:
    """Draw the members of a scenario (members and the national market multiplied by `scale`)."""
    pop = sc.population
    cal = sc.calendar
    days = trading_days(cal.start, cal.end, cal.holidays)
    ndays = max(len(days), 1)
    n = pop.members * scale
    n_start = pop.members_at_start * scale
    enterprises = sc.national.enterprises * scale
    ids = np.arange(1, n + 1)
    keys = streams.members(ids)  # each member's stream: everything it does in the run
    # the streams who each member is comes from: its own, or one seed's for every run
    traits = keys if pop.seed is None else Streams(pop.seed).members(ids)
    codes = [p.code for p in sc.products]
    nprod = len(codes)
    role_names = [r.name for r in sc.roles]
    role_w = np.array([r.weight_pct for r in sc.roles], dtype=float)

    def draw(purpose: int) -> np.ndarray:
        return uniform(traits, purpose)

    # provinces: the first members cover every province once, the others by weight
    prov_names = [name for name, _ in pop.provinces]
    prov_w = np.array([w for _, w in pop.provinces], dtype=float)
    province = _pick(draw(PROVINCE), prov_w)
    k = min(len(prov_names), n)
    province[:k] = np.arange(k)
    # roles by weight; the dominant producers are separators
    role = _pick(draw(ROLE), role_w)
    ndom = min(2, n)
    role[:ndom] = role_names.index("separator")
    sigma = pop.size_dispersion
    size = np.exp(sigma * normal(traits, SIZE))
    mean_size = float(np.exp(sigma ** 2 / 2))
    # join days: start members on day 0, the others on a day of their own
    join_day = np.where(ids <= n_start, 0,
                        1 + np.floor(draw(JOIN) * max(ndays - 1, 1)).astype(np.int64))

    # use and output: each member's share of the national market, by role and size
    anchors0 = np.array([np.exp(anchor_path(p.anchors, p.reference_price, days[:1]))[0]
                         if days else float(p.reference_price) for p in sc.products])
    months = ((cal.end - cal.start).days + 1) / 30.4375
    use_rate = np.zeros((n, nprod))
    make_rate = np.zeros((n, nprod))
    maker = np.zeros((n, nprod), dtype=bool)
    maker_target = np.zeros((n, nprod))
    quote_size = np.zeros(nprod, dtype=np.int64)
    is_trader = role == role_names.index("trader") if "trader" in role_names else (
        np.zeros(n, dtype=bool))
    share_of_market = pop.members / sc.national.enterprises  # members' share at full membership
    active = (ndays - join_day) / ndays  # the share of the calendar each member is a member
    mean_active = (n_start + 0.5 * (n - n_start)) / n  # late joiners join uniformly
    weight = np.zeros(n)  # each member's expected flow (kg/day), from its own draws alone
    intensity = np.array([r.use_intensity for r in sc.roles])
    use_size = size * intensity[role]  # what a member's use of a product it buys scales with
    for j, p in enumerate(sc.products):
        daily = (p.monthly_tonnes * 1000.0 * months / ndays * scale
                 * sc.behaviour.volume_factor)  # national use per trading day, kg
        every = pop.lot_every_days
        buying = [i for i, r in enumerate(sc.roles) if p.code in r.buys]
        w_buy = role_w[buying].sum() / 100 if buying else 0.0
        q_buy = _participation(daily, p.lot, every, enterprises * w_buy)
        users = np.isin(role, buying) & (uniform(traits, BUYS + j) < q_buy)
        use_rate[users, j] = _shares(use_size, users, daily * share_of_market, active,
                                     mean_active)
        if q_buy:  # (the buying roles' mean intensity is exactly 1 when every role's is)
            mean_use = mean_size * np.average(intensity[buying], weights=role_w[buying])
            weight[users] += use_size[users] * daily / (enterprises * w_buy * q_buy * mean_use)
        share = p.dominant_share_pct / 100
        dom = {"light": DOMINANT_LIGHT - 1, "heavy": DOMINANT_HEAVY - 1}.get(p.dominant or "")
        if dom is not None and dom < n and share:
            make_rate[dom, j] = daily * share
        else:
            share = 0.0
        selling = [i for i, r in enumerate(sc.roles) if p.code in r.sells]
        w_sell = role_w[selling].sum() / 100 if selling else 0.0
        others = daily * (1 - share)
        q_sell = _participation(others, p.lot, every, enterprises * w_sell)
        makers_ = np.isin(role, selling) & (ids > ndom) & (uniform(traits, SELLS + j) < q_sell)
        make_rate[makers_, j] = _shares(size, makers_, others * share_of_market, active,
                                        mean_active)
        if q_sell:
            weight[makers_] += size[makers_] * others / (enterprises * w_sell * q_sell
                                                         * mean_size)
    online_day = _online_days(sc, days, n, n_start, ndom, join_day, weight, draw)
    _choose_makers(sc, traits, is_trader & (online_day == 0) & (join_day == 0), months, ndays,
                   scale, maker, maker_target, quote_size)
    _users_not_makers(use_rate, maker, use_size, active, mean_active)

    # opening holdings (exact integers: stock in whole lots, cash in fen)
    lots = np.array([p.lot for p in sc.products], dtype=np.int64)
    inv = sc.inventory
    stock_kg = (use_rate * inv.target_cover_days + make_rate * inv.seller_cover_days
                + maker_target)
    # (capped at 2**62, far beyond any real holding, so that they stay int64 at any size the
    # scenario's bounds allow)
    stock = (np.floor(np.minimum(stock_kg, HOLDING_CAP) / lots) * lots).astype(np.int64)
    buy_value = (use_rate * anchors0).sum(axis=1) / 10  # fen per day of use
    maker_value = (maker_target * anchors0).sum(axis=1) / 10
    cash = np.floor(np.minimum(buy_value * pop.cash_days + maker_value * sc.makers.cash_days,
                               HOLDING_CAP)).astype(np.int64)
    return Population(
        provinces=prov_names, roles=role_names, products=codes, keys=keys, traits=traits,
        province=province, role=role, size=size, join_day=join_day, online_day=online_day,
        use_rate=use_rate, make_rate=make_rate, maker=maker, maker_target=maker_target,
        quote_size=quote_size, cash=cash, stock=stock, days_total=len(days),
        enterprises=enterprises)


def _stratified(pool: np.ndarray, count: int, size: np.ndarray, u: np.ndarray) -> np.ndarray:
    """`count` members of `pool`, one from each of `count` equal strata by `size`.

    In each stratum, the member with the lowest own draw `u`. Returned by increasing draw.

    So the chosen members' share of `size` is about their share of members, whatever the
    seed, while who is chosen still comes from each member's own stream.
    """
    if count <= 0 or not len(pool):
        return np.zeros(0, dtype=np.int64)
    order = pool[np.argsort(-size[pool], kind="stable")]
    edges = np.floor(np.arange(count + 1) * len(order) / count).astype(np.int64)
    picked = [order[a:b][np.argmin(u[order[a:b]])] for a, b in zip(edges[:-1], edges[1:],
                                                                    strict=True) if b > a]
    picked = np.array(picked, dtype=np.int64)
    return picked[np.argsort(u[picked], kind="stable")]


def _systematic(pool: np.ndarray, share: float, weight: np.ndarray, reference: np.ndarray,
                u: np.ndarray) -> np.ndarray:
    """Members of `pool` (ascending ids) chosen in the share `share` of each stratum by weight.

    The strata are `STRATA` bins of equal count of the `reference` members' weights; in each,
    members are taken in id order by systematic sampling (the k-th is chosen when
    floor((k + 1) share + v) > floor(k share + v), v the stratum's first member's own draw
    `u`). So every stratum's chosen count is within one of its share and the chosen members'
    share of the pool's weight is about `share`, whatever the seed; and a member's choice
    depends only on the members before it in its stratum: adding members with higher ids
    (members who join later) changes nobody's. Returned in id order.
    """
    if not len(pool) or share <= 0:
        return np.zeros(0, dtype=np.int64)
    edges = (np.quantile(weight[reference], np.arange(1, STRATA) / STRATA)
             if len(reference) else np.zeros(0))
    stratum = np.searchsorted(edges, weight[pool], side="right")
    chosen = np.zeros(len(pool), dtype=bool)
    for s in np.unique(stratum).tolist():
        at = np.flatnonzero(stratum == s)
        v = u[pool[at[0]]]
        k = np.arange(len(at))
        chosen[at] = np.floor((k + 1) * share + v) > np.floor(k * share + v)
    return pool[chosen]


def _users_not_makers(use_rate: np.ndarray, maker: np.ndarray, use_size: np.ndarray,
                      active: np.ndarray, mean_active: float) -> None:
    """A market maker does not also use the product it quotes: its use goes to the others.

    (A trader who buys for its customers may be chosen to make a market in one of the
    products it buys; its quotes and its customers would draw on one stock.) The product's
    members' use is shared again among its other users, as `_shares` shares it.
    """
    for j in np.flatnonzero((maker & (use_rate > 0)).any(axis=0)).tolist():
        col = use_rate[:, j]
        total = float((col * active).sum()) / mean_active
        users = (col > 0) & ~maker[:, j]
        col[:] = 0.0
        if users.any():
            col[users] = _shares(use_size, users, total, active, mean_active)


def _choose_makers(sc: Scenario, keys: np.ndarray, eligible: np.ndarray, months: float,
                   ndays: int, scale: int, maker: np.ndarray, target: np.ndarray,
                   quote_size: np.ndarray) -> None:
    """Each quoted product's market makers, sharing the makers' capacity.

    `per_product` traders trading online from the start (those with the lowest own draws
    for the product).

    Together a product's makers hold `inventory_days` of members' daily use and quote
    `quote_pct` of it, in equal parts; a quote is at least a lot.
    """
    spec = sc.makers
    quoted = {code for r in sc.roles if r.name == "trader" for code in r.quotes}
    pool = np.flatnonzero(eligible)
    want = int(round(spec.per_product * scale))
    for j, p in enumerate(sc.products):
        quote_size[j] = p.lot
        if p.code not in quoted or not want or not len(pool):
            continue
        chosen = pool[np.argsort(uniform(keys[pool], MAKES + j), kind="stable")[:want]]
        member_daily = (p.monthly_tonnes * 1000.0 * months / ndays * scale
                        * sc.behaviour.volume_factor) * sc.population.members / (
                            sc.national.enterprises)
        maker[chosen, j] = True
        target[chosen, j] = spec.inventory_days * member_daily / len(chosen)
        quote = member_daily * spec.quote_pct / 100 / len(chosen)
        quote_size[j] = max(p.lot, int(quote // p.lot) * p.lot)


def _online_days(sc: Scenario, days: list[dt.date], n: int, n_start: int, ndom: int,
                 join_day: np.ndarray, weight: np.ndarray, draw) -> np.ndarray:
    """The Online Enterprise Doubling Plan: who trades online from which day.

    The dominant producers and a share of the other start members trade online from the
    start; `new_members_online_pct` of the later members start online (stratified by
    expected flow, in order of joining: `_systematic`); `switch_pct` of the offline start
    members switch online on the schedule's dates, the first switchers first. Start members
    and switchers are chosen stratified by expected flow (`_stratified`): exact counts whose
    share of the members' use and output is about their share of members, whatever the seed.
    Every count comes from the start members alone, so members who join (more of them, or
    fewer) change nobody else's channel: a what-if that adds members only adds members.
    (A fixed online total, as before, made each extra member who joined online keep a start
    member offline: members-2025 then moved 119 fewer start members online.)
    """
    pop = sc.population
    online_day = np.full(n, NEVER, dtype=np.int64)
    online_day[:ndom] = 0
    start_pool = np.arange(ndom, n_start)
    online_start = min(n_start, max(ndom, round(pop.online_at_start_pct / 100 * n_start)))
    first = _stratified(start_pool, online_start - ndom, weight, draw(ONLINE))
    online_day[first] = 0
    new = np.arange(n_start, n)
    new_online = _systematic(new, pop.new_members_online_pct / 100, weight, start_pool,
                             draw(NEW_ONLINE))
    online_day[new_online] = join_day[new_online]
    offline = np.setdiff1d(start_pool, first)
    switchers = min(round(pop.switch_pct / 100 * len(offline)), len(offline))
    who = _stratified(offline, switchers, weight, draw(SWITCH))
    online_day[who] = _schedule_days(sc, days, switchers)
    return online_day
