"""The recorder: listens to exchange events and keeps exact integer tallies of what traded.

It streams a run's long tables to disk as each trading day closes, so memory does not grow
with the run: `trades.csv` (every trade, with its kind: continuous, call auction, negotiated
or block auction), `quotes.csv` (each product's touch at every decision step) and
`off_exchange.csv` (the day's off-exchange deals by product, member and side; member 0 is
every non-member together). It keeps in memory only tallies: per day and product (bars,
volumes), per member, per province. `results()` adds `summary.json`, `daily.csv` and
`enterprises.csv` and returns a `SimResults` whose long tables are read back from the files
on demand. Units: kg and fen everywhere, exact Python integers (never a wrapped int64);
tonnes and yuan only in the summary fields named `_t` and `_yuan`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import shutil
import tempfile
import weakref
from array import array
from collections.abc import Callable, Sequence
from operator import attrgetter
from pathlib import Path
from typing import Any

import numpy as np

from engine import Channel, Event, Side, Trade
from sim import rundir
from sim.errors import OutputError
from sim.population import Population

__all__ = ["FileTable", "Recorder", "SimResults", "Table", "concentration"]

SUMMARY_FILE = "summary.json"
DAILY_FILE = "daily.csv"
TRADES_FILE = "trades.csv"
QUOTES_FILE = "quotes.csv"
ENTERPRISES_FILE = "enterprises.csv"
OFF_EXCHANGE_FILE = "off_exchange.csv"

TRADE_COLUMNS = (
    "time", "date", "product", "price", "qty_kg", "value_fen", "channel", "buyer", "seller",
    "aggressor", "buy_order", "sell_order", "kind",
)
QUOTE_COLUMNS = ("time", "date", "product", "bid", "ask", "bid_qty_kg", "ask_qty_kg")
OFF_EXCHANGE_COLUMNS = ("date", "product", "member", "side", "qty_kg", "value_fen")
DAILY_COLUMNS = (
    "date", "product", "open", "high", "low", "close", "vwap", "settlement", "volume_kg",
    "value_fen", "trades", "online_kg", "offline_kg", "members", "online_members",
    "national_price", "band_low", "band_high", "off_exchange_kg", "off_exchange_fen",
)
ENTERPRISE_COLUMNS = (
    "member", "province", "role", "joined", "online_from", "bought_kg", "sold_kg",
    "buy_value_fen", "sell_value_fen", "trades", "cash_fen", "stock_kg", "off_bought_kg",
    "off_sold_kg", "off_buy_value_fen", "off_sell_value_fen",
)
# columns of text (everything else in the files is an integer or empty)
TEXT_COLUMNS = frozenset({"date", "product", "channel", "aggressor", "kind", "side",
                          "province", "role", "joined", "online_from"})
KINDS = ("continuous", "call_auction", "negotiated", "block_auction")
_TALLY_BATCH = 4096  # trades handed to the analysis tally at a time (numpy's per-call cost)
# trades.csv columns the analysis tallies, in `sim.analysis.TradeTally.COLUMNS` order
_TALLY_COLUMNS = tuple(TRADE_COLUMNS.index(c) for c in (
    "date", "product", "price", "qty_kg", "value_fen", "channel", "buyer", "seller", "kind"))
# a Trade's fields in one C-level call, in the order `Recorder._trades` unpacks them
_TRADE_FIELDS = attrgetter("price", "qty", "maker_order_id", "taker_order_id", "maker_owner",
                           "taker_owner", "aggressor", "time", "product", "channel")
# Row templates for the streamed tables: "%s" is str(), which is what csv.writer writes for
# an int or a str that needs no quoting; used only when every text cell is such a str
# (`_csv_plain`), otherwise the rows go through csv.writer
_TRADE_ROW = ",".join(["%s"] * len(TRADE_COLUMNS)) + "\n"
_QUOTE_ROW = ",".join(["%s"] * len(QUOTE_COLUMNS)) + "\n"
_OFF_ROW = ",".join(["%s"] * len(OFF_EXCHANGE_COLUMNS)) + "\n"


def _csv_plain(text: str) -> bool:
    """Whether csv.writer writes `text` as it is, unquoted, in a row of several cells."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow((text, 0))
    return out.getvalue() == f"{text},0\n"


class Table:
    """Rows of one output table as Python objects: `columns` and a list of tuples."""

    __slots__ = ("columns", "_rows")

    def __init__(self, columns: Sequence[str], rows: list[tuple]) -> None:
        self.columns = tuple(columns)
        self._rows = rows

    @property
    def rows(self) -> list[tuple]:
        """Every row, as a tuple in column order (ints, text, None for an empty cell)."""
        return self._rows

    def __len__(self) -> int:
        return len(self.rows)

    def column(self, name: str) -> list:
        """Every value of one column, in row order (KeyError naming the columns if none)."""
        if name not in self.columns:
            raise KeyError(f"no column {name!r}; the table has {', '.join(self.columns)}")
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


class FileTable(Table):
    """A table kept in a CSV file and read (with its integers typed) only when asked for."""

    __slots__ = ("path",)

    def __init__(self, path: Path, columns: Sequence[str]) -> None:
        super().__init__(columns, [])
        self.path = path
        self._rows = None  # type: ignore[assignment]

    @property
    def rows(self) -> list[tuple]:
        if self._rows is None:
            self._rows = read_rows(self.path, self.columns)
        return self._rows


def read_rows(path: Path, columns: Sequence[str]) -> list[tuple]:
    """The rows of a rexsim CSV file: integers as int, text as str, empty cells as None."""
    kinds = [name in TEXT_COLUMNS for name in columns]
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        if tuple(header) != tuple(columns):
            raise OutputError(f"{path}: unexpected columns {header}")
        return [tuple(None if v == "" else (v if text else int(v))
                      for v, text in zip(row, kinds, strict=True)) for row in reader]


def _t(kg: int) -> float:
    """Kg -> tonnes, for reports."""
    return kg / 1000


def _yuan(fen: int) -> float:
    """Fen -> yuan, for reports."""
    return fen / 100


def concentration(values: Sequence[int]) -> dict[str, float]:
    """HHI (0-10,000) and top-1/4/5/10 shares (%) of a list of non-negative amounts.

    The top-4 share is the usual concentration ratio (CR4), as `sim.analysis.concentration`
    gives it; the top-5 share is kept for the runs and sweeps that compare it.
    """
    v = sorted((int(x) for x in values if x > 0), reverse=True)
    total = sum(v)
    if not total:
        return {"hhi": 0.0, "top1_pct": 0.0, "top4_pct": 0.0, "top5_pct": 0.0,
                "top10_pct": 0.0}
    hhi = sum(x * x for x in v) * 10_000 / (total * total)
    return {
        "hhi": round(hhi, 2),
        "top1_pct": round(100 * sum(v[:1]) / total, 3),
        "top4_pct": round(100 * sum(v[:4]) / total, 3),
        "top5_pct": round(100 * sum(v[:5]) / total, 3),
        "top10_pct": round(100 * sum(v[:10]) / total, 3),
    }


def _lower_median(values: Sequence[float]) -> float | None:
    """The lower median (an observed value), as `sim.analysis.spreads` takes it; None if empty.

    One definition for both: the summary's `median_spread_bp` and the analysis's agree.
    """
    if not values:
        return None
    return sorted(values)[(len(values) - 1) // 2]


class SimResults:
    """Everything a run produced: the summary and its tables, in a run directory.

    `daily` and `enterprises` are held in memory; `trades`, `quotes` and `off_exchange` are
    read from the run's files when first used. `write(out)` puts the run at `out` (whole or
    not at all, `sim.rundir`).
    """

    def __init__(self, summary: dict[str, Any], daily: Table, enterprises: Table,
                 directory: Path, *, staged_for: Path | None = None) -> None:
        self.summary = summary
        self.daily = daily
        self.enterprises = enterprises
        self.directory = directory  # where the files are (a staging or temporary directory)
        self.trades: Table = FileTable(directory / TRADES_FILE, TRADE_COLUMNS)
        self.quotes: Table = FileTable(directory / QUOTES_FILE, QUOTE_COLUMNS)
        self.off_exchange: Table = FileTable(directory / OFF_EXCHANGE_FILE,
                                             OFF_EXCHANGE_COLUMNS)
        self._staged_for = staged_for
        self._tally: Any = None  # the trades' analysis tally, when the recorder kept one
        self._temp: Any = None  # a temporary directory the files live in, if any
        self.wall_seconds: float | None = None  # set by the runner; never written to files

    def _write_small(self, directory: Path) -> None:
        """Write daily.csv and enterprises.csv, then the summary with the run's analysis.

        `sim.analysis` reads the run back from `directory` (every table is there by then),
        its trades from the tally the recorder kept as days closed; its measures go into the
        summary before the resolved scenario, which stays last.
        """
        from sim.analysis import analyse
        from sim.runs import load_run

        self.daily.write_csv(directory / DAILY_FILE)
        self.enterprises.write_csv(directory / ENTERPRISES_FILE)
        if "analysis" not in self.summary:
            run = load_run(directory, summary=self.summary)
            if self._tally is not None:  # tallied as the days closed: trades.csv not re-read
                run.cache["trades"] = self._tally
            analysis = analyse(run)
            self._tally = None
            resolved = self.summary.pop("resolved_scenario", None)
            self.summary["analysis"] = analysis
            if resolved is not None:
                self.summary["resolved_scenario"] = resolved
        (directory / SUMMARY_FILE).write_text(json.dumps(self.summary, indent=2) + "\n",
                                              "utf-8")

    def write(self, out: str | Path, own: Sequence[str] = (),
              then: Callable[[], None] | None = None) -> Path:
        """Write the run's files into directory `out`, whole or not at all (`sim.rundir`).

        `out` may be new or hold a previous run, which is replaced as a whole; a directory
        holding anything else is refused (OutputError) and left as it was. `own` names extra
        files in `out` that belong to this run (its journal); `then` runs as the run is put
        in place, with Ctrl-C held off both (`rundir.publish`).
        """
        target = Path(out)
        if self._staged_for is not None and target == self._staged_for:
            staging = self.directory
        else:
            staging = rundir.stage(target, own)
            try:
                for name in (TRADES_FILE, QUOTES_FILE, OFF_EXCHANGE_FILE):
                    shutil.copyfile(self.directory / name, staging / name)
            except OSError as exc:
                rundir.discard(staging)
                raise OutputError(f"{out}: cannot write results: {exc.strerror or exc}",
                                  param="out", option="--out") from None
        try:
            self._write_small(staging)
        except OSError as exc:
            rundir.discard(staging)
            raise OutputError(f"{out}: cannot write results: {exc.strerror or exc}",
                              param="out", option="--out") from None
        except BaseException:
            rundir.discard(staging)
            raise
        published = rundir.publish(staging, target, own, then)
        if staging is self.directory:  # the files now live at `out`
            self.directory = published
            self._staged_for = None
            for table, name in ((self.trades, TRADES_FILE), (self.quotes, QUOTES_FILE),
                                (self.off_exchange, OFF_EXCHANGE_FILE)):
                if isinstance(table, FileTable):
                    table.path = published / name
        return published

    def to_pandas(self, name: str | None = None) -> Any:
        """Table `name` as a DataFrame, or (no name) a dict of every table; needs pandas.

        The same frames as `sim.load_run(out).to_pandas(name)` gives of the written run
        (categories, exchange-local times, converted units beside the exact integers).
        """
        from sim.runs import Run

        for table, file in ((self.daily, DAILY_FILE), (self.enterprises, ENTERPRISES_FILE)):
            if not (self.directory / file).is_file():  # held in memory until written
                table.write_csv(self.directory / file)
        return Run(self.directory, summary=self.summary).to_pandas(name)


class _TempDir:
    """A temporary directory removed, quietly, when the last reference to it goes."""

    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="rexsim-run-"))
        weakref.finalize(self, shutil.rmtree, self.path, True)


def _close_all(files: list) -> None:
    for fh in files:
        fh.close()


class Recorder:
    """Streams a run's events into its files, day by day, and keeps exact tallies."""

    def __init__(self, *, scenario: str, seed: int, scale: int, products: Sequence[str],
                 population: Population, days: Sequence[dt.date],
                 directory: Path | None = None, dominant: dict[str, int] | None = None) -> None:
        self.scenario = scenario
        self.seed = seed
        self.scale = scale
        self.products = list(products)
        self._pidx = {c: i for i, c in enumerate(self.products)}
        self.population = population
        self.days = list(days)
        # a run kept nowhere in particular gets a directory of its own, removed when the last
        # of the recorder and its results goes
        self._temp = _TempDir() if directory is None else None
        self.directory = self._temp.path if self._temp is not None else directory
        self._files = {name: open(self.directory / name, "w", newline="", encoding="utf-8")
                       for name in (TRADES_FILE, QUOTES_FILE, OFF_EXCHANGE_FILE)}
        self._writers = {name: csv.writer(fh, lineterminator="\n")
                         for name, fh in self._files.items()}
        weakref.finalize(self, _close_all, list(self._files.values()))  # a run left unfinished
        self._writers[TRADES_FILE].writerow(TRADE_COLUMNS)
        self._writers[QUOTES_FILE].writerow(QUOTE_COLUMNS)
        self._writers[OFF_EXCHANGE_FILE].writerow(OFF_EXCHANGE_COLUMNS)
        # the other text cells (dates, channels, sides, kinds) never need quoting
        self._plain = all(_csv_plain(code) for code in self.products)
        self._buffer: list[Event] = []  # today's events, tallied at end_day
        self._quotes: list[tuple] = []  # today's touch samples
        # rows written to each streamed table, for the summary's `table_rows`
        self._written = {TRADES_FILE: 0, QUOTES_FILE: 0, OFF_EXCHANGE_FILE: 0}
        self._touches: list[tuple[str, Any]] | None = None  # (product, its book's touch)
        nprod, nmem = len(self.products), len(population)
        # per product (whole run)
        self.kg = [0] * nprod
        self.fen = [0] * nprod
        self.count = [0] * nprod
        self.channel = {"online": [0, 0, 0], "offline": [0, 0, 0]}  # kg, fen, trades
        self.kinds = {k: [0, 0, 0] for k in KINDS}
        self._two_sided = [0] * nprod
        self._samples = [0] * nprod
        self._spreads = [array("d") for _ in range(nprod)]  # 8 B a sample, for the medians
        # per member (whole run)
        self.bought = [0] * nmem
        self.sold = [0] * nmem
        self.buy_fen = [0] * nmem
        self.sell_fen = [0] * nmem
        self.n_trades = [0] * nmem
        self.off = {"buy": ([0] * nmem, [0] * nmem), "sell": ([0] * nmem, [0] * nmem)}
        self.off_kg = [0] * nprod  # off-exchange buy side (members and non-members)
        self.off_fen = [0] * nprod
        self._daily: list[tuple] = []
        # ids that tell a trade's kind (see `_trades`): block auctions and negotiated deals'
        # buy orders, filled by whoever runs them
        self.blocks: set[int] = set()
        self.negotiated: set[int] = set()
        self.counts: dict[str, int] = {}
        # with `dominant` (each product's dominant seller), the run's own analysis tallies the
        # trades as days close instead of reading trades.csv back (`sim.analysis.TradeTally`)
        self.tally = None
        self._untallied: list[tuple] = []  # whole days' trade rows, tallied in batches
        if dominant is not None:
            from sim.analysis import TradeTally

            pop = population
            self.tally = TradeTally(self.products, dominant, roles={
                m + 1: pop.roles[r] for m, r in enumerate(pop.role.tolist())})

    def attach(self, exchange: Any) -> None:
        """Listen to every event of `exchange` (the day's events are buffered, then tallied).

        The listener is the buffer's own `append`, so delivering an event runs no Python code.
        """
        exchange.subscribe(self._buffer.append)

    def sample(self, t: int, exchange: Any) -> None:
        """Sample each product's touch now (bid, ask and their quantities; None if empty)."""
        touches = self._touches
        if touches is None:  # an exchange's books are its products' for good
            touches = self._touches = [(code, exchange.book(code).touch)
                                       for code in self.products]
        append = self._quotes.append
        for code, touch in touches:
            bid, bid_qty, ask, ask_qty = touch()
            append((t, code, bid, ask, bid_qty, ask_qty))

    def end_day(self, bars: Sequence[Any], national: Sequence[int],
                bands: Sequence[tuple[int | None, int | None]],
                off_rows: Sequence[tuple[int, int, str, int, int]],
                open_time: int | None = None) -> None:
        """Close the current trading day: tally and stream its trades, quotes and deals.

        `bars` are the exchange's bars of the day per product (`engine.DailyBar`: prices,
        volume, value, trades, settlement), `national` (yuan/t) and `bands` per product
        ((None, None): no band, written as empty cells);
        `off_rows` are the day's off-exchange deals as (product, member, side, qty_kg,
        value_fen); `open_time` is the instant the day's call auction uncrossed.
        """
        day = len(self._daily) // max(len(self.products), 1)
        date = self.days[day].isoformat()
        online_kg = self._trades(date, open_time)
        self._sample_rows(date)
        off_day_kg = [0] * len(self.products)
        off_day_fen = [0] * len(self.products)
        codes = self.products
        rows = [(date, codes[p], member, side, qty, value)
                for p, member, side, qty, value in off_rows]
        self._write(OFF_EXCHANGE_FILE, _OFF_ROW, rows)
        for p, member, side, qty, value in off_rows:
            if member:
                kg_l, fen_l = self.off[side]
                kg_l[member - 1] += qty
                fen_l[member - 1] += value
            if side == "buy":
                off_day_kg[p] += qty
                off_day_fen[p] += value
        pop = self.population
        members, online_members = pop.members_on(day), pop.online_on(day)
        for j, code in enumerate(codes):
            b = bars[j]
            self.off_kg[j] += off_day_kg[j]
            self.off_fen[j] += off_day_fen[j]
            self.kg[j] += b.volume
            self.fen[j] += b.value
            self.count[j] += b.trades
            vwap = b.vwap if b.volume else None
            self._daily.append((date, code, b.open, b.high, b.low, b.close, vwap,
                                b.settlement, b.volume, b.value, b.trades, online_kg[j],
                                b.volume - online_kg[j], members, online_members, national[j],
                                bands[j][0], bands[j][1], off_day_kg[j], off_day_fen[j]))
        for fh in self._files.values():
            fh.flush()

    def _trades(self, date: str, open_time: int | None) -> list[int]:
        """Tally and write the day's trades with their kinds; returns each product's online kg.

        A trade is a block auction's when its maker is an auction in `blocks`, negotiated
        when its buy order is in `negotiated` (both filled by whoever runs those deals: the
        runner wires `sim.deals`), the call auction's when it is stamped with the day's open
        (`open_time`), and continuous otherwise. Prices and per-product totals are the
        exchange's own bars (`end_day`); this adds what the exchange does not tally.
        """
        trades = [e for e in self._buffer if e.__class__ is Trade]
        self._buffer.clear()
        pidx = self._pidx
        online = Channel.ONLINE
        buy = Side.BUY
        rows = []
        append = rows.append
        blocks, negotiated = self.blocks, self.negotiated
        bought, sold, buy_fen, sell_fen, n_trades = (self.bought, self.sold, self.buy_fen,
                                                     self.sell_fen, self.n_trades)
        online_kg = [0] * len(self.products)
        # the day's totals: all trades, online ones, and each kind but continuous (the rest)
        kg = fen = on_kg = on_fen = on_n = 0
        other = {"block_auction": [0, 0, 0], "negotiated": [0, 0, 0], "call_auction": [0, 0, 0]}
        call = other["call_auction"]
        for (price, qty, maker_oid, taker_oid, maker, taker, aggressor, time, product,
             channel) in map(_TRADE_FIELDS, trades):
            value = price * qty // 10
            if aggressor is buy:
                buyer, seller, bo, so, side = taker, maker, taker_oid, maker_oid, "buy"
            else:
                buyer, seller, bo, so, side = maker, taker, maker_oid, taker_oid, "sell"
            if maker_oid in blocks:
                kind, k = "block_auction", other["block_auction"]
            elif bo in negotiated:
                kind, k = "negotiated", other["negotiated"]
                negotiated.discard(bo)
            elif time == open_time:
                kind, k = "call_auction", call
            else:
                kind, k = "continuous", None  # tallied as the rest, after the loop
            if k is not None:
                k[0] += qty
                k[1] += value
                k[2] += 1
            if channel is online:
                channel = "online"
                online_kg[pidx[product]] += qty
                on_kg += qty
                on_fen += value
                on_n += 1
            else:
                channel = "offline"
            append((time, date, product, price, qty, value, channel, buyer, seller, side,
                    bo, so, kind))
            kg += qty
            fen += value
            b, s_ = buyer - 1, seller - 1
            bought[b] += qty
            buy_fen[b] += value
            n_trades[b] += 1
            sold[s_] += qty
            sell_fen[s_] += value
            n_trades[s_] += 1
        n = len(rows)
        for name, (c_kg, c_fen, c_n) in (("online", (on_kg, on_fen, on_n)),
                                         ("offline", (kg - on_kg, fen - on_fen, n - on_n))):
            tally = self.channel[name]
            tally[0] += c_kg
            tally[1] += c_fen
            tally[2] += c_n
        rest = [kg, fen, n]  # continuous: what the other kinds leave
        for name, day in other.items():
            tally = self.kinds[name]
            for i in range(3):
                tally[i] += day[i]
                rest[i] -= day[i]
        tally = self.kinds["continuous"]
        for i in range(3):
            tally[i] += rest[i]
        self._write(TRADES_FILE, _TRADE_ROW, rows)
        if self.tally is not None:
            self._untallied.extend(rows)
            if len(self._untallied) >= _TALLY_BATCH:
                self._feed_tally()
        return online_kg

    def _write(self, name: str, template: str, rows: list[tuple]) -> None:
        """Append `rows` (ints, plain text, "" for an empty cell) to table `name`.

        Formatted with the table's template, which writes the bytes csv.writer would, at a
        third of its cost; through csv.writer when a product code would need quoting.
        """
        if self._plain:
            self._files[name].write("".join([template % r for r in rows]))
        else:
            self._writers[name].writerows(rows)
        self._written[name] += len(rows)

    def _feed_tally(self) -> None:
        """Hand the days' trades not yet tallied to the analysis tally (whole days)."""
        if self._untallied:
            columns = list(zip(*self._untallied, strict=True))
            self.tally.add([columns[i] for i in _TALLY_COLUMNS])
            self._untallied.clear()

    def _sample_rows(self, date: str) -> None:
        """Write the day's touch samples and add them to the liquidity tallies."""
        samples = self._quotes
        if not samples:
            return
        # an empty side is an empty cell (csv.writer's None); the bid's qty is None with the
        # bid, the ask's with the ask
        self._write(QUOTES_FILE, _QUOTE_ROW, [
            (t, date, code, bid, ask, bq, aq) if bid is not None and ask is not None else
            (t, date, code, "" if bid is None else bid, "" if ask is None else ask,
             "" if bq is None else bq, "" if aq is None else aq)
            for t, code, bid, ask, bq, aq in samples])
        _t, codes, bids, asks, _bq, _aq = zip(*samples, strict=True)
        prod = np.fromiter(map(self._pidx.__getitem__, codes), dtype=np.int64,
                           count=len(codes))
        bid = np.array(bids, dtype=float)  # an empty side (None) is nan
        ask = np.array(asks, dtype=float)
        both = ~np.isnan(bid) & ~np.isnan(ask)
        n = len(self.products)
        for j, (c, t) in enumerate(zip(np.bincount(prod, minlength=n).tolist(),
                                       np.bincount(prod[both], minlength=n).tolist(),
                                       strict=True)):
            self._samples[j] += c
            self._two_sided[j] += t
        spread = (ask[both] - bid[both]) * 20_000 / (ask[both] + bid[both])
        for j, x in zip(prod[both].tolist(), spread.tolist(), strict=True):
            self._spreads[j].append(x)
        samples.clear()

    def close(self) -> None:
        """Close the streamed files (idempotent)."""
        for fh in self._files.values():
            if not fh.closed:
                fh.close()

    # ------------------------------------------------------------------ results

    def results(self, extra: dict[str, Any] | None = None,
                holdings: tuple[list[int], list[list[int]]] | None = None,
                staged_for: Path | None = None) -> SimResults:
        """The summary and tables of everything recorded so far (exact integers).

        `holdings` (each member's cash in fen and stock per product in kg at the end) fills
        the `cash_fen` and `stock_kg` columns of enterprises.csv.
        """
        self.close()
        codes = self.products
        pop = self.population
        ndays = len(self._daily) // max(len(codes), 1)
        total_kg, total_fen = sum(self.kg), sum(self.fen)
        off_kg, off_fen = sum(self.off_kg), sum(self.off_fen)
        by_product = {}
        off_by_product = {}
        for i, c in enumerate(codes):
            kg, fen = self.kg[i], self.fen[i]
            samples = self._samples[i]
            spread = _lower_median(self._spreads[i])
            by_product[c] = {
                "tonnage_kg": kg, "value_fen": fen, "trades": self.count[i],
                "tonnage_t": _t(kg), "value_yuan": _yuan(fen),
                "tonnage_share_pct": round(100 * kg / total_kg, 3) if total_kg else 0.0,
                "value_share_pct": round(100 * fen / total_fen, 3) if total_fen else 0.0,
                "two_sided_pct": round(100 * self._two_sided[i] / samples, 3) if samples
                else None,
                "median_spread_bp": None if spread is None else round(spread, 3),
            }
            national_kg = kg + self.off_kg[i]
            off_by_product[c] = {
                "tonnage_kg": self.off_kg[i], "value_fen": self.off_fen[i],
                "exchange_share_pct": round(100 * kg / national_kg, 3) if national_kg else None,
            }
        by_channel = {name: {"tonnage_kg": kg, "value_fen": fen, "trades": n,
                             "tonnage_t": _t(kg), "value_yuan": _yuan(fen)}
                      for name, (kg, fen, n) in self.channel.items()}
        by_kind = {name: {"tonnage_kg": kg, "value_fen": fen, "trades": n}
                   for name, (kg, fen, n) in self.kinds.items()}
        nprov = len(pop.provinces)
        pb_kg, ps_kg, pb_fen, ps_fen = ([0] * nprov for _ in range(4))
        for m, prov in enumerate(pop.province.tolist()):
            pb_kg[prov] += self.bought[m]
            ps_kg[prov] += self.sold[m]
            pb_fen[prov] += self.buy_fen[m]
            ps_fen[prov] += self.sell_fen[m]
        by_province = {name: {"bought_kg": pb_kg[i], "sold_kg": ps_kg[i],
                              "buy_value_fen": pb_fen[i], "sell_value_fen": ps_fen[i]}
                       for i, name in enumerate(pop.provinces)}
        last = max(ndays - 1, 0)
        members = [(pop.members_on(d), pop.online_on(d)) for d in (0, last)] if ndays else (
            [(0, 0), (0, 0)])
        national_kg = total_kg + off_kg
        enterprises = self._enterprise_table(holdings)
        written = self._written
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
            "trades": sum(self.count),
            "members": members[1][0],
            "members_start": members[0][0],
            "provinces": pop.province_count_on(last) if ndays else 0,
            "online_members_start": members[0][1],
            "online_members_end": members[1][1],
            "by_product": by_product,
            "by_channel": by_channel,
            "by_kind": by_kind,
            "by_province": by_province,
            "concentration": {
                "sell_value": concentration(self.sell_fen),
                "buy_value": concentration(self.buy_fen),
            },
            "off_exchange": {
                "tonnage_kg": off_kg, "value_fen": off_fen,
                "exchange_share_pct": round(100 * total_kg / national_kg, 3) if national_kg
                else None,
                "by_product": off_by_product,
            },
            # every table's rows, so a reader finds one cut at a row boundary
            "table_rows": {"trades": written[TRADES_FILE], "daily": len(self._daily),
                           "enterprises": len(enterprises), "quotes": written[QUOTES_FILE],
                           "off_exchange": written[OFF_EXCHANGE_FILE]},
        }
        if extra:
            summary.update(extra)
        daily = Table(DAILY_COLUMNS, self._daily)
        res = SimResults(summary, daily, enterprises, self.directory,
                         staged_for=staged_for)
        res._temp = self._temp
        if self.tally is not None:
            self._feed_tally()
            self.tally.finish()  # the files are closed: the run has no more trades
            res._tally = self.tally
        return res

    def _enterprise_table(self, holdings) -> Table:
        pop = self.population
        days = self.days
        ob_kg, ob_fen = self.off["buy"]
        os_kg, os_fen = self.off["sell"]

        def date_of(i: int) -> str | None:
            return days[i].isoformat() if i < len(days) else None

        rows = []
        for m in range(len(pop)):
            jd = int(pop.join_day[m])
            if jd >= len(days):
                continue  # not yet a member within this run
            cash, stock = (holdings[0][m], sum(holdings[1][m])) if holdings else (None, None)
            rows.append((m + 1, pop.provinces[pop.province[m]], pop.roles[pop.role[m]],
                         date_of(jd), date_of(int(pop.online_day[m])), self.bought[m],
                         self.sold[m], self.buy_fen[m], self.sell_fen[m], self.n_trades[m],
                         cash, stock, ob_kg[m], os_kg[m], ob_fen[m], os_fen[m]))
        return Table(ENTERPRISE_COLUMNS, rows)
