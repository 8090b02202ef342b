"""Scenarios: the TOML schema of a simulation run, its loader and its one-line error messages.

A scenario is plain data (frozen `msgspec.Struct`s) that fixes products, calendar and sessions,
population, behaviour, channels, membership growth, exchange settings and the seed. Built-in
scenarios ship as package data in `sim/scenarios/*.toml`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.resources
import re
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from sim.errors import ScenarioError

__all__ = [
    "BehaviourSpec",
    "BlockAuctionSpec",
    "CalendarSpec",
    "CounterSpec",
    "ExchangeSpec",
    "InterventionSpec",
    "NegotiationSpec",
    "PopulationSpec",
    "ProductSpec",
    "RoleSpec",
    "Scenario",
    "builtin_scenarios",
    "builtin_text",
    "load_scenario",
    "scenario_dict",
    "scenario_sha256",
    "with_overrides",
]

PosInt = Annotated[int, msgspec.Meta(ge=1)]
NonNegInt = Annotated[int, msgspec.Meta(ge=0)]
Pct = Annotated[float, msgspec.Meta(ge=0, le=100)]
NonNeg = Annotated[float, msgspec.Meta(ge=0)]
Pos = Annotated[float, msgspec.Meta(gt=0)]

ROLE_NAMES = ("separator", "metal_maker", "magnet_maker", "application_maker", "trader")


def _default_sessions() -> list[tuple[dt.time, dt.time]]:
    return [(dt.time(9, 0), dt.time(11, 30)), (dt.time(13, 30), dt.time(15, 0))]


class _Spec(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Base of every scenario table: immutable, and unknown keys are errors (typos surface)."""


class ProductSpec(_Spec, frozen=True):
    """One listed product: its exchange parameters, its price process and its demand intent."""

    code: str
    name: str
    tick: PosInt  # yuan/t
    lot: PosInt  # kg, a multiple of 10
    reference_price: PosInt  # yuan/t, the first day's band reference and the price path's anchor
    band_pct: Annotated[int, msgspec.Meta(ge=1, le=100)] | None = 5
    band_abs: PosInt | None = None
    min_block: PosInt | None = None  # kg, smallest negotiated deal
    volatility_bp: NonNegInt = 100  # daily log-return sigma of the fundamental, basis points
    reversion_pct: Pct = 5.0  # daily pull of the fundamental back toward the reference price
    flat_pct: Pct = 0.0  # share of days the fundamental does not move (long flat stretches)
    monthly_tonnes: NonNeg = 0.0  # what buyers intend to buy per month (t), before scaling
    dominant: Literal["light", "heavy"] | None = None  # which dominant seller sells it
    dominant_share_pct: Pct = 0.0  # the dominant seller's share of the supply intent


class RoleSpec(_Spec, frozen=True):
    """A supply-chain role: its share of the population and what it sells, buys or quotes."""

    name: Literal["separator", "metal_maker", "magnet_maker", "application_maker", "trader"]
    weight_pct: Pct
    sells: list[str] = []
    buys: list[str] = []
    quotes: list[str] = []  # products a trader buys to resell, quoting both sides


class CalendarSpec(_Spec, frozen=True):
    """Trading days and sessions, in exchange-local time (Beijing, UTC+8)."""

    start: dt.date
    end: dt.date
    holidays: list[tuple[dt.date, dt.date]] = []  # inclusive ranges with no trading
    utc_offset_hours: Annotated[int, msgspec.Meta(ge=-12, le=14)] = 8
    auction: tuple[dt.time, dt.time] = (dt.time(8, 55), dt.time(9, 0))
    sessions: list[tuple[dt.time, dt.time]] = msgspec.field(default_factory=_default_sessions)


class ExchangeSpec(_Spec, frozen=True):
    """Settings of the exchange (engine.ExchangeSettings), by name."""

    stp: Literal["cancel_resting", "cancel_incoming", "cancel_both"] = "cancel_resting"
    trade_price: Literal["maker", "median"] = "maker"
    auction_tie_break: Literal["reference", "imbalance"] = "reference"
    block_uniform_price: bool = False


class PopulationSpec(_Spec, frozen=True):
    """The enterprises: how many, where, in which role, when they join and how they trade."""

    members: PosInt = 987  # members by the calendar's end
    members_at_start: PosInt = 760  # members already joined on the first trading day
    provinces: list[tuple[str, Pos]] = []  # (name, weight); each gets at least one member
    online_at_start_pct: Pct = 30.0  # share of the first day's members trading online
    online_growth_pct: NonNeg = 100.0  # the doubling plan: online members grow by this much
    new_members_online_pct: Pct = 50.0  # share of members joining later who start online
    online_schedule: list[tuple[dt.date, Pct]] = []  # (date, % of the plan's growth done by it)
    lot_every_days: Pos = 5.0  # how many members trade a product: each needs a lot this often
    cash_days: NonNeg = 40.0  # opening cash, in days of the member's buying intent
    stock_days: NonNeg = 15.0  # opening stock, in days of the member's selling intent
    trader_stock_days: NonNeg = 3.0  # a trader's opening stock, in days of its intake


class CounterSpec(_Spec, frozen=True):
    """The exchange's offline counter: orders lodged there are keyed in after a delay."""

    delay_minutes: tuple[NonNeg, NonNeg] = (10.0, 60.0)  # uniform keying delay range
    service: list[tuple[dt.time, dt.time]] = msgspec.field(default_factory=_default_sessions)


class NegotiationSpec(_Spec, frozen=True):
    """Large deals agreed off the book and registered with the exchange."""

    probability_pct: Pct = 0.2  # chance per step that a large buyer negotiates a deal
    days: Pos = 20.0  # a deal covers this many days of the buyer's intent (>= the minimum block)


class BlockAuctionSpec(_Spec, frozen=True):
    """Block auctions (竞价) held by the dominant light-rare-earth seller."""

    product: str = "PRND_MT"
    every_days: PosInt = 20  # trading days between auctions
    tonnes: Pos = 100.0  # offered quantity (before scaling)
    reserve_discount_bp: NonNegInt = 100  # reserve price below the fundamental
    bidders_pct: Pct = 30.0  # share of eligible buyers that bid
    window_steps: PosInt = 4  # decision steps the auction stays open


class BehaviourSpec(_Spec, frozen=True):
    """How enterprises decide: how often, how large, at what price."""

    steps_per_day: Annotated[int, msgspec.Meta(ge=1, le=500)] = 12
    volume_factor: Pos = 1.0  # multiplies every product's monthly intent (calibration knob)
    supply_ratio: Pos = 1.05  # producers' output relative to buyers' intent
    intent_noise_pct: NonNeg = 20.0  # sd of each member's monthly intent around its target
    act_pct: Pct = 35.0  # chance per step that a buyer or seller with a need acts
    order_days: Pos = 3.0  # a buyer/seller order is about this many days of its intent
    max_order_pct: Pos = 25.0  # but at most this share of the product's daily intent
    belief_noise_bp: NonNegInt = 40  # sd of a member's belief around the fundamental
    premium_bp: int = 10  # mean price concession of buyers and sellers toward the other side
    premium_sd_bp: NonNegInt = 40  # its spread
    urgency_bp_per_day: NonNegInt = 15  # extra concession per day a need stays unmet
    auction_pct: Pct = 20.0  # share of first decisions placed in the opening call auction
    trader_turnover_pct: NonNeg = 12.0  # traders' intake (bought to resell), % of demand
    trader_half_spread_bp: NonNegInt = 40  # traders bid this far below, ask this far above
    # price discovery: the share of yesterday's gap between the settlement price and the
    # fundamental that carries into today's beliefs (0 = beliefs follow the fundamental only,
    # so a shortage or glut moves prices only as far as one day's concessions reach)
    price_memory_pct: Annotated[float, msgspec.Meta(ge=0, lt=100)] = 50.0


class InterventionSpec(_Spec, frozen=True):
    """A what-if shock: a member withdraws from the exchange, or returns to it.

    It takes effect at the start of the first trading day on or after `date`. A withdrawing
    member is suspended: the exchange cancels its orders, bids and block auctions, and it
    sends no more until it returns.
    """

    date: dt.date
    action: Literal["withdraw", "return"]
    member: Literal["dominant_light", "dominant_heavy"] | PosInt  # or an enterprise id


class Scenario(_Spec, frozen=True):
    """A whole simulation run as data."""

    name: str
    calendar: CalendarSpec
    products: list[ProductSpec]
    roles: list[RoleSpec]
    population: PopulationSpec = PopulationSpec()
    behaviour: BehaviourSpec = BehaviourSpec()
    counter: CounterSpec = CounterSpec()
    negotiation: NegotiationSpec = NegotiationSpec()
    block_auctions: BlockAuctionSpec | None = None
    exchange: ExchangeSpec = ExchangeSpec()
    interventions: list[InterventionSpec] = []
    seed: NonNegInt = 1
    description: str = ""

    def product(self, code: str) -> ProductSpec:
        """The product with this code (KeyError if none)."""
        for p in self.products:
            if p.code == code:
                return p
        raise KeyError(code)


# --------------------------------------------------------------------------- errors

_MSG = re.compile(r"^(?P<what>.*?)(?: - at `(?P<path>\$[^`]*)`)?$", re.S)
_STEP = re.compile(r"\.([A-Za-z_][A-Za-z_0-9]*)|\[(\d+)\]")


def _lookup(raw: Any, path: str) -> tuple[bool, Any]:
    """Fetch the raw value at a msgspec error path like `$.products[3].tick`."""
    node = raw
    for name, index in _STEP.findall(path[1:]):
        try:
            node = node[name] if name else node[int(index)]
        except (KeyError, IndexError, TypeError):
            return False, None
    return True, node


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return str(value)


def _friendly(exc: msgspec.ValidationError, raw: Any) -> str:
    """Turn msgspec's message into `$.path: expected int >= 1, got -5`."""
    m = _MSG.match(str(exc))
    what, path = (m.group("what"), m.group("path")) if m else (str(exc), None)
    path = path or "$"
    what = what.replace("`", "")
    what = what[:1].lower() + what[1:]
    if what.startswith("object "):
        what = what[len("object ") :]
    found, value = _lookup(raw, path)
    if found and what.startswith("expected") and ", got" not in what:
        what = f"{what}, got {_show(value)}"
    return f"{path}: {what}"


def _check(sc: Scenario) -> list[str]:
    """Cross-field rules the schema cannot express, as `$.path: problem` lines."""
    errs: list[str] = []
    codes = [p.code for p in sc.products]
    for i, p in enumerate(sc.products):
        if codes.index(p.code) != i:
            errs.append(f"$.products[{i}].code: duplicate product code {p.code!r}")
        if p.lot % 10:
            errs.append(f"$.products[{i}].lot: expected a multiple of 10 kg, got {p.lot}")
        if p.reference_price % p.tick:
            errs.append(
                f"$.products[{i}].reference_price: expected a multiple of the tick {p.tick},"
                f" got {p.reference_price}"
            )
        if p.dominant is None and p.dominant_share_pct:
            errs.append(f"$.products[{i}].dominant_share_pct: set without a dominant seller")
    if not sc.products:
        errs.append("$.products: expected at least one product")
    names = [r.name for r in sc.roles]
    for i, r in enumerate(sc.roles):
        if names.index(r.name) != i:
            errs.append(f"$.roles[{i}].name: duplicate role {r.name!r}")
        for key in ("sells", "buys", "quotes"):
            for j, code in enumerate(getattr(r, key)):
                if code not in codes:
                    errs.append(f"$.roles[{i}].{key}[{j}]: unknown product {code!r}")
    if sum(r.weight_pct for r in sc.roles) <= 0:
        errs.append("$.roles: expected some role with weight_pct > 0")
    if "separator" not in names:
        errs.append("$.roles: expected a 'separator' role (the dominant sellers are separators)")
    cal = sc.calendar
    if cal.end < cal.start:
        errs.append(f"$.calendar.end: expected a date on or after start {cal.start}, got {cal.end}")
    for i, (a, b) in enumerate(cal.holidays):
        if b < a:
            errs.append(f"$.calendar.holidays[{i}]: expected from <= to, got {a} > {b}")
    spans_of = (("calendar.sessions", cal.sessions), ("counter.service", sc.counter.service))
    for key, spans in spans_of:
        for i, (a, b) in enumerate(spans):
            if b <= a:
                errs.append(f"$.{key}[{i}]: expected start < end, got {a} >= {b}")
    if not cal.sessions:
        errs.append("$.calendar.sessions: expected at least one session")
    elif cal.auction[1] > cal.sessions[0][0] or cal.auction[1] <= cal.auction[0]:
        errs.append("$.calendar.auction: expected a window that ends by the first session")
    pop = sc.population
    if pop.members_at_start > pop.members:
        errs.append(
            f"$.population.members_at_start: expected <= members ({pop.members}),"
            f" got {pop.members_at_start}"
        )
    if not pop.provinces:
        errs.append("$.population.provinces: expected at least one province")
    lo, hi = sc.counter.delay_minutes
    if hi < lo:
        errs.append(f"$.counter.delay_minutes: expected min <= max, got [{lo}, {hi}]")
    if sc.block_auctions is not None and sc.block_auctions.product not in codes:
        errs.append(f"$.block_auctions.product: unknown product {sc.block_auctions.product!r}")
    errs.extend(_check_interventions(sc))
    return errs


def _check_interventions(sc: Scenario) -> list[str]:
    """Interventions fall inside the calendar, name a member that exists, and alternate."""
    errs: list[str] = []
    cal = sc.calendar
    withdrawn: set[Any] = set()
    order = sorted(range(len(sc.interventions)), key=lambda k: sc.interventions[k].date)
    for i in order:
        iv = sc.interventions[i]
        where = f"$.interventions[{i}]"
        if not cal.start <= iv.date <= cal.end:
            errs.append(f"{where}.date: expected a date from {cal.start} to {cal.end}, "
                        f"got {iv.date}")
        if type(iv.member) is int and iv.member > sc.population.members:
            errs.append(f"{where}.member: expected an enterprise id from 1 to "
                        f"{sc.population.members}, got {iv.member}")
        if iv.action == "withdraw":
            if iv.member in withdrawn:
                errs.append(f"{where}: member {iv.member!r} has already withdrawn by {iv.date}")
            withdrawn.add(iv.member)
        elif iv.member not in withdrawn:
            errs.append(f"{where}: member {iv.member!r} returns on {iv.date} without having "
                        f"withdrawn before")
        else:
            withdrawn.discard(iv.member)
    return errs


# --------------------------------------------------------------------------- overrides

_KEY = re.compile(r"[A-Za-z_][A-Za-z_0-9-]*|\d+")


def _override_error(assignment: str, detail: str) -> ScenarioError:
    """An invalid override, named as the library takes it and as `--set` gives it."""
    return ScenarioError(detail, param=f"override {assignment!r}", option=f"--set {assignment}")


def _override_value(text: str) -> Any:
    """A TOML value (`10`, `2.5`, `true`, `2024-06-03`, `[1, 2]`, `"x"`); else the bare text."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _override_path(raw: dict, key: str, assignment: str) -> tuple[Any, str | int]:
    """The container that `key` (dotted, `[i]` or a product code / role name) sets a value in."""
    steps = key.replace("[", ".").replace("]", "").split(".")
    if not all(_KEY.fullmatch(s) for s in steps):
        raise _override_error(assignment, "expected KEY=VALUE with KEY like "
                              "population.members or products.PRND_OX.band_pct")
    node: Any = raw
    for depth, step in enumerate(steps):
        last = depth == len(steps) - 1
        here = ".".join(steps[:depth]) or "the scenario"
        if isinstance(node, list):
            if step.isdigit():
                index = int(step)
                if index >= len(node):
                    raise _override_error(assignment,
                                          f"{here} has {len(node)} entries, no [{index}]")
            else:  # a product by its code, a role by its name
                found = [k for k, e in enumerate(node)
                         if isinstance(e, dict) and step in (e.get("code"), e.get("name"))]
                if not found:
                    raise _override_error(assignment, f"{here} has no entry {step!r}")
                index = found[0]
            if last:
                return node, index
            node = node[index]
        elif isinstance(node, dict):
            if last:
                return node, step
            node = node.setdefault(step, {})
        else:
            raise _override_error(assignment, f"{here} is a value, not a table")
    raise AssertionError("unreachable")  # pragma: no cover


def apply_overrides(raw: dict, overrides: Iterable[str]) -> dict:
    """Set each `KEY=VALUE` in a raw scenario table, in order (later ones win)."""
    for assignment in overrides:
        key, sep, text = assignment.partition("=")
        if not sep or not key.strip():
            raise _override_error(assignment, "expected KEY=VALUE, e.g. population.members=1974")
        container, slot = _override_path(raw, key.strip(), assignment)
        container[slot] = _override_value(text.strip())
    return raw


def with_overrides(sc: Scenario, overrides: Iterable[str]) -> Scenario:
    """A copy of `sc` with `KEY=VALUE` overrides applied and the whole scenario re-validated."""
    overrides = list(overrides)
    if not overrides:
        return sc
    raw = apply_overrides(msgspec.to_builtins(sc), overrides)
    return _decode(raw, f"{sc.name} (with --set)")


# --------------------------------------------------------------------------- loading

def builtin_scenarios() -> list[str]:
    """Names of the scenarios shipped inside the package, sorted."""
    root = importlib.resources.files("sim") / "scenarios"
    return sorted(e.name[: -len(".toml")] for e in root.iterdir() if e.name.endswith(".toml"))


def builtin_text(name: str) -> str:
    """The TOML text of a built-in scenario (ScenarioError if there is none of that name)."""
    if name not in builtin_scenarios():
        known = ", ".join(builtin_scenarios())
        raise ScenarioError(f"unknown scenario {name!r} (built-in: {known}; or give a .toml file)")
    return (importlib.resources.files("sim") / "scenarios" / f"{name}.toml").read_text("utf-8")


def parse_scenario(text: str, source: str = "scenario.toml",
                   overrides: Iterable[str] = ()) -> Scenario:
    """Decode and validate scenario TOML; any problem is ONE ScenarioError line naming `source`.

    `overrides` are `KEY=VALUE` settings (see `apply_overrides`) applied before validation.
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{source}: invalid TOML: {exc}") from None
    overrides = list(overrides)
    if overrides:
        raw = apply_overrides(raw, overrides)
        source = f"{source} (with --set)"
    return _decode(raw, source)


def _decode(raw: Any, source: str) -> Scenario:
    """Convert a raw table into a Scenario and check it; one ScenarioError line on any problem."""
    try:
        sc = msgspec.convert(raw, Scenario)
    except msgspec.ValidationError as exc:
        raise ScenarioError(f"{source}: {_friendly(exc, raw)}") from None
    errs = _check(sc)
    if errs:
        more = f" (and {len(errs) - 1} more)" if len(errs) > 1 else ""
        raise ScenarioError(f"{source}: {errs[0]}{more}")
    return sc


def load_scenario(name_or_path: str | Path = "baotou-2024",
                  overrides: Iterable[str] = ()) -> Scenario:
    """Load a built-in scenario by name, or a scenario TOML file by path.

    `overrides`: `KEY=VALUE` strings such as `population.members=1974` or
    `products.PRND_OX.band_pct=10`, applied before validation (as `rexsim run --set`).
    """
    text_name = str(name_or_path)
    path = Path(text_name)
    if text_name in builtin_scenarios() and not path.is_file():
        return parse_scenario(builtin_text(text_name), f"{text_name}.toml", overrides)
    if path.suffix != ".toml" and not path.is_file():
        builtin_text(text_name)  # raises the "unknown scenario" ScenarioError
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{path}: not a UTF-8 text file") from None
    return parse_scenario(text, str(path), overrides)


# --------------------------------------------------------------------------- provenance

def scenario_dict(sc: Scenario) -> dict[str, Any]:
    """Every field of a resolved scenario (overrides applied, defaults filled in) as plain data.

    Dates and times become ISO text, so the result is JSON-ready; `msgspec.convert(d,
    Scenario)` (or `parse_scenario` of it written as TOML) gives the same scenario back.
    """
    return msgspec.to_builtins(sc)


def scenario_sha256(sc: Scenario) -> str:
    """The sha256 of a resolved scenario's canonical JSON: equal exactly when every field is."""
    return hashlib.sha256(msgspec.json.encode(sc)).hexdigest()
