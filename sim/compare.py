"""Compare two runs (a baseline and a what-if) metric by metric, and say how they differ.

The metrics are `sim.metrics.headline`'s: keys that name their unit and hold it (`tonnage_kg`
holds kg), exact integers until printed. A row's `change` is other - base in the metric's own
unit, except that a share (`_pct`) changes in percentage points; `rel_change_pct` is the
change relative to the base, in percent. A metric one run lacks is None.

What differs in how the two runs were made comes from their summaries: the run settings
(seed, scale, period, version) and every field of the two resolved scenarios
(`behaviour.volume_factor: 0.888 -> 0.5`), whether they came from a built-in name, an
edited copy of the file or `--set`; products are matched by code and roles by name.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

from sim.metrics import UNITS, format_value, headline
from sim.runs import load_summary
from sim.units import fixed

__all__ = [
    "Change", "Row", "compare", "comparison_json", "format_change", "format_comparison",
    "label", "load_summary", "metric_format", "metrics", "notes", "scenario_changes", "show",
]

_ABSENT = object()  # a field one scenario does not have
_RUN_KEYS = ("rexsim_version", "seed", "scale", "start", "end", "trading_days")
_SUFFIXES = ("_yuan_t", "_kg", "_fen", "_pct", "_bp")


class Row(msgspec.Struct, frozen=True):
    """One headline metric of both runs.

    `unit` is a key of `sim.metrics.UNITS` (the metric's unit); `change` is other - base in
    that unit, or in `change_unit` (percentage points, "pp", for a share); `rel_change_pct`
    is the change as a percentage of base.
    """

    metric: str
    unit: str
    base: int | float | None
    other: int | float | None
    change: int | float | None
    change_unit: str
    rel_change_pct: float | None


class Change(msgspec.Struct, frozen=True):
    """One scenario field that differs: its dotted path and both values.

    `status` is "changed", or "added" / "removed" when only `other` / only `base` has the
    field (a product added, a setting an older rexsim did not know); the missing value is
    None.
    """

    field: str
    base: Any
    other: Any
    status: str = "changed"


def compare(base: dict[str, Any], other: dict[str, Any]) -> list[Row]:
    """Both runs' headline metrics side by side, with exact changes, in display order."""
    a = {m.key: m for m in headline(base)}
    b = {m.key: m for m in headline(other)}
    rows = []
    for key in list(a) + [k for k in b if k not in a]:
        m = a.get(key) or b[key]
        x = a[key].value if key in a else None
        y = b[key].value if key in b else None
        change = y - x if x is not None and y is not None else None
        if type(change) is float:
            change = round(change, 6)  # the summaries' rounded floats: no float noise
        rel = round(100 * change / x, 3) if change is not None and x else None
        rows.append(Row(key, m.unit, x, y, change, _change_unit(m.unit), rel))
    return rows


def _change_unit(unit: str) -> str:
    return "pp" if unit == "pct" else unit


def label(key: str) -> str:
    """A metric's name without its unit suffix: `PRND_OX.tonnage_kg` -> `PRND_OX.tonnage`.

    For a table whose unit column says the unit the value is printed in (there: t).
    """
    for suffix in _SUFFIXES:
        if key.endswith(suffix):
            return key[: -len(suffix)]
    return key


# ----------------------------------------------------------------------------- provenance

def _keyed(items: list[Any]) -> dict[str, Any] | None:
    """A list of tables as a dict by their `code` (products) or `name` (roles), if it is one."""
    for key in ("code", "name"):
        if items and all(isinstance(x, dict) and key in x for x in items):
            names = [x[key] for x in items]
            if len(set(names)) == len(names):
                return dict(zip(names, items, strict=True))
    return None


def _walk(a: Any, b: Any, path: str, out: list[Change]) -> None:
    if a == b:
        return
    if isinstance(a, list) and isinstance(b, list):
        ka, kb = _keyed(a), _keyed(b)
        if ka is not None and kb is not None:
            a, b = ka, kb
        elif len(a) == len(b):  # element by element (events): the one that differs, in full
            for i, (x, y) in enumerate(zip(a, b, strict=True)):
                _walk(x, y, f"{path}[{i}]", out)
            return
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(a) + [k for k in b if k not in a]:
            sub = f"{path}.{key}" if path else str(key)
            _walk(a.get(key, _ABSENT), b.get(key, _ABSENT), sub, out)
        return
    status = "added" if a is _ABSENT else "removed" if b is _ABSENT else "changed"
    out.append(Change(path, None if a is _ABSENT else a, None if b is _ABSENT else b, status))


def scenario_changes(base: dict[str, Any], other: dict[str, Any]) -> list[Change] | None:
    """Every field of the two runs' resolved scenarios that differs, in scenario order.

    None when either summary has no `resolved_scenario` (a run from an older rexsim).
    """
    a, b = base.get("resolved_scenario"), other.get("resolved_scenario")
    if not isinstance(a, dict) or not isinstance(b, dict):
        return None
    out: list[Change] = []
    _walk(a, b, "", out)
    return out


def _shown(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _change_line(c: Change) -> str:
    """`field: base -> other`; a whole product or role added or removed says so."""
    if c.status != "changed" and isinstance(c.base if c.status == "removed" else c.other,
                                           dict):
        return f"{c.field}: {c.status}"
    base = "(absent)" if c.status == "added" else _shown(c.base)
    other = "(absent)" if c.status == "removed" else _shown(c.other)
    return f"{c.field}: {base} -> {other}"


def notes(base: dict[str, Any], other: dict[str, Any]) -> list[str]:
    """What differs in how the two runs were made: run settings, then scenario fields."""
    out = []
    for key in _RUN_KEYS:
        if base.get(key) != other.get(key):
            out.append(f"{key}: {_shown(base.get(key))} -> {_shown(other.get(key))}")
    changes = scenario_changes(base, other)
    if changes is None:  # no resolved scenario to compare: what the summaries say instead
        for key in ("scenario", "overrides", "interventions", "events"):
            if base.get(key, []) != other.get(key, []):
                out.append(f"{key}: {_shown(base.get(key, []), 200)} -> "
                           f"{_shown(other.get(key, []), 200)}")
    else:
        out += [_change_line(c) for c in changes]
    return out


def format_change(row: Row) -> tuple[str, str]:
    """A row's two changes as text: absolute in its printed unit, relative in percent.

    A share's absolute change ends in "pp" (percentage points); "-" where there is none.
    """
    change = format_value(row.change, row.unit, signed=True)
    if row.change is not None and row.unit == "pct":
        change += " pp"
    rel = row.rel_change_pct
    return change, ("-" if rel is None else "0.0%" if rel == 0 else f"{rel:+.1f}%")


def format_comparison(base: dict[str, Any], other: dict[str, Any]) -> str:
    """The comparison as a plain-text table, after a line per difference in how they ran."""
    lines = [f"differs in {n}" for n in notes(base, other)]
    if lines:
        lines.append("")
    head = (f"{'metric':<32} {'unit':<7} {'base':>17} {'other':>17} {'abs. change':>17} "
            f"{'rel. change':>11}")
    lines += [head, "-" * len(head)]
    for r in compare(base, other):
        change, rel = format_change(r)
        lines.append(f"{label(r.metric):<32} {UNITS[r.unit][0]:<7} "
                     f"{format_value(r.base, r.unit):>17} {format_value(r.other, r.unit):>17} "
                     f"{change:>17} {rel:>11}")
    lines += ["", "abs. change: other - base, in the row's unit (shares in percentage points, "
                  "pp); rel. change: as a percentage of base"]
    return "\n".join(lines)


def comparison_json(base: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """The comparison as JSON-ready data: notes, scenario changes and rows (exact ints)."""
    changes = scenario_changes(base, other)
    return {"notes": notes(base, other),
            "scenario_changes": None if changes is None else msgspec.to_builtins(changes),
            "rows": msgspec.to_builtins(compare(base, other))}


# ----------------------------------------------------------------------------- legacy
# `sim.sweep` (owned elsewhere) still summarises sweeps with these older metric names;
# they stay until it moves onto `sim.metrics`. New code uses `compare` and `sim.metrics`.

_KG = (1000, 1)  # kg -> tonnes
_FEN = (100, 0)  # fen -> yuan


def _vwap(kg: int | None, fen: int | None) -> int | None:
    return fen * 10 // kg if kg and fen is not None else None


def metrics(s: dict[str, Any]) -> dict[str, tuple[Any, tuple[int, int] | None]]:
    """Legacy (for sim.sweep): the older metric names with their print format."""
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
        label_ = side.replace("_", " ")
        out[f"{label_} HHI"] = (conc.get("hhi"), None)
        for k in ("top1", "top5", "top10"):
            out[f"{label_} {k} share (%)"] = (conc.get(f"{k}_pct"), None)
    return out


def metric_format(name: str) -> tuple[int, int] | None:
    """Legacy (for sim.sweep): how an older metric name prints."""
    if name.endswith("tonnage (t)"):
        return _KG
    if name.endswith("value (yuan)"):
        return _FEN
    return None


def show(value: int | float | None, fmt: tuple[int, int] | None) -> str:
    """Legacy (for sim.sweep): a value in an older metric's print format; '-' for None."""
    if value is None:
        return "-"
    if fmt is not None:
        return fixed(round(value), *fmt)
    if type(value) is int:
        return f"{value:,}"
    return f"{value:,.3f}".rstrip("0").rstrip(".")
