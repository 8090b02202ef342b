"""One entry point that runs a scenario end to end: `run(scenario, seed) -> SimResults`.

The day: the exchange opens its call auctions, some enterprises send orders into them, the
auctions uncross at the open, then `steps_per_day` decision steps run through the continuous
sessions (the counter keys in offline orders first; the dominant seller's block auction opens
and settles on its days), and the close expires DAY orders and sets the settlement prices.
All randomness comes from one `numpy.random.SeedSequence(seed)`, spawned per component.
"""

from __future__ import annotations

import bisect
import datetime as dt
import gc
import time as _time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from engine import (
    Exchange,
    ExchangeSettings,
    JournalingExchange,
    Product,
    SelfTradePolicy,
    TradePriceRule,
)
from sim.agents import Agents
from sim.calendar import TradingCalendar
from sim.errors import OutputError, RunError
from sim.counter import Counter
from sim.population import DOMINANT_HEAVY, DOMINANT_LIGHT, build_population
from sim.prices import price_paths
from sim import rundir
from sim.recorder import Recorder, SimResults
from sim.scenario import (
    InterventionSpec,
    Scenario,
    load_scenario,
    scenario_dict,
    scenario_sha256,
    with_overrides,
)

__all__ = ["Simulation", "build_exchange", "run"]

Progress = Callable[[int, int], None]


def build_exchange(sc: Scenario, journal: str | Path | None = None) -> Exchange:
    """The exchange of a scenario: its products and settings, no members yet.

    With `journal` (a path), a `JournalingExchange` that writes every command to that file,
    so that `engine.replay(journal)` reproduces every event of the run.
    """
    products = [
        Product(p.code, p.name, p.tick, p.lot, p.reference_price, band_pct=p.band_pct,
                band_abs=p.band_abs, min_block=p.min_block)
        for p in sc.products
    ]
    e = sc.exchange
    settings = ExchangeSettings(
        stp=SelfTradePolicy[e.stp.upper()],
        trade_price=TradePriceRule[e.trade_price.upper()],
        auction_tie_break=e.auction_tie_break,
        block_uniform_price=e.block_uniform_price,
    )
    if journal is not None:
        return JournalingExchange(products, settings, journal=journal)
    return Exchange(products, settings)


class Simulation:
    """A prepared run: exchange, population, agents and recorder, advanced day by day."""

    def __init__(self, sc: Scenario, seed: int | None = None, until: dt.date | None = None,
                 scale: int = 1, journal: str | Path | None = None) -> None:
        if type(scale) is not int or scale < 1:
            raise RunError(f"expected an int >= 1, got {scale!r}", param="scale",
                           option="--scale")
        self.scenario = sc
        self.seed = sc.seed if seed is None else seed
        if type(self.seed) is not int or self.seed < 0:
            raise RunError(f"expected an int >= 0, got {self.seed!r}", param="seed",
                           option="--seed")
        self.scale = scale
        self.calendar = TradingCalendar(sc.calendar)
        days = self.calendar.days
        if not days:
            raise RunError(f"{sc.name}: no trading days from {sc.calendar.start} to "
                            f"{sc.calendar.end} (weekends and holidays only)")
        if until is not None:
            if until < sc.calendar.start:
                raise RunError(f"{until} is before the scenario's start {sc.calendar.start}",
                               param="until", option="--until")
            self.ndays = sum(1 for d in days if d <= until)
        else:
            self.ndays = len(days)
        pop_ss, price_ss, agent_ss, counter_ss = np.random.SeedSequence(self.seed).spawn(4)
        self.population = build_population(sc, np.random.default_rng(pop_ss), scale)
        paths = price_paths(sc.products, len(days), np.random.default_rng(price_ss))
        self.paths = paths
        try:
            self.exchange = ex = build_exchange(sc, journal)
        except OSError as exc:
            raise OutputError(f"{journal}: cannot write the journal: {exc.strerror or exc}",
                              option="--journal") from None
        cal = self.calendar
        for m, jd in enumerate(self.population.join_day.tolist()):
            joined = cal.auction_start(jd) if jd < len(days) else cal.close_time(len(days) - 1)
            ex.add_member(m + 1, joined=0 if jd == 0 else joined)
        self.counter = Counter(sc.counter, cal, np.random.default_rng(counter_ss))
        self.agents = Agents(sc, self.population, cal, ex, paths,
                             np.random.default_rng(agent_ss), self.counter, scale)
        self.recorder = Recorder(scenario=sc.name, seed=self.seed, scale=scale,
                                 products=[p.code for p in sc.products],
                                 population=self.population, days=days[: self.ndays])
        self.recorder.attach(ex)
        self.interventions = _schedule(sc.interventions, days)
        self.day = 0

    def run_day(self, check: bool = False) -> None:
        """Simulate the next trading day."""
        d = self.day
        cal = self.calendar
        ex = self.exchange
        agents = self.agents
        sc = self.scenario
        steps = cal.steps(d, sc.behaviour.steps_per_day)
        t0 = cal.auction_start(d)
        for iv in self.interventions.get(d, ()):
            self._intervene(iv, t0)
        agents.apply(ex.begin_day(time=t0))
        agents.start_day(d)
        agents.auction_orders(t0 + 1_000_000)
        agents.apply(ex.open_market(time=cal.open_time(d)))
        block = sc.block_auctions
        open_at = settle_at = -1
        if block is not None and len(steps) > 1 and d % block.every_days == block.every_days // 2:
            open_at = min(1, len(steps) - 2)
            settle_at = min(open_at + block.window_steps, len(steps) - 1)
        for k, t in enumerate(steps):
            agents.key_in(t)
            if k == settle_at:
                agents.deals.settle_block(t)
            if k == open_at:
                agents.deals.open_block(t, steps[settle_at])
            agents.step(t + 1_000_000)
        agents.apply(ex.close_market(time=cal.close_time(d)))
        self.recorder.end_day([ex.settlement(p.code) for p in sc.products])
        if check:
            agents.audit()
            for p in sc.products:
                ex.book(p.code).check_invariants()
        self.day += 1

    def _intervene(self, iv: InterventionSpec, t: int) -> None:
        """Withdraw a member (the exchange suspends it and cancels its orders) or bring it back."""
        member = member_id(iv.member)
        if iv.action == "withdraw":
            self.agents.apply(self.exchange.suspend_member(member, time=t))
            self.agents.set_withdrawn(member - 1, True)
        else:
            self.exchange.reinstate_member(member)
            self.agents.set_withdrawn(member - 1, False)

    def results(self) -> SimResults:
        """The recorder's results so far, with request counts and final holdings."""
        cash, stock = self.agents.holdings()
        days = self.calendar.days
        extra: dict[str, Any] = {
            "requests": dict(self.agents.counts),
            "interventions": [
                {"date": iv.date.isoformat(), "action": iv.action,
                 "member": member_id(iv.member),
                 "applied": days[d].isoformat() if d < self.day else None}
                for d, iv in sorted(((d, iv) for d, ivs in self.interventions.items()
                                     for iv in ivs), key=lambda x: x[0])
            ],
        }
        return self.recorder.results(extra, (cash, stock))


def member_id(member: str | int) -> int:
    """The enterprise id an intervention names (`dominant_light`, `dominant_heavy` or an id)."""
    if member == "dominant_light":
        return DOMINANT_LIGHT
    if member == "dominant_heavy":
        return DOMINANT_HEAVY
    return int(member)


def _schedule(interventions: list[InterventionSpec], days: list[dt.date]
              ) -> dict[int, list[InterventionSpec]]:
    """Interventions by the index of the first trading day on or after their date, in order."""
    out: dict[int, list[InterventionSpec]] = {}
    for iv in sorted(interventions, key=lambda iv: iv.date):  # stable: file order on a tie
        d = bisect.bisect_left(days, iv.date)
        out.setdefault(d, []).append(iv)
    return out


def run(scenario: Scenario | str | Path = "baotou-2024", seed: int | None = None,
        until: dt.date | str | None = None, out: str | Path | None = None,
        progress: bool | Progress | None = None, scale: int = 1,
        check: bool = False, overrides: list[str] | tuple[str, ...] = (),
        journal: str | Path | None = None, command: str | None = None) -> SimResults:
    """Run a scenario (a Scenario, a built-in name or a TOML path) and return its results.

    `until` stops after that date; `out` writes the four output files there; `progress` is
    True for a tqdm bar over trading days or a callable(day, days); `scale` multiplies the
    population and order flow; `check` audits the ledger and every book after each day;
    `overrides` are `KEY=VALUE` settings applied to the scenario first (as `rexsim run
    --set`, e.g. `"products.PRND_OX.band_pct=10"`); the summary lists them. `journal` is a
    path to write every exchange command to (see `engine.journal`; `rexsim replay` reads it).
    `command` is how the run was asked for, recorded in the summary's provenance (the CLI
    passes its command line; by default, this call written out).
    """
    if command is None:
        command = _python_call(scenario, seed, until, scale, overrides, journal)
    overrides = list(overrides)
    if isinstance(scenario, Scenario):
        sc = with_overrides(scenario, overrides)
    else:
        sc = load_scenario(scenario, overrides)
    if isinstance(until, str):
        try:
            until = dt.date.fromisoformat(until)
        except ValueError:
            raise RunError(f"expected a date YYYY-MM-DD, got {until!r}", param="until",
                           option="--until") from None
    if out is not None:
        own = _own_files(out, journal)
        rundir.check_target(out, own)  # before the run: a bad --out is found at once
    started = _time.perf_counter()
    # The run allocates millions of short-lived objects (events, orders, tuples) and makes
    # almost no reference cycles, so the cyclic collector would only re-scan live state: it
    # is paused for the run (reference counting still frees everything) and restored after.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    sim = None
    try:
        sim = Simulation(sc, seed, until, scale, journal)
        bar = None
        if progress is True:
            from tqdm import tqdm

            bar = tqdm(total=sim.ndays, unit="day", desc=sc.name, leave=False)
        for d in range(sim.ndays):
            sim.run_day(check=check)
            if bar is not None:
                bar.update(1)
            elif callable(progress):
                progress(d + 1, sim.ndays)
        if bar is not None:
            bar.close()
        res = sim.results()
        res.summary = _with_provenance(res.summary, sc, command, overrides, journal)
    finally:
        if sim is not None and isinstance(sim.exchange, JournalingExchange):
            sim.exchange.close()  # flushes the last batch, also when the run failed
        if gc_was_enabled:
            gc.enable()
    res.wall_seconds = _time.perf_counter() - started
    if out is not None:
        res.write(out, own)
    return res


def _with_provenance(summary: dict[str, Any], sc: Scenario, command: str,
                     overrides: list[str], journal: str | Path | None) -> dict[str, Any]:
    """The summary with what produced it: version, command, the resolved scenario and its hash.

    The resolved scenario (every field after overrides, defaults filled in) goes last: it is
    long, and `sim.load_scenario`-compatible data that reruns the run exactly.
    """
    from sim import __version__

    head = {"rexsim_version": __version__, "command": command, "scenario": sc.name,
            "scenario_sha256": scenario_sha256(sc)}
    body = {k: v for k, v in summary.items() if k not in head}
    body["overrides"] = overrides
    body["journal"] = None if journal is None else str(journal)
    return {**head, **body, "resolved_scenario": scenario_dict(sc)}


def _own_files(out: str | Path, journal: str | Path | None) -> list[str]:
    """Files of this run that live in its output directory besides the run files (a journal)."""
    if journal is None:
        return []
    j, o = Path(journal).resolve(), Path(out).resolve()
    return [j.name] if j.parent == o else []


def _python_call(scenario: Any, seed: Any, until: Any, scale: int, overrides: Any,
                 journal: Any) -> str:
    """This call of `sim.run` written out, for a run's provenance."""
    if isinstance(scenario, Scenario):
        scenario = f"<Scenario {scenario.name!r}>"
    else:
        scenario = repr(str(scenario))
    args = [scenario]
    for name, value, default in (("seed", seed, None), ("until", until, None),
                                 ("scale", scale, 1), ("overrides", list(overrides), []),
                                 ("journal", journal, None)):
        if value != default:
            shown = repr(value.isoformat() if isinstance(value, dt.date) else value)
            args.append(f"{name}={shown}")
    return f"sim.run({', '.join(args)})"
