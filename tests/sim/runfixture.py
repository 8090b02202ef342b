"""A tiny run directory in the full output format, written by hand for tests of analysis.

Two products, five members, three trading days across a month end, eight trades and a few
quotes: small enough that every measure can be worked out by hand in the test that uses it.

- PRND_OX (P below): tick 100, lot 1 t, dominant seller member 1 (light).
  LA_OX (Q below): tick 10, lot 5 t, no dominant seller in this scenario.
- Members: 1 Inner Mongolia separator (online), 2 Jiangxi separator (offline),
  3 Inner Mongolia magnet maker (online), 4 Jiangxi trader (offline),
  5 Jiangxi magnet maker (online from 2024-02-01).
- Trades (local time, product, price, kg, channel, buyer, seller, kind), value = price*kg//10:
  t1 01-31 09:00 P 400,000 1,000 online  3<-1 call_auction   40,000,000 fen
  t2 01-31 09:30 P 402,000 1,000 online  3<-2 continuous     40,200,000
  t3 01-31 10:00 P 396,000 2,000 offline 4<-1 continuous     79,200,000
  t4 01-31 10:30 P 410,000 5,000 offline 5<-1 negotiated    205,000,000
  t5 01-31 11:00 Q   4,000 5,000 offline 4<-2 continuous      2,000,000
  t6 02-01 09:30 P 404,000 3,000 online  5<-1 continuous    121,200,000
  t7 02-01 10:00 P 398,000 2,000 offline 3<-1 block_auction  79,600,000
  t8 02-01 10:30 Q   4,010 10,000 online 3<-1 continuous      4,010,000
  2024-02-02 has no trades.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

from sim.runs import TABLES

BEIJING = dt.timezone(dt.timedelta(hours=8))
DAYS = ("2024-01-31", "2024-02-01", "2024-02-02")


def ns(date: str, hhmm: str) -> int:
    """Exchange-local date and time as ns since the epoch (UTC)."""
    t = dt.datetime.fromisoformat(f"{date}T{hhmm}").replace(tzinfo=BEIJING)
    return int(t.timestamp()) * 1_000_000_000


def _trade(n, date, hhmm, product, price, qty, channel, buyer, seller, kind):
    return (ns(date, hhmm), date, product, price, qty, price * qty // 10, channel, buyer,
            seller, "buy", 100 + n, 200 + n, kind)


TRADES = [
    _trade(1, DAYS[0], "09:00", "PRND_OX", 400_000, 1_000, "online", 3, 1, "call_auction"),
    _trade(2, DAYS[0], "09:30", "PRND_OX", 402_000, 1_000, "online", 3, 2, "continuous"),
    _trade(3, DAYS[0], "10:00", "PRND_OX", 396_000, 2_000, "offline", 4, 1, "continuous"),
    _trade(4, DAYS[0], "10:30", "PRND_OX", 410_000, 5_000, "offline", 5, 1, "negotiated"),
    _trade(5, DAYS[0], "11:00", "LA_OX", 4_000, 5_000, "offline", 4, 2, "continuous"),
    _trade(6, DAYS[1], "09:30", "PRND_OX", 404_000, 3_000, "online", 5, 1, "continuous"),
    _trade(7, DAYS[1], "10:00", "PRND_OX", 398_000, 2_000, "offline", 3, 1, "block_auction"),
    _trade(8, DAYS[1], "10:30", "LA_OX", 4_010, 10_000, "online", 3, 1, "continuous"),
]

N = None
# date, product, open, high, low, close, vwap, settlement, volume_kg, value_fen, trades,
# online_kg, offline_kg, members, online_members, national_price, band_low, band_high,
# off_exchange_kg, off_exchange_fen
DAILY = [
    (DAYS[0], "PRND_OX", 400_000, 410_000, 396_000, 410_000, 404_888, 404_888, 9_000, 364_400_000,
     4, 2_000, 7_000, 5, 2, 405_000, 380_000, 420_000, 20_000, 810_000_000),
    (DAYS[0], "LA_OX", 4_000, 4_000, 4_000, 4_000, 4_000, 4_000, 5_000, 2_000_000,
     1, 0, 5_000, 5, 2, 4_100, 3_800, 4_200, 45_000, 18_450_000),
    (DAYS[1], "PRND_OX", 404_000, 404_000, 398_000, 398_000, 401_600, 401_600, 5_000, 200_800_000,
     2, 3_000, 2_000, 5, 3, 402_000, 384_700, 425_100, 15_000, 603_000_000),
    (DAYS[1], "LA_OX", 4_010, 4_010, 4_010, 4_010, 4_010, 4_010, 10_000, 4_010_000,
     1, 10_000, 0, 5, 3, 4_050, 3_800, 4_200, 40_000, 16_200_000),
    (DAYS[2], "PRND_OX", N, N, N, N, N, 401_600, 0, 0, 0, 0, 0, 5, 3, 401_000, 381_600, 421_600,
     10_000, 401_000_000),
    (DAYS[2], "LA_OX", N, N, N, N, N, 4_010, 0, 0, 0, 0, 0, 5, 3, 4_050, 3_810, 4_210, 0, 0),
]

# time, date, product, bid, ask, bid_qty_kg, ask_qty_kg
QUOTES = [
    (ns(DAYS[0], "09:30"), DAYS[0], "PRND_OX", 399_000, 401_000, 2_000, 1_000),
    (ns(DAYS[0], "09:30"), DAYS[0], "LA_OX", 3_990, 4_010, 5_000, 10_000),
    (ns(DAYS[0], "10:00"), DAYS[0], "PRND_OX", 400_000, 401_000, 3_000, 5_000),
    (ns(DAYS[0], "10:30"), DAYS[0], "PRND_OX", 398_000, N, 1_000, N),
    (ns(DAYS[1], "09:30"), DAYS[1], "PRND_OX", N, N, N, N),
    (ns(DAYS[1], "10:00"), DAYS[1], "PRND_OX", 403_000, 405_000, 1_000, 2_000),
]

# member, province, role, joined, online_from, bought_kg, sold_kg, buy_value_fen,
# sell_value_fen, trades, cash_fen, stock_kg, off_bought_kg, off_sold_kg, off_buy_value_fen,
# off_sell_value_fen
ENTERPRISES = [
    (1, "Inner Mongolia", "separator", DAYS[0], DAYS[0], 0, 23_000, 0, 529_010_000, 6,
     529_010_000, 40_000, 0, 20_000, 0, 810_000_000),
    (2, "Jiangxi", "separator", DAYS[0], N, 0, 6_000, 0, 42_200_000, 2, 42_200_000, 1_000,
     0, 0, 0, 0),
    (3, "Inner Mongolia", "magnet_maker", DAYS[0], DAYS[0], 14_000, 0, 163_810_000, 0, 4,
     36_190_000, 14_000, 5_000, 0, 202_500_000, 0),
    (4, "Jiangxi", "trader", DAYS[0], N, 7_000, 0, 81_200_000, 0, 2, 18_800_000, 7_000,
     0, 0, 0, 0),
    (5, "Jiangxi", "magnet_maker", DAYS[0], DAYS[1], 8_000, 0, 326_200_000, 0, 2,
     673_800_000, 8_000, 0, 0, 0, 0),
]

# date, product, member, side, qty_kg, value_fen (member 0: every non-member)
OFF_EXCHANGE = [
    (DAYS[0], "PRND_OX", 0, "buy", 15_000, 607_500_000),
    (DAYS[0], "PRND_OX", 3, "buy", 5_000, 202_500_000),
    (DAYS[0], "PRND_OX", 1, "sell", 20_000, 810_000_000),
    (DAYS[0], "LA_OX", 0, "buy", 45_000, 18_450_000),
    (DAYS[1], "PRND_OX", 0, "buy", 15_000, 603_000_000),
    (DAYS[1], "LA_OX", 0, "buy", 40_000, 16_200_000),
    (DAYS[2], "PRND_OX", 0, "buy", 10_000, 401_000_000),
]

SUMMARY = {
    "rexsim_version": "0.1.0", "command": "hand-written test fixture", "scenario": "tiny",
    "scenario_sha256": "0" * 64, "seed": 1, "scale": 1, "start": DAYS[0], "end": DAYS[2],
    "trading_days": 3, "tonnage_t": 29.0, "value_yuan": 5_712_100.0, "tonnage_kg": 29_000,
    "value_fen": 571_210_000, "trades": 8, "members": 5, "provinces": 2,
    "online_members_start": 2, "online_members_end": 3,
    "by_product": {
        "PRND_OX": {"tonnage_kg": 14_000, "value_fen": 565_200_000, "trades": 6},
        "LA_OX": {"tonnage_kg": 15_000, "value_fen": 6_010_000, "trades": 2},
    },
    "by_channel": {"online": {"tonnage_kg": 15_000, "value_fen": 205_410_000, "trades": 4},
                   "offline": {"tonnage_kg": 14_000, "value_fen": 365_800_000, "trades": 4}},
    "concentration": {},
    "events": [], "overrides": [], "journal": None,
    "resolved_scenario": {
        "name": "tiny",
        "calendar": {"start": DAYS[0], "end": DAYS[2], "utc_offset_hours": 8},
        "products": [
            {"code": "PRND_OX", "tick": 100, "lot": 1_000, "band_pct": 5, "dominant": "light"},
            {"code": "LA_OX", "tick": 10, "lot": 5_000, "band_pct": 5, "dominant": None},
        ],
        "population": {"members": 5, "provinces": [["Inner Mongolia", 1.0],
                                                   ["Jiangxi", 1.0]]},
        "behaviour": {"volume_factor": 0.888},
    },
}

ROWS = {"trades": TRADES, "daily": DAILY, "quotes": QUOTES, "enterprises": ENTERPRISES,
        "off_exchange": OFF_EXCHANGE}


def columns(name: str) -> tuple[str, ...]:
    """Every column of table `name` in the full format."""
    first, newer = TABLES[name]
    return first + newer


def write_run(out: Path, *, drop: tuple[str, ...] = ()) -> Path:
    """Write the tiny run into directory `out` (tables named in `drop` left out)."""
    out.mkdir(parents=True, exist_ok=True)
    for name, rows in ROWS.items():
        if name in drop:
            continue
        with open(out / f"{name}.csv", "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(columns(name))
            w.writerows(tuple("" if v is None else v for v in r) for r in rows)
    (out / "summary.json").write_text(json.dumps(SUMMARY, indent=2) + "\n", "utf-8")
    return out
