"""Dated scenario events, and common random numbers.

Withdrawals and returns, national shocks, fees, bands, channels; a what-if leaves every
other member's random draws exactly as they were.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

import sim.agents as agents_module
import sim.streams as streams_module
from sim import Simulation, run
from sim.population import DOMINANT_LIGHT
from sim.scenario import with_overrides
from tests.sim.conservation import assert_conserved
from tests.sim.small import small_scenario

WITHDRAW = dt.date(2024, 1, 8)
RETURN = dt.date(2024, 1, 15)
SHOCK = [f'events=[{{date={WITHDRAW}, kind="withdraw", member="dominant_light"}}, '
         f'{{date={RETURN}, kind="return", member="dominant_light"}}]']


@pytest.fixture(scope="module")
def runs():
    base = run(small_scenario(), seed=3)
    shocked = run(small_scenario(), seed=3, overrides=SHOCK, check=True)
    return base, shocked


def test_a_withdrawn_member_trades_nothing_on_the_exchange_until_it_returns(runs):
    _, res = runs
    mine = [dt.date.fromisoformat(t["date"]) for t in res.trades.as_dicts()
            if DOMINANT_LIGHT in (t["buyer"], t["seller"])]
    assert any(d < WITHDRAW for d in mine) and any(d >= RETURN for d in mine)
    assert not [d for d in mine if WITHDRAW <= d < RETURN]


def test_a_producer_that_withdraws_keeps_producing_and_sells_off_the_exchange(runs):
    base, res = runs
    def sold_off(r):
        return sum(o["qty_kg"] for o in r.off_exchange.as_dicts() if o["member"] == DOMINANT_LIGHT
                   and o["side"] == "sell"
                   and WITHDRAW <= dt.date.fromisoformat(o["date"]) < RETURN)
    assert sold_off(res) > sold_off(base) and sold_off(res) > 0


def test_before_the_withdrawal_the_run_is_unchanged(runs):
    base, res = runs
    rows = base.trades.rows
    cut = next(i for i, r in enumerate(rows) if dt.date.fromisoformat(r[1]) >= WITHDRAW)
    assert res.trades.rows[:cut] == rows[:cut] and res.trades.rows != rows


def test_the_summary_lists_each_event_with_the_day_it_applied(runs):
    _, res = runs
    assert res.summary["overrides"] == SHOCK
    assert [(e["kind"], e["date"], e["applied"]) for e in res.summary["events"]] == [
        ("withdraw", str(WITHDRAW), str(WITHDRAW)), ("return", str(RETURN), str(RETURN))]
    assert "member 1 withdraws" in res.summary["events"][0]["what"]


def test_an_event_on_a_holiday_applies_on_the_next_trading_day():
    saturday = dt.date(2024, 1, 13)
    res = run(small_scenario(), seed=3, until="2024-01-16", overrides=[
        f'events=[{{date={saturday}, kind="withdraw", member=5}}]'])
    assert res.summary["events"][0]["applied"] == "2024-01-15"


def test_holdings_are_conserved_through_a_withdrawal_and_a_return():
    sim = Simulation(with_overrides(small_scenario(), SHOCK), seed=5)
    for _ in range(sim.ndays):
        sim.run_day(check=True)
        if WITHDRAW <= sim.calendar.days[sim.day - 1] < RETURN:
            assert not [o for p in sim.scenario.products
                        for o in sim.exchange.book(p.code).orders() if o.owner == DOMINANT_LIGHT]
    sim.results()
    assert_conserved(sim)


def test_a_national_supply_cut_moves_the_national_price_to_its_equilibrium():
    cut = ['events=[{date=2024-01-03, kind="supply", group="light", pct=-20}]']
    base = Simulation(small_scenario(), seed=2)
    shock = Simulation(with_overrides(small_scenario(), cut), seed=2)
    for s in (base, shock):
        for _ in range(s.ndays):
            s.run_day()
    p = [x.code for x in shock.scenario.products].index("PRND_OX")
    implied = shock.national.target[p]
    assert implied == pytest.approx(-math.log(0.8) / 1.0)
    # the rest-of-market response has closed almost all its gap (the pull dilutes it a little)
    assert shock.national.x[p] == pytest.approx(implied, rel=0.01)
    rise = math.log(shock.national.price[p] / base.national.price[p])
    assert 0.8 * implied < rise < 1.05 * implied


def test_a_fee_event_changes_what_every_later_order_pays():
    free = ['events=[{date=2024-01-03, kind="fee", bp=0}]']
    a = Simulation(with_overrides(small_scenario(), free), seed=2)
    a.run_day()
    assert a.agents.totals["fees_fen"] > 0
    a.run_day()  # the 3rd: only orders lodged at the counter on the 2nd still pay, at 5 bp
    fees = a.agents.totals["fees_fen"]
    for _ in range(a.ndays - 2):
        a.run_day(check=True)
    assert a.agents.totals["fees_fen"] == fees  # nothing placed from the 3rd on pays
    a.results()
    assert_conserved(a)


def test_the_same_shock_and_seed_give_identical_trades(runs):
    _, res = runs
    again = run(small_scenario(), seed=3, overrides=SHOCK)
    assert again.trades.rows == res.trades.rows


def test_withdrawing_a_member_leaves_every_other_members_draws_identical(monkeypatch):
    """Common random numbers: any draw both runs made has the same value.

    Record every draw (stream key, draw number) -> value; the other members draw from the
    same keys.
    """
    drawn: dict[str, dict[tuple[int, int, str], float]] = {}

    def recording(name, fn, log):
        def draw(keys, counter, *rest):
            out = fn(keys, counter, *rest)
            first = out[0] if isinstance(out, tuple) else out
            for k, v in zip(np.atleast_1d(keys).tolist(), np.atleast_1d(first).tolist(),
                            strict=True):
                log[(k, counter, name)] = v
            return out
        return draw

    results = {}
    for tag, overrides in (("base", []), ("shock", [
            'events=[{date=2024-01-08, kind="withdraw", member=29}]'])):
        log: dict[tuple[int, int, str], float] = {}
        for name in ("uniform", "normal", "normal2"):
            monkeypatch.setattr(agents_module, name,
                                recording(name, getattr(streams_module, name), log))
        s = Simulation(with_overrides(small_scenario(), overrides), seed=4)
        for _ in range(s.ndays):
            s.run_day()
        drawn[tag] = log
        results[tag] = s
        monkeypatch.undo()
    base, shock = results["base"].agents, results["shock"].agents
    others = base.slot_m != 28  # member 29 (a magnet maker that trades online) is index 28
    assert np.array_equal(base.keys[others], shock.keys[others])
    assert np.array_equal(base.friction[others], shock.friction[others])
    common = drawn["base"].keys() & drawn["shock"].keys()
    assert len(common) > 10_000
    assert all(drawn["base"][k] == drawn["shock"][k] for k in common)
    # and the shocked run changed the market: what members did differs after the date
    assert results["base"].recorder.kg != results["shock"].recorder.kg


def _by_day(res, product):
    rows = [r for r in res.daily.rows if r[res.daily.columns.index("product")] == product]
    cols = res.daily.columns
    return [dict(zip(cols, r, strict=True)) for r in rows]


def test_a_band_event_sets_each_products_band_from_its_date():
    """A band event on the 8th narrows PRND_OX's band to +-2% from that day on.

    Around the previous settlement; before it the scenario's 5% holds, other products keep
    theirs, and every trade stays inside its day's band.
    """
    ev = ['events=[{date=2024-01-08, kind="band", pct=2, products=["PRND_OX"]}]']
    res = run(small_scenario(), seed=4, overrides=ev, check=True)
    days = _by_day(res, "PRND_OX")
    for prev, day in zip(days, days[1:], strict=False):
        width = (day["band_high"] - day["band_low"]) / 2 / prev["settlement"]
        want = 0.02 if day["date"] >= "2024-01-08" else 0.05
        assert width == pytest.approx(want, abs=0.001), day["date"]
    dy = next(p for p in small_scenario().products if p.code == "DY_OX").band_pct / 100
    other = _by_day(res, "DY_OX")
    assert all((d["band_high"] - d["band_low"]) / 2 / p["settlement"] == pytest.approx(
        dy, abs=0.001) for p, d in zip(other, other[1:], strict=False))
    band = {d["date"]: (d["band_low"], d["band_high"]) for d in days}
    cols = res.trades.columns
    for r in res.trades.rows:
        t = dict(zip(cols, r, strict=True))
        if t["product"] == "PRND_OX" and t["kind"] != "negotiated":
            low, high = band[t["date"]]
            assert low <= t["price"] <= high


def test_closing_the_offline_channel_moves_offline_members_off_the_exchange():
    """While the offline channel is closed no offline trade is matched.

    Members still offline deal off the exchange instead; when it reopens, offline trading
    resumes.
    """
    ev = ['events=[{date=2024-01-08, kind="channel", channel="offline", open=false}, '
          '{date=2024-01-15, kind="channel", channel="offline", open=true}]']
    base = run(small_scenario(), seed=5)
    shut = run(small_scenario(), seed=5, overrides=ev, check=True)

    def offline_kg(res, inside):
        cols = res.trades.columns
        return sum(r[cols.index("qty_kg")] for r in res.trades.rows
                   if r[cols.index("channel")] == "offline" and inside(r[cols.index("date")]))

    closed = lambda day: "2024-01-08" <= day < "2024-01-15"  # noqa: E731
    assert offline_kg(base, closed) > 0
    assert offline_kg(shut, closed) == 0
    assert offline_kg(shut, lambda day: day >= "2024-01-15") > 0

    def off_kg(res):
        cols = res.daily.columns
        return sum(r[cols.index("off_exchange_kg")] for r in res.daily.rows
                   if closed(r[cols.index("date")]))

    assert off_kg(shut) > off_kg(base)
