"""`rexsim validate`: the checks' measures, the implied responses, and whole validations.

Measures on hand-made runs; real runs with one seed in the default suite, seeds 1-5 with
-m slow.
"""

from __future__ import annotations

import json
import math

import pytest

from sim.cli import main
from sim.scenario import load_scenario
from sim.validate import (
    CRN_MIN_SEEDS,
    PRE_REWRITE_CHANGE_T,
    RUNS,
    Digest,
    _days_to_level,
    _limit_days,
    _limit_up_days,
    _max_rise,
    _run_all,
    crn_check,
    format_validation,
    friction_bp,
    implied_quota_rise,
    validate,
)


def _digest(code: str, settlement: list[int], dates: list[str], highs=None, band=(0, 10**9)):
    n = len(settlement)
    highs = highs or settlement
    daily = {code: {"date": dates, "settlement": settlement, "national_price": settlement,
                    "high": highs, "low": settlement, "band_low": [band[0]] * n,
                    "band_high": [band[1]] * n, "volume_kg": [1000] * n}}
    return Digest({}, daily, dates)


def test_the_quota_cut_implies_the_equilibrium_of_its_elasticities():
    sc = load_scenario("quota-cut-2024")
    p = sc.product("PRND_OX")
    g = next(x for x in sc.national.groups if x.name == "light")
    want = math.exp(-math.log(0.8) / (p.demand_elasticity + g.supply_elasticity
                                      + p.supply_elasticity)) - 1
    assert implied_quota_rise() == pytest.approx(want) == pytest.approx(0.25)


def test_the_friction_a_venue_shock_can_reach_is_the_buyers_premium_at_its_95th_percentile():
    sc = load_scenario("withdrawal-2024")
    v = sc.venue
    want = v.buyer_premium_bp * math.exp(1.6449 * math.hypot(v.dispersion, v.deal_dispersion))
    assert friction_bp(sc) == pytest.approx(want + sc.exchange.fee_bp)


def test_the_largest_six_day_rise_is_found_within_the_month():
    dates = [f"2024-09-{d:02d}" for d in range(2, 12)]
    prices = [100, 101, 100, 104, 107, 110, 112, 111, 109, 115]
    d = _digest("TB_OX", prices, dates)
    assert _max_rise(d, "TB_OX", "09", 6) == pytest.approx(112 / 100 - 1)  # 2nd to the 8th
    assert _max_rise(d, "TB_OX", "09", 2) == pytest.approx(107 / 100 - 1)  # 4th to the 6th


def test_limit_days_are_days_whose_high_or_low_touched_the_band():
    dates = ["2024-06-03", "2024-06-04", "2024-07-01"]
    d = _digest("PRND_OX", [100, 105, 110], dates, highs=[105, 105, 110], band=(95, 105))
    assert _limit_up_days(d, "PRND_OX", ("06",)) == 2
    assert _limit_days(d, "PRND_OX", ("06", "07")) == 3  # July's high is above the band too


def test_a_day_locked_at_its_limit_with_no_trade_is_a_limit_day():
    # no high: nothing traded. Settled at the band's top (the touch rule: a bid rested there)
    # it was locked up; settled inside the band (the previous settlement) it was not
    dates = ["2024-06-03", "2024-06-04", "2024-06-05"]
    d = _digest("PRND_OX", [105, 100, 95], dates, highs=[None, None, None], band=(95, 105))
    d.daily["PRND_OX"]["low"] = [None, None, None]
    assert _limit_up_days(d, "PRND_OX", ("06",)) == 1
    assert _limit_days(d, "PRND_OX", ("06",)) == 2  # the bottom, locked down, too


def test_the_new_level_is_reached_on_the_first_day_at_90_percent_of_the_implied_rise():
    dates = ["2024-05-31", "2024-06-03", "2024-06-04", "2024-06-05", "2024-06-06"]
    base = _digest("PRND_OX", [100] * 5, dates)
    shock = _digest("PRND_OX", [100, 105, 110, 120, 125], dates)
    log_rise = math.log(1.25)
    # 100 * 1.25 ** 0.9 = 122.2: 120 on the third day after the shock is short of it
    assert _days_to_level(shock, base, "PRND_OX", log_rise) == 3
    assert _days_to_level(shock, base, "PRND_OX", math.log(2.0)) is None


def test_the_table_gives_each_checks_figure_target_and_verdict():
    doc = {"seeds": [1, 2], "passed": False, "checks": [
        {"group": "g", "name": "a", "figure": "1 (0 .. 2)", "target": ">= 0", "passed": True,
         "implied": "+1%", "values": {}},
        {"group": "g", "name": "b", "figure": "-", "target": "x", "passed": False,
         "implied": "", "values": {}},
        {"group": "h", "name": "c", "figure": "-", "target": "y", "passed": None,
         "implied": "", "values": {}}]}
    text = format_validation(doc)
    lines = text.splitlines()
    assert any("a" in x and "+1%" in x and x.endswith("pass") for x in lines)
    assert any(x.rstrip().endswith("FAIL") for x in lines)
    assert any(x.rstrip().endswith("n/a") for x in lines)
    assert text.endswith("1 check(s) FAIL")


def test_bad_seeds_are_a_one_line_error(capsys):
    assert main(["validate", "--seeds", "3-1"]) == 2
    assert capsys.readouterr().err.startswith("rexsim: --seeds: ")


def test_a_bad_setting_is_one_line_before_any_run_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "v"
    assert main(["validate", "--seeds", "1", "--set", "population.membrs=3",
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rexsim: ") and "membrs" in err and err.count("\n") == 1
    assert not out.exists()


def _no_runs(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("a run started")

    monkeypatch.setattr("sim.validate._run_all", fail)


def _files(root):
    return sorted((p, p.read_bytes()) for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize("out, message", [
    ("afile", "afile is a file, not a directory"),
    ("afile/sub", "afile/sub: cannot write validation.json here: Not a directory"),
    ("run", "run is a run's directory (it holds summary.json)"),
    ("sweep", "sweep is a sweep's directory (it holds sweep.json)"),
    ("", "expected a directory, got an empty path"),
])
def test_an_out_validation_json_cannot_go_in_is_refused_before_any_run(out, message, tmp_path,
                                                                      capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("mine", "utf-8")
    for name, marker in (("run", "summary.json"), ("sweep", "sweep.json")):
        (tmp_path / name).mkdir()
        (tmp_path / name / marker).write_text("{}", "utf-8")
    before = _files(tmp_path)
    _no_runs(monkeypatch)
    assert main(["validate", "--seeds", "1", "--out", out]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"rexsim: --out: {message}") and err.count("\n") == 1, err
    assert _files(tmp_path) == before


def test_checking_a_new_out_leaves_no_directory_behind(tmp_path, monkeypatch):
    from sim.validate import _check_out

    _check_out(tmp_path / "a" / "b")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("seeds, message", [
    (1, "seeds: expected seeds like '1-8' or a list of ints, got 1"),
    ([], "seeds: expected at least one seed"),
    ([2**63], "seeds: expected distinct ints from 0 to 2**63-1"),
])
def test_library_seeds_of_the_wrong_shape_are_one_line_errors(seeds, message, monkeypatch):
    from sim.errors import RexsimError

    _no_runs(monkeypatch)
    with pytest.raises(RexsimError) as info:
        validate(seeds)
    assert str(info.value).startswith(message)


def test_every_run_gets_the_validations_settings_and_its_own_defining_change_last(
        monkeypatch):
    calls = []

    class Fake:
        summary = {"tonnage_kg": 1}
        daily = type("T", (), {"as_dicts": staticmethod(lambda: [])})

    def fake_run(scenario, seed, overrides, until):
        calls.append((scenario, seed, tuple(overrides)))
        return Fake()

    monkeypatch.setattr("sim.runner.run", fake_run)
    _run_all([3], 1, None, None, ["venue.delay_cost_bp_per_hour=100"])
    assert sorted(calls) == sorted(
        (sc, 3, ("venue.delay_cost_bp_per_hour=100", *own)) for sc, own in RUNS.values())
    assert ("quota-cut-2024", 3, ("venue.delay_cost_bp_per_hour=100",
                                  "products.*.band_pct=10")) in calls


def test_the_implied_rise_follows_a_changed_elasticity():
    base = implied_quota_rise()
    steeper = implied_quota_rise(overrides=["products.PRND_OX.demand_elasticity=1.0"])
    assert 0 < steeper < base  # more elastic demand: a smaller rise for the same cut


def test_common_random_numbers_are_judged_on_five_seeds_or_more_and_on_the_same_seeds():
    old = {s: PRE_REWRITE_CHANGE_T[s] for s in range(1, 9)}
    # two seeds: an sd of two values is shown but not judged
    two = crn_check({1: -100.0, 2: -2000.0}, [1, 2])
    assert two.passed is None and two.figure == "1,344 t"
    assert two.target.endswith(f"judged on {CRN_MIN_SEEDS} or more of seeds 1-8")
    # five seeds with no spread pass; a seed outside 1-8 is left out of both sds
    five = crn_check({s: -5000.0 for s in [1, 2, 3, 4, 5, 30]}, [1, 2, 3, 4, 5, 30])
    sd_old = math.sqrt(sum((old[s] - sum(old[k] for k in range(1, 6)) / 5) ** 2
                           for s in range(1, 6)) / 4)
    assert five.passed is True and five.figure == "0 t"
    assert five.target == f"<= half of {sd_old:,.0f} t (pre-rewrite, seeds 1-5)"
    # the pre-rewrite spread itself fails (it is not half of itself)
    assert crn_check(old, list(old)).passed is False
    # no known seed: not judged, no figure
    assert crn_check({40: 1.0}, [40]).passed is None


def test_the_table_names_the_settings_it_was_run_with():
    doc = {"seeds": [1], "overrides": ["exchange.fee_bp=10"], "passed": True, "checks": []}
    assert format_validation(doc).splitlines()[0] == (
        "validation over seeds 1 with --set exchange.fee_bp=10")


def _run_validation(tmp_path, seeds):
    out = tmp_path / "v"
    doc = validate(seeds, jobs=2, out=out)
    assert json.loads((out / "validation.json").read_text()) == doc
    return {(c["group"], c["name"]): c for c in doc["checks"]}, doc


def test_one_seed_holds_every_response_and_liquidity_check(tmp_path):
    checks, _doc = _run_validation(tmp_path, [1])
    for (group, name), c in checks.items():
        if group in ("baotou-2024", "common random numbers"):
            continue  # against the facts: on the seeds' mean; CRN needs several seeds
        assert c["passed"], (group, name, c["figure"], c["target"])
    assert checks[("common random numbers", "sd of the withdrawal's paired tonnage change")][
        "passed"] is None
    assert checks[("baotou-2024", "members at the end")]["figure"] == "987"
    assert checks[("baotou-2024", "provinces at the end")]["values"] == {"1": 26}
    quota = checks[("quota-cut-2024", "PrNd oxide Jul-Oct settlement vs baseline")]
    assert quota["implied"] == "+25.0%"


@pytest.mark.slow
def test_seeds_1_to_5_meet_the_facts_and_the_models_economics(tmp_path):
    checks, doc = _run_validation(tmp_path, [1, 2, 3, 4, 5])
    failed = [k for k, c in checks.items() if c["passed"] is False]
    assert failed == [], failed
    assert doc["passed"] is True


@pytest.mark.slow
def test_seeds_1_to_8_meet_every_check_common_random_numbers_included(tmp_path):
    # the issue's seeds for the CRN check: with one membership for every run (baotou-2024's
    # population.seed) the withdrawal's paired change spreads by the noise alone
    checks, doc = _run_validation(tmp_path, list(range(1, 9)))
    failed = [k for k, c in checks.items() if c["passed"] is False]
    assert failed == [], failed
    assert doc["passed"] is True
