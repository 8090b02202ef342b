"""Size limits: what a run will need, estimated from its scenario before anything is allocated.

`check_size(sc, scale, until)` (called first thing by `sim.runner.Simulation`) refuses, in one
`RunError` line that names the setting to change, a run that has more members than
`MAX_RUN_MEMBERS` or whose estimated memory exceeds what the machine has available (Linux
`/proc/meminfo` MemAvailable, or `psutil` where it is installed; where neither answers, only
the cap applies). So `--scale 1000000` is a one-line error, not a numpy MemoryError traceback
minutes into building the population.

The estimate, `estimate(sc, scale, until)`, is arithmetic on the scenario: the members
`n = population.members * scale`, the expected number of *slots* (a member's use or output of
one product, and each market maker's bid and ask: `expected_slots`, which follows the
participation rule of `sim.population`), the run's trading days and quote samples
(days x steps_per_day x products). Memory is then, in bytes,

    BASE                                   fixed: engine, books, national arrays    12 MB
    + n     * (PER_MEMBER + PER_MEMBER_PRODUCT * products)     population, ledger,
                                           recorder tallies, enterprises.csv      900 + 39 P
    + slots * (PER_SLOT + PER_SLOT_STEP * steps_per_day)      agents' per-slot arrays,
                                           the day's events, the analysis' per-member
                                           tallies                              790 + 6.5 s
    + samples * PER_SAMPLE                 spreads kept for the medians, quotes analysed  120
    + days * products * PER_DAY_PRODUCT    daily.csv rows, held and read back          1,200

Fit (peak RSS, `VmHWM` less the RSS after imports, of a whole `sim.run(..., out=...)` on
Linux x86-64, CPython 3.11, numpy 2; `python -m sim.limits --measure` reproduces a point):
variants of baotou-2024 with 200 to 1,000,000 members, scale 1 to 64, 4 or 14 products,
3 to 360 steps a day and 3 to 200 trading days. Per member 334 B + 39 B a product while the
run lasts and ~650 B more while its files are written and analysed (250,000 members: 490 B at
4 products, 880 B at 14); per slot 461 B once built and 323 B + 6.1 B per decision step for
the day's events (scale 64: 122,261 slots at 3, 12 and 48 steps); a quote sample 12 B during
the run and 105 B while analysed (200 members at 12, 120 and 360 steps). Across the measured
points the estimate is from 0.9 to 1.35 times the measured peak (re-measured after the
analysis stopped keeping per-member sums by month and the runner freed the simulation before
analysing it: scale 8 and 32, to January and to October, 1.11 to 1.25 times): it errs high,
since refusing a run that might just have fitted costs less than starting one the kernel
kills halfway. The fit is of today's model: re-measure when the agents' or the recorder's
state changes (the slow test `test_estimate_is_near_the_measured_peak` checks one point).

`national.enterprises` allocates nothing per enterprise (it is a count in the participation
rule): more enterprises for the same members mean fewer slots, so it enters through
`expected_slots` only.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import msgspec

from sim.calendar import trading_days
from sim.errors import RunError
from sim.scenario import Scenario

__all__ = ["MAX_RUN_MEMBERS", "Need", "available_memory", "check_size", "estimate",
           "expected_slots", "format_bytes"]

# The most members a run may have after --scale: ten times the largest population a scenario
# may hold (population.members <= 1,000,000). Building one takes ~30 s per million members
# (each member's random stream is spawned on its own), and a run's tallies, per-member files
# and analysis grow with it; beyond this a run is a what-if nobody could wait for.
MAX_RUN_MEMBERS = 10_000_000

BASE = 12_000_000
PER_MEMBER = 900
PER_MEMBER_PRODUCT = 39
PER_SLOT = 790
PER_SLOT_STEP = 6.5
PER_SAMPLE = 120
PER_DAY_PRODUCT = 1_200
_MEMINFO = Path("/proc/meminfo")


class Need(msgspec.Struct, frozen=True, kw_only=True):
    """What a run will hold: its counts and its estimated peak memory (bytes)."""

    members: int  # population.members * scale
    slots: int  # expected (member, product) slots, market makers' bids and asks included
    days: int  # trading days of the run (to `until`)
    months: int  # calendar months those days fall in
    samples: int  # quote samples: days * steps_per_day * products
    member_bytes: int  # the members' and their slots' share of `bytes`
    sample_bytes: int  # the quote samples' and daily rows' share of `bytes`
    bytes: int  # estimated peak memory of the whole run, files written and analysed


def expected_slots(sc: Scenario, scale: int = 1) -> float:
    """The expected number of slots of a run (see `sim.population.build_population`).

    A product's users are the members of its buying roles who trade it: each trades a lot
    every `lot_every_days`, so a share `min(1, daily use * lot_every_days / lot / eligible
    enterprises)` of them does; likewise its producers (besides the dominant one), and every
    quoted product has `makers.per_product * scale` market makers (at most the traders
    online from the start), each with a bid and an ask slot and no use of it.
    """
    pop, cal = sc.population, sc.calendar
    n = pop.members * scale
    enterprises = sc.national.enterprises * scale
    ndays = max(len(trading_days(cal.start, cal.end, cal.holidays)), 1)
    months = ((cal.end - cal.start).days + 1) / 30.4375
    weight = {r.name: r.weight_pct / 100 for r in sc.roles}
    ndom = min(2, n)
    slots = 0.0
    trader_buys = {}  # the chance a trader uses a product it may also quote
    for p in sc.products:
        daily = p.monthly_tonnes * 1000.0 * months / ndays * scale * sc.behaviour.volume_factor
        w_buy = sum(weight[r.name] for r in sc.roles if p.code in r.buys)
        q_buy = _participation(daily, p.lot, pop.lot_every_days, enterprises * w_buy)
        slots += n * w_buy * q_buy
        if any(r.name == "trader" and p.code in r.buys for r in sc.roles):
            trader_buys[p.code] = q_buy
        share = p.dominant_share_pct / 100 if p.dominant is not None else 0.0
        if share and (0 if p.dominant == "light" else 1) < n:
            slots += 1
        else:
            share = 0.0
        w_sell = sum(weight[r.name] for r in sc.roles if p.code in r.sells)
        slots += (n - ndom) * w_sell * _participation(daily * (1 - share), p.lot,
                                                      pop.lot_every_days, enterprises * w_sell)
    quoted = {code for r in sc.roles if r.name == "trader" for code in r.quotes}
    if quoted:
        n_start = pop.members_at_start * scale
        online_start = min(n_start, max(ndom, round(pop.online_at_start_pct / 100 * n_start)))
        traders = (online_start - ndom) * weight.get("trader", 0.0)
        makers = min(round(sc.makers.per_product * scale), traders)
        slots += 2 * makers * sum(1 for p in sc.products if p.code in quoted)
        # a maker does not also use what it quotes (`sim.population._users_not_makers`)
        slots -= makers * sum(q for code, q in trader_buys.items() if code in quoted)
    return slots


def _participation(volume: float, lot: int, every: float, candidates: float) -> float:
    """The share of eligible enterprises that trade a product (as sim.population draws it)."""
    if candidates <= 0 or volume <= 0:
        return 0.0
    return min(1.0, volume * every / lot / candidates)


def _run_days(sc: Scenario, until: dt.date | None) -> list[dt.date]:
    """The trading days a run to `until` covers (the runner checks `until` itself)."""
    cal = sc.calendar
    days = trading_days(cal.start, cal.end, cal.holidays)
    return days if until is None else [d for d in days if d <= until]


def estimate(sc: Scenario, scale: int = 1, until: dt.date | None = None) -> Need:
    """What a run of `sc` at `scale` to `until` will hold, and its peak memory (see above)."""
    days = _run_days(sc, until)
    nprod = len(sc.products)
    steps = sc.behaviour.steps_per_day
    members = sc.population.members * scale
    slots = expected_slots(sc, scale)
    months = len({(d.year, d.month) for d in days})
    samples = len(days) * steps * nprod
    member_bytes = (members * (PER_MEMBER + PER_MEMBER_PRODUCT * nprod)
                    + slots * (PER_SLOT + PER_SLOT_STEP * steps))
    sample_bytes = samples * PER_SAMPLE + len(days) * nprod * PER_DAY_PRODUCT
    return Need(members=members, slots=round(slots), days=len(days), months=months,
                samples=samples, member_bytes=round(member_bytes),
                sample_bytes=round(sample_bytes),
                bytes=round(BASE + member_bytes + sample_bytes))


def available_memory() -> int | None:
    """Bytes of memory available to a new run now (MemAvailable), or None if unknown."""
    try:
        for line in _MEMINFO.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil  # optional: not a dependency of rexsim
    except ImportError:
        return None
    return int(psutil.virtual_memory().available)


def format_bytes(n: float) -> str:
    """A byte count for people: `870 MB`, `1.4 GB`, `2,300 GB` (decimal units)."""
    if n < 1e9:
        return f"{max(n, 1e6) / 1e6:,.0f} MB"
    if n < 1e11:
        return f"{n / 1e9:,.1f} GB"
    return f"{n / 1e9:,.0f} GB"


def check_size(sc: Scenario, scale: int = 1, until: dt.date | None = None, *,
               available: int | None = None) -> Need:
    """Refuse a run too large for its cap or this machine (RunError); return its `Need`.

    `available` is the memory to measure against (default: `available_memory()`; where that
    is unknown only `MAX_RUN_MEMBERS` applies). The error names what to change: `--scale`
    when the run is scaled (with the largest scale that fits), else `population.members`,
    or `behaviour.steps_per_day` when the quote samples of a long calendar are what is large.
    """
    if available is None:
        available = available_memory()
    members = sc.population.members * scale
    need = None
    if members > MAX_RUN_MEMBERS:
        what = (f"has {members:,} members, more than the {MAX_RUN_MEMBERS:,} a run may "
                f"have (sim.limits.MAX_RUN_MEMBERS)")
    else:
        need = estimate(sc, scale, until)
        if available is None or need.bytes <= available:
            return need
        what = (f"needs about {format_bytes(need.bytes)} of memory, more than the "
                f"{format_bytes(available)} this machine has available")
    if scale > 1:
        fits = _largest_scale(sc, until, available, scale)
        hint = f"; --scale {fits:,} or less fits" if fits else ""
        raise RunError(f"a run of {scale:,} x {sc.population.members:,} members "
                       f"(population.members) {what}{hint}", param="scale", option="--scale")
    if need is not None and need.sample_bytes > need.member_bytes:
        raise RunError(f"a run of {sc.behaviour.steps_per_day:,} steps a day over {need.days:,} "
                       f"trading days and {len(sc.products)} products ({need.samples:,} quote "
                       f"samples) {what}", param="behaviour.steps_per_day")
    slots = f" ({need.slots:,} member-product slots)" if need is not None else ""
    raise RunError(f"a run of {members:,} members{slots} {what}", param="population.members")


def _fits(sc: Scenario, scale: int, until: dt.date | None, available: int | None) -> bool:
    if sc.population.members * scale > MAX_RUN_MEMBERS:
        return False
    return available is None or estimate(sc, scale, until).bytes <= available


def _largest_scale(sc: Scenario, until: dt.date | None, available: int | None,
                   above: int) -> int:
    """The largest scale below `above` that fits the cap and `available` (0 if none does)."""
    lo, hi = 0, above  # scale lo fits (0 stands for none), scale hi does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _fits(sc, mid, until, available):
            lo = mid
        else:
            hi = mid
    return lo


def _main() -> None:  # pragma: no cover - a tool for re-measuring the fit
    """`python -m sim.limits [SCENARIO] [--scale K] [--until DATE] [--measure]`."""
    import argparse
    import gc
    import tempfile

    from sim.runner import run
    from sim.scenario import load_scenario

    ap = argparse.ArgumentParser(prog="python -m sim.limits",
                                 description="A run's estimated memory; with --measure, "
                                             "beside its measured peak RSS (Linux).")
    ap.add_argument("scenario", nargs="?", default="baotou-2024")
    ap.add_argument("--scale", type=int, default=1)
    ap.add_argument("--until", type=dt.date.fromisoformat, default=None)
    ap.add_argument("--set", action="append", default=[], dest="overrides")
    ap.add_argument("--measure", action="store_true")
    args = ap.parse_args()
    sc = load_scenario(args.scenario, args.overrides)
    need = estimate(sc, args.scale, args.until)
    print(msgspec.json.encode(need).decode())
    if args.measure:
        def rss(field: str) -> int:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith(field):
                    return int(line.split()[1]) * 1024
            raise OSError(f"no {field} in /proc/self/status")

        gc.collect()
        base = rss("VmRSS")
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        with tempfile.TemporaryDirectory() as tmp:
            res = run(sc, until=args.until, scale=args.scale, out=Path(tmp) / "run")
        peak = rss("VmHWM") - base
        print(f"estimated {format_bytes(need.bytes)}, measured {format_bytes(peak)} "
              f"(x{need.bytes / peak:.2f}); {res.summary['trades']:,} trades")


if __name__ == "__main__":  # pragma: no cover
    _main()
