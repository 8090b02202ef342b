"""A run's headline metrics: one flat, ordered list read from summary.json, each with its unit.

Compare, sweeps and sensitivity analysis all speak these names, so a column or row means the
same thing everywhere. A metric's key names its unit and holds it (`tonnage_kg` holds kg,
`avg_price_yuan_t` yuan per tonne, `two_sided_pct` percent): amounts stay exact integers
(kg, fen, yuan/t) and are converted only where printed (`format_value`). Per-product and
per-channel metrics are `CODE.key`; a metric a summary lacks (an older run, a product only
one scenario lists) is None.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from sim.units import fixed

__all__ = ["Metric", "UNITS", "change_unit", "format_value", "headline", "unit_of"]

# unit -> (how it prints, scale of the stored integer to the printed unit, decimals)
UNITS: dict[str, tuple[str, int, int]] = {
    "kg": ("t", 1000, 1),
    "fen": ("yuan", 100, 0),
    "yuan_t": ("yuan/t", 1, 0),
    "pct": ("%", 0, 3),
    "bp": ("bp", 0, 1),
    "hhi": ("HHI", 0, 2),
    "count": ("", 0, 0),
}


class Metric(NamedTuple):
    """One headline figure of a run: its key (unit in the name), value and unit."""

    key: str
    value: int | float | None
    unit: str  # a key of UNITS


def unit_of(key: str) -> str:
    """The unit a metric key names by its suffix (`..._kg` -> kg); `count` when it names none."""
    for suffix, unit in (("_kg", "kg"), ("_fen", "fen"), ("_yuan_t", "yuan_t"),
                         ("_pct", "pct"), ("_bp", "bp"), ("hhi", "hhi")):
        if key.endswith(suffix):
            return unit
    return "count"


def change_unit(unit: str) -> str:
    """How a change of a metric in `unit` is stated: shares change in percentage points."""
    return "pp" if unit == "pct" else UNITS[unit][0]


def _avg_price(kg: int | None, fen: int | None) -> int | None:
    """Volume-weighted average price in yuan/t, floored: fen * 10 // kg (value = price*kg//10)."""
    return fen * 10 // kg if kg and fen is not None else None


def _share(part: int | None, whole: int | None) -> float | None:
    return round(100 * part / whole, 3) if part is not None and whole else None


def headline(summary: dict[str, Any]) -> list[Metric]:
    """Every headline metric of one summary, in display order."""
    s = summary
    out: list[Metric] = []

    def add(key: str, value: int | float | None) -> None:
        out.append(Metric(key, value, unit_of(key)))

    kg, fen = s.get("tonnage_kg"), s.get("value_fen")
    channels = s.get("by_channel", {})
    off = s.get("off_exchange", {})
    blocks = s.get("block_auctions", {})
    add("tonnage_kg", kg)
    add("value_fen", fen)
    add("avg_price_yuan_t", _avg_price(kg, fen))
    add("trades", s.get("trades"))
    add("members", s.get("members"))
    add("online_members_end", s.get("online_members_end"))
    add("online_share_pct", _share(channels.get("online", {}).get("tonnage_kg"), kg))
    add("exchange_share_pct", off.get("exchange_share_pct"))
    add("off_exchange_tonnage_kg", off.get("tonnage_kg"))
    add("off_exchange_value_fen", off.get("value_fen"))
    add("block_offered_kg", blocks.get("offered_kg"))
    add("block_sold_kg", blocks.get("sold_kg"))
    add("block_sold_pct", _share(blocks.get("sold_kg"), blocks.get("offered_kg")))
    for code, p in s.get("by_product", {}).items():
        add(f"{code}.tonnage_kg", p.get("tonnage_kg"))
        add(f"{code}.value_fen", p.get("value_fen"))
        add(f"{code}.avg_price_yuan_t", _avg_price(p.get("tonnage_kg"), p.get("value_fen")))
        add(f"{code}.tonnage_share_pct", p.get("tonnage_share_pct"))
        if "two_sided_pct" in p:
            add(f"{code}.two_sided_pct", p.get("two_sided_pct"))
            add(f"{code}.median_spread_bp", p.get("median_spread_bp"))
        off_p = off.get("by_product", {}).get(code)
        if off_p is not None:
            add(f"{code}.exchange_share_pct", off_p.get("exchange_share_pct"))
    for name, c in channels.items():
        add(f"{name}.tonnage_kg", c.get("tonnage_kg"))
        add(f"{name}.value_fen", c.get("value_fen"))
    for side, conc in s.get("concentration", {}).items():
        add(f"{side}.hhi", conc.get("hhi"))
        for k in ("top1", "top5", "top10"):
            add(f"{side}.{k}_pct", conc.get(f"{k}_pct"))
    return out


def format_value(value: int | float | None, unit: str, signed: bool = False) -> str:
    """A metric's value as text in its printed unit (kg as tonnes, fen as yuan); '-' for None."""
    if value is None:
        return "-"
    _label, scale, places = UNITS[unit]
    if scale:
        text = fixed(round(value), scale, places)
    elif type(value) is int:
        text = f"{value:,}"
    else:
        text = f"{value:,.{places}f}"
    if signed and value > 0:
        text = "+" + text
    return text
