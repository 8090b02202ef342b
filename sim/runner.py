"""One entry point that runs a scenario end to end: `run(scenario, seed) -> SimResults`.

The day: the scenario's events of the day take effect; the national market sets today's
prices (`sim.national`); the exchange opens its call auctions and some members send orders
into them; the auctions uncross at the open; then `steps_per_day` decision steps run through
the continuous sessions (the counter keys in offline orders first; the dominant producer's
block auction opens and settles on its days; each step's touch is sampled for quotes.csv);
the close expires DAY orders and sets the settlement prices; what non-members used that day
is dealt off the exchange; and the recorder streams the day to disk.

All randomness flows from the seed through per-member and per-product streams
(`sim.streams`): common random numbers across what-ifs.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import gc
import os
import time as _time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from engine import (
    Channel,
    Exchange,
    ExchangeSettings,
    JournalingExchange,
    Product,
    SelfTradePolicy,
    TradePriceRule,
)
from engine.journal import is_journal
from engine.product import NO_BAND_HIGH
from sim import rundir
from sim.agents import Agents
from sim.analysis import dominant_sellers
from sim.calendar import TradingCalendar, parse_date
from sim.counter import Counter
from sim.errors import OutputError, RunError
from sim.limits import check_size
from sim.national import National
from sim.population import build_population
from sim.recorder import Recorder, SimResults
from sim.scenario import (
    BandEvent,
    ChannelEvent,
    DemandEvent,
    Event,
    FeeEvent,
    ReturnEvent,
    Scenario,
    SupplyEvent,
    WithdrawEvent,
    load_scenario,
    scenario_dict,
    scenario_sha256,
    with_overrides,
)
from sim.streams import Streams
from sim.timeline import Timeline, member_id

__all__ = ["Simulation", "build_exchange", "run"]

Progress = Callable[[int, int], None]
STEP_OFFSET_NS = 1_000_000  # a step's requests start 1 ms after its instant


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
        untraded_settlement=e.untraded_settlement,
    )
    if journal is not None:
        return JournalingExchange(products, settings, journal=journal)
    return Exchange(products, settings)


class Simulation:
    """A prepared run: exchange, national market, members, agents and recorder, day by day.

    `sc` is a Scenario, a built-in name or a TOML path, as for `run`. `directory` is where
    the recorder streams the run's files (a staging directory); by default a temporary
    directory of the results' own. A run given a directory is one to be written, so its
    recorder also tallies the trades for the analysis as the days close.
    """

    def __init__(self, sc: Scenario | str | Path, seed: int | None = None,
                 until: dt.date | str | None = None, scale: int = 1,
                 journal: str | Path | None = None, directory: Path | None = None) -> None:
        sc = with_overrides(sc, ()) if isinstance(sc, Scenario) else load_scenario(sc)
        until = _until_date(until)
        if type(scale) is not int or scale < 1:
            raise RunError(f"expected an int >= 1, got {scale!r}", param="scale",
                           option="--scale")
        self.scenario = sc
        self.seed = sc.seed if seed is None else seed
        if type(self.seed) is not int or not 0 <= self.seed < 2**63:
            raise RunError(f"expected an int from 0 to 2**63-1, got {self.seed!r}",
                           param="seed", option="--seed")
        check_size(sc, scale, until)  # a run too large for this machine stops here, whole
        self.scale = scale
        self.calendar = cal = TradingCalendar(sc.calendar)
        days = cal.days
        if not days:
            raise RunError(f"{sc.name}: no trading days from {sc.calendar.start} to "
                           f"{sc.calendar.end} (weekends and holidays only)")
        self.ndays = _days_until(sc, days, until)
        streams = Streams(self.seed)
        self.population = pop = build_population(sc, streams, scale)
        self.national = National(sc, days, streams.products(len(sc.products)), float(scale))
        try:
            self.exchange = ex = build_exchange(sc, journal)
        except OSError as exc:
            raise OutputError(f"{journal}: cannot write the journal: {exc.strerror or exc}",
                              option="--journal") from None
        for m, jd in enumerate(pop.join_day.tolist()):
            joined = cal.auction_start(jd) if jd < len(days) else cal.close_time(len(days) - 1)
            ex.add_member(m + 1, joined=0 if jd == 0 else joined)
        self.counter = Counter(sc.counter, cal)
        self.agents = Agents(sc, pop, cal, ex, self.national, self.counter, scale)
        self.recorder = Recorder(scenario=sc.name, seed=self.seed, scale=scale,
                                 products=[p.code for p in sc.products], population=pop,
                                 days=days[: self.ndays], directory=directory,
                                 dominant=None if directory is None else  # a run to write
                                 dominant_sellers({"code": p.code, "dominant": p.dominant}
                                                  for p in sc.products))
        self.recorder.attach(ex)
        self.recorder.blocks = self.agents.deals.block_ids
        self.recorder.negotiated = self.agents.deals.negotiated_ids
        self.timeline = Timeline(sc.events, days)
        self._nonmember_frac = np.zeros(len(sc.products))
        self._bands: list[tuple[int, int]] = []  # the last day's price band per product
        self.day = 0
        self.ended = False  # results() ends the run: its files are closed

    def run_day(self, check: bool = False) -> None:
        """Simulate the next trading day (RunError once every day has run, or after results())."""
        if self.ended:
            raise RunError(f"the run has ended at day {self.day} of {self.ndays}: results() "
                           f"closed its files; start a new Simulation (the same seed repeats "
                           f"the days) to run further")
        if self.day >= self.ndays:
            raise RunError(f"the run has ended: all {self.ndays} trading days are simulated "
                           f"(to {self.calendar.days[self.ndays - 1]}); call results()")
        d = self.day
        cal = self.calendar
        ex = self.exchange
        agents = self.agents
        sc = self.scenario
        codes = [p.code for p in sc.products]
        steps = cal.steps(d, sc.behaviour.steps_per_day)
        t0 = cal.auction_start(d)
        for ev in self.timeline.on(d):
            self._apply_event(ev, t0)
        bars = [ex.current_bar(code) for code in codes] if d else None
        self.national.start_day(d, [ex.settlement(c) for c in codes],
                                [b.volume for b in bars] if bars else [0] * len(codes),
                                _at_limit(bars, self._bands) if bars else None)
        agents.apply(ex.begin_day(time=t0))
        since = (cal.days[d] - cal.days[d - 1]).days if d else 1
        agents.start_day(d, since)
        agents.auction_orders(t0 + STEP_OFFSET_NS)
        agents.apply(ex.open_market(time=cal.open_time(d)))
        block = sc.block_auctions
        open_at = settle_at = -1
        if block is not None and len(steps) > 1 and d % block.every_days == block.every_days // 2:
            open_at = min(1, len(steps) - 2)
            settle_at = min(open_at + block.window_steps, len(steps) - 1)
        sample = self.recorder.sample
        for k, t in enumerate(steps):
            agents.key_in(t)
            if k == settle_at:
                agents.deals.settle_block(t)
            if k == open_at:
                agents.deals.open_block(t, steps[settle_at])
            agents.step(t + STEP_OFFSET_NS, k)
            sample(t, ex)
        bands = [ex.band(c) for c in codes]  # today's: once closed it would be tomorrow's
        self._bands = bands
        agents.apply(ex.close_market(time=cal.close_time(d)))
        self._nonmembers()
        shown = [(None, None) if hi >= NO_BAND_HIGH else (lo, hi) for lo, hi in bands]  # no band
        self.recorder.end_day([ex.current_bar(c) for c in codes], agents.nat_int.tolist(), shown,
                              agents.off.take_day(), open_time=cal.open_time(d))
        if check:
            agents.audit()
            for c in codes:
                ex.book(c).check_invariants()
        self.day += 1

    def _nonmembers(self) -> None:
        """What non-members used today (national use less the members') is dealt off it."""
        a = self.agents
        use = self.national.use()
        members = np.bincount(a.slot_p[a.is_user], weights=a.flow[a.is_user],
                              minlength=len(use))
        self._nonmember_frac += np.maximum(use - members, 0.0)
        whole = np.floor(self._nonmember_frac / 10) * 10  # whole 10 kg: exact values
        self._nonmember_frac -= whole
        for p, q in enumerate(whole.astype(np.int64).tolist()):
            if q:
                a.off.add(p, 0, "buy", q, int(a.nat_int[p]) * q // 10)

    def _apply_event(self, ev: Event, t: int) -> None:
        """One dated event takes effect at instant t (before the day's call auction)."""
        ex, agents = self.exchange, self.agents
        if isinstance(ev, SupplyEvent | DemandEvent):
            self.national.apply_shift(ev)
        elif isinstance(ev, WithdrawEvent):
            member = member_id(ev.member)
            agents.apply(ex.suspend_member(member, time=t))
            agents.set_withdrawn(member - 1, True)
        elif isinstance(ev, ReturnEvent):
            member = member_id(ev.member)
            ex.reinstate_member(member)
            agents.set_withdrawn(member - 1, False)
        elif isinstance(ev, BandEvent):
            for code in ev.products or [p.code for p in self.scenario.products]:
                ex.set_band(code, band_pct=ev.pct, band_abs=ev.abs)
        elif isinstance(ev, FeeEvent):
            agents.fee_bp = ev.bp
        elif isinstance(ev, ChannelEvent):
            ex.set_channel_open(Channel(ev.channel), ev.open, time=t)
            agents.channel_open[ev.channel] = ev.open

    def results(self, staged_for: Path | None = None) -> SimResults:
        """The run's results to the last day run, with request counts, flows and holdings.

        This ends the run (the recorder closes its files): a run stopped early gives the
        results of its days so far, and `run_day` refuses to continue it.
        """
        self.ended = True
        a = self.agents
        cash, stock = a.holdings()
        extra: dict[str, Any] = {
            "block_auctions": a.deals.summary(),
            "flows": {**a.totals, "produced_kg": sum(a.produced_kg)},
            "requests": dict(a.counts),
            "events": self.timeline.summary(self.day),
        }
        return self.recorder.results(extra, (cash, stock), staged_for=staged_for)


def _at_limit(bars: list[Any], bands: list[tuple[int, int]]) -> list[int]:
    """Per product, whether the day traded at its band's top (1), its bottom (-1), or not (0)."""
    out = []
    for b, (lo, hi) in zip(bars, bands, strict=True):
        out.append(1 if b.volume and b.high >= hi else -1 if b.volume and b.low <= lo else 0)
    return out


def _days_until(sc: Scenario, days: list[dt.date], until: dt.date | None) -> int:
    """How many trading days a run to `until` covers (RunError when it covers none)."""
    if until is None:
        return len(days)
    if until < days[0]:
        raise RunError(f"{until} is before the first trading day {days[0]}", param="until",
                       option="--until")
    if until > sc.calendar.end:
        raise RunError(f"{until} is after the scenario's end {sc.calendar.end}",
                       param="until", option="--until")
    return sum(1 for d in days if d <= until)


def run(scenario: Scenario | str | Path = "baotou-2024", seed: int | None = None,
        until: dt.date | str | None = None, out: str | Path | None = None,
        progress: bool | Progress | None = None, scale: int = 1,
        check: bool = False, overrides: list[str] | tuple[str, ...] = (),
        journal: str | Path | None = None, command: str | None = None) -> SimResults:
    """Run a scenario (a Scenario, a built-in name or a TOML path) and return its results.

    `seed` (an int from 0 to 2**63-1) seeds every random stream, the scenario's own `seed` by
    default: the same scenario and seed give byte-identical files. `until` stops after that
    date; `out` writes the run's files there (whole or not at all;
    checked before the run starts); `progress` is True for a tqdm bar over trading days or a
    callable(day, days); `scale` multiplies the members, the national market and the flow;
    `check` audits the ledger and every book after each day; `overrides` are `KEY=VALUE`
    settings applied to the scenario first (as `rexsim run --set`, e.g.
    `"products.PRND_OX.band_pct=10"`); the summary lists them. `journal` is a path to write
    every exchange command to (see `engine.journal`; `rexsim replay` reads it); it is written
    beside that path (or with the run's files, when it lies in `out`) and renamed into place
    when the run completes; a path where it would replace anything but an earlier journal is
    refused before the run starts. `command` is how the run was asked for, recorded in the
    summary's provenance (by default, this call written out).
    """
    until = _until_date(until)
    if not isinstance(overrides, list | tuple):
        raise RunError(f"expected a list of 'KEY=VALUE' strings, got a "
                       f"{type(overrides).__name__}", param="overrides", option="--set")
    if not (progress is None or type(progress) is bool or callable(progress)):
        raise RunError(f"expected True, False, None or a callable (done, total), got "
                       f"{progress!r}", param="progress")
    if journal is not None and not isinstance(journal, str | os.PathLike):
        raise RunError(f"expected a path, got {journal!r}", param="journal",
                       option="--journal")
    if journal is not None and not os.fspath(journal).strip():
        raise OutputError("expected a file, got an empty path", param="journal",
                          option="--journal")
    if command is None:
        command = _python_call(scenario, seed, until, scale, overrides, journal)
    overrides = list(overrides)
    if isinstance(scenario, Scenario):
        sc = with_overrides(scenario, overrides)
    else:
        sc = load_scenario(scenario, overrides)
    own: list[str] = []
    if out is not None:  # every output checked before anything is done: --out first
        own = _own_files(out, journal)
        rundir.check_target(out, own)
    if journal is not None:
        _check_journal(journal, out, own)
    staging = rundir.stage(out, own) if out is not None else None
    journal_tmp = None
    if journal is not None:  # written where the new run's files are, or beside its path
        journal_tmp = staging / own[0] if own else _aside(journal)
    started = _time.perf_counter()
    # The run allocates millions of short-lived objects (events, orders, tuples) and makes
    # almost no reference cycles, so the cyclic collector would only re-scan live state: it
    # is paused for the run (reference counting still frees everything) and restored after.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    sim = None
    done = False
    try:
        sim = Simulation(sc, seed, until, scale, journal_tmp, directory=staging)
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
        res = sim.results(staged_for=None if out is None else Path(out))
        res.summary = _with_provenance(res.summary, sc, command, overrides, journal)
        done = True
    finally:
        if sim is not None and isinstance(sim.exchange, JournalingExchange):
            sim.exchange.close()  # flushes the last batch, also when the run failed
        if sim is not None:
            sim.recorder.close()
        sim = None  # the books, agents and tallies are done with: free them before the
        # analysis reads the run back, so its peak memory adds to nothing (issue 11)
        gc.collect()  # and whatever cycles the paused collector left
        if gc_was_enabled:
            gc.enable()
        if not done:
            if staging is not None:
                rundir.discard(staging)
            if journal_tmp is not None and journal_tmp.exists():
                journal_tmp.unlink()
    res.wall_seconds = _time.perf_counter() - started
    def put_journal() -> None:
        try:
            os.replace(journal_tmp, journal)
        except OSError as exc:
            raise OutputError(f"{journal}: cannot write the journal: {exc.strerror or exc}",
                              param="journal", option="--journal") from None

    apart = journal_tmp is not None and not own  # a journal outside the run's directory
    try:  # the run directory first: a run that cannot be published leaves no journal either
        if out is not None:  # with the journal in the same step: Ctrl-C waits for both
            res.write(out, own, then=put_journal if apart else None)
        elif apart:
            with rundir.uninterrupted():
                put_journal()
    except BaseException:
        if staging is not None:
            rundir.discard(staging)  # gone already once published; else nothing is left
        if journal_tmp is not None and not own:
            journal_tmp.unlink(missing_ok=True)
        raise
    return res


def _until_date(until: object) -> dt.date | None:
    """`until` as a date: a date or a string YYYY-MM-DD; RunError for anything else."""
    if until is None or (isinstance(until, dt.date) and not isinstance(until, dt.datetime)):
        return until
    if isinstance(until, str):
        try:
            return parse_date(until)
        except ValueError:
            raise RunError(f"expected a date YYYY-MM-DD, got {until!r}", param="until",
                           option="--until") from None
    raise RunError(f"expected a date or 'YYYY-MM-DD', got {until!r}", param="until",
                   option="--until")


def _check_journal(journal: str | Path, out: str | Path | None, own: list[str]) -> None:
    """Refuse, naming the user's path, a journal that would clobber a file or cannot be written.

    An existing rexsim journal may be replaced; no other file, no directory, no run's own
    file and nothing inside another run's directory.
    """
    def refuse(detail: str) -> OutputError:
        return OutputError(detail, param="journal", option="--journal")

    path = Path(journal)
    where = path.resolve()
    if out is not None:
        target = Path(out).resolve()
        if where == target:
            raise refuse(f"{journal} is the run's directory too (--out {out}); give the "
                         f"journal another path")
        if where in target.parents:
            raise refuse(f"{journal} holds the run's directory (--out {out}); give the "
                         f"journal another path")
        if own and _is_run_file(path.name):
            raise refuse(f"{journal} is one of the files of the run in {out}; give the "
                         f"journal another name")
    if not own and (where.parent / "summary.json").is_file():
        raise refuse(f"{journal} is inside another run's directory ({path.parent}); give "
                     f"the journal another path")
    if path.is_symlink():  # the run would replace the link, not what it points to
        raise refuse(f"{journal} is a symbolic link (to {os.readlink(path)}); give the file "
                     f"itself or another path")
    if path.is_dir():
        raise refuse(f"{journal} is a directory, not a file")
    if path.exists() and not path.is_file():
        raise refuse(f"{journal} is not a regular file")
    if path.is_file() and not is_journal(path):
        raise refuse(f"{journal} exists and is not a rexsim journal; give another path or "
                     f"remove it")
    if own:
        return  # written in the run's staging directory: `rundir.stage` checks that place
    aside = _aside(journal)
    try:
        with open(aside, "ab"):
            pass
        aside.unlink()
    except OSError as exc:
        raise OutputError(f"{journal}: cannot write the journal: {exc.strerror or exc}",
                          param="journal", option="--journal") from None


def _aside(journal: str | Path) -> Path:
    """Where a run writes its journal until it completes: beside the final path."""
    path = Path(journal)
    return path.with_name(f".{path.name}.partial-{os.getpid()}")


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


def _is_run_file(name: str) -> bool:
    """Whether a run's directory has a file of this name of its own (its tables, its report)."""
    return name in rundir.RUN_FILES or any(fnmatch.fnmatch(name, p)
                                           for p in rundir.DERIVED_PATTERNS)


def _own_files(out: str | Path, journal: str | Path | None) -> list[str]:
    """Files of this run that live in its output directory besides the run files (a journal)."""
    if journal is None:
        return []
    j, o = Path(journal).resolve(), Path(out).resolve()
    return [j.name] if j.parent == o else []


def _python_call(scenario: Any, seed: Any, until: Any, scale: int, overrides: Any,
                 journal: Any) -> str:
    """The call of `sim.run` written out, for a run's provenance."""
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
