"""Each measure of sim.analysis against answers worked out by hand from tests/sim/runfixture.

The fixture's trades are listed in its docstring; amounts below are in fen unless named.
"""

from __future__ import annotations

import json
import math
from fractions import Fraction as F

import pytest

from sim import analysis, load_run, run
from sim.runs import Run
from tests.sim import runfixture
from tests.sim.small import small_scenario

M = 1_000_000  # a million fen, to keep the hand sums readable


@pytest.fixture()
def tiny(tmp_path):
    return load_run(runfixture.write_run(tmp_path / "tiny"))


def _hhi(*amounts):
    return F(10_000 * sum(a * a for a in amounts), sum(amounts) ** 2)


def _row(rows, **match):
    [row] = [r for r in rows if all(r[k] == v for k, v in match.items())]
    return row


def test_concentration_per_product_and_side_over_the_run(tiny):
    rows = analysis.concentration(tiny)
    assert [(r["product"], r["side"]) for r in rows] == [("PRND_OX", "sell"), ("PRND_OX", "buy"),
                                                         ("LA_OX", "sell"), ("LA_OX", "buy")]
    sell = _row(rows, product="PRND_OX", side="sell")  # member 1: t1 t3 t4 t6 t7; member 2: t2
    m1, m2 = 40 * M + 79.2 * M + 205 * M + 121.2 * M + 79.6 * M, 40.2 * M
    assert sell["value_fen"] == 565_200_000 == int(m1 + m2)
    assert sell["hhi"] == _hhi(525_000_000, 40_200_000)
    assert sell["top1_pct"] == F(100 * 525_000_000, 565_200_000)
    assert sell["top4_pct"] == sell["top10_pct"] == 100
    assert (sell["members"], sell["top1_member"]) == (2, 1)
    buy = _row(rows, product="PRND_OX", side="buy")  # 3: t1 t2 t7; 4: t3; 5: t4 t6
    assert buy["hhi"] == _hhi(159_800_000, 79_200_000, 326_200_000)
    assert buy["top1_member"] == 5


def test_concentration_by_month_splits_at_the_month_end(tiny):
    rows = analysis.concentration(tiny, by_month=True)
    jan = _row(rows, product="PRND_OX", side="sell", month="2024-01")  # 1: t1 t3 t4; 2: t2
    assert jan["hhi"] == _hhi(324_200_000, 40_200_000)
    feb = _row(rows, product="PRND_OX", side="sell", month="2024-02")  # member 1 alone
    assert (feb["hhi"], feb["top1_pct"], feb["members"]) == (10_000, 100, 1)


def test_concentration_by_tonnage_and_pooled_over_products(tiny):
    kg = _row(analysis.concentration(tiny, basis="qty_kg"), product="PRND_OX", side="sell")
    assert kg["qty_kg"] == 14_000 and kg["hhi"] == _hhi(13_000, 1_000)
    pooled = analysis.concentration(tiny, by_month=True, by_product=False)
    jan = _row(pooled, side="sell", month="2024-01")  # Q's t5 adds 2 M to member 2
    assert "product" not in jan and jan["hhi"] == _hhi(324_200_000, 42_200_000)
    with pytest.raises(ValueError, match="basis"):
        analysis.concentration(tiny, basis="trades")


def test_the_dominant_sellers_share_of_its_products_by_month(tiny):
    rows = analysis.dominant_share(tiny)
    assert [(r["product"], r["month"]) for r in rows] == [("PRND_OX", "2024-01"),
                                                         ("PRND_OX", "2024-02")]
    jan, feb = rows  # LA_OX has no dominant seller in the scenario
    assert (jan["member"], jan["member_kg"], jan["sold_kg"]) == (1, 8_000, 9_000)
    assert jan["tonnage_share_pct"] == F(800, 9)
    assert jan["value_share_pct"] == F(100 * 324_200_000, 364_400_000)
    assert feb["tonnage_share_pct"] == feb["value_share_pct"] == 100
    whole = _row(analysis.dominant_share(tiny, by_month=False), product="PRND_OX")
    assert whole["tonnage_share_pct"] == F(100 * 13_000, 14_000)


def test_transparency_measures_each_group_from_the_same_days_online_vwap(tiny):
    rows = analysis.transparency(tiny)
    bp = lambda price, vwap: 10_000 * (price - vwap) / vwap  # noqa: E731
    # 31 Jan, P: online t1 400,000 and t2 402,000, 1 t each: VWAP 401,000. 1 Feb: t6 alone.
    online = _row(rows, product="PRND_OX", group="online")
    devs = [bp(400_000, 401_000), bp(402_000, 401_000), 0.0]
    assert (online["trades"], online["compared_trades"], online["compared_kg"]) == (3, 3, 5_000)
    assert online["mean_abs_dev_bp"] == pytest.approx(sum(map(abs, devs)) / 3, abs=1e-9)
    assert online["mean_dev_bp"] == pytest.approx(0, abs=1e-9)
    assert online["sd_dev_bp"] == pytest.approx(math.sqrt(sum(d * d for d in devs) / 3))
    offline = _row(rows, product="PRND_OX", group="offline")
    assert offline["mean_dev_bp"] == pytest.approx(bp(396_000, 401_000))
    assert offline["mean_abs_dev_bp"] == pytest.approx(-bp(396_000, 401_000))
    assert offline["sd_dev_bp"] == pytest.approx(0, abs=1e-9)
    neg = _row(rows, product="PRND_OX", group="negotiated")
    assert neg["mean_dev_bp"] == pytest.approx(bp(410_000, 401_000))  # about +224.4
    block = _row(rows, product="PRND_OX", group="block_auction")
    assert block["mean_dev_bp"] == pytest.approx(bp(398_000, 404_000))
    q_off = _row(rows, product="LA_OX", group="offline")  # no online Q trade on 31 Jan
    assert (q_off["trades"], q_off["compared_trades"], q_off["mean_abs_dev_bp"]) == (1, 0, None)


def test_spreads_and_depth_at_the_touch(tiny):
    p = _row(analysis.spreads(tiny), product="PRND_OX")
    # P samples: 399,000/401,000; 400,000/401,000; bid 398,000 only; empty; 403,000/405,000
    assert (p["samples"], p["two_sided"], p["two_sided_pct"]) == (5, 3, 60)
    assert p["median_spread_yuan_t"] == 2_000  # lower median of 2,000 1,000 2,000
    assert p["median_spread_bp"] == pytest.approx(20_000 * 2_000 / 808_000)  # 49.5 bp
    assert p["median_bid_qty_kg"] == 1_000  # lower median of 2,000 3,000 1,000 1,000
    assert p["median_ask_qty_kg"] == 2_000  # of 1,000 5,000 2,000
    day = _row(analysis.spreads(tiny, by_day=True), product="PRND_OX", date="2024-01-31")
    assert (day["samples"], day["median_spread_yuan_t"]) == (3, 1_000)
    assert day["median_spread_bp"] == pytest.approx(20_000 * 1_000 / 801_000)
    q = _row(analysis.spreads(tiny), product="LA_OX")
    assert q["median_spread_bp"] == 50.0 and q["two_sided_pct"] == 100


def test_online_and_offline_by_day_include_a_day_without_trades(tiny):
    rows = analysis.channels_by_day(tiny)
    assert [r["date"] for r in rows] == list(runfixture.DAYS)
    d1, d2, d3 = rows
    assert (d1["online_kg"], d1["offline_kg"], d1["trades"]) == (2_000, 12_000, 5)
    assert (d1["online_fen"], d1["offline_fen"]) == (80_200_000, 286_200_000)
    assert d1["online_tonnage_share_pct"] == F(100, 7)
    assert (d2["online_kg"], d2["offline_kg"], d2["online_fen"]) == (13_000, 2_000, 125_210_000)
    assert (d3["trades"], d3["online_tonnage_share_pct"]) == (0, None)


def test_trade_by_kind_and_channel(tiny):
    rows = analysis.by_kind(tiny)
    assert [(r["kind"], r["channel"]) for r in rows] == [
        ("continuous", "offline"), ("continuous", "online"), ("call_auction", "online"),
        ("negotiated", "offline"), ("block_auction", "offline")]
    cont = _row(rows, kind="continuous", channel="online")  # t2 t6 t8
    assert (cont["trades"], cont["tonnage_kg"], cont["value_fen"]) == (3, 14_000, 165_410_000)
    neg = _row(rows, kind="negotiated")
    assert neg["tonnage_share_pct"] == F(100 * 5_000, 29_000)


def test_members_and_online_members_by_day(tiny):
    rows = analysis.members_by_day(tiny)
    assert [(r["date"], r["members"], r["online_members"]) for r in rows] == [
        ("2024-01-31", 5, 2), ("2024-02-01", 5, 3), ("2024-02-02", 5, 3)]
    assert rows[1]["online_members_pct"] == 60


def test_tonnage_and_value_by_province_and_by_role(tiny):
    prov = analysis.by_province(tiny)
    assert [r["province"] for r in prov] == ["Inner Mongolia", "Jiangxi"]
    im, jx = prov  # members 1 and 3; members 2, 4 and 5
    assert (im["members"], im["online_members"], jx["members"], jx["online_members"]) == \
        (2, 2, 3, 1)
    assert (im["bought_kg"], im["sold_kg"], jx["bought_kg"], jx["sold_kg"]) == \
        (14_000, 23_000, 15_000, 6_000)
    assert jx["buy_value_fen"] == 81_200_000 + 326_200_000
    assert im["buy_value_share_pct"] == F(100 * 163_810_000, 571_210_000)
    assert im["off_sold_kg"] == 20_000
    role = _row(analysis.by_role(tiny), role="magnet_maker")  # members 3 and 5
    assert (role["members"], role["bought_kg"]) == (2, 22_000)
    assert (role["trading_members"], role["idle_members"]) == (2, 0)
    assert [r["role"] for r in analysis.by_role(tiny)] == ["separator", "magnet_maker",
                                                           "trader"]


def test_the_exchanges_share_of_national_tonnage(tiny):
    p = _row(analysis.exchange_share(tiny), product="PRND_OX")
    assert (p["exchange_kg"], p["off_exchange_kg"]) == (14_000, 45_000)
    assert p["exchange_share_pct"] == F(100 * 14_000, 59_000)
    assert p["exchange_value_share_pct"] == F(100 * 565_200_000,
                                              565_200_000 + 1_814_000_000)
    months = analysis.exchange_share(tiny, by_month=True, by_product=False)
    assert [(r["month"], r["exchange_kg"], r["off_exchange_kg"]) for r in months] == [
        ("2024-01", 14_000, 65_000), ("2024-02", 15_000, 65_000)]
    assert months[1]["exchange_share_pct"] == F(75, 4)


def test_cumulative_tonnage_and_value(tiny):
    rows = analysis.cumulative(tiny)
    assert [(r["cum_tonnage_kg"], r["cum_value_fen"]) for r in rows] == [
        (14_000, 366_400_000), (29_000, 571_210_000), (29_000, 571_210_000)]


def test_analyse_is_json_ready_and_rounds_only_when_written(tiny):
    doc = analysis.analyse(tiny)
    assert doc["skipped"] == {}
    assert set(doc) == set(analysis.MEASURES) | {"skipped"}
    json.dumps(doc, allow_nan=False)
    sell = _row(doc["concentration"], product="PRND_OX", side="sell")
    assert sell["hhi"] == round(float(_hhi(525_000_000, 40_200_000)), 2)
    assert sell["value_fen"] == 565_200_000 and type(sell["value_fen"]) is int
    assert _row(doc["dominant_share_by_month"], month="2024-01")["tonnage_share_pct"] == 88.889


def test_analyse_reads_trades_once(tiny, monkeypatch):
    opened = []
    real = type(tiny)._read

    def counting(self, name, header, pick):
        opened.append(name)
        return real(self, name, header, pick)

    monkeypatch.setattr(type(tiny), "_read", counting)
    analysis.analyse(tiny)
    assert opened.count("trades") == 1 and opened.count("quotes") == 1


def test_the_answers_do_not_depend_on_how_the_files_are_chunked(tmp_path, monkeypatch):
    out = tmp_path / "small"
    run(small_scenario(), seed=5, out=out)
    whole = analysis.analyse(load_run(out))
    monkeypatch.setattr("sim.runs._CHUNK", 7)  # days split across many chunks
    assert json.dumps(analysis.analyse(load_run(out))) == json.dumps(whole)  # to the bit
    tiny = runfixture.write_run(tmp_path / "tiny")
    monkeypatch.setattr("sim.runs._CHUNK", 4096)
    whole = analysis.analyse(load_run(tiny))
    monkeypatch.setattr("sim.runs._CHUNK", 1)
    assert analysis.analyse(load_run(tiny)) == whole


def test_the_summarys_median_spread_is_the_analysis_lower_median(tmp_path):
    out = tmp_path / "small"
    res = run(small_scenario(), seed=5, out=out)
    spreads = {r["product"]: r["median_spread_bp"] for r in analysis.spreads(load_run(out))}
    summary = {c: p["median_spread_bp"] for c, p in res.summary["by_product"].items()}
    assert any(v is not None for v in summary.values())
    assert summary == {c: None if v is None else round(v, 3) for c, v in spreads.items()}


def test_an_older_run_is_analysed_as_far_as_its_files_go(tmp_path):
    r = load_run(runfixture.write_run(tmp_path / "old", drop=("quotes",)))
    doc = analysis.analyse(r)
    assert set(doc["skipped"]) == {"spreads"} and "no quotes.csv" in doc["skipped"]["spreads"]
    assert doc["concentration"]


def test_rows_to_pandas_has_floats_months_and_converted_units(tiny):
    pd = pytest.importorskip("pandas")
    df = analysis.concentration(tiny, by_month=True).to_pandas()
    assert df["hhi"].dtype == "float64" and df["month"].iloc[0] == pd.Timestamp("2024-01-01")
    assert df["value_yuan"].iloc[0] == 3_644_000.0
    assert list(df["product"].cat.categories) == ["PRND_OX", "LA_OX"]  # scenario order


def test_on_a_real_run_the_measures_agree_with_the_recorders_own_tallies(tmp_path):
    out = tmp_path / "small"
    res = run(small_scenario(), seed=4, out=out)
    r = load_run(out)
    s = res.summary
    pooled = {x["side"]: x for x in analysis.concentration(r, by_product=False).to_json()}
    assert pooled["sell"]["hhi"] == s["concentration"]["sell_value"]["hhi"]
    assert pooled["buy"]["top10_pct"] == s["concentration"]["buy_value"]["top10_pct"]
    assert pooled["sell"]["top4_pct"] == s["concentration"]["sell_value"]["top4_pct"]  # CR4
    days = analysis.channels_by_day(r)
    assert sum(d["online_kg"] for d in days) == s["by_channel"]["online"]["tonnage_kg"]
    assert sum(d["offline_fen"] for d in days) == s["by_channel"]["offline"]["value_fen"]
    prov = {x["province"]: x for x in analysis.by_province(r)}
    for name, p in s["by_province"].items():
        assert (prov[name]["bought_kg"], prov[name]["sell_value_fen"]) == \
            (p["bought_kg"], p["sell_value_fen"])
    assert analysis.cumulative(r)[-1]["cum_tonnage_kg"] == s["tonnage_kg"]
    # who traded, from the trades themselves; idle: no trade and no off-exchange deal
    traded = set(r.trades.column("buyer")) | set(r.trades.column("seller"))
    dealt = set(r.off_exchange.column("member"))
    roles = {x["role"]: x for x in analysis.by_role(r)}
    for name, row in roles.items():
        ids = [e[0] for e in r.enterprises.rows if e[2] == name]
        assert row["trading_members"] == sum(m in traded for m in ids)
        assert row["idle_members"] == sum(m not in traded and m not in dealt for m in ids)
    assert 0 < roles["trader"]["idle_members"] < roles["trader"]["members"]


def test_a_run_without_trades_has_no_concentration_or_dominant_rows(tmp_path):
    out = runfixture.write_run(tmp_path / "quiet")
    header = (out / "trades.csv").read_text("utf-8").splitlines()[0]
    (out / "trades.csv").write_text(header + "\n", "utf-8")  # the header alone: no trades
    quiet = load_run(out)
    assert len(analysis.concentration(quiet)) == 0
    assert len(analysis.concentration(quiet, by_month=True, by_product=False)) == 0
    assert len(analysis.dominant_share(quiet)) == 0


def test_a_closed_months_member_sums_are_reduced_to_its_figures(tmp_path, monkeypatch):
    # memory flat in the run's length: once a month closes only its figures stay, and the
    # whole run's per-member sums are one entry per (product, side, member), not per month
    monkeypatch.setattr("sim.runs._CHUNK", 1)  # January closes while February is read
    tally = analysis._trades(load_run(runfixture.write_run(tmp_path / "tiny"))).members
    assert len(tally._open.keys) == 0
    # P sells: 1, 2; P buys: 3, 4, 5; Q sells: 2, 1; Q buys: 4, 3 (member 1 in both months)
    assert len(tally.pooled.keys) == 9
    assert {(tally.months[m], p, s) for m, by, p, s in tally.monthly if by} == {
        ("2024-01", 0, "sell"), ("2024-01", 0, "buy"), ("2024-01", 1, "sell"),
        ("2024-01", 1, "buy"), ("2024-02", 0, "sell"), ("2024-02", 0, "buy"),
        ("2024-02", 1, "sell"), ("2024-02", 1, "buy")}
    assert tally.monthly[(0, True, 0, "sell")]["dominant"] == (8_000, 324_200_000)


def test_a_runs_own_analysis_is_tallied_as_days_close_and_matches_its_files(tmp_path,
                                                                           monkeypatch):
    read = []
    real = Run._read

    def counting(self, name, header, pick):
        read.append(name)
        return real(self, name, header, pick)

    monkeypatch.setattr(Run, "_read", counting)
    out = tmp_path / "small"
    res = run(small_scenario(), seed=5, out=out)
    assert "trades" not in read  # the recorder fed the tally day by day
    stored = json.loads((out / "summary.json").read_text("utf-8"))["analysis"]
    assert stored == json.loads(json.dumps(res.summary["analysis"]))
    summary = {k: v for k, v in res.summary.items() if k != "analysis"}
    for chunk in (5, 4096):  # from the files, whatever the chunks: the same bits
        monkeypatch.setattr("sim.runs._CHUNK", chunk)
        again = analysis.analyse(load_run(out, summary=dict(summary)))
        assert json.dumps(again) == json.dumps(stored)


def test_counterparties_tally_who_sells_to_whom_by_role(tiny):
    # sellers are separators (1, 2); buyers magnet makers (3, 5) and a trader (4)
    rows = analysis.counterparties(tiny)
    assert [(r["buyer_role"], r["seller_role"]) for r in rows] == [
        ("magnet_maker", "separator"), ("trader", "separator")]
    magnet, trader = rows
    assert (magnet["trades"], magnet["qty_kg"], magnet["value_fen"]) == (6, 22_000, 490_010_000)
    assert (trader["trades"], trader["qty_kg"], trader["value_fen"]) == (2, 7_000, 81_200_000)
    assert magnet["tonnage_share_pct"] == F(100 * 22_000, 29_000)
    p = _row(analysis.counterparties(tiny, by_product=True), product="PRND_OX",
             buyer_role="trader")
    assert (p["qty_kg"], p["tonnage_share_pct"]) == (2_000, F(100 * 2_000, 14_000))


def test_a_member_missing_from_enterprises_counts_under_an_unknown_role(tmp_path):
    out = runfixture.write_run(tmp_path / "tiny")
    path = out / "enterprises.csv"
    lines = path.read_text("utf-8").splitlines()
    kept = [ln for ln in lines if not ln.startswith("4,")]  # the trader's row
    kept.append("2000000000" + lines[1][lines[1].index(","):])  # a sparse id: looked up, not
    path.write_text("\n".join(kept) + "\n", "utf-8")            # allocated up to
    rows = analysis.counterparties(load_run(out))
    assert [(r["buyer_role"], r["qty_kg"]) for r in rows] == [("magnet_maker", 22_000),
                                                              (None, 7_000)]
