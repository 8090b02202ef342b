"""Compare two runs (a baseline and a what-if) metric by metric, from their summary.json.

Amounts stay exact integers (kg, fen, yuan/t) until they are printed; concentration figures
are the recorder's own. A metric one run lacks (a product only one scenario trades) is None.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec

from sim.errors import RunFileError
from sim.units import fixed

__all__ = [
    "Row", "compare", "format_comparison", "load_summary", "metric_format", "metrics", "notes",
    "show",
]

# how a metric's value is printed: (scale of the stored integer, decimals), or None = as is
_KG = (1000, 1)  # kg -> tonnes
_FEN = (100, 0)  # fen -> yuan


class Row(msgspec.Struct, frozen=True):
    """One metric of both runs; `change` is other - base, `change_pct` relative to base."""

    metric: str
    base: int | float | None
    other: int | float | None
    change: int | float | None
    change_pct: float | None


def load_summary(path: str | Path) -> dict[str, Any]:
    """A run's summary: `path` is an output directory (holding summary.json) or the file."""
    p = Path(path)
    if p.is_dir():
        p = p / "summary.json"
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
    return summary


def _vwap(kg: int | None, fen: int | None) -> int | None:
    """Average price in yuan/t, floored: fen * 10 / kg (value = price * kg // 10)."""
    return fen * 10 // kg if kg and fen is not None else None


def metrics(s: dict[str, Any]) -> dict[str, tuple[Any, tuple[int, int] | None]]:
    """Every compared metric of one summary, in display order, with its print format."""
    out: dict[str, tuple[Any, tuple[int, int] | None]] = {
        "tonnage (t)": (s["tonnage_kg"], _KG),
        "value (yuan)": (s["value_fen"], _FEN),
        "trades": (s.get("trades"), None),
        "average price (yuan/t)": (_vwap(s["tonnage_kg"], s["value_fen"]), None),
        "members": (s.get("members"), None),
        "online members at the end": (s.get("online_members_end"), None),
    }
    for code, p in s.get("by_product", {}).items():
        out[f"{code} tonnage (t)"] = (p["tonnage_kg"], _KG)
        out[f"{code} value (yuan)"] = (p["value_fen"], _FEN)
        out[f"{code} average price (yuan/t)"] = (_vwap(p["tonnage_kg"], p["value_fen"]), None)
    for name, c in s.get("by_channel", {}).items():
        out[f"{name} tonnage (t)"] = (c["tonnage_kg"], _KG)
        out[f"{name} value (yuan)"] = (c["value_fen"], _FEN)
    for side, conc in s.get("concentration", {}).items():
        label = side.replace("_", " ")
        out[f"{label} HHI"] = (conc.get("hhi"), None)
        for k in ("top1", "top5", "top10"):
            out[f"{label} {k} share (%)"] = (conc.get(f"{k}_pct"), None)
    return out


def compare(base: dict[str, Any], other: dict[str, Any]) -> list[Row]:
    """Both runs' metrics side by side: totals, by product, by channel, concentration."""
    a, b = metrics(base), metrics(other)
    rows = []
    for name in list(a) + [n for n in b if n not in a]:
        x = a.get(name, (None, None))[0]
        y = b.get(name, (None, None))[0]
        change = y - x if x is not None and y is not None else None
        if type(change) is float:
            change = round(change, 6)  # the recorder's rounded floats: no float noise
        pct = round(100 * change / x, 3) if change is not None and x else None
        rows.append(Row(name, x, y, change, pct))
    return rows


def _formats(base: dict[str, Any], other: dict[str, Any]) -> dict[str, tuple[int, int] | None]:
    return {name: fmt for s in (other, base) for name, (_v, fmt) in metrics(s).items()}


def metric_format(name: str) -> tuple[int, int] | None:
    """How a metric named by `metrics` prints: kg as tonnes, fen as yuan, else as is."""
    if name.endswith("tonnage (t)"):
        return _KG
    if name.endswith("value (yuan)"):
        return _FEN
    return None


def show(value: int | float | None, fmt: tuple[int, int] | None) -> str:
    """A metric's value as text, in its unit (`metric_format`); '-' for None."""
    if value is None:
        return "-"
    if fmt is not None:
        return fixed(round(value), *fmt)
    if type(value) is int:
        return f"{value:,}"
    return f"{value:,.3f}".rstrip("0").rstrip(".")


def notes(base: dict[str, Any], other: dict[str, Any]) -> list[str]:
    """What differs between the two runs besides their results (period, scale, settings)."""
    out = []
    for key in ("scenario", "seed", "scale", "start", "end", "trading_days"):
        if base.get(key) != other.get(key):
            out.append(f"{key}: {base.get(key)} -> {other.get(key)}")
    for key in ("overrides", "interventions"):
        if base.get(key, []) != other.get(key, []):
            out.append(f"{key}: {json.dumps(base.get(key, []))} -> "
                       f"{json.dumps(other.get(key, []))}")
    return out


def format_comparison(base: dict[str, Any], other: dict[str, Any]) -> str:
    """The comparison as a plain-text table, after a line per difference in how they ran."""
    fmts = _formats(base, other)
    lines = [f"differs in {n}" for n in notes(base, other)]
    if lines:
        lines.append("")
    lines.append(f"{'metric':<34} {'base':>18} {'other':>18} {'change':>18} {'change':>9}")
    for row in compare(base, other):
        fmt = fmts.get(row.metric)
        pct = "-" if row.change_pct is None else f"{row.change_pct:+.1f}%"
        change = show(row.change, fmt)
        if row.change is not None and row.change > 0:
            change = "+" + change
        lines.append(f"{row.metric:<34} {show(row.base, fmt):>18} {show(row.other, fmt):>18} "
                     f"{change:>18} {pct:>9}")
    return "\n".join(lines)
