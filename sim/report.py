"""The run report: one self-contained HTML page of charts and tables, and each chart as a PNG.

`write_report(run, out)` reads a run's directory (`sim.load_run`), draws its charts with
matplotlib's Agg canvas (no display, no global backend switched, so it is safe inside a
notebook) and writes `out` (an HTML file whose charts are embedded as data URIs, so it opens
in any browser with no network) and `STEM-NAME.png` beside it for each chart. Tables a
person reads (headline figures, products, price transparency, a comparison) are HTML tables.
With `against` (a baseline run) the page also compares every headline metric with it.

Matplotlib is the optional extra `rexsim[report]`.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import html
import io
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from sim import analysis
from sim.compare import compare, format_change, label, notes
from sim.errors import OutputError, RunFileError
from sim.metrics import UNITS, format_value, headline
from sim.runs import CATEGORIES, Run, need_extra
from sim.units import fixed

__all__ = ["CHARTS", "FACTS", "MAIN_PRODUCTS", "Chart", "write_report"]

# the exchange's published headline figures (shared/data/baotou-2024.md: "over 100,000 t"
# and "over 11.6 billion yuan" traded from 1 January to 31 October 2024)
FACTS = {"date": dt.date(2024, 10, 31), "tonnage_kg": 100_000 * 1000,
         "value_fen": 11_600_000_000 * 100}
MAIN_PRODUCTS = ("PRND_OX", "PRND_MT", "LA_OX", "CE_OX", "RE_CARB")

ONLINE, OFFLINE = "#2f6db5", "#e08a3c"  # one colour per channel, on every chart
INK, GRID, BAND, NATIONAL = "#1f2933", "#d9dee3", "#cfe0f3", "#c0392b"
PALETTE = ("#2f6db5", "#e08a3c", "#3a9a5b", "#b8468e", "#6c5ba7", "#8c6d46", "#d4a017")
DPI = 100


class Chart(NamedTuple):
    """One chart of the report: its file name part, title, caption and drawing function."""

    name: str
    title: str
    caption: str
    draw: Callable[[Any, Run], Any]  # (Figure class, run) -> Figure, or None: no data


# ----------------------------------------------------------------------------- helpers

def _date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _month(text: str) -> dt.date:
    return dt.date.fromisoformat(text + "-01")


def _style(ax: Any, ylabel: str | None = None) -> None:
    ax.grid(True, color=GRID, linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(colors=INK, labelsize=8)
    if ylabel:
        ax.set_ylabel(ylabel, fontsize=9, color=INK)


def _dates_axis(ax: Any) -> None:
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def _thousands(ax: Any, axis: str = "y") -> None:
    from matplotlib.ticker import FuncFormatter

    fmt = FuncFormatter(lambda v, _pos: f"{v:,.0f}" if abs(v) >= 10 or v == 0 else f"{v:g}")
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(fmt)


def _short_price(v: float, _pos: Any = None) -> str:
    """A price tick: 5.8M, 420k, or in full below 100,000 (15,500: no two ticks alike)."""
    if abs(v) >= 1e6:
        return f"{v / 1e6:.2f}".rstrip("0").rstrip(".") + "M"
    if abs(v) >= 1e5:
        return f"{v / 1e3:.0f}k"
    return f"{v:,.0f}"


def _figure(figure_cls: Any, width: float, height: float) -> Any:
    fig = figure_cls(figsize=(width, height), dpi=DPI, layout="constrained")
    fig.set_facecolor("white")
    return fig


def _products(run: Run, wanted: Sequence[str]) -> list[str]:
    return [p for p in wanted if p in run.products]


# ----------------------------------------------------------------------------- charts

def _daily(figure_cls: Any, run: Run) -> Any:
    days = analysis.channels_by_day(run)
    if not days:
        return None
    x = [_date(d["date"]) for d in days]
    fig = _figure(figure_cls, 11, 5.6)
    top, bottom = fig.subplots(2, 1, sharex=True)
    for ax, unit, scale, ylabel in ((top, "kg", 1000, "tonnes per day"),
                                    (bottom, "fen", 100 * 1e6, "million yuan per day")):
        on = [d[f"online_{unit}"] / scale for d in days]
        off = [d[f"offline_{unit}"] / scale for d in days]
        ax.bar(x, on, width=1.0, color=ONLINE, label="online", linewidth=0)
        ax.bar(x, off, width=1.0, bottom=on, color=OFFLINE, label="offline", linewidth=0)
        _style(ax, ylabel)
        _thousands(ax)
    top.legend(loc="upper left", fontsize=8, frameon=False, ncol=2)
    _dates_axis(bottom)
    return fig


def _prices(figure_cls: Any, run: Run) -> Any:
    header = run.columns("daily")
    has_band = "band_low" in header and "band_high" in header
    has_national = "national_price" in header
    cols = ["date", "product", "settlement", "vwap"]
    cols += ["band_low", "band_high"] if has_band else []
    cols += ["national_price"] if has_national else []
    series: dict[str, list[tuple]] = {}
    for row in run.rows("daily", cols):
        series.setdefault(row[1], []).append(row)
    products = [p for p in run.products if p in series]
    if not products:
        return None
    ncols = 4
    nrows = -(-len(products) // ncols)
    fig = _figure(figure_cls, 13, 2.3 * nrows + 0.5)
    axes = fig.subplots(nrows, ncols, sharex=True, squeeze=False).ravel()
    from matplotlib.ticker import FuncFormatter

    for ax, code in zip(axes, products, strict=False):
        rows = series[code]
        x = [_date(r[0]) for r in rows]
        if has_band:
            lo = [r[4] for r in rows]
            hi = [r[5] for r in rows]
            ok = [a is not None and b is not None for a, b in zip(lo, hi, strict=True)]
            ax.fill_between(x, [a if k else float("nan") for a, k in zip(lo, ok, strict=True)],
                            [b if k else float("nan") for b, k in zip(hi, ok, strict=True)],
                            color=BAND, linewidth=0, label="price band")
        ax.plot(x, [r[2] for r in rows], color=INK, linewidth=1.1, label="settlement")
        if has_national:
            ax.plot(x, [float("nan") if r[-1] is None else r[-1] for r in rows],
                    color=NATIONAL, linewidth=0.9, linestyle=(0, (3, 2)),
                    label="national price")
        ax.set_title(code, fontsize=9, color=INK, loc="left", fontweight="bold")
        _style(ax)
        ax.yaxis.set_major_formatter(FuncFormatter(_short_price))
        _dates_axis(ax)
    for k, ax in enumerate(axes):
        if k >= len(products):
            ax.set_visible(False)
        elif k + ncols >= len(products):  # nothing drawn below it: it shows the dates
            ax.xaxis.set_tick_params(labelbottom=True)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper right", ncol=3, fontsize=8, frameon=False)
    return fig


def _cumulative(figure_cls: Any, run: Run) -> Any:
    rows = analysis.cumulative(run)
    if not rows:
        return None
    x = [_date(r["date"]) for r in rows]
    fig = _figure(figure_cls, 11, 3.6)
    axes = fig.subplots(1, 2)
    specs = (("cum_tonnage_kg", "tonnage_kg", 1000, "tonnes", "over 100,000 t"),
             ("cum_value_fen", "value_fen", 100 * 1e9, "billion yuan", "over 11.6 bn yuan"))
    for ax, (key, fact_key, scale, unit, fact_text) in zip(axes, specs, strict=True):
        y = [r[key] / scale for r in rows]
        ax.plot(x, y, color=ONLINE, linewidth=1.8, label="this run")
        target = FACTS[fact_key] / scale
        ax.axhline(target, color=NATIONAL, linewidth=1, linestyle=(0, (4, 3)))
        ax.annotate(f"facts: {fact_text} by 31 Oct 2024", xy=(x[0], target),
                    xytext=(0, 4), textcoords="offset points", fontsize=8, color=NATIONAL)
        if x[0] <= FACTS["date"] <= x[-1] + dt.timedelta(days=3):
            ax.plot([FACTS["date"]], [target], marker="o", color=NATIONAL, markersize=5)
        share = 100 * rows[-1][key] / FACTS[fact_key]
        ax.annotate(f"{y[-1]:,.1f} {unit} by {x[-1]:%d %b %Y}\n({share:.1f}% of the figure)",
                    xy=(x[-1], y[-1]), xytext=(-14, -8), textcoords="offset points",
                    ha="right", va="top", fontsize=8, color=INK,
                    bbox={"boxstyle": "round,pad=0.3", "fc": "white", "ec": GRID})
        ax.set_ylim(0, max(target, y[-1]) * 1.12)
        _style(ax, f"cumulative {unit}")
        _thousands(ax)
        _dates_axis(ax)
    return fig


def _members(figure_cls: Any, run: Run) -> Any:
    rows = analysis.members_by_day(run)
    if not rows:
        return None
    x = [_date(r["date"]) for r in rows]
    fig = _figure(figure_cls, 11, 3.2)
    ax = fig.subplots()
    members = [r["members"] for r in rows]
    online = [r["online_members"] for r in rows]
    ax.fill_between(x, 0, online, color=ONLINE, alpha=0.25, linewidth=0)
    ax.plot(x, members, color=INK, linewidth=1.6, label="members")
    ax.plot(x, online, color=ONLINE, linewidth=1.6, label="trading online")
    for series, colour in ((members, INK), (online, ONLINE)):
        ax.annotate(f"{series[0]:,}", xy=(x[0], series[0]), xytext=(2, 4),
                    textcoords="offset points", fontsize=8, color=colour)
        ax.annotate(f"{series[-1]:,}", xy=(x[-1], series[-1]), xytext=(-2, 4),
                    textcoords="offset points", fontsize=8, color=colour, ha="right")
    ax.set_ylim(0, max(members) * 1.15)
    _style(ax, "enterprises")
    _dates_axis(ax)
    ax.legend(loc="lower right", fontsize=8, frameon=False, ncol=2)
    return fig


def _concentration(figure_cls: Any, run: Run) -> Any:
    hhi = [r for r in analysis.concentration(run, by_month=True) if r["side"] == "sell"]
    dominant = analysis.dominant_share(run)
    products = _products(run, MAIN_PRODUCTS) or run.products[:5]
    if not hhi:
        return None
    fig = _figure(figure_cls, 11, 3.8)
    left, right = fig.subplots(1, 2)
    for i, code in enumerate(products):
        colour = PALETTE[i % len(PALETTE)]
        rows = [r for r in hhi if r["product"] == code and r["hhi"] is not None]
        left.plot([_month(r["month"]) for r in rows], [float(r["hhi"]) for r in rows],
                  marker="o", markersize=3, color=colour, linewidth=1.4, label=code)
        rows = [r for r in dominant if r["product"] == code
                and r["tonnage_share_pct"] is not None]
        right.plot([_month(r["month"]) for r in rows],
                   [float(r["tonnage_share_pct"]) for r in rows], marker="o", markersize=3,
                   color=colour, linewidth=1.4, label=code)
    top = max([float(r["hhi"]) for r in hhi if r["product"] in products
               and r["hhi"] is not None] + [2500])
    for level, text in ((1500, "1,500: moderately concentrated"),
                        (2500, "2,500: highly concentrated")):
        left.axhline(level, color="#8a949e", linewidth=0.8, linestyle=(0, (2, 2)))
        left.annotate(text, xy=(1, level), xycoords=("axes fraction", "data"),
                      xytext=(-2, -9), textcoords="offset points", fontsize=7,
                      color="#6b7680", ha="right")
    left.set_ylim(0, min(10_000, top * 1.25))
    _style(left, "sell-side HHI (0-10,000)")
    _thousands(left)
    right.set_ylim(0, 100)
    _style(right, "dominant seller's share of tonnage sold (%)")
    for ax in (left, right):
        _dates_axis(ax)
    left.legend(loc="upper left", fontsize=8, frameon=False, ncol=3)
    right.legend(loc="lower left", fontsize=8, frameon=False, ncol=3)
    return fig


def _provinces(figure_cls: Any, run: Run) -> Any:
    rows = analysis.by_province(run)
    if not rows:
        return None
    rows = sorted(rows, key=lambda r: r["buy_value_fen"] + r["sell_value_fen"])
    names = [r["province"] for r in rows]
    fig = _figure(figure_cls, 11, 0.22 * len(rows) + 1.2)
    left, right = fig.subplots(1, 2, sharey=True, width_ratios=(3, 2))
    y = range(len(rows))
    buy = [r["buy_value_fen"] / 1e11 for r in rows]
    sell = [r["sell_value_fen"] / 1e11 for r in rows]
    left.barh(y, buy, color=ONLINE, height=0.75, label="bought")
    left.barh(y, sell, left=buy, color=OFFLINE, height=0.75, label="sold")
    left.set_yticks(list(y), names, fontsize=8)
    _style(left, None)
    left.set_xlabel("value traded, billion yuan", fontsize=9, color=INK)
    left.legend(loc="lower right", fontsize=8, frameon=False)
    online = [r["online_members"] for r in rows]
    offline = [r["members"] - r["online_members"] for r in rows]
    right.barh(y, online, color=ONLINE, height=0.75, label="online")
    right.barh(y, offline, left=online, color="#9fb7d6", height=0.75, label="offline")
    _style(right, None)
    right.set_xlabel("members at the end (online / offline)", fontsize=9, color=INK)
    right.legend(loc="lower right", fontsize=8, frameon=False)
    for ax in (left, right):
        ax.grid(True, axis="x", color=GRID, linewidth=0.6)
        ax.grid(False, axis="y")
    return fig


def _spreads(figure_cls: Any, run: Run) -> Any:
    if not run.has("quotes"):
        return None
    rows = analysis.spreads(run, by_day=True)
    products = [p for p in _products(run, MAIN_PRODUCTS) if any(r["product"] == p
                                                                for r in rows)]
    if not products:
        return None
    fig = _figure(figure_cls, 13, 4.6)
    axes = fig.subplots(2, len(products), sharex=True, squeeze=False)
    for j, code in enumerate(products):
        mine = [r for r in rows if r["product"] == code]
        x = [_date(r["date"]) for r in mine]
        top, bottom = axes[0][j], axes[1][j]
        top.plot(x, [float("nan") if r["median_spread_bp"] is None else r["median_spread_bp"]
                     for r in mine], color=INK, linewidth=1)
        top.set_title(code, fontsize=9, color=INK, loc="left", fontweight="bold")
        for key, colour, name in (("median_bid_qty_kg", ONLINE, "bid"),
                                  ("median_ask_qty_kg", OFFLINE, "ask")):
            bottom.plot(x, [float("nan") if r[key] is None else r[key] / 1000 for r in mine],
                        color=colour, linewidth=1, label=name)
        top.set_ylim(bottom=0)
        bottom.set_ylim(bottom=0)
        _style(top, "median spread (bp)" if j == 0 else None)
        _style(bottom, "depth at the touch (t)" if j == 0 else None)
        _dates_axis(bottom)
    axes[1][0].legend(loc="upper left", fontsize=8, frameon=False, ncol=2)
    return fig


CHARTS: tuple[Chart, ...] = (
    Chart("daily", "Daily tonnage and value, by channel",
          "Each trading day's tonnage and value, online (members' own terminals) and offline "
          "(the counter, phone and negotiated deals).", _daily),
    Chart("prices", "Prices (yuan per tonne): settlement, price band and national price",
          "Each product's daily settlement (the day's volume-weighted average price), the "
          "band orders had to stay within, and the national spot price off the exchange.",
          _prices),
    Chart("cumulative", "Cumulative tonnage and value against the published figures",
          "What the run traded since its start, against the exchange's figures for "
          "1 January - 31 October 2024.", _cumulative),
    Chart("members", "Members and members trading online",
          "Members on each trading day, and how many of them trade online (the Online "
          "Enterprise Doubling Plan).", _members),
    Chart("concentration", "Concentration by month",
          "Left: the sell side's Herfindahl-Hirschman index of traded value (dotted: the "
          "usual 1,500 and 2,500 thresholds). Right: the product's dominant seller's share "
          "of the tonnage sold.", _concentration),
    Chart("provinces", "Value and membership by province",
          "Value bought and sold by members of each province over the run, and the members "
          "at its end, online and offline.", _provinces),
    Chart("spreads", "Spread and depth at the touch, main products",
          "Each day's median bid-ask spread (basis points of the midpoint) and median "
          "quantity at the best bid and ask, from the touch sampled at every decision step.",
          _spreads),
)


# ----------------------------------------------------------------------------- tables

def _td(text: str, cls: str = "") -> str:
    return f'<td class="{cls}">{html.escape(text)}</td>' if cls else f"<td>{html.escape(text)}</td>"


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int = 1,
           cls: str = "", marked: Sequence[bool] = ()) -> str:
    """An HTML table of text cells, escaped.

    Columns from `numeric_from` on are right-aligned numbers; rows whose `marked` flag is
    set are emphasised (the metrics that changed).
    """
    th = "".join(f'<th class="{"num" if i >= numeric_from else ""}">{html.escape(h)}</th>'
                 for i, h in enumerate(head))
    flags = list(marked) + [False] * (len(rows) - len(marked))
    body = "".join(("<tr class=\"changed\">" if flag else "<tr>")
                   + "".join(_td(v, "num" if i >= numeric_from else "")
                             for i, v in enumerate(r)) + "</tr>"
                   for r, flag in zip(rows, flags, strict=True))
    return f'<table class="{cls}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


def _unit_label(unit: str) -> str:
    return UNITS[unit][0] or "count"


# headline metrics in words, for tables a person reads (the keys are in summary.json)
WORDS = {
    "tonnage_kg": "tonnage traded", "value_fen": "value traded",
    "avg_price_yuan_t": "average price", "trades": "trades", "members": "members at the end",
    "online_members_end": "members trading online at the end",
    "online_share_pct": "online share of tonnage",
    "exchange_share_pct": "exchange's share of national tonnage",
    "off_exchange_tonnage_kg": "off-exchange tonnage", "off_exchange_value_fen":
    "off-exchange value", "block_offered_kg": "block auctions: offered",
    "block_sold_kg": "block auctions: sold", "block_sold_pct": "block auctions: share sold",
    "tonnage_share_pct": "share of tonnage", "two_sided_pct": "two-sided quotes",
    "median_spread_bp": "median spread", "hhi": "HHI", "top1_pct": "top-1 share",
    "top5_pct": "top-5 share", "top10_pct": "top-10 share",
}


_GROUPS = {"sell_value": "sell side", "buy_value": "buy side"}


def describe(key: str) -> str:
    """A headline metric's key in words, for a reader.

    `PRND_OX.avg_price_yuan_t` -> `PRND_OX average price`, `sell_value.hhi` -> `sell side
    HHI`.
    """
    head, _, tail = key.rpartition(".")
    words = WORDS.get(tail, label(tail).replace("_", " "))
    if tail in ("tonnage_kg", "value_fen") and head:
        words = words.split()[0]  # "PRND_OX tonnage", not "PRND_OX tonnage traded"
    return f"{_GROUPS.get(head, head)} {words}".strip()


def _headline_table(summary: dict[str, Any]) -> str:
    rows = [(describe(m.key), _unit_label(m.unit), format_value(m.value, m.unit))
            for m in headline(summary) if "." not in m.key and m.value is not None]
    return _table(("metric", "unit", "value"), rows, numeric_from=2)


def _pct(value: Any, places: int = 1) -> str:
    """A share or basis-point figure with `places` decimals ("-" for none, never "-0.0")."""
    if value is None:
        return "-"
    text = f"{float(value):.{places}f}"
    return text[1:] if text.startswith("-") and not text.strip("-0.") else text


def _products_table(run: Run) -> str:
    s = run.summary
    conc = {r["product"]: r for r in analysis.concentration(run) if r["side"] == "sell"}
    dom = {r["product"]: r for r in analysis.dominant_share(run, by_month=False)}
    spreads = {}
    if run.has("quotes"):
        spreads = {r["product"]: r for r in analysis.spreads(run)}
    try:
        share = {r["product"]: r for r in analysis.exchange_share(run)}
    except RunFileError:  # an older run, without off-exchange flow
        share = {}
    names = {p["code"]: p.get("name", "") for p in
             (s.get("resolved_scenario") or {}).get("products", [])}
    rows = []
    for code in run.products:
        p = s.get("by_product", {}).get(code, {})
        kg, fen = p.get("tonnage_kg", 0), p.get("value_fen", 0)
        rows.append((
            code, names.get(code, ""), fixed(kg, 1000, 1), _pct(p.get("tonnage_share_pct")),
            fixed(fen, 100, 0),
            f"{fen * 10 // kg:,}" if kg else "-",
            "-" if code not in conc else f"{float(conc[code]['hhi']):,.0f}",
            _pct(conc.get(code, {}).get("top1_pct")),
            _pct(dom.get(code, {}).get("tonnage_share_pct")),
            _pct(spreads.get(code, {}).get("two_sided_pct")),
            _pct(spreads.get(code, {}).get("median_spread_bp")),
            _pct(share.get(code, {}).get("exchange_share_pct")),
        ))
    head = ("product", "", "tonnage (t)", "share of t (%)", "value (yuan)", "avg price (yuan/t)",
            "sell HHI", "top seller (%)", "dominant seller (%)", "two-sided (%)",
            "median spread (bp)", "exchange share (%)")
    keep = [i for i in range(len(head)) if any(r[i] != "-" for r in rows)]  # data this run has
    return _table([head[i] for i in keep], [[r[i] for i in keep] for r in rows],
                  numeric_from=2)


def _transparency_table(run: Run) -> str:
    rows = []
    for r in analysis.transparency(run):
        if r["product"] not in MAIN_PRODUCTS and r["group"] == "online":
            continue
        rows.append((r["product"], r["group"].replace("_", " "), f"{r['trades']:,}",
                     f"{r['compared_trades']:,}", _pct(r["mean_abs_dev_bp"]),
                     _pct(r["mean_dev_bp"]), _pct(r["sd_dev_bp"])))
    head = ("product", "group", "trades", "compared", "mean |deviation| (bp)",
            "mean deviation (bp)", "sd of deviation (bp)")
    return _table(head, rows, numeric_from=2)


def _counterparties_table(run: Run) -> str:
    """Share of the exchange's tonnage by the buyer's role (rows) and the seller's (columns)."""
    rows = analysis.counterparties(run)

    def present(key: str) -> list[Any]:  # the roles that traded, in role order (any unknown last)
        seen = {x[key] for x in rows}
        return [r for r in CATEGORIES["role"] if r in seen] + sorted(
            seen - set(CATEGORIES["role"]), key=str)

    def name(role: Any) -> str:
        return "unknown" if role is None else str(role).replace("_", " ")

    buyers, sellers = present("buyer_role"), present("seller_role")
    share = {(x["buyer_role"], x["seller_role"]): x["tonnage_share_pct"] for x in rows}
    body = [(name(b), *(_pct(share[(b, s)]) if (b, s) in share else "-" for s in sellers))
            for b in buyers]
    return _table(("buyer \\ seller", *(name(s) for s in sellers)), body)


def _comparison(base: Run, run: Run) -> str:
    lines = notes(base.summary, run.summary)
    diff = ("<ul class=\"diff\">" + "".join(f"<li><code>{html.escape(n)}</code></li>"
                                            for n in lines) + "</ul>") if lines else \
        "<p>Both runs were made with the same settings.</p>"
    rows = []
    changed = []
    for r in compare(base.summary, run.summary):
        changed.append(r.change not in (0, None) or (r.base is None) != (r.other is None))
        change, rel = format_change(r)
        rows.append((describe(r.metric), _unit_label(r.unit), format_value(r.base, r.unit),
                     format_value(r.other, r.unit), change, rel))
    table = _table(("metric", "unit", "base", "this run", "abs. change", "rel. change"),
                   rows, numeric_from=2, cls="compare", marked=changed)
    return (f"<p>Base: <code>{html.escape(str(base.path))}</code>. What differs in how the "
            f"runs were made:</p>{diff}<p class=\"note\">abs. change: this run - base, in the "
            f"row's unit (shares in percentage points, pp); rel. change: as a percentage of "
            f"base. Rows in bold changed.</p>{table}")


# ----------------------------------------------------------------------------- page

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2933;
margin:0;background:#f5f7f9}
main{max-width:1320px;margin:0 auto;padding:24px 28px 48px;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:32px 0 6px;
border-bottom:1px solid #d9dee3;padding-bottom:4px}
.meta{color:#52606d;margin:0 0 16px}.meta code{font-size:12px}
figure{margin:10px 0 28px}figure img{display:block;width:100%;height:auto}
figcaption{color:#52606d;font-size:13px;margin:4px 0 0}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
th,td{padding:3px 10px;border-bottom:1px solid #e4e7eb;text-align:left}
th{background:#f0f3f6;font-weight:600}td.num,th.num{text-align:right;
font-variant-numeric:tabular-nums}tbody tr:nth-child(even){background:#fafbfc}
.note{color:#52606d;font-size:12px}ul.diff{margin:6px 0}
tr.changed td{font-weight:600;background:#fff7e6}
"""


def _png(fig: Any) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def _check_targets(paths: Sequence[Path], run_dir: Path) -> None:
    """Refuse, before anything is drawn, a target the report must not or cannot replace.

    A directory is in the way; an existing file is replaced only when it is an earlier report
    (the page) or a chart (a PNG); and a report goes in no run's or sweep's directory but its
    own run's, as report.html, so it never overwrites or mixes into another run's files.
    """
    page = paths[0]
    for path in paths:
        if path.is_symlink() or (path.exists() and not path.is_file()):
            raise OutputError(f"{path}: a {'link' if path.is_symlink() else 'directory'} is "
                              f"in the way of the report's file", option="--out")
        if path.is_file() and not (_is_page(path) if path == page else
                                   _head(path, len(_PNG_HEAD)) == _PNG_HEAD):
            raise OutputError(f"{path}: exists and is not an earlier rexsim report's "
                              f"{'page' if path == page else 'chart'}, so the report does not "
                              f"replace it", option="--out")
    parent = page.parent
    if parent.exists() and not parent.is_dir():
        raise OutputError(f"{parent}: not a directory, so the report cannot go in it",
                          option="--out")
    if any((parent / name).exists() for name in ("summary.json", "sweep.csv", "sweep.json")):
        own = parent.resolve() == run_dir.resolve() and page.name == "report.html"
        if not own:
            raise OutputError(f"{parent}: a run's or sweep's directory, and a report goes in "
                              f"none but its own run's, as report.html", option="--out")


_PNG_HEAD = b"\x89PNG\r\n\x1a\n"


def _is_page(path: Path) -> bool:
    """Whether a file is a page `rexsim report` wrote (as `_page` begins one)."""
    head = _head(path, 512)
    return head.startswith(b"<!DOCTYPE html>\n") and b"<title>rexsim report: " in head


def _head(path: Path, size: int) -> bytes:
    """The first `size` bytes of a file (nothing if it cannot be read)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(size)
    except OSError:
        return b""


def _publish(files: Sequence[tuple[Path, bytes]]) -> None:
    """Write the files whole or not at all: each to a temporary beside it, then rename them.

    Nothing is renamed into place until every file is written, the page last; on a failure
    the temporaries (and any directory made for them) are removed and an OutputError names
    the file that could not be written, leaving an earlier report as it was.
    """
    parent = files[0][0].parent
    made = [d for d in (parent, *parent.parents) if not d.exists()]  # deepest first
    temps: list[Path] = []
    path = parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        for path, data in files:
            temps.append(path.with_name(f".{path.name}.tmp-{os.getpid()}"))
            temps[-1].write_bytes(data)
        for (path, _), tmp in reversed(list(zip(files, temps, strict=True))):
            os.replace(tmp, path)
    except BaseException as exc:
        for tmp in temps:  # undo what this call made, as far as it can
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
        for d in made:
            with contextlib.suppress(OSError):
                d.rmdir()
        if isinstance(exc, OSError):
            raise OutputError(f"{path}: {exc.strerror or exc}", option="--out") from None
        raise


def _page(run: Run, charts: list[tuple[Chart, bytes]], against: Run | None) -> str:
    s = run.summary
    title = f"rexsim report: {s.get('scenario', run.path.name)}"
    meta = (f"seed {s.get('seed')}, scale {s.get('scale')}, {s.get('start')} to "
            f"{s.get('end')} ({s.get('trading_days')} trading days); rexsim "
            f"{s.get('rexsim_version', '?')}; <code>{html.escape(str(s.get('command', '')))}"
            f"</code>")
    parts = [f"<h1>{html.escape(title)}</h1><p class=\"meta\">{meta}</p>",
             "<h2>Headline figures</h2>", _headline_table(s)]
    if against is not None:
        parts += ["<h2>Against the base run</h2>", _comparison(against, run)]
    parts += ["<h2>Products</h2>", _products_table(run),
              "<p class=\"note\">HHI and top seller: the sell side's traded value; dominant "
              "seller: its share of the tonnage sold; two-sided and spread: the sampled touch; "
              "exchange share: of the product's national tonnage (exchange + off-exchange)."
              "</p>"]
    if charts:
        parts.append("<h2>Charts</h2>")
    for chart, png in charts:
        data = base64.b64encode(png).decode("ascii")
        parts.append(f"<figure><img class=\"chart\" "
                     f"data-chart=\"{chart.name}\" alt=\"{html.escape(chart.title)}\" "
                     f"src=\"data:image/png;base64,{data}\"><figcaption>"
                     f"{html.escape(chart.caption)}</figcaption></figure>")
    missing = [c for c in CHARTS if c.name not in {d.name for d, _ in charts}]
    if missing:
        why = "" if run.has("quotes") else " (this run has no quotes.csv: a run from an " \
                                           "older rexsim)"
        parts.append(f"<p class=\"note\">Not drawn, for want of data in this run{why}: "
                     f"{html.escape(', '.join(c.title for c in missing))}.</p>")
    parts += ["<h2>Who sells to whom</h2>",
              "<p>Share of the exchange's tonnage (%) by the buyer's and the seller's role. "
              "The market makers are traders, and so are the distributors who buy for their "
              "customers: trader to trader is makers selling to distributors and makers "
              "trading among themselves (volume that meets nobody's need).</p>",
              _counterparties_table(run)]
    parts += ["<h2>Price transparency</h2>",
              "<p>How far each group's prices sit from the same day's online volume-weighted "
              "average price of the product (each trade counts once; online is the "
              "yardstick's own scatter, shown for the main products).</p>",
              _transparency_table(run)]
    body = "\n".join(parts)
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head>"
            f"<body><main>\n{body}\n</main></body></html>\n")


def write_report(run: Run, out: str | Path | None = None, against: Run | None = None
                 ) -> list[Path]:
    """Write the report of `run` to `out` (default RUN_DIR/report.html) and its charts beside.

    Each chart is also written as `STEM-NAME.png` next to `out` (STEM: `out`'s name without
    its suffix, `report` by default), and a chart a previous report wrote that this run has
    no data for (quotes of an older run) is removed, so no stale picture stays. The files
    appear together or not at all (OutputError naming the one that failed). Returns the
    files written, the HTML first. Needs matplotlib (`pip install 'rexsim[report]'`).
    """
    need_extra("matplotlib", "report", "rexsim report")
    from matplotlib.figure import Figure

    out = Path(out) if out is not None else run.path / "report.html"
    pngs = {c.name: out.with_name(f"{out.stem}-{c.name}.png") for c in CHARTS}
    _check_targets([out, *pngs.values()], run.path)
    charts: list[tuple[Chart, bytes]] = []
    s = run.summary
    ident = f"{s.get('scenario', run.path.name)}, seed {s.get('seed')}"
    for chart in CHARTS:
        fig = chart.draw(Figure, run)
        if fig is not None:  # the title is in the picture, so a PNG stands on its own
            fig.suptitle(f"{chart.title}   ({ident})", x=0.005, ha="left", fontsize=11,
                         color=INK)
            charts.append((chart, _png(fig)))
    files = [(out, _page(run, charts, against).encode("utf-8"))]
    files += [(pngs[chart.name], png) for chart, png in charts]
    _publish(files)
    drawn = {c.name for c, _ in charts}
    for name, stale in pngs.items():
        if name not in drawn and stale.is_file():
            try:
                stale.unlink()
            except OSError as exc:
                raise OutputError(f"{stale}: cannot remove this chart of an earlier report: "
                                  f"{exc.strerror or exc}", option="--out") from None
    return [path for path, _ in files]
