"""Reading a run's directory back: `load_run(DIR)` gives its summary and tables, exact as written.

A run directory (`rexsim run --out DIR`) holds `summary.json` and CSV tables (`trades`,
`daily`, `enterprises`, and from newer recorders `quotes` and `off_exchange`). `load_run`
checks that it is one and returns a `Run`: `.summary` (the dict), each table as a light
`Table` of exact Python values (integers stay `int`, empty cells are `None`, dates stay ISO
text), `.rows(name, columns)` to stream a table without holding it, and `.to_pandas()` for
DataFrames with real dates, time-zone-aware times, categories and converted units beside the
exact integers. A sweep's directory loads as a `Sweep`: its table of runs and each run.

Nothing here imports pandas until `.to_pandas()` is called (`pip install 'rexsim[pandas]'`).
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import json
import os
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import msgspec

from sim.errors import RunFileError
from sim.recorder import Table

__all__ = [
    "CATEGORIES", "PRICE_COLUMNS", "Run", "Sweep", "TABLES", "load_run", "load_summary",
]

SUMMARY_FILE = "summary.json"
SWEEP_FILES = ("sweep.csv", "sweep.json")

# every table a run may hold: its columns (those a run from any rexsim version has first;
# the rest are written by newer recorders and may be missing from an older run's file)
TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "trades": (("time", "date", "product", "price", "qty_kg", "value_fen", "channel", "buyer",
                "seller", "aggressor", "buy_order", "sell_order"), ("kind",)),
    "daily": (("date", "product", "open", "high", "low", "close", "vwap", "settlement",
               "volume_kg", "value_fen", "trades", "online_kg", "offline_kg", "members",
               "online_members"),
              ("national_price", "band_low", "band_high", "off_exchange_kg",
               "off_exchange_fen")),
    "enterprises": (("member", "province", "role", "joined", "online_from", "bought_kg",
                     "sold_kg", "buy_value_fen", "sell_value_fen", "trades", "cash_fen",
                     "stock_kg"),
                    ("off_bought_kg", "off_sold_kg", "off_buy_value_fen",
                     "off_sell_value_fen")),
    "quotes": (("time", "date", "product", "bid", "ask", "bid_qty_kg", "ask_qty_kg"), ()),
    "off_exchange": (("date", "product", "member", "side", "qty_kg", "value_fen"), ()),
}
REQUIRED_TABLES = ("daily", "trades", "enterprises")  # every run has these
# rexsim 0.2.0 on writes every table of TABLES, and its summary records what they hold: a run
# from then on is checked whole (every table there, ending in a whole row) when loaded, and
# each table's rows and TOTALS against its summary when the table is read through
WHOLE_FROM = (0, 2)
# columns whose sum the summary records (table -> column -> summary key)
TOTALS = {"trades": {"qty_kg": "tonnage_kg", "value_fen": "value_fen"},
          "daily": {"volume_kg": "tonnage_kg", "value_fen": "value_fen", "trades": "trades"}}

DATE_COLUMNS = frozenset({"date", "joined", "online_from"})
TIME_COLUMNS = frozenset({"time"})
# text columns with a small fixed vocabulary (pandas categories; order as listed, or the
# scenario's for products and provinces)
CATEGORIES: dict[str, tuple[str, ...]] = {
    "channel": ("online", "offline"),
    "aggressor": ("buy", "sell"),
    "side": ("buy", "sell"),
    "kind": ("continuous", "call_auction", "negotiated", "block_auction"),
    "role": ("separator", "metal_maker", "magnet_maker", "application_maker", "trader"),
    "product": (),
    "province": (),
}
TEXT_COLUMNS = DATE_COLUMNS | frozenset(CATEGORIES)
# integer prices in yuan per tonne whose names do not say so
PRICE_COLUMNS = frozenset({"price", "open", "high", "low", "close", "vwap", "settlement",
                           "national_price", "band_low", "band_high", "bid", "ask"})
_CHUNK = 4096  # rows converted at a time when a table is streamed
_INT = re.compile(r"-?\d+\Z")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_FLOAT = re.compile(r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\Z")


def load_summary(path: str | Path) -> dict[str, Any]:
    """A run's summary: `path` is an output directory (holding summary.json) or the file."""
    p = Path(path)
    if p.is_dir():
        p = p / SUMMARY_FILE
    try:
        summary = json.loads(p.read_text("utf-8"))
    except FileNotFoundError:
        raise RunFileError(f"{p}: no such file (give a run's output directory or its "
                           f"summary.json)") from None
    except OSError as exc:
        raise RunFileError(f"{p}: cannot read: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunFileError(f"{p}: not a summary.json: {exc}") from None
    if not isinstance(summary, dict) or "tonnage_kg" not in summary:
        raise RunFileError(f"{p}: not a rexsim summary.json (no tonnage_kg)")
    check_summary(summary, p)
    return summary


# ----------------------------------------------------------------------------- summary

# The summary fields that reports, comparisons and these checks compute with, and their
# types: `check_summary` validates them once, so a bad value is one line naming the field
# rather than a TypeError deep in a report. Other fields are not checked; a field an older
# rexsim did not write may be absent.

class _Flow(msgspec.Struct):
    tonnage_kg: int = 0
    value_fen: int = 0
    trades: int = 0


class _Product(_Flow):
    tonnage_share_pct: float | None = None
    two_sided_pct: float | None = None
    median_spread_bp: float | None = None


class _Concentration(msgspec.Struct):
    hhi: float | None = None
    top1_pct: float | None = None
    top4_pct: float | None = None
    top5_pct: float | None = None
    top10_pct: float | None = None


class _OffProduct(msgspec.Struct):
    tonnage_kg: int = 0
    value_fen: int = 0
    exchange_share_pct: float | None = None


class _OffExchange(_OffProduct):
    by_product: dict[str, _OffProduct] = {}


class _Blocks(msgspec.Struct):
    offered_kg: int = 0
    sold_kg: int = 0


class _ProductSpec(msgspec.Struct):
    code: str


class _Calendar(msgspec.Struct):
    utc_offset_hours: int = 8


class _Resolved(msgspec.Struct):
    products: list[_ProductSpec] = []
    calendar: _Calendar | None = None


class _Headline(msgspec.Struct):
    rexsim_version: str = ""
    tonnage_kg: int = 0
    value_fen: int = 0
    trades: int = 0
    members: int = 0
    online_members_end: int = 0
    trading_days: int = 0
    by_product: dict[str, _Product] = {}
    by_channel: dict[str, _Flow] = {}
    concentration: dict[str, _Concentration] = {}
    off_exchange: _OffExchange | None = None
    block_auctions: _Blocks | None = None
    table_rows: dict[str, int] = {}
    resolved_scenario: _Resolved | None = None


_MISMATCH = re.compile(r"Expected `(.+)`, got `(\w+)` - at `\$(.*)`\Z")
_JSON_TYPES = ((type(None), "null"), (bool, "bool"), (int, "int"), (float, "float"),
               (str, "str"), (list, "array"), (dict, "object"))


def check_summary(summary: dict[str, Any], where: str | Path) -> None:
    """Refuse a summary whose headline fields have the wrong type, naming the field.

    One line: `where: tonnage_kg: expected int, got "abc"` (`where`: the file).
    """
    try:
        msgspec.convert(summary, _Headline)
    except msgspec.ValidationError as exc:
        raise RunFileError(f"{where}: {_field_error(summary, str(exc))}") from None


def _field_error(summary: dict[str, Any], message: str) -> str:
    """The field's dotted name, the type expected and the value found, from msgspec's error."""
    m = _MISMATCH.match(message)
    if m is None:  # a required field missing: `$.path` first, as the field is in a mismatch
        text, _, path = message.partition(" - at `$")
        text = text[:1].lower() + text[1:]
        return f"{path.rstrip('`').lstrip('.')}: {text}" if path else text
    expected, got, path = m.groups()
    steps: list[Any] = []  # `.name` -> "name", `[3]` -> 3, `[...]` (a dict's key) -> ...
    for name, index in re.findall(r"\.([^.\[]+)|\[([^]]*)\]", path):
        steps.append(name or (... if index == "..." else int(index)))
    found = _find(summary, steps, got)
    if found is None:
        return f"{path.lstrip('.')}: expected {expected}, got {got}"
    keys, value = found
    field = "".join(f"[{k}]" if type(k) is int else f".{k}" for k in keys).lstrip(".")
    return f"{field}: expected {expected}, got {json.dumps(value)}"


def _find(value: Any, steps: list[Any], got: str) -> tuple[list[Any], Any] | None:
    """The keys to, and the value of, the first value along `steps` whose JSON type is `got`.

    A step `...` is any key of a dict (msgspec does not name it); the first match in order is
    the one msgspec stopped at.
    """
    if not steps:
        kind = next(name for t, name in _JSON_TYPES if isinstance(value, t))  # bool before int
        return ([], value) if kind == got else None
    step, rest = steps[0], steps[1:]
    if step is ...:
        pairs = list(value.items()) if isinstance(value, dict) else []
    else:
        try:
            pairs = [(step, value[step])]
        except (KeyError, IndexError, TypeError):
            return None
    for key, sub in pairs:
        found = _find(sub, rest, got)
        if found is not None:
            return [key, *found[0]], found[1]
    return None


def _version(summary: dict[str, Any]) -> tuple[int, int]:
    """The (major, minor) version of the rexsim that wrote a summary; (0, 0) if it says none."""
    m = re.match(r"(\d+)\.(\d+)", str(summary.get("rexsim_version", "")))
    return (int(m[1]), int(m[2])) if m else (0, 0)


def _check_line_end(path: Path) -> None:
    """Refuse a CSV file cut off in its last row: rexsim ends every row with a line end."""
    try:
        with open(path, "rb") as fh:
            fh.seek(-1, os.SEEK_END)  # not empty: its header has been read
            cut = fh.read(1) != b"\n"
    except OSError as exc:
        raise RunFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if cut:
        raise RunFileError(f"{path}: its last row is cut off (no line end): the file is "
                           f"incomplete")


# ----------------------------------------------------------------------------- cells

def _int_cell(text: str) -> int | None:
    return int(text) if text else None


def _text_cell(text: str) -> str | None:
    return text or None


def _date_cell(text: str) -> str | None:
    """A date, kept as its ISO text; ValueError unless it is a real day (not 2024-13-45)."""
    if not text:
        return None
    if not _DATE.match(text):
        raise ValueError(text)
    dt.date.fromisoformat(text)
    return text


def _any_cell(text: str) -> int | float | str | None:
    """A cell of a column this version does not know: int, float or text, as it reads."""
    if not text:
        return None
    if _INT.match(text):
        return int(text)
    if _FLOAT.match(text):
        return float(text)
    return text


def _column(path: Path, line: int, name: str, conv: Callable[[str], Any],
            cells: tuple[str, ...]) -> Sequence[Any]:
    """One column of a chunk converted; `line` is the file line before the chunk's first."""
    if conv is _int_cell:
        try:
            return list(map(int, cells))
        except ValueError:
            pass  # an empty cell (None), or a bad one
        try:
            return [int(c) if c else None for c in cells]
        except ValueError:
            pass  # a bad one, found below
    elif conv is _text_cell:
        return [c or None for c in cells] if "" in cells else cells
    elif conv is _date_cell:
        try:
            for text in set(cells):  # a chunk holds a few distinct dates: each checked once
                _date_cell(text)
            return [c or None for c in cells] if "" in cells else cells
        except ValueError:
            pass  # a bad one, found below
    out = []
    for k, text in enumerate(cells):
        try:
            out.append(conv(text))
        except ValueError:
            expected = "a date (YYYY-MM-DD)" if conv is _date_cell else "an integer"
            raise RunFileError(f"{path}: line {line + 1 + k}, column {name}: expected "
                               f"{expected}, got {text!r}") from None
    return out


def _converter(table: str, column: str) -> Callable[[str], Any]:
    known = TABLES.get(table)
    if known is None or column not in known[0] + known[1]:
        return _any_cell
    if column in DATE_COLUMNS:
        return _date_cell
    return _text_cell if column in TEXT_COLUMNS else _int_cell


class Run:
    """One run's directory: its summary and its tables, read lazily and cached.

    `trades`, `daily`, `enterprises`, `quotes` and `off_exchange` are `Table`s of exact
    values (a table the run does not have raises RunFileError; `has(name)` asks first). A
    run of rexsim 0.2.0 or later is held to its summary, in one RunFileError line: a table
    missing or cut mid-row is refused when loaded, one short of rows or not adding up to the
    summary's totals when it is read through.
    """

    def __init__(self, path: str | Path, summary: dict[str, Any] | None = None) -> None:
        """Read the run in directory `path`; `summary` stands in for its summary.json."""
        self.path = Path(path)
        if not self.path.is_dir():
            raise RunFileError(f"{self.path}: no such directory (give a run's output "
                               f"directory)")
        if summary is None:
            summary = load_summary(self.path)
        else:
            check_summary(summary, "summary")
        self.summary = summary
        self.whole = _version(summary) >= WHOLE_FROM  # checked whole (older: as it is)
        self._tables: dict[str, Table] = {}
        self._header: dict[str, tuple[str, ...]] = {}
        self.cache: dict[str, Any] = {}  # results derived from the tables (sim.analysis)
        for name in REQUIRED_TABLES:
            if not self.has(name):
                raise RunFileError(f"{self.path}: no {name}.csv beside summary.json, so this "
                                   f"is not a whole run directory")
        for name in TABLES:
            if self.has(name):
                self.columns(name)  # a table that is not ours is found now, not mid-analysis
        if self.whole:
            self._check_whole()

    def __repr__(self) -> str:
        s = self.summary
        return (f"<Run {self.path} {s.get('scenario')} seed {s.get('seed')} "
                f"{s.get('start')}..{s.get('end')}>")

    # ---------------------------------------------------------------- what it holds

    def file(self, name: str) -> Path:
        """The path of table `name` (`trades` -> DIR/trades.csv)."""
        return self.path / f"{name}.csv"

    def has(self, name: str) -> bool:
        """Whether the run has table `name` (older runs lack `quotes` and `off_exchange`)."""
        return self.file(name).is_file()

    def columns(self, name: str) -> tuple[str, ...]:
        """The columns of table `name`, as its file's header has them."""
        if name not in self._header:
            path = self._need(name)
            try:
                with open(path, newline="", encoding="utf-8") as fh:
                    header = tuple(next(csv.reader(fh), ()))
            except (OSError, UnicodeDecodeError, csv.Error) as exc:
                raise RunFileError(f"{path}: cannot read: {exc}") from None
            missing = [c for c in TABLES.get(name, ((), ()))[0] if c not in header]
            if missing:
                raise RunFileError(f"{path}: not a rexsim {name} table (no column "
                                   f"{missing[0]!r})")
            self._header[name] = header
        return self._header[name]

    @property
    def products(self) -> list[str]:
        """The run's product codes in the scenario's order."""
        resolved = self.summary.get("resolved_scenario") or {}
        codes = [p["code"] for p in resolved.get("products", [])]
        return codes or list(self.summary.get("by_product", {}))

    @property
    def provinces(self) -> list[str]:
        """The scenario's provinces in its order (or as the summary lists them)."""
        resolved = self.summary.get("resolved_scenario") or {}
        names = [p[0] for p in resolved.get("population", {}).get("provinces", [])]
        return names or list(self.summary.get("by_province", {}))

    @property
    def utc_offset_hours(self) -> int:
        """Hours the exchange's local time is ahead of UTC (the scenario's; Beijing: 8)."""
        resolved = self.summary.get("resolved_scenario") or {}
        return int(resolved.get("calendar", {}).get("utc_offset_hours", 8))

    def _check_whole(self) -> None:
        """Refuse a run with a table missing or cut mid-row (no line end after its last row).

        A table short of whole rows is found when it is read through (`_check_read`), so
        loading stays as fast as reading summary.json.
        """
        for name in TABLES:
            path = self.file(name)
            if not path.is_file():
                raise RunFileError(f"{self.path}: no {name}.csv, which rexsim "
                                   f"{self.summary.get('rexsim_version')} writes: the run "
                                   f"directory is incomplete")
            _check_line_end(path)

    def _check_read(self, name: str, rows: int, sums: dict[str, int]) -> None:
        """Refuse table `name`, read through, unless its rows and sums are as summary records.

        `sums` holds the sum of each of its TOTALS columns that was read.
        """
        s = self.summary
        days, products = s.get("trading_days", 0), len(self.products)
        want, what = {"trades": (s.get("trades"), "trades"),
                      "daily": (days * products, f"{days} trading days x {products} products"),
                      "enterprises": (s.get("members"), "members")}.get(name, (None, ""))
        written = s.get("table_rows", {}).get(name)  # a summary that records every table's rows
        if written is not None and (want is None or rows == want):
            want, what = written, f"{name} rows written"
        path = self.file(name)
        if want is not None and rows != want:
            raise RunFileError(f"{path}: {rows:,} rows, but the run's summary records "
                               f"{want:,} ({what}): the file is cut short or not this run's")
        for column, total in sums.items():
            key = TOTALS[name][column]
            if key in s and total != s[key]:
                raise RunFileError(f"{path}: its {column} add up to {total:,}, but the run's "
                                   f"summary records {key} {s[key]:,}: the file is not as the "
                                   f"run wrote it")

    def _need(self, name: str) -> Path:
        path = self.file(name)
        if not path.is_file():
            raise RunFileError(f"{self.path}: this run has no {name}.csv (written by a "
                               f"newer rexsim)" if name in TABLES else
                               f"{self.path}: no table {name!r}")
        return path

    # ---------------------------------------------------------------- reading

    def table(self, name: str) -> Table:
        """Table `name` whole, as exact Python values (read once, then cached)."""
        if name not in self._tables:
            self._tables[name] = Table(self.columns(name), list(self.rows(name)))
        return self._tables[name]

    @property
    def trades(self) -> Table:
        """Every trade, in time order."""
        return self.table("trades")

    @property
    def daily(self) -> Table:
        """One row per trading day and product."""
        return self.table("daily")

    @property
    def enterprises(self) -> Table:
        """One row per member."""
        return self.table("enterprises")

    @property
    def quotes(self) -> Table:
        """Each product's touch at every decision step of the continuous session."""
        return self.table("quotes")

    @property
    def off_exchange(self) -> Table:
        """Off-exchange flow per day, product, member (0: all non-members) and side."""
        return self.table("off_exchange")

    def rows(self, name: str, columns: Sequence[str] | None = None) -> Iterator[tuple]:
        """Stream the rows of table `name` as tuples of exact values, without holding them.

        `columns` picks and orders the values of each tuple (default: every column). Reads
        from the cached table when it has been loaded, else from the file.
        """
        for chunk in self.chunks(name, columns):
            yield from zip(*chunk, strict=True)

    def chunks(self, name: str, columns: Sequence[str] | None = None
               ) -> Iterator[list[Sequence[Any]]]:
        """Stream table `name` as chunks of rows held column-wise: one list per column.

        For code that works a column at a time (numpy); each chunk holds a few thousand rows,
        so memory stays bounded however long the table. Values are exact, as in `rows`.
        """
        header = self.columns(name)
        if isinstance(columns, str):  # one name is not a list of its letters
            raise TypeError(f"columns: expected a list of column names, got the string "
                            f"{columns!r}")
        pick = list(columns) if columns is not None else list(header)
        for c in pick:
            if c not in header:
                raise RunFileError(f"{self.file(name)}: no column {c!r}; it has "
                                   f"{', '.join(header)} (a column this rexsim does not know "
                                   f"comes from a newer one)")
        cached = self._tables.get(name)
        if cached is not None:
            idx = [header.index(c) for c in pick]
            for start in range(0, len(cached.rows), _CHUNK):
                part = cached.rows[start:start + _CHUNK]
                yield [[r[i] for r in part] for i in idx]
            return
        yield from self._read(name, header, pick)

    def _read(self, name: str, header: tuple[str, ...], pick: list[str]
              ) -> Iterator[list[Sequence[Any]]]:
        """Stream the file in chunks of rows, converted column by column.

        Converting a whole column with one `map(int, ...)` is several times faster than a
        converter call per cell; a chunk bounds the memory held to _CHUNK rows.
        """
        path = self.file(name)
        idx = [header.index(c) for c in pick]
        convs = [_converter(name, c) for c in pick]
        width = len(header)
        line = 1  # the file line of the chunk's first row, less one
        sums = {c: 0 for c in pick if c in TOTALS.get(name, {})}
        try:
            with open(path, newline="", encoding="utf-8") as fh:
                reader = csv.reader(fh)
                next(reader, None)
                while chunk := list(itertools.islice(reader, _CHUNK)):
                    if set(map(len, chunk)) != {width}:
                        bad = next(i for i, cells in enumerate(chunk) if len(cells) != width)
                        raise RunFileError(f"{path}: line {line + 1 + bad} has "
                                           f"{len(chunk[bad])} cells, the header {width}")
                    columns = list(zip(*chunk, strict=True))
                    converted = [_column(path, line, pick[j], conv, columns[i])
                                 for j, (conv, i) in enumerate(zip(convs, idx, strict=True))]
                    for c in sums:
                        sums[c] += sum(filter(None, converted[pick.index(c)]))
                    yield converted
                    line += len(chunk)
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise RunFileError(f"{path}: line {line}: cannot read: {exc}") from None
        if self.whole:  # read to the end: as many rows, adding up, as the summary says
            self._check_read(name, line - 1, sums)

    # ---------------------------------------------------------------- pandas

    def to_pandas(self, name: str | None = None) -> Any:
        """Table `name` as a pandas DataFrame, or (no name) a dict of every table the run has.

        Dates are `datetime64`, `time` is a time-zone-aware timestamp in exchange-local time
        (Asia/Shanghai for a UTC+8 scenario), products, channels, provinces, roles, kinds and
        sides are categories, and beside each exact integer column is its converted one:
        `qty_kg` -> `qty_t`, `value_fen` -> `value_yuan`, `price` -> `price_yuan_t` (floats).
        The integer columns stay exact (`Int64` where a cell may be empty). Needs pandas.
        """
        pd = _pandas()
        if name is not None:
            return _run_frame(pd, self, name)
        return {n: _run_frame(pd, self, n) for n in TABLES if self.has(n)}


class Sweep:
    """A sweep's directory: the table of its runs (`sweep.csv`) and each run's directory."""

    def __init__(self, path: str | Path) -> None:
        """Read the sweep in directory `path` (its sweep.csv, or an older sweep.json)."""
        self.path = Path(path)
        csv_path, json_path = (self.path / f for f in SWEEP_FILES)
        if csv_path.is_file():
            self.table = self._read_csv(csv_path)
            self._check_complete(csv_path, json_path)
        elif json_path.is_file():
            self.table = self._from_json(json_path)
        else:
            raise RunFileError(f"{self.path}: not a sweep directory (no sweep.csv)")
        cols = self.table.columns
        if "run" in cols:
            self.runs = [str(v) for v in self.table.column("run")]
        elif "seed" in cols:
            self.runs = [f"seed-{v}" for v in self.table.column("seed")]
        else:
            self.runs = sorted(p.parent.name for p in self.path.glob(f"*/{SUMMARY_FILE}"))

    def __repr__(self) -> str:
        return f"<Sweep {self.path} {len(self.runs)} runs>"

    def __len__(self) -> int:
        return len(self.runs)

    def __iter__(self) -> Iterator[Run]:
        return (self.run(name) for name in self.runs)

    def run(self, which: int | str) -> Run:
        """One run of the sweep: by its row number in the table, or its directory name."""
        if type(which) is int:
            if not -len(self.runs) <= which < len(self.runs):
                raise RunFileError(f"{self.path}: no run {which} in this sweep of "
                                   f"{len(self.runs)} runs (0 to {len(self.runs) - 1})")
            name = self.runs[which]
        elif isinstance(which, str):
            name = which
        else:
            raise TypeError(f"Sweep.run: expected a row number or a run's name, got "
                            f"{type(which).__name__}")
        if name not in self.runs:
            raise RunFileError(f"{self.path}: no run {name!r} in this sweep "
                               f"(runs: {', '.join(self.runs[:4])}...)")
        return Run(self.path / name)

    def to_pandas(self) -> Any:
        """The table of runs as a DataFrame, converted units beside exact ones. Needs pandas."""
        pd = _pandas()
        return _with_units(pd, pd.DataFrame(self.table.rows, columns=list(self.table.columns)))

    def _check_complete(self, csv_path: Path, json_path: Path) -> None:
        """Refuse a sweep.csv with fewer (or more) rows than the runs its sweep.json records."""
        if self.table.rows:
            _check_line_end(csv_path)
        try:
            runs = json.loads(json_path.read_text("utf-8")).get("runs")
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
            return  # no manifest (an older sweep, or a table alone): nothing to count against
        if type(runs) is int and len(self.table.rows) != runs:
            raise RunFileError(f"{csv_path}: holds {len(self.table.rows)} of the {runs} runs "
                               f"its sweep.json records: the sweep's table is incomplete")

    @staticmethod
    def _read_csv(path: Path) -> Table:
        try:
            with open(path, newline="", encoding="utf-8") as fh:
                reader = csv.reader(fh)
                header = tuple(next(reader, ()))
                rows = [tuple(_any_cell(c) for c in cells) for cells in reader]
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise RunFileError(f"{path}: cannot read: {exc}") from None
        return Table(header, rows)

    @staticmethod
    def _from_json(path: Path) -> Table:
        """The table of runs of a sweep written before sweep.csv: seed, then each metric."""
        try:
            doc = json.loads(path.read_text("utf-8"))
            seeds = list(doc["seeds"])
            metrics = doc["metrics"]
            names = [m["metric"] for m in metrics]
            rows = [(f"seed-{s}", s, *(m["values"][i] for m in metrics))
                    for i, s in enumerate(seeds)]
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError,
                IndexError) as exc:
            raise RunFileError(f"{path}: not a rexsim sweep.json: {exc}") from None
        return Table(("run", "seed", *names), rows)


def load_run(path: str | Path, summary: dict[str, Any] | None = None) -> Run | Sweep:
    """The run (or sweep) in directory `path`: a `Run`, or a `Sweep` for a sweep's directory.

    `path` may also be a run's summary.json. `summary` (a run's summary dict) stands in for
    the file, so a run can be read while it is being written (the runner analyses its staged
    files before writing summary.json). Anything else is one RunFileError line.
    """
    p = Path(path)
    if p.is_file() and p.name == SUMMARY_FILE:
        p = p.parent
    if not p.exists():
        raise RunFileError(f"{p}: no such directory (give a run's or a sweep's output "
                           f"directory)")
    if not p.is_dir():
        raise RunFileError(f"{p}: not a run directory (give the directory `rexsim run --out` "
                           f"wrote, or its summary.json)")
    if summary is None and not (p / SUMMARY_FILE).is_file():
        if any((p / f).is_file() for f in SWEEP_FILES):
            return Sweep(p)
        raise RunFileError(f"{p}: not a run directory (no summary.json) nor a sweep's (no "
                           f"sweep.csv)")
    return Run(p, summary)



# ----------------------------------------------------------------------------- pandas

class ExtraMissing(RunFileError, ImportError):
    """An optional dependency (an extra of rexsim) is needed and not installed."""


def need_extra(module: str, extra: str, what: str) -> Any:
    """Import `module`, or raise ExtraMissing saying how to install the `extra` that has it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ExtraMissing(f"{what} needs {module.split('.')[0]}, which is not installed: "
                           f"pip install 'rexsim[{extra}]'") from None


def _pandas() -> Any:
    return need_extra("pandas", "pandas", "to_pandas()")


def local_zone(offset_hours: int) -> dt.tzinfo:
    """The exchange's time zone: Asia/Shanghai for UTC+8, else a fixed offset.

    A system without the zone database gets the fixed +08:00, which gives the same local
    times: China has had no daylight saving since 1991.
    """
    if offset_hours == 8:
        try:
            from zoneinfo import ZoneInfo

            return ZoneInfo("Asia/Shanghai")
        except (ImportError, LookupError, OSError, ValueError):
            pass
    return dt.timezone(dt.timedelta(hours=offset_hours))


def _run_frame(pd: Any, run: Run, name: str) -> Any:
    """Table `name` of `run` read by pandas' own parser, typed as `Run.to_pandas` says."""
    header = run.columns(name)
    kinds = {c: _converter(name, c) for c in header}
    dtype = {c: ("Int64" if k is _int_cell else "object") for c, k in kinds.items()
             if k is not _any_cell}
    try:
        df = pd.read_csv(run.file(name), dtype=dtype, keep_default_na=False, na_values=[""])
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise RunFileError(f"{run.file(name)}: cannot read: {exc}") from None
    if run.whole:
        run._check_read(name, len(df), {c: int(df[c].sum()) for c in TOTALS.get(name, {})})
    for c in header:
        s = df[c]
        if kinds[c] is _int_cell:
            if not s.isna().any():
                df[c] = s.astype("int64")
        elif c in TIME_COLUMNS:
            pass
        elif c in DATE_COLUMNS:
            dates = pd.to_datetime(s, format="%Y-%m-%d", errors="coerce")
            bad = s[dates.isna() & s.notna()]
            if len(bad):  # the row index is the file line less 2 (the header, from 0)
                raise RunFileError(f"{run.file(name)}: line {bad.index[0] + 2}, column {c}: "
                                   f"expected a date (YYYY-MM-DD), got {bad.iloc[0]!r}")
            df[c] = dates
        elif c in CATEGORIES:
            order = {"product": run.products, "province": run.provinces}.get(c,
                                                                             CATEGORIES[c])
            seen = [v for v in pd.unique(s.dropna()) if v not in order]
            df[c] = s.astype(pd.CategoricalDtype(list(order) + sorted(seen)))
    for c in TIME_COLUMNS & set(header):
        df[c] = pd.to_datetime(df[c].astype("int64"), unit="ns", utc=True).dt.tz_convert(
            local_zone(run.utc_offset_hours))
    return _with_units(pd, df)


def _with_units(pd: Any, df: Any) -> Any:
    """`df` with a float column in display units beside each exact one.

    kg -> t, fen -> yuan, an integer price (yuan/t, its unit not in its name) -> NAME_yuan_t.
    """
    out = {}
    for c in df.columns:
        out[c] = df[c]
        if not isinstance(c, str) or not pd.api.types.is_numeric_dtype(df[c]):
            continue
        if c.endswith("_kg"):
            out[c[:-3] + "_t"] = df[c].astype("float64") / 1000
        elif c.endswith("_fen"):
            out[c[:-4] + "_yuan"] = df[c].astype("float64") / 100
        elif c in PRICE_COLUMNS:
            out[c + "_yuan_t"] = df[c].astype("float64")
    return pd.DataFrame(out, index=df.index)
