"""Fuzzing the scenario loader: any edit of a scenario file is a clear error or a sound run.

Each example takes baotou-2024's raw TOML table (made small: few members, few steps, dated
events), applies one to three random mutations (numbers to 0, negative, huge, inf or nan, or
the largest or smallest value the schema allows; floats where ints go; strings and other wrong
types; required keys dropped; unknown keys added; dates moved, arrays shuffled or emptied; and
plausible nudges, so that about one example in five loads), writes it back as TOML and loads
it. The outcome must be one of:

- a `ScenarioError` of one line whose message names the field by its `$.` path, or
- a scenario that runs (four trading days) and whose files re-sum exactly: the summary's
  tonnage and value equal the sums over trades.csv, every breakdown (by product, channel,
  kind) sums to the totals, and the off-exchange totals equal off_exchange.csv's buy side.

Nothing else: no other exception, no traceback. One exception to the first rule, pinned as
it is: a calendar of weekends and holidays only loads, and the run refuses it with a one-line
RunError ("no trading days"). The band and channel events,
which once failed, are pinned by name at the end.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
import re
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from sim import run
from sim.calendar import trading_days
from sim.errors import RunError, ScenarioError
from sim.scenario import Scenario, builtin_text, parse_scenario

RUN_DAYS = 4  # trading days each runnable example simulates (2-5 January 2024)
PATH_IN_MESSAGE = re.compile(r"(^|: |; )\$(\.|\[|:)")  # `$.x.y`, `$[0]` or `$:` (the root)


def small_raw() -> dict:
    """baotou-2024's raw table, cut to 120 members and four steps a day (runs in ~0.1 s).

    With dated events of the kinds that run, in the days the examples run.
    """
    raw = tomllib.loads(builtin_text("baotou-2024"))
    raw["population"].update(members=120, members_at_start=90)
    raw["national"]["enterprises"] = 480  # the members' share of the market as in the base
    raw["behaviour"]["steps_per_day"] = 4
    raw["block_auctions"]["every_days"] = 2  # one falls inside the few days run
    raw["events"] = [  # one of each kind that runs (band and channel events do not: see below)
        {"date": dt.date(2024, 1, 3), "kind": "supply", "group": "light", "pct": -20.0},
        {"date": dt.date(2024, 1, 3), "kind": "demand", "products": ["PRND_OX"], "pct": 10.0},
        {"date": dt.date(2024, 1, 4), "kind": "withdraw", "member": "dominant_light"},
        {"date": dt.date(2024, 1, 5), "kind": "return", "member": "dominant_light"},
        {"date": dt.date(2024, 1, 4), "kind": "fee", "bp": 3},
    ]
    return raw


BASE = small_raw()


# --------------------------------------------------------------------------- TOML out

def toml_value(v: Any) -> str:
    """One value as TOML (inline tables and arrays: every scenario table fits on a line)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # JSON's escapes are TOML's (ensure_ascii: \uXXXX)
    if isinstance(v, dt.date | dt.time):
        return v.isoformat()
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"no TOML for {v!r}")


def toml_text(raw: dict) -> str:
    return "".join(f"{json.dumps(k)} = {toml_value(v)}\n" for k, v in raw.items())


def test_the_toml_writer_round_trips_the_base():
    assert tomllib.loads(toml_text(BASE)) == BASE


# --------------------------------------------------------------------------- mutations

def paths(node: Any, here: tuple = ()) -> list[tuple]:
    """Every place in a raw table: each key of a table, each item of an array."""
    out = []
    if isinstance(node, dict):
        for k, v in node.items():
            out.append((*here, k))
            out.extend(paths(v, (*here, k)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.append((*here, i))
            out.extend(paths(v, (*here, i)))
    return out


def get(raw: dict, path: tuple) -> Any:
    for step in path:
        raw = raw[step]
    return raw


def shape(path: tuple) -> tuple:
    """A place with its array indices blanked: the field it is (`products.*.tick`)."""
    return tuple("*" if isinstance(step, int) else step for step in path)


def bound(raw: dict, path: tuple) -> Any:
    """The number type (with its `ge`/`le` bounds) the schema gives the place, else None."""
    info, node = msgspec.inspect.type_info(Scenario), raw
    for step in path:
        info = _one(info, node)
        if isinstance(info, msgspec.inspect.StructType):
            info = {f.name: f.type for f in info.fields}.get(step)
        elif isinstance(info, msgspec.inspect.ListType | msgspec.inspect.VarTupleType):
            info = info.item_type
        elif isinstance(info, msgspec.inspect.TupleType) and isinstance(step, int):
            info = info.item_types[step] if step < len(info.item_types) else None
        else:
            return None
        if info is None:
            return None
        node = node[step] if isinstance(node, dict | list) else None
    info = _one(info, node)
    numbers = (msgspec.inspect.IntType, msgspec.inspect.FloatType)
    return info if isinstance(info, numbers) else None


def _one(info: Any, node: Any) -> Any:
    """The member of a union type that the raw value stands for (by its tag, or its kind)."""
    if not isinstance(info, msgspec.inspect.UnionType):
        return info
    for t in info.types:
        if isinstance(t, msgspec.inspect.StructType) and t.tag is not None:
            if isinstance(node, dict) and node.get(t.tag_field) == t.tag:
                return t
        elif not isinstance(t, msgspec.inspect.NoneType | msgspec.inspect.LiteralType):
            return t
    return info


def edge(info: Any, top: bool) -> int | float | None:
    """The largest (top) or smallest value the number type allows, None if unbounded."""
    if top:
        if info.le is not None:
            return info.le
        if info.lt is not None:
            return info.lt - 1 if isinstance(info, msgspec.inspect.IntType) else math.nextafter(
                info.lt, -math.inf)
        return None
    if info.ge is not None:
        return info.ge
    if info.gt is not None:
        return info.gt + 1 if isinstance(info, msgspec.inspect.IntType) else math.nextafter(
            info.gt, math.inf)
    return None


# fields whose largest value makes a run too slow for a fuzz example (a million members, 500
# steps a day); their smallest is still tried
COSTLY = {("population", "members"), ("population", "members_at_start"),
          ("behaviour", "steps_per_day"), ("makers", "per_product"),
          ("block_auctions", "window_steps")}

HUGE = [2**31, 2**63, 10**30, 1e15, 1e300]
WRONG = [True, "text", "", [], {}, [1, 2], {"a": 1}, dt.date(2024, 3, 1), dt.time(9, 30)]
KINDS = ("zero", "negative", "huge", "inf", "nan", "float_for_int", "string", "wrong_type",
         "drop", "unknown_key", "date", "empty_list",
         "nudge", "nudge", "nudge",  # and often a plausible change, so that many examples run
         "edge", "edge")  # or the largest or smallest value the schema allows


@st.composite
def mutation(draw, raw: dict) -> str:
    """Apply one random mutation to `raw` in place; return what it did (for the report).

    The place is drawn field first (every field as likely as any other, however many array
    entries hold it: not mostly price anchors), then one of its places.
    """
    places: dict[tuple, list[tuple]] = {}
    for p in paths(raw):
        places.setdefault(shape(p), []).append(p)
    path = draw(st.sampled_from(places[draw(st.sampled_from(sorted(places, key=str)))]))
    parent, key = get(raw, path[:-1]), path[-1]
    value = parent[key]
    kind = draw(st.sampled_from(KINDS))
    if kind == "drop":
        del parent[key]
        return f"drop {path}"
    if kind == "unknown_key":
        table = value if isinstance(value, dict) else parent
        if not isinstance(table, dict):
            table = raw
        table[draw(st.sampled_from(["bogus", "Members", "steps-per-day"]))] = 1
        return f"unknown key in {path}"
    if kind == "empty_list":  # the nearest array at or above the place, emptied
        while not isinstance(get(raw, path), list) and len(path) > 1:
            path = path[:-1]
        parent, key = get(raw, path[:-1]), path[-1]
        value, new = parent[key], []
    elif kind == "zero":
        new: Any = 0.0 if isinstance(value, float) else 0
    elif kind == "negative":
        new = -abs(value) - 1 if isinstance(value, int | float) and not isinstance(
            value, bool) else -1
    elif kind == "huge":
        new = draw(st.sampled_from(HUGE))
    elif kind == "inf":
        new = draw(st.sampled_from([math.inf, -math.inf]))
    elif kind == "nan":
        new = math.nan
    elif kind == "float_for_int":
        new = value + 0.5 if type(value) is int else 2.5
    elif kind == "string":
        new = str(value)
    elif kind == "nudge":  # the same type, a plausible size: a number scaled, a flag flipped
        if isinstance(value, bool):
            new = not value
        elif isinstance(value, int | float):
            factor = draw(st.sampled_from([0.5, 0.9, 1.1, 2, 3]))
            new = type(value)(value * factor)
        else:
            new = value
    elif kind == "edge":
        info = bound(raw, path)
        top = draw(st.booleans()) and shape(path) not in COSTLY
        new = value if info is None else edge(info, top)
        if new is None:
            new = value
    elif kind == "wrong_type":  # a copy: a later mutation must not change WRONG itself
        new = copy.deepcopy(draw(st.sampled_from(WRONG)))
    else:  # "date": move a date, or shuffle an array (of dates, spans, anchors, ...)
        if isinstance(value, list) and len(value) > 1:
            new = copy.deepcopy(draw(st.permutations(value)))
        elif isinstance(value, dt.date):
            new = value + dt.timedelta(days=draw(st.integers(-400, 400)))
        else:
            new = draw(st.sampled_from([dt.date(2024, 10, 31), dt.date(2023, 12, 31)]))
    parent[key] = new
    return f"{kind} {path}: {value!r} -> {new!r}"


@st.composite
def mutated(draw, most: int = 3) -> dict:
    raw = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, most))):
        if not paths(raw):
            break
        note(draw(mutation(raw)))
    return raw


# --------------------------------------------------------------------------- the property

def check_loads_or_says_where(raw: dict) -> None:
    """The property of the module docstring, for one raw table."""
    text = toml_text(raw)
    try:
        sc = parse_scenario(text, "fuzz.toml")
    except ScenarioError as exc:
        msg = str(exc)
        assert "\n" not in msg, msg
        assert msg.startswith("fuzz.toml: "), msg
        assert PATH_IN_MESSAGE.search(msg[len("fuzz.toml: "):]), msg
        return
    cal = sc.calendar
    days = trading_days(cal.start, cal.end, cal.holidays)
    if not days:
        with pytest.raises(RunError, match=r"^[^\n]*: no trading days from [^\n]*$"):
            run(sc)  # loads, and the run refuses it (see the module docstring)
        return
    with tempfile.TemporaryDirectory() as tmp:
        res = run(sc, until=days[min(RUN_DAYS, len(days)) - 1], out=Path(tmp) / "run")
        check_tallies(res)


def check_tallies(res) -> None:
    """The summary's totals are exactly the sums over the run's own files."""
    s = res.summary
    trades = res.trades.as_dicts()
    assert s["trades"] == len(trades)
    assert s["tonnage_kg"] == sum(t["qty_kg"] for t in trades)
    assert s["value_fen"] == sum(t["value_fen"] for t in trades)
    assert all(t["value_fen"] == t["price"] * t["qty_kg"] // 10 for t in trades)
    for breakdown in ("by_product", "by_channel", "by_kind"):
        parts = s[breakdown].values()
        assert sum(p["tonnage_kg"] for p in parts) == s["tonnage_kg"], breakdown
        assert sum(p["value_fen"] for p in parts) == s["value_fen"], breakdown
        assert sum(p["trades"] for p in parts) == s["trades"], breakdown
    for code, p in s["by_product"].items():
        mine = [t for t in trades if t["product"] == code]
        assert p["tonnage_kg"] == sum(t["qty_kg"] for t in mine), code
        assert p["value_fen"] == sum(t["value_fen"] for t in mine), code
    bought = [r for r in res.off_exchange.as_dicts() if r["side"] == "buy"]
    assert s["off_exchange"]["tonnage_kg"] == sum(r["qty_kg"] for r in bought)
    assert s["off_exchange"]["value_fen"] == sum(r["value_fen"] for r in bought)


FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@FUZZ
@given(mutated())
def test_a_mutated_scenario_is_a_one_line_error_naming_its_field_or_a_sound_run(raw):
    check_loads_or_says_where(raw)


@pytest.mark.slow
@settings(FUZZ, max_examples=3_000)
@given(mutated(most=6))
def test_a_mutated_scenario_is_a_one_line_error_or_a_sound_run_long(raw):
    check_loads_or_says_where(raw)


# --------------------------------------------------------------------------- known holes
# Inputs the fuzz once could not draw because they failed, pinned here now that they run.

def test_a_band_event_runs():
    raw = copy.deepcopy(BASE)
    raw["events"] = [{"date": dt.date(2024, 1, 3), "kind": "band", "pct": 10}]
    check_loads_or_says_where(raw)


def test_a_channel_event_runs():
    raw = copy.deepcopy(BASE)
    raw["events"] = [{"date": dt.date(2024, 1, 3), "kind": "channel", "channel": "offline",
                      "open": False}]
    check_loads_or_says_where(raw)


def test_a_market_at_the_schemas_largest_sizes_is_refused_or_runs():
    """Each value is inside its bounds; together a member's stock is worth > 2**63 fen."""
    raw = copy.deepcopy(BASE)
    tb = next(p for p in raw["products"] if p["code"] == "TB_OX")
    tb.update(monthly_tonnes=1e7, anchors=[[dt.date(2024, 1, 1), 1_000_000_000]])
    raw["behaviour"]["volume_factor"] = 100.0
    check_loads_or_says_where(raw)


def test_the_unmutated_base_runs_and_re_sums():
    """The property holds for the base itself, and it has trades to re-sum."""
    check_loads_or_says_where(copy.deepcopy(BASE))
    with tempfile.TemporaryDirectory() as tmp:
        sc = parse_scenario(toml_text(BASE))
        res = run(sc, until="2024-01-05", out=Path(tmp) / "run")
        s = res.summary
        assert s["trades"] > 0 and s["off_exchange"]["tonnage_kg"] > 0
        assert s["by_kind"]["block_auction"]["trades"] > 0  # 3 January, before it withdraws
        assert [e["applied"] for e in s["events"]] == ["2024-01-03"] * 2 + ["2024-01-04"] * 2 + [
            "2024-01-05"]
