"""End-to-end runs of a small scenario: exact tallies, determinism, conservation, no debts."""

from __future__ import annotations

import csv
import json
from collections import defaultdict

import msgspec
import numpy as np
import pytest

from engine import Accepted, Channel
from sim import Simulation, run
from sim.calendar import NS_PER_MINUTE
from sim.errors import RexsimError as UserError
from sim.scenario import with_overrides
from tests.sim.conservation import assert_conserved
from tests.sim.small import END, small_scenario


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    # a seed whose three weeks see every way of trading (negotiated blocks are rare in them)
    res = run(small_scenario(), seed=1, out=out, check=True)
    return res, out


def _read(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_trades_csv_resums_to_the_recorder_exactly(small_run):
    res, out = small_run
    summary = json.loads((out / "summary.json").read_text())
    rows = _read(out / "trades.csv")
    assert len(rows) == summary["trades"] > 0
    kg = fen = 0
    by_product = defaultdict(lambda: [0, 0])
    by_channel = defaultdict(lambda: [0, 0])
    bought = defaultdict(int)
    sold = defaultdict(int)
    for r in rows:
        q, v, price = int(r["qty_kg"]), int(r["value_fen"]), int(r["price"])
        assert v == price * q // 10 and price * q % 10 == 0
        kg += q
        fen += v
        by_product[r["product"]][0] += q
        by_product[r["product"]][1] += v
        by_channel[r["channel"]][0] += q
        by_channel[r["channel"]][1] += v
        bought[int(r["buyer"])] += q
        sold[int(r["seller"])] += q
    assert (kg, fen) == (summary["tonnage_kg"], summary["value_fen"])
    assert summary["tonnage_t"] == kg / 1000 and summary["value_yuan"] == fen / 100
    for code, p in summary["by_product"].items():
        assert [p["tonnage_kg"], p["value_fen"]] == by_product.get(code, [0, 0])
    for name, c in summary["by_channel"].items():
        assert [c["tonnage_kg"], c["value_fen"]] == by_channel.get(name, [0, 0])
    for e in _read(out / "enterprises.csv"):
        m = int(e["member"])
        assert int(e["bought_kg"]) == bought.get(m, 0)
        assert int(e["sold_kg"]) == sold.get(m, 0)
    daily_kg = sum(int(d["volume_kg"]) for d in _read(out / "daily.csv"))
    assert daily_kg == kg


def test_summary_has_the_fixed_keys_and_trades_csv_the_fixed_columns(small_run):
    _, out = small_run
    summary = json.loads((out / "summary.json").read_text())
    for key in ("tonnage_t", "value_yuan", "members", "provinces", "online_members_start",
                "online_members_end", "trades", "seed", "scenario"):
        assert key in summary
    header = (out / "trades.csv").read_text().splitlines()[0].split(",")
    for col in ("time", "product", "price", "qty_kg", "value_fen", "channel", "buyer", "seller"):
        assert col in header


def test_summary_records_the_version_the_call_and_the_resolved_scenario(small_run):
    import sim
    from sim.scenario import Scenario, scenario_sha256

    res, _ = small_run
    s = res.summary
    assert s["rexsim_version"] == sim.__version__
    assert s["command"] == "sim.run(<Scenario 'baotou-2024'>, seed=1)"
    resolved = msgspec.convert(s["resolved_scenario"], Scenario)
    assert resolved == small_scenario()
    assert s["scenario_sha256"] == scenario_sha256(small_scenario())
    assert list(s)[:4] == ["rexsim_version", "command", "scenario", "scenario_sha256"]


def test_the_scenario_hash_changes_with_any_field():
    from sim.scenario import scenario_sha256

    base = small_scenario()
    assert scenario_sha256(base) == scenario_sha256(small_scenario())
    assert scenario_sha256(base) != scenario_sha256(small_scenario(act_pct=34.0))


def test_buy_side_equals_sell_side(small_run):
    res, _ = small_run
    ent = res.enterprises
    assert sum(ent.column("bought_kg")) == sum(ent.column("sold_kg")) == res.summary["tonnage_kg"]
    assert sum(ent.column("buy_value_fen")) == sum(ent.column("sell_value_fen"))
    assert sum(ent.column("buy_value_fen")) == res.summary["value_fen"]


def test_cash_and_stock_never_go_negative(small_run):
    res, _ = small_run  # run with check=True: the ledger was audited after every day
    assert min(res.enterprises.column("cash_fen")) >= 0
    assert min(res.enterprises.column("stock_kg")) >= 0


def test_same_seed_gives_byte_identical_files(small_run, tmp_path):
    _, out = small_run
    run(small_scenario(), seed=1, out=tmp_path)
    for name in ("summary.json", "daily.csv", "trades.csv", "enterprises.csv", "quotes.csv",
                 "off_exchange.csv"):
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes(), name


def test_different_seed_gives_different_trades(small_run):
    res, _ = small_run
    other = run(small_scenario(), seed=4)
    assert other.trades.rows != res.trades.rows


def test_a_population_seed_keeps_the_members_and_their_premiums_across_run_seeds(small_run):
    res, _ = small_run
    sc = small_scenario()
    assert sc.population.seed is not None  # baotou-2024's one membership
    same = Simulation(sc, seed=4)
    base = Simulation(sc, seed=1)
    assert np.array_equal(same.agents.friction, base.agents.friction)  # a member's own premium
    other = run(sc, seed=4)
    cols = ("member", "province", "role", "joined", "online_from")
    assert ([r[:5] for r in other.enterprises.rows] == [r[:5] for r in res.enterprises.rows]
            and other.enterprises.columns[:5] == cols)
    assert other.trades.rows != res.trades.rows  # what the members do is the run seed's


def test_an_unset_population_seed_draws_each_run_seeds_own_members_and_premiums():
    sc = small_scenario()
    own = with_overrides(sc, ["population.seed=null"])
    one, four = Simulation(own, seed=1), Simulation(own, seed=4)
    assert not np.array_equal(one.agents.friction, four.agents.friction)
    assert not np.array_equal(one.population.role, four.population.role)
    # and with it set to a run's seed, that run is the unset run
    at_one = with_overrides(sc, ["population.seed=1"])
    assert np.array_equal(Simulation(at_one, seed=4).agents.friction, one.agents.friction)


def test_cash_and_stock_are_conserved_exactly():
    sim = Simulation(small_scenario(), seed=5)
    for _ in range(sim.ndays):
        sim.run_day(check=True)
    sim.results()
    assert_conserved(sim)


def test_the_summarys_flows_and_off_exchange_tallies_re_sum_from_the_files(small_run):
    res, out = small_run
    s = res.summary
    rows = _read(out / "off_exchange.csv")
    buy = [r for r in rows if r["side"] == "buy"]
    assert s["off_exchange"]["tonnage_kg"] == sum(int(r["qty_kg"]) for r in buy) > 0
    assert s["off_exchange"]["value_fen"] == sum(int(r["value_fen"]) for r in buy)
    assert any(r["member"] == "0" for r in buy)  # non-members deal off the exchange
    national = s["tonnage_kg"] + s["off_exchange"]["tonnage_kg"]
    assert s["off_exchange"]["exchange_share_pct"] == round(100 * s["tonnage_kg"] / national, 3)
    daily = _read(out / "daily.csv")
    assert sum(int(r["off_exchange_kg"]) for r in daily) == s["off_exchange"]["tonnage_kg"]
    ent = _read(out / "enterprises.csv")
    assert sum(int(e["off_bought_kg"]) for e in ent) == sum(
        int(r["qty_kg"]) for r in buy if r["member"] != "0")


def test_quotes_csv_samples_every_products_touch_at_every_step(small_run):
    res, out = small_run
    rows = _read(out / "quotes.csv")
    sc = small_scenario()
    assert len(rows) == res.summary["trading_days"] * sc.behaviour.steps_per_day * len(
        sc.products)
    for r in rows[:500]:
        if r["bid"] and r["ask"]:
            assert int(r["bid"]) < int(r["ask"]) and int(r["bid_qty_kg"]) > 0
        if not r["bid"]:
            assert r["bid_qty_kg"] == ""
    code = "PRND_OX"
    mine = [r for r in rows if r["product"] == code]
    both = sum(1 for r in mine if r["bid"] and r["ask"])
    assert res.summary["by_product"][code]["two_sided_pct"] == round(100 * both / len(mine), 3)


def test_every_trade_has_its_kind(small_run):
    res, _ = small_run
    kinds = {r[-1] for r in res.trades.rows}
    assert kinds == {"continuous", "call_auction", "negotiated", "block_auction"}
    by_kind = res.summary["by_kind"]
    assert sum(k["tonnage_kg"] for k in by_kind.values()) == res.summary["tonnage_kg"]
    blocks = res.summary["block_auctions"]
    assert by_kind["block_auction"]["tonnage_kg"] == blocks["sold_kg"] <= blocks["offered_kg"]


def test_daily_rows_agree_with_the_exchanges_bars():
    sim = Simulation(small_scenario(), seed=6)
    for _ in range(sim.ndays):
        sim.run_day()
    res = sim.results()
    rows = {(r[0], r[1]): r for r in res.daily.rows}
    cols = res.daily.columns
    for p in sim.scenario.products:
        for bar in sim.exchange.daily_bars(p.code):
            row = dict(zip(cols, rows[(sim.calendar.days[bar.day].isoformat(), p.code)],
                           strict=True))
            assert (row["open"], row["high"], row["low"], row["close"]) == (
                bar.open, bar.high, bar.low, bar.close)
            assert (row["volume_kg"], row["value_fen"], row["trades"]) == (
                bar.volume, bar.value, bar.trades)
            assert (row["vwap"], row["settlement"]) == (bar.vwap, bar.settlement)


def test_a_run_cut_short_is_a_prefix_of_the_full_run(small_run):
    res, _ = small_run
    cut = run(small_scenario(), seed=1, until=END.replace(day=10))
    assert cut.summary["trading_days"] < res.summary["trading_days"]
    assert cut.trades.rows == res.trades.rows[: len(cut.trades.rows)]


def test_offline_orders_enter_the_book_during_service_hours_only():
    sim = Simulation(small_scenario(), seed=2)
    offline = []
    sim.exchange.subscribe(lambda e: offline.append(e.time) if (
        type(e) is Accepted and e.channel is Channel.OFFLINE) else None)
    for _ in range(sim.ndays):
        sim.run_day()
    assert offline
    service = [(a.hour * 60 + a.minute, b.hour * 60 + b.minute)
               for a, b in sim.scenario.counter.service]
    for t in offline:
        minute = sim.calendar.local_minutes(t)
        assert any(a <= minute < b for a, b in service)


def test_every_way_of_trading_happens(small_run):
    res, _ = small_run
    req = res.summary["requests"]
    assert req["negotiated"] > 0 and req["block_auctions"] > 0 and req["offline_orders"] > 0
    ch = res.summary["by_channel"]
    assert ch["online"]["trades"] > 0 and ch["offline"]["trades"] > 0


def test_scale_multiplies_members_and_flow():
    one = run("baotou-2024", seed=1, until="2024-02-29")
    two = run("baotou-2024", seed=1, until="2024-02-29", scale=2)
    assert two.summary["members_start"] == 2 * one.summary["members_start"]
    for key in ("tonnage_kg", "trades"):
        assert 1.7 < two.summary[key] / one.summary[key] < 2.4, key
    off = two.summary["off_exchange"]["tonnage_kg"] / one.summary["off_exchange"]["tonnage_kg"]
    assert 1.9 < off < 2.1


def test_a_scenario_changed_in_code_runs():
    sc = small_scenario()
    sc = msgspec.structs.replace(sc, exchange=msgspec.structs.replace(
        sc.exchange, trade_price="median", stp="cancel_both"))
    res = run(sc, seed=1, until=END.replace(day=5), check=True)
    assert res.summary["trades"] > 0


def test_steps_are_minutes_apart():
    sim = Simulation(small_scenario(), seed=1)
    steps = sim.calendar.steps(0, sim.scenario.behaviour.steps_per_day)
    assert min(b - a for a, b in zip(steps, steps[1:], strict=False)) >= NS_PER_MINUTE


def test_results_end_a_simulation_and_a_further_day_is_refused_untouched(tmp_path):
    sim = Simulation(small_scenario(), seed=1)
    sim.run_day()
    sim.run_day()
    early = sim.results()
    assert early.summary["trading_days"] == 2
    before = sim.exchange.snapshot()
    with pytest.raises(UserError, match="the run has ended at day 2 of .*results\\(\\) closed"):
        sim.run_day()
    assert sim.exchange.snapshot() == before and sim.day == 2  # the exchange is not a day on


def test_a_simulation_takes_a_scenario_by_name_as_run_does():
    assert Simulation("baotou-2024", seed=1, until="2024-01-03").scenario.name == "baotou-2024"


def test_a_calendar_without_trading_days_is_a_user_error():
    sc = small_scenario()
    weekend = msgspec.structs.replace(sc.calendar, start=END.replace(day=20),
                                      end=END.replace(day=21))
    with pytest.raises(UserError, match="no trading days"):
        run(msgspec.structs.replace(sc, calendar=weekend))


def test_scenarios_without_block_auctions_or_traders_run():
    sc = small_scenario()
    no_blocks = msgspec.structs.replace(sc, block_auctions=None)
    assert run(no_blocks, seed=1, check=True).summary["requests"]["block_auctions"] == 0
    # the traders' weight goes to another role, so the weights still sum to 100
    trader = next(r for r in sc.roles if r.name == "trader")
    roles = [r for r in sc.roles if r.name != "trader"]
    roles[-1] = msgspec.structs.replace(roles[-1],
                                        weight_pct=roles[-1].weight_pct + trader.weight_pct)
    no_traders = msgspec.structs.replace(sc, roles=roles)
    res = run(no_traders, seed=1, check=True)
    assert res.summary["trades"] > 0
    traders = [e for e in res.enterprises.as_dicts() if e["role"] == "trader"]
    assert traders == []


@pytest.mark.parametrize("enabled", [True, False])
def test_run_leaves_the_garbage_collector_as_it_found_it(enabled):
    import gc

    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        run(small_scenario(), seed=1, until="2024-01-03")
        assert gc.isenabled() is enabled
        with pytest.raises(UserError):
            run(small_scenario(), seed=1, until="2023-12-01")  # fails inside the run
        assert gc.isenabled() is enabled
    finally:
        gc.enable() if was else gc.disable()


def test_a_scenario_object_changed_in_code_is_checked_before_a_run_or_a_simulation():
    """`msgspec.structs.replace` bypasses the file's checks; members=0 divided by zero."""
    bad = msgspec.structs.replace(small_scenario(), population=msgspec.structs.replace(
        small_scenario().population, members=0))
    for start in (lambda: run(bad), lambda: Simulation(bad)):
        with pytest.raises(UserError, match=r"population.members: expected int >= 1, got 0"):
            start()


def test_the_zone_only_relabels_the_clock_the_same_seed_trades_the_same():
    """The counter's keying delays were keyed by the UTC second: UTC+14 traded 15 t less."""
    base = run(small_scenario(), seed=1)
    for hours in (14, 0, -5):
        other = run(with_overrides(small_scenario(), [f"calendar.utc_offset_hours={hours}"]),
                    seed=1)
        shift = (hours - 8) * 3600 * 10**9
        assert [(r[0] + shift, *r[1:]) for r in other.trades.rows] == base.trades.rows, hours
        assert other.off_exchange.rows == base.off_exchange.rows


@pytest.mark.parametrize("progress", ["yes", 1, object()])
def test_a_progress_that_is_neither_a_flag_nor_a_callable_is_refused_not_ignored(progress):
    with pytest.raises(UserError, match="progress: expected True, False, None or a callable"):
        run(small_scenario(), seed=1, until="2024-01-03", progress=progress)


def test_a_day_at_its_bands_top_or_bottom_is_told_to_the_national_market():
    from types import SimpleNamespace as Bar

    from sim.runner import _at_limit

    bars = [Bar(volume=10, high=105, low=100), Bar(volume=10, high=104, low=95),
            Bar(volume=10, high=104, low=96), Bar(volume=0, high=None, low=None)]
    assert _at_limit(bars, [(95, 105)] * 4) == [1, -1, 0, 0]


def test_the_scenarios_untraded_settlement_rule_is_the_exchanges_and_is_validated():
    from sim.runner import build_exchange
    from sim.scenario import load_scenario

    for rule in ("previous", "touch"):
        sc = load_scenario("baotou-2024", [f'exchange.untraded_settlement="{rule}"'])
        assert build_exchange(sc).settings.untraded_settlement == rule
    with pytest.raises(UserError, match=r"untraded_settlement: expected one of previous, touch"):
        load_scenario("baotou-2024", ['exchange.untraded_settlement="bid"'])


def test_a_product_without_a_band_has_empty_band_cells_not_the_engines_sentinel():
    res = run("baotou-2024", until="2024-01-03", overrides=["products.PRND_OX.band_pct=null"])
    rows = [r for r in res.daily.as_dicts() if r["product"] in ("PRND_OX", "LA_OX")]
    assert {(r["product"], r["band_low"], r["band_high"]) for r in rows if
            r["product"] == "PRND_OX"} == {("PRND_OX", None, None)}
    assert all(r["band_low"] > 0 and r["band_high"] < 10**9 for r in rows
               if r["product"] == "LA_OX")
