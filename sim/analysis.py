"""Measures of a run, each a function of a `Run` (`sim.load_run`): the answers, not the files.

Every measure returns `Rows`, a list of dicts whose keys name their unit. Money and tonnage
are exact integers (fen, kg), shares are exact `Fraction`s (percent, HHI on 0-10,000), and
price deviations and spreads in basis points are floats computed from exact integers (one
rounding per trade or per quote). `Rows.to_json()` rounds only when written; `Rows.to_pandas()`
gives a DataFrame. `analyse(run)` gathers every measure into one JSON-ready dict, which the
runner stores as summary["analysis"].

Cost: trades.csv is read once per `Run`, streaming a few thousand rows (whole days) at a
time, into numpy tallies per member, day and kind (memory grows with members and days, not
with trades; a closed month keeps only its figures). A run's own analysis is fed the same
tally by the recorder as each day closes, so it does not read its trades back; the answers
are the same to the bit however the trades are cut into chunks. quotes.csv is read once,
into arrays of its samples; the small tables (daily, enterprises) whole. Reading the CSV is
most of the cost. Measures the run's files cannot answer (an older run without quotes.csv)
raise RunFileError; `analyse` lists them under "skipped".

Definitions:
- concentration: each member's share of a product's traded value (or kg) on one side; HHI is
  the sum of squared percentage shares (0-10,000); topK_pct the K largest members' share.
- dominant share: the product's dominant seller's (scenario `dominant`: member 1 for light,
  2 for heavy) share of the product's sold tonnage and value.
- transparency: each trade's price against the same product's online VWAP that day
  (sum(price*qty)/sum(qty) of its online trades), in basis points; per product and group
  (`online`, `offline`, `negotiated`, `block_auction`; online is the yardstick's own
  scatter): mean absolute deviation, mean (signed) deviation and its standard deviation,
  each trade counting once. Trades on a day without online trades are not compared.
- spreads: at each sampled touch with both sides, ask - bid in yuan/t and in basis points of
  the midpoint; medians are the lower median (an observed value); depth is the quantity at
  the best bid and ask.
- exchange share: the exchange's tonnage over its tonnage plus the off-exchange buy-side
  flow of the same products (daily.csv `off_exchange_kg`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from fractions import Fraction
from typing import Any

import numpy as np

from sim.errors import RunFileError
from sim.metrics import unit_of
from sim.population import DOMINANT_HEAVY, DOMINANT_LIGHT
from sim.runs import CATEGORIES, Run

__all__ = [
    "GROUPS", "Rows", "analyse", "by_kind", "by_province", "by_role", "channels_by_day",
    "concentration", "counterparties", "cumulative", "dominant_share", "exchange_share",
    "members_by_day", "spreads", "transparency",
]

GROUPS = ("online", "offline", "negotiated", "block_auction")  # transparency's trade groups
TOP = (1, 4, 10)  # concentration's top-K shares
_PLACES = {"pct": 3, "bp": 1, "hhi": 2}  # decimals each unit is written with


# ----------------------------------------------------------------------------- rows

def _written(key: str, value: Any) -> Any:
    """A value as JSON holds it: exact ints as they are, fractions and floats rounded.

    A float that rounds to zero is written 0.0, never -0.0.
    """
    if isinstance(value, (Fraction, float)):
        return round(float(value), _PLACES.get(unit_of(key), 6)) + 0.0
    return value


class Rows(list):
    """A measure's answer: one dict per row, exact values, keys that name their units."""

    def column(self, key: str) -> list[Any]:
        """Every row's value of `key`."""
        return [r[key] for r in self]

    def to_json(self) -> list[dict[str, Any]]:
        """The rows as JSON-ready dicts: shares and basis points rounded, the rest exact."""
        return [{k: _written(k, v) for k, v in r.items()} for r in self]

    def to_pandas(self) -> Any:
        """The rows as a DataFrame (needs pandas).

        Fractions become floats, dates and months datetime64, products, sides and the like
        categories, and beside each kg or fen column is its converted one (t, yuan).
        """
        from sim.runs import _pandas, _with_units

        pd = _pandas()
        df = pd.DataFrame([{k: float(v) if isinstance(v, Fraction) else v
                            for k, v in r.items()} for r in self])
        for c in df.columns:
            if c in ("date", "month"):
                df[c] = pd.to_datetime(df[c], format="%Y-%m-%d" if c == "date" else "%Y-%m")
            elif c in CATEGORIES:  # the fixed vocabulary, or the rows' (scenario) order
                seen = list(pd.unique(df[c].dropna()))
                order = [v for v in CATEGORIES[c] if v in seen] or seen
                df[c] = df[c].astype(pd.CategoricalDtype(order + [v for v in seen
                                                                  if v not in order]))
        return _with_units(pd, df)


def _share(part: int, whole: int) -> Fraction | None:
    """`part` as an exact percentage of `whole` (None when `whole` is 0)."""
    return Fraction(100 * part, whole) if whole else None


# ----------------------------------------------------------------------------- tallies

class _Codes(dict):
    """Small integer codes for the values of a text column, assigned as values appear."""

    def __missing__(self, key: Any) -> int:
        code = self[key] = len(self)
        return code

    def of(self, values: Sequence[Any]) -> np.ndarray:
        """The codes of `values`, as an int64 array."""
        return np.fromiter(map(self.__getitem__, values), np.int64, len(values))

    def names(self) -> list[Any]:
        """The values, indexed by their code."""
        return list(self)


def _sums(keys: np.ndarray, *weights: np.ndarray) -> tuple[np.ndarray, ...]:
    """The distinct `keys` (sorted) and, for each weight array, its exact sum per key."""
    if not len(keys):
        return (keys, *(w[:0] for w in weights))
    order = np.argsort(keys, kind="stable")
    k = keys[order]
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    return (k[starts], *(np.add.reduceat(w[order], starts) for w in weights))


def _whole_days(chunks: Iterator[list[Sequence[Any]]]) -> Iterator[list[Sequence[Any]]]:
    """Re-cut column chunks (date first) so each ends at a day's end: a day is never split."""
    carry: list[list[Any]] | None = None
    for chunk in chunks:
        cols = [list(c) for c in chunk] if carry is None else [
            a + list(b) for a, b in zip(carry, chunk, strict=True)]
        dates = cols[0]
        last = dates[-1]
        cut = len(dates)
        while cut and dates[cut - 1] == last:
            cut -= 1
        if cut:
            yield [c[:cut] for c in cols]
        carry = [c[cut:] for c in cols]
    if carry and carry[0]:
        yield carry


_MEMBER_BITS, _SIDE_BIT, _PRODUCT_SHIFT, _MONTH_SHIFT = 31, 31, 32, 42
_GROUP_CODE = {"negotiated": 2, "block_auction": 3}  # else 0 online, 1 offline


class TradeTally:
    """Everything the trade-based measures need, from one streaming pass over the trades.

    Fed chunks of whole days in date order (`add`), as column lists in `COLUMNS` order, then
    `finish()`ed: from trades.csv by `of_run`, or by the recorder as each day closes (so a
    run's own analysis does not read its trades back). Works a chunk at a time with numpy
    (exact int64 sums); keeps:
    - `members`: each side's kg and fen per member, over the run and (reduced to the monthly
      measures' figures as each month closes) by month (`_Members`)
    - `days[date] = [online_kg, offline_kg, online_fen, offline_fen, trades]`
    - `kinds[(kind, channel)] = [trades, kg, fen]`
    - `dev[(product, group)] = [trades, compared, compared_kg, sum, abs_sum, sq_sum]` of the
      deviations in basis points (floats)
    - `pairs[(product, buyer_role, seller_role)] = [trades, kg, fen]` (role None: a member
      `roles` does not name)
    """

    COLUMNS = ("date", "product", "price", "qty_kg", "value_fen", "channel", "buyer", "seller",
               "kind")

    def __init__(self, products: Sequence[str], dominant: dict[str, int],
                 has_kind: bool = True, roles: dict[int, str] | None = None) -> None:
        self.has_kind = has_kind
        # each member's role (member id -> name), for who trades with whom
        self.role_names = list(CATEGORIES["role"])
        for name in (roles or {}).values():
            if name not in self.role_names:
                self.role_names.append(name)
        members = sorted((roles or {}).items())  # looked up by id: ids may be sparse
        self._role_ids = np.array([m for m, _ in members], dtype=np.int64)
        self._role_codes = np.array([self.role_names.index(r) for _, r in members],
                                    dtype=np.int64)
        self._pairs = _Running()
        self.dates, self.months, self.products = _Codes(), _Codes(), _Codes()
        for p in products:
            _ = self.products[p]
        self.kind_codes, self.channels = _Codes(), _Codes()
        self._month_of_day: list[int] = []
        self.members = _Members(self.products, dominant)
        self._days, self._kinds = _Running(), _Running()
        self._dev: list[tuple[np.ndarray, ...]] = []  # per chunk: keys (day first) and sums
        self._finished = False

    @classmethod
    def of_run(cls, run: Run) -> TradeTally:
        """The tally of a run's trades.csv (kind-less for a run written before kinds)."""
        has_kind = "kind" in run.columns("trades")
        roles = {m: r for m, r in run.rows("enterprises", ["member", "role"])}
        tally = cls(run.products, _dominant_members(run), has_kind, roles)
        columns = list(cls.COLUMNS if has_kind else cls.COLUMNS[:-1])
        for chunk in _whole_days(run.chunks("trades", columns)):
            tally.add(chunk)
        tally.finish()
        return tally

    def add(self, chunk: list[Sequence[Any]]) -> None:
        """Add a chunk of whole days (later than any added before), one list per column."""
        self._add(chunk)

    def finish(self) -> None:
        """No more trades: close the last month and key the tallies by name (idempotent)."""
        if not self._finished:
            self._decode()
            self._finished = True

    def _add(self, chunk: list[Sequence[Any]]) -> None:
        date, product, price, qty, fen, channel, buyer, seller = chunk[:8]
        n = len(date)
        day = self.dates.of(date)
        for d in self.dates.names()[len(self._month_of_day):]:  # days new in this chunk
            self._month_of_day.append(self.months[d[:7]])
        month = np.asarray(self._month_of_day, dtype=np.int64)[day]
        prod = self.products.of(product)
        if len(self.products) > 1024:  # codes share an int64 key with days and members
            raise RunFileError("trades.csv: more than 1,024 products")
        price, qty, fen = (np.asarray(c, dtype=np.int64) for c in (price, qty, fen))
        buyer, seller = (np.asarray(c, dtype=np.int64) for c in (buyer, seller))
        if n and (min(buyer.min(), seller.min()) < 0 or
                  max(buyer.max(), seller.max()) >= 1 << _MEMBER_BITS):
            raise RunFileError("trades.csv: a member id is out of range (0 .. 2**31 - 1)")
        online = self.channels.of(channel) == self.channels["online"]
        kind = self.kind_codes.of(chunk[8] if self.has_kind else ["all"] * n)
        one = np.ones(n, dtype=np.int64)

        # members: (month, product, side, member) -> kg, fen
        base = (month << _MONTH_SHIFT) | (prod << _PRODUCT_SHIFT)
        keys = np.concatenate([base | buyer, base | (1 << _SIDE_BIT) | seller])
        self.members.add(*_sums(keys, np.concatenate([qty, qty]), np.concatenate([fen, fen])))
        if n:  # months before this chunk's last are complete: chunks come in date order
            self.members.settle(int(month[-1]) << _MONTH_SHIFT)
        # role pairs: (product, buyer's role, seller's role) -> trades, kg, fen
        b_role, s_role = self._roles(buyer), self._roles(seller)
        self._pairs.add(*_sums((prod << 16) | (b_role << 8) | s_role, one, qty, fen))
        # days: (day, online) -> kg, fen, trades
        self._days.add(*_sums(day * 2 + online, qty, fen, one))
        # kinds: (kind, online) -> trades, kg, fen
        self._kinds.add(*_sums(kind * 2 + online, one, qty, fen))
        # deviations from the same day's online VWAP, per (product, group)
        compared, dev = _deviations((day << 10) | prod, price, qty, online)
        group = np.where(online, 0, 1)
        for name, g in _GROUP_CODE.items():
            if name in self.kind_codes:
                group = np.where(kind == self.kind_codes[name], g, group)
        # keyed by day too, and summed over days only at the end (`_decode`, with fsum), so
        # the float sums do not depend on how the trades were cut into chunks
        self._dev.append(_sums((day << 12) | (prod << 2) | group, one,
                               compared.astype(np.int64), np.where(compared, qty, 0), dev,
                               np.abs(dev), dev * dev))

    def _roles(self, members: np.ndarray) -> np.ndarray:
        """Each member's role code plus one (0: a member whose role is not known)."""
        ids, codes = self._role_ids, self._role_codes
        if not len(ids):
            return np.zeros(len(members), np.int64)
        at = np.minimum(np.searchsorted(ids, members), len(ids) - 1)
        return np.where(ids[at] == members, codes[at] + 1, 0)

    def _decode(self) -> None:
        """The tallies keyed by names instead of codes, for the measures."""
        months, products, dates = self.months.names(), self.products.names(), \
            self.dates.names()
        kinds = self.kind_codes.names()
        self.members.finish(months, products)
        self.days: dict[str, list[int]] = {}
        for k, (kg, fen, count) in sorted(self._days.items()):
            d = self.days.setdefault(dates[k >> 1], [0, 0, 0, 0, 0])
            on = k & 1
            d[0 if on else 1] += kg
            d[2 if on else 3] += fen
            d[4] += count
        self.kinds = {(kinds[k >> 1], "online" if k & 1 else "offline"): v
                      for k, v in self._kinds.items()}
        groups = ("online", "offline", "negotiated", "block_auction")
        per_day: dict[tuple[str, str], list[list]] = {}
        for keys, *sums in self._dev:  # chunks of whole days, in date order
            columns = [x.tolist() for x in sums]
            for i, k in enumerate(keys.tolist()):
                per_day.setdefault((products[(k >> 2) & 1023], groups[k & 3]), []).append(
                    [c[i] for c in columns])
        self.dev = {key: [sum(v[i] for v in rows) for i in range(3)]
                    + [math.fsum(v[i] for v in rows) for i in range(3, 6)]
                    for key, rows in per_day.items()}
        roles = [None, *self.role_names]  # code 0: a member whose role is not known
        self.pairs = {(products[k >> 16], roles[(k >> 8) & 255], roles[k & 255]): v
                      for k, v in self._pairs.items()}
        del self._days, self._kinds, self._dev, self._pairs


def _deviations(day_product: np.ndarray, price: np.ndarray, qty: np.ndarray,
                online: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each trade's deviation from its (day, product)'s online VWAP, in basis points.

    VWAP = S / Q with S = sum(price * qty) and Q = sum(qty) over that day's online trades of
    the product; the deviation 10,000 * (price * Q - S) / S is computed from exact int64
    values (price * Q stays far below 2**63 for any realistic day) with one rounding. Returns
    whether each trade could be compared (its day had online trades) and the deviation (0
    where not).
    """
    keys, s, q = _sums(day_product[online], (price * qty)[online], qty[online])
    if not len(keys):
        return np.zeros(len(price), bool), np.zeros(len(price))
    at = np.minimum(np.searchsorted(keys, day_product), len(keys) - 1)
    compared = keys[at] == day_product
    s_at = np.where(compared, s[at], 1)
    q_at = np.where(compared, q[at], 0)
    return compared, np.where(compared, 10_000 * (price * q_at - s_at) / s_at, 0.0)


class _Running:
    """Sums per key accumulated over chunks, held in numpy: O(distinct keys) memory."""

    def __init__(self) -> None:
        self.keys = np.zeros(0, np.int64)
        self.sums: list[np.ndarray] = []

    def add(self, keys: np.ndarray, *sums: np.ndarray) -> None:
        """Add one chunk's per-key sums (as `_sums` returns them)."""
        if not self.sums:
            self.keys, self.sums = keys, list(sums)
            return
        self.keys, *self.sums = _sums(np.concatenate([self.keys, keys]),
                                      *(np.concatenate([a, b])
                                        for a, b in zip(self.sums, sums, strict=True)))

    def split(self, below: int) -> tuple[np.ndarray, list[np.ndarray]]:
        """Take out the keys below `below` (and their sums); the rest stay."""
        cut = int(np.searchsorted(self.keys, below))
        taken = self.keys[:cut].copy(), [s[:cut].copy() for s in self.sums]
        self.keys, self.sums = self.keys[cut:].copy(), [s[cut:].copy() for s in self.sums]
        return taken

    def items(self) -> Iterator[tuple[int, list]]:
        """(key, [sum, ...]) per key, as Python ints and floats."""
        columns = [s.tolist() for s in self.sums]
        for i, k in enumerate(self.keys.tolist()):
            yield k, [c[i] for c in columns]


def _member_groups(rest: np.ndarray, sums: list[np.ndarray], by_product: bool
                   ) -> Iterator[tuple[int | None, str, np.ndarray, list[np.ndarray]]]:
    """(product code, side, member ids, [sum per member]) per group of sorted keys.

    Keys are (product, side, member); `by_product=False` pools the products (code None).
    """
    if not by_product:  # pool the products: (side, member) keys, summed again
        rest, *sums = _sums(rest & ((1 << _PRODUCT_SHIFT) - 1), *sums)
    group = rest >> _SIDE_BIT  # (product, side): keys are sorted by it
    member = rest & ((1 << _MEMBER_BITS) - 1)
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]]) if len(group) else group
    ends = np.r_[starts[1:], len(group)]
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        g = int(group[a])
        yield (g >> 1 if by_product else None, "sell" if g & 1 else "buy", member[a:b],
               [x[a:b] for x in sums])


class _Members:
    """The per-member tally of trades: each side's sums per member, by month and over the run.

    Keys are (month, product, side, member), in date order. A month's per-member sums exist
    only while it is open: when it closes (`settle`), the figures the monthly measures report
    (each group's concentration in kg and in fen, the dominant seller's amounts) are kept and
    the sums folded into `pooled`, the whole run's sums per (product, side, member). So the
    tally holds O(members x products), however long the run.
    """

    def __init__(self, products: _Codes, dominant: dict[str, int]) -> None:
        self.pooled = _Running()
        self._open = _Running()
        self._products = products  # codes -> names, growing as trades.csv is read
        self._dominant = dominant  # product name -> its dominant seller
        # (month code, by_product, product code or None, side) -> figures
        self.monthly: dict[tuple[int, bool, int | None, str], dict[str, Any]] = {}
        self.months: list[str] = []
        self.products: list[str] = []

    def add(self, keys: np.ndarray, kg: np.ndarray, fen: np.ndarray) -> None:
        """Add one chunk's per-key sums (keys sorted, as `_sums` returns them)."""
        self._open.add(keys, kg, fen)

    def settle(self, below: int) -> None:
        """No later chunk adds to a month whose keys are below `below`: close those months."""
        if not self._open.sums:
            return
        keys, (kg, fen) = self._open.split(below)
        if not len(keys):
            return
        month = keys >> _MONTH_SHIFT
        rest = keys & ((1 << _MONTH_SHIFT) - 1)
        starts = np.flatnonzero(np.r_[True, month[1:] != month[:-1]])
        for a, b in zip(starts.tolist(), [*starts[1:].tolist(), len(keys)], strict=True):
            self._close(int(month[a]), rest[a:b], kg[a:b], fen[a:b])

    def finish(self, months: list[str], products: list[str]) -> None:
        """Close every month still open; names for the month and product codes."""
        self.settle(1 << 62)
        self.months, self.products = months, products

    def _close(self, month: int, rest: np.ndarray, kg: np.ndarray, fen: np.ndarray) -> None:
        names = self._products.names()
        for by_product in (True, False):
            for product, side, figures in self._figures(rest, [kg, fen], by_product, names):
                self.monthly[(month, by_product, product, side)] = figures
        self.pooled.add(rest, kg, fen)

    def _figures(self, rest: np.ndarray, sums: list[np.ndarray], by_product: bool,
                 names: list[str]) -> Iterator[tuple[int | None, str, dict[str, Any]]]:
        """(product code, side, figures) per group of (product, side, member) keys.

        Figures: concentration in kg and in fen; on a product's sell side, its dominant
        seller's (kg, fen).
        """
        for product, side, member, (k, f) in _member_groups(rest, sums, by_product):
            figures: dict[str, Any] = {"kg": _concentration_of(member, k),
                                       "fen": _concentration_of(member, f)}
            dominant = self._dominant.get(names[product]) if product is not None else None
            if dominant is not None and side == "sell":
                mine = member == dominant
                figures["dominant"] = (int(k[mine].sum()), int(f[mine].sum()))
            yield product, side, figures

    def figures(self, by_month: bool, by_product: bool
                ) -> Iterator[tuple[str | None, str | None, str, dict[str, Any]]]:
        """(month, product, side, figures) per group, by month or over the whole run.

        Months' figures were kept as each closed; the whole run's come from `pooled`.
        Products are pooled when not `by_product`.
        """
        names = self.products
        if by_month:
            for (month, pooled_by, product, side), figures in self.monthly.items():
                if pooled_by == by_product:
                    yield (self.months[month], None if product is None else names[product],
                           side, figures)
        elif len(self.pooled.keys):
            for product, side, figures in self._figures(self.pooled.keys, self.pooled.sums,
                                                        by_product, names):
                yield None, None if product is None else names[product], side, figures


def _concentration_of(members: np.ndarray, amounts: np.ndarray) -> dict[str, Any]:
    """The side's total and `_concentration_row` of its amounts per member."""
    by_member = dict(zip(members.tolist(), amounts.tolist(), strict=True))
    return {"total": sum(by_member.values()), **_concentration_row(by_member)}


def _trades(run: Run) -> TradeTally:
    tally = run.cache.get("trades")
    if tally is None:
        tally = run.cache["trades"] = TradeTally.of_run(run)
    return tally


class _QuoteTally:
    """Every touch sample of quotes.csv as arrays (one pass; O(samples), not O(trades))."""

    def __init__(self, run: Run) -> None:
        self.dates, self.products = _Codes(), _Codes()
        for p in run.products:
            _ = self.products[p]
        parts: list[list[np.ndarray]] = []
        cols = ["date", "product", "bid", "ask", "bid_qty_kg", "ask_qty_kg"]
        for date, product, bid, ask, bid_qty, ask_qty in run.chunks("quotes", cols):
            # None (an empty side) becomes NaN on the way in; prices and quantities are far
            # below 2**53, so the int64 values back out of float64 are exact
            raw = [np.array(c, dtype=np.float64) for c in (bid, ask, bid_qty, ask_qty)]
            sides = [~np.isnan(raw[0]), ~np.isnan(raw[1])]
            values = [np.nan_to_num(r).astype(np.int64) for r in raw]
            parts.append([self.dates.of(date), self.products.of(product), *sides, *values])
        kinds = (np.int64, np.int64, bool, bool, np.int64, np.int64, np.int64, np.int64)
        columns = list(zip(*parts, strict=True)) if parts else [()] * len(kinds)
        (self.day, self.product, self.has_bid, self.has_ask, self.bid, self.ask,
         self.bid_qty, self.ask_qty) = (np.concatenate(c) if c else np.zeros(0, k)
                                        for c, k in zip(columns, kinds, strict=True))


def _quotes(run: Run) -> _QuoteTally:
    tally = run.cache.get("quotes")
    if tally is None:
        tally = run.cache["quotes"] = _QuoteTally(run)
    return tally


def _lower_medians(group: np.ndarray, values: np.ndarray, size: int
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Per group (0 .. size-1): how many values, and their lower median (an observed value)."""
    count = np.bincount(group, minlength=size)
    order = np.lexsort((values, group))
    start = np.cumsum(count) - count
    pick = np.minimum(start + np.maximum(count - 1, 0) // 2, max(len(values) - 1, 0))
    return count, values[order][pick] if len(values) else np.zeros(size, values.dtype)


def _need_columns(run: Run, name: str, columns: Iterable[str], measure: str) -> None:
    header = run.columns(name)
    for c in columns:
        if c not in header:
            raise RunFileError(f"{run.path}: {measure} needs column {c!r} of {name}.csv, "
                               f"which this run does not have (written by a newer rexsim)")


# ----------------------------------------------------------------------------- measures

def _concentration_row(amounts: dict[int, int]) -> dict[str, Any]:
    """Members, HHI and top-K shares of one side's amounts per member (positive ones)."""
    values = sorted((v for v in amounts.values() if v > 0), reverse=True)
    total = sum(values)
    row: dict[str, Any] = {"members": len(values)}
    if not total:
        return {**row, "hhi": None, **{f"top{k}_pct": None for k in TOP}, "top1_member": None}
    row["hhi"] = Fraction(10_000 * sum(v * v for v in values), total * total)
    for k in TOP:
        row[f"top{k}_pct"] = Fraction(100 * sum(values[:k]), total)
    top = max(amounts.items(), key=lambda kv: (kv[1], -kv[0]))
    row["top1_member"] = top[0]
    return row


def concentration(run: Run, *, by_month: bool = False, by_product: bool = True,
                  basis: str = "value_fen") -> Rows:
    """How concentrated each side of each product's trade is: HHI and top-1/4/10 shares.

    One row per product (or, `by_product=False`, all products pooled), side (`sell`, `buy`)
    and, `by_month=True`, month: `members` who traded, the side's total (`value_fen`, or
    `qty_kg` with `basis="qty_kg"`), `hhi` (0-10,000), `top1_pct`, `top4_pct`, `top10_pct`
    and `top1_member`.
    """
    if basis not in ("value_fen", "qty_kg"):
        raise ValueError(f"basis: expected 'value_fen' or 'qty_kg', got {basis!r}")
    found: dict[tuple, dict[str, Any]] = {}
    for month, product, side, figures in _trades(run).members.figures(by_month, by_product):
        head: dict[str, Any] = {}
        if by_product:
            head["product"] = product
        head["side"] = side
        if by_month:
            head["month"] = month
        row = dict(figures["fen" if basis == "value_fen" else "kg"])
        head[basis] = row.pop("total")
        found[(month, product, side)] = {**head, **row}
    rows = Rows()
    products = _ordered(run.products, {k[1] for k in found}) if by_product else [None]
    months = sorted({k[0] for k in found}) if by_month else [None]
    for product in products:
        for side in ("sell", "buy"):
            for month in months:
                row = found.get((month, product, side))
                if row is not None:
                    rows.append(row)
    return rows


def _dominant_members(run: Run) -> dict[str, int]:
    """Each product's dominant seller (member id) as the run's scenario names it."""
    resolved = run.summary.get("resolved_scenario") or {}
    return dominant_sellers(resolved.get("products", []))


def dominant_sellers(products: Iterable[dict[str, Any]]) -> dict[str, int]:
    """Each product's dominant seller (member id), from a resolved scenario's products."""
    ids = {"light": DOMINANT_LIGHT, "heavy": DOMINANT_HEAVY}
    return {p["code"]: ids[p["dominant"]] for p in products if p.get("dominant") in ids}


def dominant_share(run: Run, *, by_month: bool = True) -> Rows:
    """The dominant seller's share of each product's sales, by month (or over the run).

    One row per product that has a dominant seller in the scenario (and month): `member`,
    what it sold (`member_kg`, `member_fen`), what the product sold (`sold_kg`, `sold_fen`),
    and the shares `tonnage_share_pct`, `value_share_pct`.
    """
    dominant = _dominant_members(run)
    totals: dict[tuple, list[int]] = {}
    for month, product, _side, figures in _trades(run).members.figures(by_month, True):
        if "dominant" in figures:
            totals[(product, month)] = [figures["kg"]["total"], figures["fen"]["total"],
                                        *figures["dominant"]]
    rows = Rows()
    for (product, month), (kg, fen, mkg, mfen) in sorted(
            totals.items(), key=lambda kv: (run.products.index(kv[0][0])
                                            if kv[0][0] in run.products else 1 << 30,
                                            kv[0])):
        row: dict[str, Any] = {"product": product}
        if by_month:
            row["month"] = month
        row.update(member=dominant[product], member_kg=mkg, member_fen=mfen, sold_kg=kg,
                   sold_fen=fen, tonnage_share_pct=_share(mkg, kg),
                   value_share_pct=_share(mfen, fen))
        rows.append(row)
    return rows


def transparency(run: Run) -> Rows:
    """How far each group's prices sit from the same day's online VWAP, per product.

    One row per product and group (`online`, `offline`, `negotiated`, `block_auction`; an
    older run without trade kinds has only the channels): `trades`, `compared_trades` (on
    days with online trades), `compared_kg`, `mean_abs_dev_bp`, `mean_dev_bp` (negative: a
    discount) and `sd_dev_bp` (population standard deviation of the signed deviations).
    """
    dev = _trades(run).dev
    rows = Rows()
    for product in _ordered(run.products, {k[0] for k in dev}):
        for group in GROUPS:
            d = dev.get((product, group))
            if d is None:
                continue
            n, k, kg, total, abs_total, sq_total = d
            row = {"product": product, "group": group, "trades": n, "compared_trades": k,
                   "compared_kg": kg, "mean_abs_dev_bp": None, "mean_dev_bp": None,
                   "sd_dev_bp": None}
            if k:
                mean = total / k
                var = max(sq_total / k - mean * mean, 0.0)
                row.update(mean_abs_dev_bp=abs_total / k, mean_dev_bp=mean,
                           sd_dev_bp=math.sqrt(var))
            rows.append(row)
    return rows


def spreads(run: Run, *, by_day: bool = False) -> Rows:
    """The touch from quotes.csv: how often both sides are quoted, the spread and the depth.

    One row per product (and, `by_day=True`, trading day): `samples`, `two_sided`,
    `two_sided_pct`, `median_spread_yuan_t`, `median_spread_bp` (of the midpoint),
    `median_bid_qty_kg`, `median_ask_qty_kg` (lower medians: observed values).
    """
    q = _quotes(run)
    ndays = len(q.dates)
    group = q.product * ndays + q.day if by_day else q.product
    size = len(q.products) * (ndays if by_day else 1)
    both = q.has_bid & q.has_ask
    spread = q.ask - q.bid
    bp = 20_000 * spread / np.where(both, q.ask + q.bid, 1)
    samples = np.bincount(group, minlength=size)
    two, med_spread = _lower_medians(group[both], spread[both], size)
    _, med_bp = _lower_medians(group[both], bp[both], size)
    bids, med_bid = _lower_medians(group[q.has_bid], q.bid_qty[q.has_bid], size)
    asks, med_ask = _lower_medians(group[q.has_ask], q.ask_qty[q.has_ask], size)
    products, dates = q.products.names(), q.dates.names()
    day_order = sorted(range(ndays), key=dates.__getitem__)
    rows = Rows()
    for p in _ordered(run.products, {products[i] for i in np.unique(q.product).tolist()}):
        pi = products.index(p)
        for g, head in ([(pi * ndays + d, {"date": dates[d]}) for d in day_order]
                        if by_day else [(pi, {})]):
            n = int(samples[g])
            if not n:
                continue
            k = int(two[g])
            rows.append({"product": p, **head, "samples": n, "two_sided": k,
                         "two_sided_pct": _share(k, n),
                         "median_spread_yuan_t": int(med_spread[g]) if k else None,
                         "median_spread_bp": float(med_bp[g]) if k else None,
                         "median_bid_qty_kg": int(med_bid[g]) if bids[g] else None,
                         "median_ask_qty_kg": int(med_ask[g]) if asks[g] else None})
    return rows


def channels_by_day(run: Run) -> Rows:
    """Each trading day's online and offline tonnage and value, and the online shares.

    One row per day of daily.csv: `online_kg`, `offline_kg`, `online_fen`, `offline_fen`,
    `trades`, `online_tonnage_share_pct`, `online_value_share_pct`.
    """
    days = _trades(run).days
    rows = Rows()
    for date in _dates(run):
        on_kg, off_kg, on_fen, off_fen, n = days.get(date, (0, 0, 0, 0, 0))
        rows.append({"date": date, "online_kg": on_kg, "offline_kg": off_kg,
                     "online_fen": on_fen, "offline_fen": off_fen, "trades": n,
                     "online_tonnage_share_pct": _share(on_kg, on_kg + off_kg),
                     "online_value_share_pct": _share(on_fen, on_fen + off_fen)})
    return rows


def by_kind(run: Run) -> Rows:
    """Trade by kind (continuous, call auction, negotiated, block auction) and channel.

    One row per kind and channel that traded: `trades`, `tonnage_kg`, `value_fen`,
    `tonnage_share_pct`, `value_share_pct` (of the run's totals). An older run without trade
    kinds has kind `all`.
    """
    kinds = _trades(run).kinds
    kg = sum(v[1] for v in kinds.values())
    fen = sum(v[2] for v in kinds.values())
    order = {k: i for i, k in enumerate(CATEGORIES["kind"] + ("all",))}
    rows = Rows()
    for (kind, channel), (n, k_kg, k_fen) in sorted(
            kinds.items(), key=lambda kv: (order.get(kv[0][0], 99), kv[0])):
        rows.append({"kind": kind, "channel": channel, "trades": n, "tonnage_kg": k_kg,
                     "value_fen": k_fen, "tonnage_share_pct": _share(k_kg, kg),
                     "value_share_pct": _share(k_fen, fen)})
    return rows


def _dates(run: Run) -> list[str]:
    """The run's trading days, from daily.csv."""
    dates = run.cache.get("dates")
    if dates is None:
        dates = run.cache["dates"] = list(dict.fromkeys(run.daily.column("date")))
    return dates


def members_by_day(run: Run) -> Rows:
    """Members and online members on each trading day.

    One row per day: `members`, `online_members`, `online_members_pct`.
    """
    rows = Rows()
    seen = set()
    for date, members, online in run.rows("daily", ["date", "members", "online_members"]):
        if date in seen:
            continue
        seen.add(date)
        rows.append({"date": date, "members": members, "online_members": online,
                     "online_members_pct": _share(online, members)})
    return rows


def _by_group(run: Run, column: str, order: list[str]) -> Rows:
    table = run.enterprises
    header = table.columns
    extra = [c for c in ("off_bought_kg", "off_sold_kg", "off_buy_value_fen",
                         "off_sell_value_fen") if c in header]
    cols = ["bought_kg", "sold_kg", "buy_value_fen", "sell_value_fen", *extra]
    idx = [header.index(c) for c in cols]
    g, online, trades = header.index(column), header.index("online_from"), header.index("trades")
    off = [header.index(c) for c in ("off_bought_kg", "off_sold_kg") if c in header]
    sums: dict[str, list[int]] = {}
    for r in table.rows:
        s = sums.get(r[g])
        if s is None:
            s = sums[r[g]] = [0, 0, 0, 0] + [0] * len(cols)
        s[0] += 1
        s[1] += r[online] is not None
        traded = bool(r[trades])
        s[2] += traded
        s[3] += not traded and not any(r[i] for i in off)
        for j, i in enumerate(idx):
            s[4 + j] += r[i] or 0
    buy_total = sum(s[6] for s in sums.values())
    sell_total = sum(s[7] for s in sums.values())
    rows = Rows()
    for name in _ordered(order, set(sums)):
        s = sums[name]
        row = {column: name, "members": s[0], "online_members": s[1], "trading_members": s[2],
               "idle_members": s[3], **dict(zip(cols, s[4:], strict=True))}
        row["buy_value_share_pct"] = _share(row["buy_value_fen"], buy_total)
        row["sell_value_share_pct"] = _share(row["sell_value_fen"], sell_total)
        rows.append(row)
    return rows


def by_province(run: Run) -> Rows:
    """Members, online members, tonnage and value bought and sold by province.

    One row per province (scenario order): `members`, `online_members` (online by the run's
    end), `trading_members` (with a trade on the exchange), `idle_members` (with neither a
    trade nor, when the run records them, an off-exchange deal), `bought_kg`, `sold_kg`,
    `buy_value_fen`, `sell_value_fen` (and off-exchange `off_*` columns when the run has
    them), `buy_value_share_pct`, `sell_value_share_pct`.
    """
    return _by_group(run, "province", run.provinces)


def by_role(run: Run) -> Rows:
    """As `by_province`, by supply-chain role (separator, metal maker, ...)."""
    return _by_group(run, "role", list(CATEGORIES["role"]))


def counterparties(run: Run, *, by_product: bool = False) -> Rows:
    """Who trades with whom: trades, tonnage and value by the buyer's and the seller's role.

    One row per (product, with `by_product`) buyer role and seller role that traded (role
    order): `trades`, `qty_kg`, `value_fen` and `tonnage_share_pct` (of the product's or the
    exchange's tonnage). The market makers are traders, and so are the distributors who buy
    for their customers, so `trader` to `trader` is makers selling to distributors and makers
    trading among themselves (volume that meets no user's or producer's need).
    """
    pairs = _trades(run).pairs
    sums: dict[tuple, list[int]] = {}
    for (product, buyer, seller), (n, kg, fen) in pairs.items():
        s = sums.setdefault((product if by_product else None, buyer, seller), [0, 0, 0])
        s[0] += n
        s[1] += kg
        s[2] += fen
    totals: dict[Any, int] = defaultdict(int)
    for (product, _b, _s), (_n, kg, _f) in sums.items():
        totals[product] += kg
    roles = list(CATEGORIES["role"])
    order = {r: i for i, r in enumerate(roles)}

    def rank(key: tuple) -> tuple:
        product, buyer, seller = key
        p = run.products.index(product) if product in run.products else 1 << 30  # last
        return (p, order.get(buyer, len(roles)), str(buyer), order.get(seller, len(roles)),
                str(seller))

    rows = Rows()
    for key in sorted(sums, key=rank):
        product, buyer, seller = key
        n, kg, fen = sums[key]
        row: dict[str, Any] = {"product": product} if by_product else {}
        row.update(buyer_role=buyer, seller_role=seller, trades=n, qty_kg=kg, value_fen=fen,
                   tonnage_share_pct=_share(kg, totals[product]))
        rows.append(row)
    return rows


def exchange_share(run: Run, *, by_month: bool = False, by_product: bool = True) -> Rows:
    """The exchange's share of national tonnage and value (exchange + off-exchange flow).

    One row per product (or all pooled, `by_product=False`) and, `by_month=True`, month:
    `exchange_kg`, `off_exchange_kg`, `exchange_fen`, `off_exchange_fen`,
    `exchange_share_pct` (of tonnage), `exchange_value_share_pct`.
    """
    _need_columns(run, "daily", ("off_exchange_kg", "off_exchange_fen"), "exchange_share")
    sums: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    cols = ["date", "product", "volume_kg", "off_exchange_kg", "value_fen", "off_exchange_fen"]
    for date, product, kg, off_kg, fen, off_fen in run.rows("daily", cols):
        s = sums[(product if by_product else None, date[:7] if by_month else None)]
        s[0] += kg
        s[1] += off_kg or 0
        s[2] += fen
        s[3] += off_fen or 0
    rows = Rows()
    products = _ordered(run.products, {k[0] for k in sums}) if by_product else [None]
    months = sorted({k[1] for k in sums}) if by_month else [None]
    for product in products:
        for month in months:
            if (product, month) not in sums:
                continue
            kg, off_kg, fen, off_fen = sums[(product, month)]
            row: dict[str, Any] = {}
            if by_product:
                row["product"] = product
            if by_month:
                row["month"] = month
            row.update(exchange_kg=kg, off_exchange_kg=off_kg, exchange_fen=fen,
                       off_exchange_fen=off_fen, exchange_share_pct=_share(kg, kg + off_kg),
                       exchange_value_share_pct=_share(fen, fen + off_fen))
            rows.append(row)
    return rows


def cumulative(run: Run) -> Rows:
    """Tonnage and value day by day and accumulated since the run's start.

    One row per trading day: `tonnage_kg`, `value_fen`, `cum_tonnage_kg`, `cum_value_fen`.
    """
    per_day: dict[str, list[int]] = {}
    for date, kg, fen in run.rows("daily", ["date", "volume_kg", "value_fen"]):
        d = per_day.setdefault(date, [0, 0])
        d[0] += kg
        d[1] += fen
    rows = Rows()
    cum_kg = cum_fen = 0
    for date, (kg, fen) in per_day.items():
        cum_kg += kg
        cum_fen += fen
        rows.append({"date": date, "tonnage_kg": kg, "value_fen": fen,
                     "cum_tonnage_kg": cum_kg, "cum_value_fen": cum_fen})
    return rows


def _ordered(order: list[str], present: set) -> list:
    """The names in `present`, in `order` first, then any others sorted."""
    return [x for x in order if x in present] + sorted(x for x in present if x not in order)


# ----------------------------------------------------------------------------- analyse

MEASURES: dict[str, Callable[[Run], Rows]] = {
    "concentration": concentration,
    "concentration_by_month": lambda r: concentration(r, by_month=True),
    "market_concentration_by_month": lambda r: concentration(r, by_month=True,
                                                             by_product=False),
    "dominant_share": lambda r: dominant_share(r, by_month=False),
    "dominant_share_by_month": dominant_share,
    "transparency": transparency,
    "spreads": spreads,
    "by_kind": by_kind,
    "channels_by_day": channels_by_day,
    "members_by_day": members_by_day,
    "by_province": by_province,
    "by_role": by_role,
    "counterparties": counterparties,
    "counterparties_by_product": lambda r: counterparties(r, by_product=True),
    "exchange_share": exchange_share,
    "exchange_share_by_month": lambda r: exchange_share(r, by_month=True, by_product=False),
}


def analyse(run: Run) -> dict[str, Any]:
    """Every measure of `run` as JSON-ready rows, keyed by measure name (see `MEASURES`).

    A measure the run's files cannot answer is left out and listed under "skipped" with the
    reason, so an older run is analysed as far as it goes.
    """
    out: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    run.table("daily")  # small (days x products) and read by several measures: read it once
    for name, measure in MEASURES.items():
        try:
            out[name] = measure(run).to_json()
        except RunFileError as exc:
            skipped[name] = exc.detail
    out["skipped"] = skipped
    return out
