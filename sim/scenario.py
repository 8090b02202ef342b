"""Scenarios: the TOML schema of a simulation run, its loader and its one-line error messages.

A scenario is plain data (frozen `msgspec.Struct`s) that fixes products and their national
market, calendar and sessions, population, inventories, venue frictions, market makers,
behaviour, channels, membership growth, exchange settings, dated events and the seed. Every
field has finite, sane bounds; an invalid value is one line naming the file and the field.

Built-in scenarios ship as package data in `sim/scenarios/*.toml`. A scenario file may be an
*overlay*: `base = "baotou-2024"` (a built-in name, or a path relative to the file) takes that
scenario, then the overlay's tables are merged into it (tables merge key by key, arrays
replace), its `[[events]]` are added to the base's, and its `set = ["KEY=VALUE", ...]`
overrides are applied, in that order. The what-ifs shipped with rexsim are overlays.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.resources
import math
import re
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from sim.errors import ScenarioError

__all__ = [
    "BandEvent",
    "BehaviourSpec",
    "BlockAuctionSpec",
    "CalendarSpec",
    "ChannelEvent",
    "CounterSpec",
    "DemandEvent",
    "Event",
    "ExchangeSpec",
    "FeeEvent",
    "GroupSpec",
    "InventorySpec",
    "MakersSpec",
    "NationalSpec",
    "NegotiationSpec",
    "PopulationSpec",
    "ProductSpec",
    "ReturnEvent",
    "RoleSpec",
    "Scenario",
    "SupplyEvent",
    "VenueSpec",
    "WithdrawEvent",
    "builtin_scenarios",
    "builtin_text",
    "load_scenario",
    "override_value",
    "scenario_dict",
    "scenario_sha256",
    "with_overrides",
]


def _range(kind: type, low: float, high: float, *, open_low: bool = False) -> Any:
    """An annotated int or float bounded to [low, high] ((low, high] with open_low)."""
    if open_low:
        return Annotated[kind, msgspec.Meta(gt=low, le=high)]
    return Annotated[kind, msgspec.Meta(ge=low, le=high)]


Pct = _range(float, 0, 100)
Bp = _range(int, 0, 10_000)  # basis points
Days = _range(float, 0, 3650)
Elasticity = _range(float, 0, 20)
Date = Annotated[dt.date, msgspec.Meta()]
MAX_PRICE = 1_000_000_000  # yuan/t: 170x terbium oxide, and price*qty stays far inside int64
MAX_QTY = 1_000_000_000  # kg
MAX_MEMBERS = 1_000_000
MAX_CALENDAR_DAYS = 3660  # ten years of calendar
Price = _range(int, 1, MAX_PRICE)
Member = Literal["dominant_light", "dominant_heavy"] | _range(int, 1, MAX_MEMBERS)

ROLE_NAMES = ("separator", "metal_maker", "magnet_maker", "application_maker", "trader")


def _default_sessions() -> list[tuple[dt.time, dt.time]]:
    return [(dt.time(9, 0), dt.time(11, 30)), (dt.time(13, 30), dt.time(15, 0))]


class _Spec(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Base of every scenario table: immutable, and unknown keys are errors (typos surface)."""


class ProductSpec(_Spec, frozen=True):
    """One listed product: its exchange parameters and its national market."""

    code: Annotated[str, msgspec.Meta(pattern=r"^[A-Z][A-Z0-9_]{0,15}$")]
    name: Annotated[str, msgspec.Meta(max_length=200)]
    tick: _range(int, 1, 10_000_000)  # yuan/t
    lot: _range(int, 10, MAX_QTY)  # kg, a multiple of 10
    reference_price: Price  # yuan/t: the first day's band reference
    band_pct: _range(int, 1, 99) | None = 5  # ±% of the previous settlement; both None: none
    band_abs: _range(int, 1, MAX_PRICE) | None = None  # ±yuan/t; when set, band_pct is unused
    min_block: _range(int, 1, MAX_QTY) | None = None  # kg, smallest negotiated deal
    # the national market: (date, yuan/t) points of the price path, log-linear between them
    anchors: list[tuple[dt.date, Price]] = []
    volatility_bp: _range(int, 0, 2_000) = 100  # daily log-return sigma of the national noise
    reversion_pct: _range(float, 0, 100, open_low=True) = 15.0  # daily pull of noise to 0
    flat_pct: _range(float, 0, 99) = 0.0  # share of days the noise does not move
    monthly_tonnes: _range(float, 0, 1e7) = 0.0  # national use per month (t) at the path
    group: str | None = None  # the ore it is a co-product of (`[[national.groups]]`)
    # the product it is made from or valued by (a metal its oxide): its price follows that
    # one's, and its output what its market uses (`sim.national`); not an ore's co-product
    follows: str | None = None
    demand_elasticity: Elasticity = 0.5  # national use falls this % per 1% of price
    supply_elasticity: Elasticity = 0.5  # its own supply (stocks, imports) rises this %
    dominant: Literal["light", "heavy"] | None = None  # which dominant producer makes it
    dominant_share_pct: Pct = 0.0  # that producer's share of national supply


class RoleSpec(_Spec, frozen=True):
    """A supply-chain role: its share of the enterprises and what it sells, buys or quotes."""

    name: Literal["separator", "metal_maker", "magnet_maker", "application_maker", "trader"]
    weight_pct: Pct
    sells: list[str] = []
    buys: list[str] = []
    quotes: list[str] = []  # products a trader makes markets in
    # a member's use of each product it buys, relative to a member of the same size in
    # another role (a trader's use is its customers', bought through it)
    use_intensity: _range(float, 0, 100, open_low=True) = 1.0


class CalendarSpec(_Spec, frozen=True):
    """Trading days and sessions, in exchange-local time (Beijing, UTC+8)."""

    start: dt.date
    end: dt.date
    holidays: list[tuple[dt.date, dt.date]] = []  # inclusive ranges with no trading
    utc_offset_hours: _range(int, -12, 14) = 8
    auction: tuple[dt.time, dt.time] = (dt.time(8, 55), dt.time(9, 0))
    sessions: list[tuple[dt.time, dt.time]] = msgspec.field(default_factory=_default_sessions)


class ExchangeSpec(_Spec, frozen=True):
    """Settings of the exchange (engine.ExchangeSettings), by name, and its fee."""

    stp: Literal["cancel_resting", "cancel_incoming", "cancel_both"] = "cancel_resting"
    trade_price: Literal["maker", "median"] = "maker"
    auction_tie_break: Literal["reference", "imbalance"] = "reference"
    block_uniform_price: bool = False
    untraded_settlement: Literal["previous", "touch"] = "previous"  # a day with no trade
    fee_bp: _range(int, 0, 1_000) = 5  # charged to each side of every trade, of its value


class GroupSpec(_Spec, frozen=True):
    """An ore whose elements are co-products: mined together, paced by its most valuable one."""

    name: Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
    pace: str  # the product whose price paces the ore's output
    supply_elasticity: Elasticity = 0.5  # ore output rises this % per 1% of the pace price


class NationalSpec(_Spec, frozen=True):
    """China's national market around the exchange: its size and how its prices move."""

    enterprises: _range(int, 1, MAX_MEMBERS) = 4_000  # members and non-members together
    settlement_weight_pct: Pct = 20.0  # the exchange settlement's weight in the national price
    weight_by_volume: bool = False  # ... times the day's volume over the usual (at most 1)
    adjust_pct: _range(float, 0, 100, open_low=True) = 25.0  # daily move toward equilibrium
    normal_halflife_days: _range(float, 1, 1_000) = 20.0  # memory of the "normal" price
    groups: list[GroupSpec] = []


class PopulationSpec(_Spec, frozen=True):
    """The members: how many, where, in which role, when they join and how they trade."""

    members: _range(int, 1, MAX_MEMBERS) = 987  # members by the calendar's end
    members_at_start: _range(int, 1, MAX_MEMBERS) = 760  # members on the first trading day
    provinces: list[tuple[str, _range(float, 0, 1e6, open_low=True)]] = []  # (name, weight)
    online_at_start_pct: Pct = 30.0  # share of the first day's members trading online
    switch_pct: Pct = 21.5  # share of the offline start members moving online (the plan)
    new_members_online_pct: Pct = 50.0  # share of members joining later who start online
    online_schedule: list[tuple[dt.date, Pct]] = []  # (date, % of the switchers by it)
    lot_every_days: _range(float, 0.1, 365) = 5.0  # a user of a product needs a lot this often
    size_dispersion: _range(float, 0, 3) = 0.5  # log-sd of enterprise size (log-normal)
    cash_days: _range(float, 0, 365) = 40.0  # opening cash, in days of the member's purchases
    # who the members are is drawn from this seed rather than the run's (unset: the run's)
    seed: _range(int, 0, 2**63 - 1) | None = None


class InventorySpec(_Spec, frozen=True):
    """Stocks that buffer use and output: target cover, limits, carrying cost."""

    target_cover_days: _range(float, 1, 365) = 30.0  # a user's stock, in days of its use
    min_cover_days: Days = 10.0  # below this a user buys off the exchange at once
    max_cover_days: Days = 60.0  # a user stocks up to this when prices are low
    cover_elasticity: _range(float, 0, 50) = 4.0  # cover falls this % per 1% above normal
    seller_cover_days: Days = 5.0  # a producer's working stock, in days of its output
    seller_max_days: Days = 20.0  # above this a producer sells the excess off the exchange
    carrying_cost_pct_year: Pct = 8.0  # storage and finance, of the stock's value a year


class VenueSpec(_Spec, frozen=True):
    """What dealing off the exchange costs against dealing on it."""

    buyer_premium_bp: Bp = 80  # median premium a buyer pays off the exchange
    seller_discount_bp: Bp = 80  # median discount a seller takes off the exchange
    dispersion: _range(float, 0, 3) = 0.4  # log-sd of a member's own premium or discount
    deal_dispersion: _range(float, 0, 3) = 0.6  # log-sd of each deal's around the member's
    dominant_discount_bp: Bp = 30  # the dominant producers' discount (long-term contracts)
    delay_cost_bp_per_hour: Bp = 100  # what an hour's wait at the counter costs


class MakersSpec(_Spec, frozen=True):
    """Traders that make markets: quotes on both sides through the session."""

    per_product: _range(int, 0, 1_000) = 12  # market makers per product (times --scale)
    quote_pct: _range(float, 0, 1_000, open_low=True) = 25.0  # all makers' quotes, % of use
    inventory_days: _range(float, 0, 365) = 2.0  # all makers' target inventory, days of use
    limit_multiple: _range(float, 1, 100) = 3.0  # inventory limit, multiples of the target
    half_spread_bp: _range(int, 0, 2_000) = 15  # half-spread at target inventory, calm days
    vol_spread: _range(float, 0, 20) = 0.5  # extra half-spread per unit of daily volatility
    inventory_spread_bp: _range(int, 0, 2_000) = 20  # extra half-spread at the limit
    skew_bp: _range(int, 0, 2_000) = 100  # mid shift at the limit (sells long, buys short)
    cash_days: _range(float, 0, 365) = 4.0  # opening cash, days of the target inventory value
    restock_off_exchange: bool = True  # short of target, buy off the exchange when it pays


class CounterSpec(_Spec, frozen=True):
    """The exchange's offline counter: orders lodged there are keyed in after a delay."""

    delay_minutes: tuple[_range(float, 0, 1440), _range(float, 0, 1440)] = (10.0, 60.0)
    service: list[tuple[dt.time, dt.time]] = msgspec.field(default_factory=_default_sessions)


class NegotiationSpec(_Spec, frozen=True):
    """Large deals agreed off the book and registered with the exchange."""

    block_buyers_pct: Pct = 10.0  # share of large users that buy by negotiated blocks
    days: _range(float, 0, 365, open_low=True) = 20.0  # users whose use over this many days
    # reaches the product's minimum block are large; a deal is at most that much


class BlockAuctionSpec(_Spec, frozen=True):
    """Block auctions (竞价) held by the dominant light-rare-earth producer."""

    product: str = "PRND_MT"
    every_days: _range(int, 1, 1_000) = 20  # trading days between auctions
    tonnes: _range(float, 0, 1e6, open_low=True) = 100.0  # most it offers (before scaling)
    reserve_discount_bp: Bp = 100  # reserve below the national price, at target stock
    stock_discount_bp: Bp = 100  # further discount per target cover of excess stock
    bidders_pct: Pct = 30.0  # share of eligible buyers that bid
    window_steps: _range(int, 1, 500) = 4  # decision steps the auction stays open


class BehaviourSpec(_Spec, frozen=True):
    """How enterprises decide: how often, how large, at what price."""

    steps_per_day: _range(int, 1, 500) = 12
    volume_factor: _range(float, 0, 100, open_low=True) = 1.0  # multiplies national use
    intent_noise_pct: _range(float, 0, 200) = 20.0  # sd of a member's monthly use around it
    act_pct: Pct = 35.0  # chance per step that a slot with a need acts
    order_days: _range(float, 0, 365, open_low=True) = 3.0  # an order is this much use
    max_order_pct: _range(float, 0, 1_000, open_low=True) = 25.0  # of the daily member use
    belief_noise_bp: _range(int, 0, 2_000) = 40  # sd of a belief around the national price
    premium_bp: _range(int, -2_000, 2_000) = 10  # mean concession toward the other side
    premium_sd_bp: _range(int, 0, 2_000) = 40  # its spread
    urgency_bp_per_day: _range(int, 0, 2_000) = 15  # extra concession per day of shortfall
    auction_pct: Pct = 20.0  # share of first decisions placed in the opening call auction


class _EventBase(_Spec, frozen=True, tag_field="kind"):
    """A dated shock; it takes effect at the start of the first trading day on or after it."""

    date: dt.date


class SupplyEvent(_EventBase, frozen=True, tag="supply"):
    """National supply of some products (or of an ore group's) changes by `pct` percent."""

    pct: _range(float, -99, 1_000)
    products: list[str] = []
    group: str | None = None


class DemandEvent(_EventBase, frozen=True, tag="demand"):
    """National demand for some products (or an ore group's) changes by `pct` percent."""

    pct: _range(float, -99, 1_000)
    products: list[str] = []
    group: str | None = None


class WithdrawEvent(_EventBase, frozen=True, tag="withdraw"):
    """A member leaves the exchange (suspended); a producer keeps producing, selling off it."""

    member: Member


class ReturnEvent(_EventBase, frozen=True, tag="return"):
    """A withdrawn member comes back to the exchange."""

    member: Member


class BandEvent(_EventBase, frozen=True, tag="band"):
    """The price band of some products (all when none are named) becomes ±pct% or ±abs."""

    pct: _range(int, 1, 99) | None = None
    abs: _range(int, 1, MAX_PRICE) | None = None
    products: list[str] = []


class FeeEvent(_EventBase, frozen=True, tag="fee"):
    """The exchange fee becomes `bp` basis points a side."""

    bp: _range(int, 0, 1_000)


class ChannelEvent(_EventBase, frozen=True, tag="channel"):
    """The exchange closes or opens a channel (online terminals, or the offline counter)."""

    channel: Literal["online", "offline"]
    open: bool


Event = (SupplyEvent | DemandEvent | WithdrawEvent | ReturnEvent | BandEvent | FeeEvent
         | ChannelEvent)


class Scenario(_Spec, frozen=True):
    """A whole simulation run as data."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]  # see _NAME
    calendar: CalendarSpec
    products: list[ProductSpec]
    roles: list[RoleSpec]
    national: NationalSpec = NationalSpec()
    population: PopulationSpec = PopulationSpec()
    inventory: InventorySpec = InventorySpec()
    venue: VenueSpec = VenueSpec()
    makers: MakersSpec = MakersSpec()
    behaviour: BehaviourSpec = BehaviourSpec()
    counter: CounterSpec = CounterSpec()
    negotiation: NegotiationSpec = NegotiationSpec()
    block_auctions: BlockAuctionSpec | None = None
    exchange: ExchangeSpec = ExchangeSpec()
    events: list[Event] = []
    seed: _range(int, 0, 2**63 - 1) = 1
    description: Annotated[str, msgspec.Meta(max_length=2_000)] = ""

    def product(self, code: str) -> ProductSpec:
        """The product with this code (KeyError if none)."""
        for p in self.products:
            if p.code == code:
                return p
        raise KeyError(code)

    def group_products(self, group: str) -> list[str]:
        """Codes of the products that are co-products of ore `group`, in listing order."""
        return [p.code for p in self.products if p.group == group]


# --------------------------------------------------------------------------- errors

_MSG = re.compile(r"^(?P<what>.*?)(?: - at `(?P<path>\$[^`]*)`)?$", re.S)
_STEP = re.compile(r"\.([A-Za-z_][A-Za-z_0-9]*)|\[(\d+)\]")
_SHOWN_ERRORS = 3  # how many problems one error line names before "and N more"
_REMOVED = {
    ("interventions",): "replaced by [[events]]: kind = 'withdraw' or 'return', with the "
                        "same date and member",
    ("behaviour", "price_memory_pct"): "removed: beliefs follow the national price, which "
                                       "the exchange's settlement pulls ([national])",
    ("behaviour", "supply_ratio"): "removed: national supply meets national use at the "
                                   "anchor prices ([[products]] monthly_tonnes)",
    ("behaviour", "trader_turnover_pct"): "removed: traders make markets ([makers])",
    ("behaviour", "trader_half_spread_bp"): "removed: see [makers] half_spread_bp",
    ("population", "stock_days"): "removed: see [inventory] seller_cover_days",
    ("population", "trader_stock_days"): "removed: see [makers] inventory_days",
    ("population", "online_growth_pct"): "replaced by switch_pct, the share of the start "
                                         "members trading offline who move online (21.5 "
                                         "doubles online members in baotou-2024)",
}


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


def _choices(path: str, raw: Any) -> list[str] | None:
    """The allowed values of the Literal field at `path` (None if it is not one)."""
    info: Any = msgspec.inspect.type_info(Scenario)
    node = raw
    for name, index in _STEP.findall(path[1:]):
        info = _unwrap(info, node)
        if name:
            fields = {f.name: f.type for f in getattr(info, "fields", ())}
            if name not in fields:
                return None
            info = fields[name]
            node = node.get(name) if isinstance(node, dict) else None
        else:
            info = getattr(_unwrap(info, node), "item_type", None)
            node = node[int(index)] if isinstance(node, list) and int(index) < len(node) else None
            if info is None:
                return None
    values: list[str] = []
    for t in getattr(info, "types", (info,)):
        if isinstance(t, msgspec.inspect.LiteralType):
            values.extend(map(str, t.values))
    return values or None


def _unwrap(info: Any, node: Any) -> Any:
    """The struct a union or optional type info stands for, given the raw value (by tag)."""
    types = getattr(info, "types", None)
    if types is None:
        return info
    structs = [t for t in types if isinstance(t, msgspec.inspect.StructType)]
    if isinstance(node, dict):
        for t in structs:
            if t.tag is not None and node.get(t.tag_field) == t.tag:
                return t
    if len(structs) == 1:
        return structs[0]
    for t in types:  # a list, an optional list ...
        if not isinstance(t, msgspec.inspect.NoneType):
            return t
    return info


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
    if what.startswith("invalid enum value") or (what.startswith("invalid value")
                                                 and path.endswith(".kind")):
        allowed = _choices(path, raw) or _event_kinds(path)
        if allowed:
            what = f"expected one of {', '.join(allowed)}"
    if found and what.startswith("expected") and ", got" not in what:
        what = f"{what}, got {_show(value)}"
    return f"{path}: {what}"


def _event_kinds(path: str) -> list[str] | None:
    if re.fullmatch(r"\$\.events\[\d+\]\.kind", path):
        return [t.__struct_config__.tag for t in Event.__args__]
    return None


def _removed_fields(raw: Any) -> list[str]:
    """Fields of earlier scenario versions, each with what replaced it."""
    errs = []
    for keys, why in _REMOVED.items():
        node = raw
        for k in keys:
            node = node.get(k) if isinstance(node, dict) else None
            if node is None:
                break
        else:
            errs.append(f"$.{'.'.join(keys)}: {why}")
    return errs


# a scenario's name is its default output directory (out/NAME): one path component, not
# hidden, never '.' or '..'
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*")


def _check(sc: Scenario) -> list[str]:
    """Cross-field rules the schema cannot express, as `$.path: problem` lines."""
    errs: list[str] = []
    if not _NAME.fullmatch(sc.name):
        errs.append(f"$.name: expected letters, digits and _ . + - (not first: . + -), as it "
                    f"names the output directory out/NAME, got {sc.name!r}")
    codes = [p.code for p in sc.products]
    groups = {g.name: g for g in sc.national.groups}
    for i, g in enumerate(sc.national.groups):
        if list(groups).index(g.name) != i or [x.name for x in sc.national.groups].count(
                g.name) > 1:
            errs.append(f"$.national.groups[{i}].name: duplicate group {g.name!r}")
        if g.pace not in codes:
            errs.append(f"$.national.groups[{i}].pace: unknown product {g.pace!r}")
        elif sc.product(g.pace).group != g.name:
            errs.append(f"$.national.groups[{i}].pace: product {g.pace!r} is not in the group")
    for i, p in enumerate(sc.products):
        where = f"$.products[{i}]"
        if codes.index(p.code) != i:
            errs.append(f"{where}.code: duplicate product code {p.code!r}")
        if p.lot % 10:
            errs.append(f"{where}.lot: expected a multiple of 10 kg, got {p.lot}")
        if p.reference_price % p.tick:
            errs.append(f"{where}.reference_price: expected a multiple of the tick {p.tick},"
                        f" got {p.reference_price}")
        if p.min_block is not None and p.min_block % p.lot:
            errs.append(f"{where}.min_block: expected a multiple of the lot {p.lot}, "
                        f"got {p.min_block}")
        if p.dominant is None and p.dominant_share_pct:
            errs.append(f"{where}.dominant_share_pct: set without a dominant producer")
        if p.group is not None and p.group not in groups:
            errs.append(f"{where}.group: unknown group {p.group!r} (groups: "
                        f"{', '.join(groups) or 'none'})")
        errs.extend(_check_follows(sc, i, codes))
        dates = [d for d, _ in p.anchors]
        if dates != sorted(set(dates)):
            errs.append(f"{where}.anchors: expected dates in increasing order, no repeats")
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
        if r.quotes and r.name != "trader":
            errs.append(f"$.roles[{i}].quotes: only the 'trader' role makes markets "
                        f"(role {r.name!r} would quote nothing)")
    total = sum(r.weight_pct for r in sc.roles)
    if abs(total - 100) > 1e-6:
        errs.append(f"$.roles: expected weight_pct to sum to 100, got {total:g}")
    if "separator" not in names:
        errs.append("$.roles: expected a 'separator' role (the dominant sellers are separators)")
    errs.extend(_check_calendar(sc))
    pop = sc.population
    if pop.members_at_start > pop.members:
        errs.append(f"$.population.members_at_start: expected <= members ({pop.members}), "
                    f"got {pop.members_at_start}")
    if pop.members > sc.national.enterprises:
        errs.append(f"$.population.members: expected <= national.enterprises "
                    f"({sc.national.enterprises}): members are some of the national market's "
                    f"enterprises, got {pop.members}")
    if not pop.provinces:
        errs.append("$.population.provinces: expected at least one province")
    # cumulative shares of the switchers by each date (in date order): online, never back
    steps = sorted(pop.online_schedule)
    for (d0, p0), (d1, p1) in zip(steps, steps[1:], strict=False):
        if d1 == d0 or p1 < p0:
            errs.append(f"$.population.online_schedule: expected one share a date, each at least "
                        f"the one before (switchers go online and stay), got {p0:g}% by {d0} "
                        f"and {p1:g}% by {d1}")
    inv = sc.inventory
    if not inv.min_cover_days <= inv.target_cover_days <= inv.max_cover_days:
        errs.append("$.inventory: expected min_cover_days <= target_cover_days <= "
                    "max_cover_days")
    if inv.seller_max_days < inv.seller_cover_days:
        errs.append("$.inventory.seller_max_days: expected >= seller_cover_days")
    lo, hi = sc.counter.delay_minutes
    if hi < lo:
        errs.append(f"$.counter.delay_minutes: expected min <= max, got [{lo:g}, {hi:g}]")
    if sc.block_auctions is not None:
        if sc.behaviour.steps_per_day < 2:  # one step opens an auction, a later one settles it
            errs.append(f"$.behaviour.steps_per_day: expected at least 2 with block auctions "
                        f"(one step opens one, a later one settles it), got "
                        f"{sc.behaviour.steps_per_day}; or set block_auctions=null")
        block = sc.block_auctions.product
        if block not in codes:
            errs.append(f"$.block_auctions.product: unknown product {block!r}")
        elif sc.product(block).dominant != "light" or not sc.product(block).dominant_share_pct:
            errs.append(f"$.block_auctions.product: {block!r} is not made by the dominant light "
                        f"producer, who holds the block auctions (a product with dominant = "
                        f'"light" and a dominant_share_pct above 0)')
    errs.extend(_check_events(sc, codes, groups))
    if not errs:
        errs.extend(_check_responses(sc))
    return errs


def _check_responses(sc: Scenario) -> list[str]:
    """Each supply or demand event leaves every national price finite and priceable.

    At the equilibrium the elasticities imply with the shifts in force by then, from each
    anchor, the price stays within one tick to MAX_PRICE yuan/t (compared in logs, so that
    no response is too large to work out).
    """
    import numpy as np

    from sim.national import equilibrium, shift_vectors  # (national imports this module)

    n = len(sc.products)
    demand, supply = np.zeros(n), np.zeros(n)
    for i in sorted(range(len(sc.events)), key=lambda k: sc.events[k].date):
        if not isinstance(sc.events[i], SupplyEvent | DemandEvent):
            continue
        d, s = shift_vectors(sc, [sc.events[i]])
        demand += d
        supply += s
        with np.errstate(invalid="ignore"):  # inf - inf along a chain of follows: nan
            response = equilibrium(sc, demand, supply).tolist()
        where = f"$.events[{i}]"
        for p, e in zip(sc.products, response, strict=True):
            if not math.isfinite(e):
                return [f"{where}: no finite national price of {p.code} follows (its "
                        f"elasticities sum to 0, so no price change clears a shift): give "
                        f"the product or its ore a positive elasticity"]
            logs = [math.log(x) for _d, x in p.anchors] or [math.log(p.reference_price)]
            if max(logs) + e > math.log(MAX_PRICE) or min(logs) + e < math.log(p.tick):
                factor = f"{math.exp(e):.4g}x" if abs(e) < 700 else f"e^{e:.4g}"
                return [f"{where}: the elasticities imply a national price of {p.code} "
                        f"{factor} its anchors, outside 1 tick ({p.tick}) to "
                        f"{MAX_PRICE:,} yuan/t"]
    return []


def _check_follows(sc: Scenario, i: int, codes: list[str]) -> list[str]:
    """A product follows a listed product, through no loop, and is no ore's co-product too."""
    p = sc.products[i]
    where = f"$.products[{i}].follows"
    if p.follows is None:
        return []
    if p.group is not None:
        return [f"{where}: expected either group or follows: a product made from another "
                f"({p.follows!r}) is not a co-product of ore {p.group!r} too"]
    seen = [p.code]
    code: str | None = p.follows
    while code is not None:
        if code not in codes:  # (a later product's own check names one further on)
            return [f"{where}: unknown product {code!r}"] if code == p.follows else []
        if code in seen:
            kind = "is a loop" if code == p.code else "runs into a loop"
            return [f"{where}: {' -> '.join([*seen, code])} {kind}: some product must "
                    f"follow none"]
        seen.append(code)
        code = sc.products[codes.index(code)].follows
    return []


def _check_calendar(sc: Scenario) -> list[str]:
    errs = []
    cal = sc.calendar
    if cal.end < cal.start:
        errs.append(f"$.calendar.end: expected a date on or after start {cal.start}, got {cal.end}")
    elif (cal.end - cal.start).days >= MAX_CALENDAR_DAYS:
        errs.append(f"$.calendar.end: expected at most {MAX_CALENDAR_DAYS} days after the "
                    f"start, got {cal.end}")
    for i, (a, b) in enumerate(cal.holidays):
        if b < a:
            errs.append(f"$.calendar.holidays[{i}]: expected from <= to, got {a} > {b}")
    for key, spans in (("calendar.auction", [cal.auction]), ("calendar.sessions", cal.sessions),
                       ("counter.service", sc.counter.service)):
        for i, span in enumerate(spans):
            for j, t in enumerate(span):
                if t.second or t.microsecond or t.tzinfo is not None:
                    at = f"[{j}]" if key == "calendar.auction" else f"[{i}][{j}]"
                    errs.append(f"$.{key}{at}: expected a local time in whole minutes "
                                f"(HH:MM:00), got {t.isoformat()}")
        if key == "calendar.auction":
            continue
        if not spans:
            errs.append(f"$.{key}: expected at least one (start, end) span")
        for i, (a, b) in enumerate(spans):
            if b <= a:
                errs.append(f"$.{key}[{i}]: expected start < end, got {a} >= {b}")
            elif i and a < spans[i - 1][1]:
                errs.append(f"$.{key}[{i}]: expected spans in order without overlap, got {a} "
                            f"before the end {spans[i - 1][1]} of the one before")
    if cal.sessions and (cal.auction[1] > cal.sessions[0][0] or cal.auction[1] <= cal.auction[0]):
        errs.append("$.calendar.auction: expected a window that ends by the first session")
    if not errs and not _any_trading_day(cal):
        errs.append(f"$.calendar: no trading days from {cal.start} to {cal.end} (weekends and "
                    f"holidays only)")
    return errs


def _any_trading_day(cal: CalendarSpec) -> bool:
    """Whether some weekday from start to end falls outside every holiday range."""
    day, one = cal.start, dt.timedelta(days=1)
    while day <= cal.end:
        if day.weekday() < 5 and not any(a <= day <= b for a, b in cal.holidays):
            return True
        day += one
    return False


def _check_events(sc: Scenario, codes: list[str], groups: dict[str, GroupSpec]) -> list[str]:
    """Events fall inside the calendar, name what exists, and withdrawals alternate."""
    from sim.timeline import member_id  # (timeline imports this module)

    errs: list[str] = []
    cal = sc.calendar
    withdrawn: set[int] = set()
    for i in sorted(range(len(sc.events)), key=lambda k: sc.events[k].date):
        ev = sc.events[i]
        where = f"$.events[{i}]"
        if not cal.start <= ev.date <= cal.end:
            errs.append(f"{where}.date: expected a date from {cal.start} to {cal.end}, "
                        f"got {ev.date}")
        if isinstance(ev, SupplyEvent | DemandEvent | BandEvent):
            for j, code in enumerate(ev.products):
                if code not in codes:
                    errs.append(f"{where}.products[{j}]: unknown product {code!r}")
                elif code in ev.products[:j]:  # a supply shock listed twice would compound
                    errs.append(f"{where}.products[{j}]: {code!r} is listed twice")
        if isinstance(ev, SupplyEvent | DemandEvent):
            if (ev.group is None) == (not ev.products):
                errs.append(f"{where}: expected either products or group")
            elif ev.group is not None and ev.group not in groups:
                errs.append(f"{where}.group: unknown group {ev.group!r}")
        if isinstance(ev, BandEvent) and (ev.pct is None) == (ev.abs is None):
            errs.append(f"{where}: expected exactly one of pct and abs")
        if isinstance(ev, WithdrawEvent | ReturnEvent):
            member = member_id(ev.member)  # a name and its id are one member
            if member > sc.population.members:
                named = "" if type(ev.member) is int else f"{ev.member} (id {member})"
                errs.append(f"{where}.member: expected an enterprise id from 1 to "
                            f"{sc.population.members}, got {named or ev.member}")
            if isinstance(ev, WithdrawEvent):
                if member in withdrawn:
                    errs.append(f"{where}: member {ev.member!r} has already withdrawn by "
                                f"{ev.date}")
                withdrawn.add(member)
            elif member not in withdrawn:
                errs.append(f"{where}: member {ev.member!r} returns on {ev.date} without "
                            f"having withdrawn before")
            else:
                withdrawn.discard(member)
    return errs


# --------------------------------------------------------------------------- overrides

_KEY = re.compile(r"[A-Za-z_][A-Za-z_0-9-]*|\d+|\*")


def _override_error(assignment: str, detail: str) -> ScenarioError:
    """An invalid override, named as the library takes it and as `--set` gives it."""
    return ScenarioError(detail, param=f"override {assignment!r}", option=f"--set {assignment}")


def override_value(text: str) -> Any:
    """A TOML value (`10`, `2.5`, `true`, `2024-06-03`, `[1, 2]`, `"x"`); else the bare text.

    The bare word `null` unsets a field that may be unset (TOML has no null):
    `population.seed=null` draws each run's members from its own seed.
    """
    if text == "null":
        return None
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _toml_problem(text: str) -> str:
    """What tomllib says is wrong with `text` as a value."""
    try:
        tomllib.loads(f"v = {text}")
    except tomllib.TOMLDecodeError as exc:
        return str(exc).split(" (at ")[0]
    return "it parses"  # not reached for a text override_value returned as it was


def _override_slots(raw: dict, key: str, assignment: str) -> list[tuple[Any, str | int]]:
    """Where `key` sets a value: (container, slot) pairs, one per match of a `*`.

    KEY is dotted; an array entry is named by its index (`products.0`), a product by its
    code or a role by its name (`products.PRND_OX`), or every entry by `*`.
    """
    steps = key.replace("[", ".").replace("]", "").split(".")
    if not all(_KEY.fullmatch(s) for s in steps):
        raise _override_error(assignment, "expected KEY=VALUE with KEY like "
                              "population.members or products.PRND_OX.band_pct")
    nodes: list[Any] = [raw]
    for depth, step in enumerate(steps):
        last = depth == len(steps) - 1
        here = ".".join(steps[:depth]) or "the scenario"
        slots: list[tuple[Any, str | int]] = []
        for node in nodes:
            if isinstance(node, list):
                if step == "*":
                    indices = list(range(len(node)))
                elif step.isdigit():
                    if int(step) >= len(node):
                        raise _override_error(assignment,
                                              f"{here} has {len(node)} entries, no [{step}]")
                    indices = [int(step)]
                else:  # a product by its code, a role by its name
                    indices = [k for k, e in enumerate(node) if isinstance(e, dict)
                               and step in (e.get("code"), e.get("name"))][:1]
                    if not indices:
                        raise _override_error(assignment, f"{here} has no entry {step!r}")
                slots.extend((node, k) for k in indices)
            elif isinstance(node, dict):
                if step == "*":
                    raise _override_error(assignment, f"{here} is a table: name its key, "
                                                      f"not *")
                slots.append((node, step))
            else:
                raise _override_error(assignment, f"{here} is a value, not a table")
        if last:
            return slots
        nodes = []
        for container, slot in slots:
            if isinstance(container, dict):
                nodes.append(container.setdefault(slot, {}))
            else:
                nodes.append(container[slot])
    raise AssertionError("unreachable")  # pragma: no cover


def apply_overrides(raw: dict, overrides: Iterable[str]) -> dict:
    """Set each `KEY=VALUE` in a raw scenario table, in order (later ones win)."""
    for assignment in overrides:
        if not isinstance(assignment, str):
            raise ScenarioError(f"expected KEY=VALUE strings, got {assignment!r}",
                                param="overrides", option="--set")
        key, sep, text = assignment.partition("=")
        if not sep or not key.strip():
            raise _override_error(assignment, "expected KEY=VALUE, e.g. population.members=1974")
        text = text.strip()
        value = override_value(text)
        if value is text and text[:1] in "[{\"'":  # meant as an array, table or string
            raise _override_error(assignment, f"{text} is not a TOML value: {_toml_problem(text)}")
        for container, slot in _override_slots(raw, key.strip(), assignment):
            container[slot] = value
    return raw


def _override_list(overrides: Iterable[str]) -> list[str]:
    """`overrides` as a list; one string is refused (it would be read a character at a time)."""
    if isinstance(overrides, str):
        raise ScenarioError(f"overrides: expected a list of KEY=VALUE strings, got the string "
                            f"{overrides!r}")
    return list(overrides)


def with_overrides(sc: Scenario, overrides: Iterable[str]) -> Scenario:
    """A copy of `sc` with `KEY=VALUE` overrides applied and the whole scenario re-validated.

    With no overrides, `sc` itself once it passes the checks a file does: a Scenario made or
    changed in code (`msgspec.structs.replace`) is held to the same rules as one read from TOML.
    """
    overrides = _override_list(overrides)
    try:
        raw = msgspec.to_builtins(sc)
    except TypeError as exc:
        raise ScenarioError(f"{sc.name}: {exc} (a scenario holds plain Python values)") from None
    if not overrides:
        _decode(raw, sc.name)
        return sc
    return _decode(apply_overrides(raw, overrides), f"{sc.name} (with --set)")


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


def _merge(base: dict, overlay: dict) -> dict:
    """`overlay`'s tables merged into `base` key by key; its arrays and values replace."""
    out = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _resolve(raw: dict, source: str, where: Path | None, seen: tuple[str, ...]) -> dict:
    """A raw scenario table with its `base` (if any) resolved into it, recursively."""
    if "base" not in raw:
        if "set" in raw:
            raise ScenarioError(f"{source}: $.set: only an overlay (a file with base = ...) "
                                f"may hold set = [...]")
        return raw
    base = raw["base"]
    if not isinstance(base, str) or not base:
        raise ScenarioError(f"{source}: $.base: expected a scenario name or a .toml path")
    if base in seen:
        raise ScenarioError(f"{source}: $.base: {base!r} is its own base (through "
                            f"{' -> '.join(seen)})")
    try:
        base_raw, base_source, base_where = _read_raw(base, where)
    except ScenarioError as exc:  # name the file whose base it is, and the field
        raise ScenarioError(f"{source}: $.base: {exc.detail}") from None
    base_raw = _resolve(base_raw, base_source, base_where, (*seen, base))
    overlay = {k: v for k, v in raw.items() if k not in ("base", "set", "events")}
    if "name" not in overlay and where is not None:
        # a file with no name of its own is named by its file, not its base: a what-if that
        # took its base's name would write its runs over the base's (out/NAME)
        stem = Path(source).stem
        if not _NAME.fullmatch(stem) or len(stem) > 200:
            raise ScenarioError(f"{source}: $.name: missing, and the file's name {stem!r} is "
                                f"not one (letters, digits and _ . + -): give it name = \"...\"")
        overlay["name"] = stem
    merged = _merge(base_raw, overlay)
    extra = raw.get("events", [])
    if not isinstance(extra, list):
        raise ScenarioError(f"{source}: $.events: expected an array of tables")
    merged["events"] = list(base_raw.get("events", [])) + extra
    sets = raw.get("set", [])
    if not isinstance(sets, list) or not all(isinstance(s, str) for s in sets):
        raise ScenarioError(f"{source}: $.set: expected an array of \"KEY=VALUE\" strings")
    try:
        return apply_overrides(merged, sets)
    except ScenarioError as exc:
        raise ScenarioError(f"{source}: $.set: {exc.detail} ({exc.param})") from None


def _read_raw(name_or_path: str, where: Path | None) -> tuple[dict, str, Path | None]:
    """The raw table of a built-in scenario or a file (relative to `where` when given)."""
    if "\0" in name_or_path:
        raise ScenarioError(f"{name_or_path!r}: a scenario name or path holds no NUL character")
    path = Path(name_or_path)
    if where is not None and not path.is_absolute():
        path = where / path
    try:
        is_file = path.is_file()  # a name the system cannot take (too long) fails here
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if name_or_path in builtin_scenarios() and not is_file:
        return _parse_toml(builtin_text(name_or_path), f"{name_or_path}.toml"), \
            f"{name_or_path}.toml", None
    if path.suffix != ".toml" and not is_file:
        builtin_text(name_or_path)  # raises the "unknown scenario" ScenarioError
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{path}: not a UTF-8 text file") from None
    return _parse_toml(text, str(path)), str(path), path.parent


def _parse_toml(text: str, source: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{source}: invalid TOML: {exc}") from None


def parse_scenario(text: str, source: str = "scenario.toml",
                   overrides: Iterable[str] = (), where: Path | None = None) -> Scenario:
    """Decode and validate scenario TOML; any problem is ONE ScenarioError line naming `source`.

    `overrides` are `KEY=VALUE` settings (see `apply_overrides`) applied before validation;
    `where` is the directory a relative `base` path is read from.
    """
    top = _parse_toml(text, source)
    raw = _resolve(top, source, where, ())
    overrides = _override_list(overrides)
    if overrides:
        raw = apply_overrides(raw, overrides)
        source = f"{source} (with --set)"
    return _decode(raw, source, _base_events(top, raw))


def _base_events(top: dict, resolved: dict) -> int:
    """How many of the resolved events an overlay's base gave, before the file's own (or 0)."""
    own, events = top.get("events"), resolved.get("events")
    if "base" not in top or not isinstance(own, list) or not isinstance(events, list):
        return 0
    k = len(events) - len(own)
    return k if k > 0 and events[k:] == own else 0  # 0 when --set replaced the events


def _own_event(error: str, base_events: int) -> str:
    """`error`, saying which of the file's own events an index past its base's names."""
    m = re.match(r"\$\.events\[(\d+)\]", error)
    if m is None or int(m[1]) < base_events:
        return error
    return (f"{error} (events[{m[1]}] is this file's events[{int(m[1]) - base_events}]; its "
            f"base's {base_events} come first)")


def _decode(raw: Any, source: str, base_events: int = 0) -> Scenario:
    """Convert a raw table into a Scenario and check it; one ScenarioError line on any problem.

    With `base_events`, an overlay's own event is also named by its place in the file (the
    resolved list holds its base's events first).
    """
    errs = _removed_fields(raw)
    if not errs:
        try:
            sc = msgspec.convert(raw, Scenario)
        except msgspec.ValidationError as exc:
            errs = [_friendly(exc, raw)]
        else:
            errs = _check(sc)
    if errs:
        if base_events:
            errs = [_own_event(e, base_events) for e in errs]
        shown = "; ".join(errs[:_SHOWN_ERRORS])
        more = f" (and {len(errs) - _SHOWN_ERRORS} more)" if len(errs) > _SHOWN_ERRORS else ""
        raise ScenarioError(f"{source}: {shown}{more}")
    return sc


def load_scenario(name_or_path: str | Path = "baotou-2024",
                  overrides: Iterable[str] = ()) -> Scenario:
    """Load a built-in scenario by name, or a scenario TOML file by path.

    `overrides`: `KEY=VALUE` strings such as `population.members=1974`,
    `products.PRND_OX.band_pct=10` or `products.*.band_pct=10`, applied before validation
    (as `rexsim run --set`).
    """
    top, source, where = _read_raw(str(name_or_path), None)
    raw = _resolve(top, source, where, (str(name_or_path),))
    overrides = _override_list(overrides)
    if overrides:
        raw = apply_overrides(raw, overrides)
        source = f"{source} (with --set)"
    return _decode(raw, source, _base_events(top, raw))


# --------------------------------------------------------------------------- provenance

def scenario_dict(sc: Scenario) -> dict[str, Any]:
    """Every field of a resolved scenario (overrides applied, defaults filled in) as plain data.

    Dates and times become ISO text, so the result is JSON-ready; `msgspec.convert(d,
    Scenario)` gives the same scenario back.
    """
    return msgspec.to_builtins(sc)


def scenario_sha256(sc: Scenario) -> str:
    """The sha256 of a resolved scenario's canonical JSON: equal exactly when every field is."""
    return hashlib.sha256(msgspec.json.encode(sc)).hexdigest()
