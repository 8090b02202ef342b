"""The recorder: listens to exchange events and keeps exact integer tallies of what traded.

During a run it only keeps the `Trade` events (cheap: one type check per event) and marks day
boundaries; `results()` then computes every tally with exact integer arithmetic and returns a
`SimResults`, which writes `summary.json`, `daily.csv`, `trades.csv` and `enterprises.csv`.
Units: kg and fen inside; tonnes and yuan only in the report fields named `_t` and `_yuan`.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engine import Channel, Event, Side, Trade
from sim import rundir
from sim.errors import OutputError
from sim.population import Population

__all__ = ["Recorder", "SimResults", "Table", "concentration"]

SUMMARY_FILE = "summary.json"
DAILY_FILE = "daily.csv"
TRADES_FILE = "trades.csv"
ENTERPRISES_FILE = "enterprises.csv"

TRADE_COLUMNS = (
    "time", "date", "product", "price", "qty_kg", "value_fen", "channel", "buyer", "seller",
    "aggressor", "buy_order", "sell_order",
)
DAILY_COLUMNS = (
    "date", "product", "open", "high", "low", "close", "vwap", "settlement", "volume_kg",
    "value_fen", "trades", "online_kg", "offline_kg", "members", "online_members",
)
ENTERPRISE_COLUMNS = (
    "member", "province", "role", "joined", "online_from", "bought_kg", "sold_kg",
    "buy_value_fen", "sell_value_fen", "trades", "cash_fen", "stock_kg",
)


class Table:
    """Rows of one output file as Python objects: `columns` and a list of tuples."""

    __slots__ = ("columns", "rows")

    def __init__(self, columns: Sequence[str], rows: list[tuple]) -> None:
        self.columns = tuple(columns)
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def column(self, name: str) -> list:
        """Every value of one column, in row order."""
        i = self.columns.index(name)
        return [r[i] for r in self.rows]

    def as_dicts(self) -> list[dict[str, Any]]:
        """The rows as dicts keyed by column name."""
        return [dict(zip(self.columns, r, strict=True)) for r in self.rows]

    def write_csv(self, path: Path) -> None:
        """Write a CSV file with a header line ("" for None)."""
        with open(path, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(self.columns)
            w.writerows(tuple("" if v is None else v for v in r) for r in self.rows)


def _t(kg: int) -> float:
    """Kg -> tonnes, for reports."""
    return kg / 1000


def _yuan(fen: int) -> float:
    """Fen -> yuan, for reports."""
    return fen / 100


def concentration(values: Sequence[int]) -> dict[str, float]:
    """HHI (0-10,000) and top-1/5/10 shares (%) of a list of non-negative amounts."""
    v = sorted((int(x) for x in values if x > 0), reverse=True)
    total = sum(v)
    if not total:
        return {"hhi": 0.0, "top1_pct": 0.0, "top5_pct": 0.0, "top10_pct": 0.0}
    hhi = sum(x * x for x in v) * 10_000 / (total * total)
    return {
        "hhi": round(hhi, 2),
        "top1_pct": round(100 * sum(v[:1]) / total, 3),
        "top5_pct": round(100 * sum(v[:5]) / total, 3),
        "top10_pct": round(100 * sum(v[:10]) / total, 3),
    }


class SimResults:
    """Everything a run produced: the summary and the three tables, writable as files."""

    def __init__(self, summary: dict[str, Any], daily: Table, trades: Table,
                 enterprises: Table) -> None:
        self.summary = summary
        self.daily = daily
        self.trades = trades
        self.enterprises = enterprises
        self.wall_seconds: float | None = None  # set by the runner; never written to files

    def write(self, out: str | Path, own: Sequence[str] = ()) -> Path:
        """Write the run's files into directory `out`, whole or not at all (`sim.rundir`).

        `out` may be new or hold a previous run, which is replaced as a whole; a directory
        holding anything else is refused (OutputError) and left as it was. `own` names extra
        files in `out` that belong to this run (its journal).
        """
        staging = rundir.stage(out, own)
        try:
            self.daily.write_csv(staging / DAILY_FILE)
            self.trades.write_csv(staging / TRADES_FILE)
            self.enterprises.write_csv(staging / ENTERPRISES_FILE)
            (staging / SUMMARY_FILE).write_text(json.dumps(self.summary, indent=2) + "\n",
                                                "utf-8")
        except OSError as exc:
            rundir.discard(staging)
            raise OutputError(f"{out}: cannot write results: {exc.strerror or exc}",
                              param="out", option="--out") from None
        except BaseException:
            rundir.discard(staging)
            raise
        return rundir.publish(staging, out, own)

    def to_pandas(self) -> dict[str, Any]:
        """The tables as pandas DataFrames ({'daily', 'trades', 'enterprises'}); needs pandas."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("to_pandas() needs pandas, which is not installed") from None
        return {
            name: pd.DataFrame(t.rows, columns=list(t.columns))
            for name, t in (("daily", self.daily), ("trades", self.trades),
                            ("enterprises", self.enterprises))
        }


class Recorder:
    """Collects trades from the exchange's event stream, day by day."""

    def __init__(self, *, scenario: str, seed: int, scale: int, products: Sequence[str],
                 population: Population, days: Sequence[dt.date]) -> None:
        self.scenario = scenario
        self.seed = seed
        self.scale = scale
        self.products = list(products)
        self.population = population
        self.days = list(days)
        self.trades: list[Trade] = []
        self._buffer: list[Event] = []  # today's events, filtered at end_day
        self._day_end: list[int] = []  # len(self.trades) at each day's end
        self._settlement: list[list[int | None]] = []
        self._members: list[tuple[int, int]] = []
        self.counts: dict[str, int] = {}

    def attach(self, exchange: Any) -> None:
        """Listen to every event of `exchange` (the day's events are buffered, then filtered).

        The listener is the buffer's own `append`, so delivering an event runs no Python code.
        """
        exchange.subscribe(self._buffer.append)

    def on_event(self, event: Event) -> None:
        """Take one event by hand (as `attach` does for an exchange)."""
        self._buffer.append(event)

    def end_day(self, settlements: Sequence[int | None]) -> None:
        """Close the current trading day: its settlement price per product (None if unknown)."""
        buf = self._buffer
        self.trades.extend([e for e in buf if e.__class__ is Trade])
        buf.clear()
        day = len(self._day_end)
        self._day_end.append(len(self.trades))
        self._settlement.append(list(settlements))
        pop = self.population
        self._members.append((pop.members_on(day), pop.online_on(day)))

    # ------------------------------------------------------------------ results

    def results(self, extra: dict[str, Any] | None = None,
                holdings: tuple[list[int], list[list[int]]] | None = None) -> SimResults:
        """Compute every tally from the recorded trades (exact integers) and package them.

        `holdings` (each member's cash in fen and stock per product in kg at the end) fills
        the `cash_fen` and `stock_kg` columns of enterprises.csv.
        """
        codes = self.products
        pidx = {c: i for i, c in enumerate(codes)}
        pop = self.population
        trades = self.trades
        n = len(trades)
        ndays = len(self._day_end)
        day_of = np.zeros(n, dtype=np.int64)
        start = 0
        for d, end in enumerate(self._day_end):
            day_of[start:end] = d
            start = end
        trade_table = self._trade_table(day_of)
        if n:
            cols = list(zip(*trade_table.rows, strict=True))
            prod = np.array(list(map(pidx.__getitem__, cols[2])), dtype=np.int64)
            price, qty, buyer, seller = (np.array(cols[i], dtype=np.int64) for i in (3, 4, 7, 8))
            value = price * qty // 10  # as in the table: exact in int64 for positive values
            online = np.array([c == "online" for c in cols[6]], dtype=bool)
        else:
            prod = price = qty = value = buyer = seller = np.zeros(0, dtype=np.int64)
            online = np.zeros(0, dtype=bool)
        nprod = len(codes)
        nmem = len(pop)

        def tally(index: np.ndarray, size: int, weights: np.ndarray | None) -> np.ndarray:
            out = np.zeros(size, dtype=np.int64)
            np.add.at(out, index, 1 if weights is None else weights)
            return out

        kg_p = tally(prod, nprod, qty)
        fen_p = tally(prod, nprod, value)
        n_p = tally(prod, nprod, None)
        total_kg = int(kg_p.sum())
        total_fen = int(fen_p.sum())
        by_product = {}
        for i, c in enumerate(codes):
            by_product[c] = {
                "tonnage_kg": int(kg_p[i]), "value_fen": int(fen_p[i]), "trades": int(n_p[i]),
                "tonnage_t": _t(int(kg_p[i])), "value_yuan": _yuan(int(fen_p[i])),
                "tonnage_share_pct": round(100 * int(kg_p[i]) / total_kg, 3) if total_kg else 0.0,
                "value_share_pct": round(100 * int(fen_p[i]) / total_fen, 3) if total_fen else 0.0,
            }
        by_channel = {}
        for name, mask in (("online", online), ("offline", ~online)):
            kg, fen = int(qty[mask].sum()), int(value[mask].sum())
            by_channel[name] = {"tonnage_kg": kg, "value_fen": fen, "trades": int(mask.sum()),
                                "tonnage_t": _t(kg), "value_yuan": _yuan(fen)}
        bought = tally(buyer - 1, nmem, qty)
        sold = tally(seller - 1, nmem, qty)
        buy_fen = tally(buyer - 1, nmem, value)
        sell_fen = tally(seller - 1, nmem, value)
        n_m = tally(buyer - 1, nmem, None) + tally(seller - 1, nmem, None)
        nprov = len(pop.provinces)
        by_province = {}
        pb_kg = tally(pop.province, nprov, bought)
        ps_kg = tally(pop.province, nprov, sold)
        pb_fen = tally(pop.province, nprov, buy_fen)
        ps_fen = tally(pop.province, nprov, sell_fen)
        for i, name in enumerate(pop.provinces):
            by_province[name] = {"bought_kg": int(pb_kg[i]), "sold_kg": int(ps_kg[i]),
                                 "buy_value_fen": int(pb_fen[i]), "sell_value_fen": int(ps_fen[i])}
        last = max(ndays - 1, 0)
        members_end, online_end = (self._members[-1] if self._members else (0, 0))
        members_start, online_start = (self._members[0] if self._members else (0, 0))
        summary: dict[str, Any] = {
            "scenario": self.scenario,
            "seed": self.seed,
            "scale": self.scale,
            "start": self.days[0].isoformat() if ndays else None,
            "end": self.days[last].isoformat() if ndays else None,
            "trading_days": ndays,
            "tonnage_t": _t(total_kg),
            "value_yuan": _yuan(total_fen),
            "tonnage_kg": total_kg,
            "value_fen": total_fen,
            "trades": n,
            "members": members_end,
            "members_start": members_start,
            "provinces": pop.province_count_on(last) if ndays else 0,
            "online_members_start": online_start,
            "online_members_end": online_end,
            "by_product": by_product,
            "by_channel": by_channel,
            "by_province": by_province,
            "concentration": {
                "sell_value": concentration(sell_fen.tolist()),
                "buy_value": concentration(buy_fen.tolist()),
            },
        }
        if extra:
            summary.update(extra)
        return SimResults(summary, self._daily(day_of, prod, price, qty, value, online),
                          trade_table, self._enterprise_table(
                              bought, sold, buy_fen, sell_fen, n_m, holdings))

    def _daily(self, day_of, prod, price, qty, value, online) -> Table:
        """One row per (day, product): bars and tallies from a few whole-run numpy calls."""
        nprod = len(self.products)
        ndays = len(self._day_end)
        size = ndays * nprod
        key = day_of * nprod + prod
        order = np.argsort(key, kind="stable")  # by day and product, in time order within
        k_sorted = key[order]
        px_sorted = price[order]
        count = np.bincount(key, minlength=size)
        first = np.searchsorted(k_sorted, np.arange(size), side="left")
        present = count > 0
        starts = first[present]
        last = starts + count[present] - 1
        high = np.zeros(size, dtype=np.int64)
        low = np.zeros(size, dtype=np.int64)
        opens = np.zeros(size, dtype=np.int64)
        closes = np.zeros(size, dtype=np.int64)
        if len(starts):
            high[present] = np.maximum.reduceat(px_sorted, starts)
            low[present] = np.minimum.reduceat(px_sorted, starts)
            opens[present] = px_sorted[starts]
            closes[present] = px_sorted[last]

        def total(weights: np.ndarray) -> list[int]:
            out = np.zeros(size, dtype=np.int64)
            np.add.at(out, key, weights)
            return out.tolist()

        vol = total(qty)
        val = total(value)
        pxq = total(price * qty)
        on_kg = total(np.where(online, qty, 0))
        count_l, high_l, low_l = count.tolist(), high.tolist(), low.tolist()
        open_l, close_l = opens.tolist(), closes.tolist()
        rows = []
        g = 0
        for d in range(ndays):
            members, online_members = self._members[d]
            date = self.days[d].isoformat()
            settle = self._settlement[d]
            for j, code in enumerate(self.products):
                k = count_l[g]
                if k:
                    v = vol[g]
                    rows.append((date, code, open_l[g], high_l[g], low_l[g], close_l[g],
                                 pxq[g] // v, settle[j], v, val[g], k, on_kg[g], v - on_kg[g],
                                 members, online_members))
                else:
                    rows.append((date, code, None, None, None, None, None, settle[j], 0, 0,
                                 0, 0, 0, members, online_members))
                g += 1
        return Table(DAILY_COLUMNS, rows)

    def _trade_table(self, day_of: np.ndarray) -> Table:
        days = [d.isoformat() for d in self.days]
        buy = Side.BUY
        online = Channel.ONLINE
        rows = []
        append = rows.append
        for t, d in zip(self.trades, day_of.tolist(), strict=True):
            price = t.price
            qty = t.qty
            channel = "online" if t.channel is online else "offline"
            if t.aggressor is buy:
                append((t.time, days[d], t.product, price, qty, price * qty // 10, channel,
                        t.taker_owner, t.maker_owner, "buy", t.taker_order_id,
                        t.maker_order_id))
            else:
                append((t.time, days[d], t.product, price, qty, price * qty // 10, channel,
                        t.maker_owner, t.taker_owner, "sell", t.maker_order_id,
                        t.taker_order_id))
        return Table(TRADE_COLUMNS, rows)

    def _enterprise_table(self, bought, sold, buy_fen, sell_fen, n_m, holdings) -> Table:
        pop = self.population
        days = self.days

        def date_of(i: int) -> str | None:
            return days[i].isoformat() if i < len(days) else None

        rows = []
        for m in range(len(pop)):
            jd = int(pop.join_day[m])
            if jd >= len(days):
                continue  # not yet a member within this run
            cash, stock = (holdings[0][m], sum(holdings[1][m])) if holdings else (None, None)
            rows.append((m + 1, pop.provinces[pop.province[m]], pop.roles[pop.role[m]],
                         date_of(jd), date_of(int(pop.online_day[m])), int(bought[m]),
                         int(sold[m]), int(buy_fen[m]), int(sell_fen[m]), int(n_m[m]), cash,
                         stock))
        return Table(ENTERPRISE_COLUMNS, rows)
