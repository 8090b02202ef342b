"""Sensitivity analysis: ranges of scenario fields, Morris and Sobol on known functions, runs.

The method itself is tested on pure functions whose influential parameter is known; one small
analysis runs the simulator end to end. Tests that need SALib skip, saying so, where it is not
installed (install `rexsim[sensitivity]` to run them, as CI does).
"""

from __future__ import annotations

import importlib.util
import sys

import pytest

from sim.cli import main
from sim.errors import RexsimError
from sim.experiments.tables import read_csv
from sim.sensitivity import (
    Param,
    field_kind,
    param_points,
    parse_param,
    resolve_params,
    screen,
    sensitivity,
)
from tests.sim.small import small_scenario, small_toml

needs_salib = pytest.mark.skipif(importlib.util.find_spec("SALib") is None,
                                 reason="SALib is not installed "
                                        "(pip install 'rexsim[sensitivity]')")
ABC = [Param("a", 0.0, 1.0, False), Param("b", 0.0, 1.0, False), Param("c", 0.0, 1.0, False)]
SHOCK = 'events=[{date=2024-01-03, kind="withdraw", member="dominant_light"}]'


def test_a_parameter_is_a_key_and_a_range():
    assert parse_param("behaviour.act_pct=20:50") == ("behaviour.act_pct", 20.0, 50.0)
    for bad in ("behaviour.act_pct=20", "behaviour.act_pct=50:20", "behaviour.act_pct=a:b",
                "behaviour.act_pct"):
        with pytest.raises(RexsimError) as info:
            parse_param(bad)
        assert info.value.for_cli().startswith("--param")


def test_field_types_come_from_the_scenario_schema():
    assert field_kind("population.members") == "int"
    assert field_kind("products.PRND_OX.band_pct") == "int"  # int or None
    assert field_kind("behaviour.volume_factor") == "float"
    assert field_kind("counter.delay_minutes[1]") == "float"
    for key, why in (("exchange.trade_price", "not a number field"),
                     ("behaviour.volume_factorx", "no field 'volume_factorx'"),
                     ("calendar.start", "not a number field")):
        with pytest.raises(RexsimError, match=why):
            field_kind(key)


def test_integer_ranges_shrink_to_whole_numbers_and_both_ends_must_be_valid():
    sc = small_scenario()
    p, = resolve_params(sc, [("population.members", 119.5, 200.7)])
    assert (p.low, p.high, p.integer) == (120.0, 200.0, True)
    with pytest.raises(RexsimError, match=r"^param behaviour.act_pct: -5.0: "
                                          r"\$.behaviour.act_pct: expected float >= 0") as info:
        resolve_params(sc, [("behaviour.act_pct", -5, 50)])
    assert info.value.option == "--param behaviour.act_pct"


def test_integer_fields_get_integer_samples_and_a_what_if_doubles_each_sample():
    params = [Param("population.members", 120.0, 200.0, True),
              Param("behaviour.act_pct", 20.0, 50.0, False)]
    points = param_points(params, [[133.4, 21.25], [133.6, 40.0]], ["behaviour.premium_bp=5"])
    assert [p.name for p in points] == ["sample-1/base", "sample-1/what-if", "sample-2/base",
                                        "sample-2/what-if"]
    assert points[1].overrides == ("population.members=133", "behaviour.act_pct=21.25",
                                   "behaviour.premium_bp=5")
    assert dict(points[2].labels) == {"sample": "2", "population.members": "134",
                                      "behaviour.act_pct": "40.0", "variant": "base"}


@pytest.mark.parametrize("low, high, message", [
    (40, 10, r"expected a range LOW:HIGH of numbers with LOW < HIGH, got \(40(.0)?, 10"),
    (1.0, 1.0 + 1e-13, r"the range \(1.0, 1.0000000000001\) is too narrow to sample"),
    (-1.7e308, 1.7e308, r"the range \(-1.7e\+308, 1.7e\+308\) is wider than a float holds"),
    (False, True, r"expected a range LOW:HIGH of numbers with LOW < HIGH, got \(False, True\)"),
])
def test_a_range_the_design_cannot_sample_is_one_line_from_us(low, high, message, tmp_path):
    out = tmp_path / "never"
    with pytest.raises(RexsimError, match=f"^params: behaviour.volume_factor: {message}"):
        sensitivity(small_scenario(), params={"behaviour.volume_factor": (low, high)}, out=out)
    with pytest.raises(RexsimError, match=f"^params: a: {message}"):
        screen(lambda v: v["a"], {"a": (low, high)})
    with pytest.raises(RexsimError, match=f"^params: a: {message}"):
        screen(lambda v: v["a"], [Param("a", low, high, False)])
    assert not out.exists()


def test_a_cli_range_too_narrow_is_refused_naming_the_param():
    with pytest.raises(RexsimError, match="too narrow") as info:
        parse_param("behaviour.volume_factor=1:1.0000000000001")
    assert info.value.for_cli().startswith("--param: behaviour.volume_factor: the range ")


@pytest.mark.parametrize("key, option, assignment", [
    ("national.settlement_weight_pct", "what_if", "national.settlement_weight_pct=20"),
    ("products.PRND_OX.demand_elasticity", "what_if", "products.*.demand_elasticity=0.3"),
    ("products.*.demand_elasticity", "what_if", "products.PRND_OX.demand_elasticity=0.3"),
    ("behaviour.act_pct", "what_if", "behaviour={volume_factor=1.1}"),
    ("behaviour.act_pct", "overrides", "behaviour.act_pct=30"),
])
def test_a_what_if_or_set_that_sets_a_sampled_field_is_refused(key, option, assignment,
                                                               tmp_path):
    out = tmp_path / "never"
    params = {key: (0.2, 0.4) if "elasticity" in key else (10, 40)}
    with pytest.raises(RexsimError, match=rf"^{option}: .* sets {key.replace('*', '[*]')}, "
                                          "which --param samples"):
        sensitivity(small_scenario(), params=params, out=out, **{option: [assignment]})
    assert not out.exists()


def test_a_what_if_of_another_field_is_not_taken_for_a_sampled_one():
    from sim.sensitivity import _check_unsampled

    ps = resolve_params(small_scenario(), [("products.PRND_OX.demand_elasticity", 0.2, 0.4)])
    _check_unsampled(small_scenario(), ps, ["products.ND_OX.demand_elasticity=0.3",
                                            "products.PRND_OX.band_pct=10", SHOCK], "what_if",
                     "--what-if")


def test_a_wildcard_set_the_samples_undo_in_part_stands_but_a_wildcard_what_if_does_not():
    """A --set comes before the samples (the rest stands); a what-if after them (it pins it).

    The samples replace the --set's PRND_OX value and keep the other products'; a what-if
    would give the sampled field its own value in every what-if run.
    """
    from sim.sensitivity import _check_unsampled

    ps = resolve_params(small_scenario(), [("products.PRND_OX.demand_elasticity", 0.2, 0.4)])
    wildcard = ["products.*.demand_elasticity=0.3"]
    _check_unsampled(small_scenario(), ps, wildcard, "overrides", "--set")
    with pytest.raises(RexsimError, match="which --param samples"):
        _check_unsampled(small_scenario(), ps, wildcard, "what_if", "--what-if")


def test_a_metric_given_twice_is_refused(tmp_path):
    with pytest.raises(RexsimError, match="^metrics: 'tonnage_kg' is given twice") as info:
        sensitivity(small_scenario(), params={"behaviour.volume_factor": (0.5, 1.5)},
                    metrics=["tonnage_kg", "tonnage_kg"], out=tmp_path / "never")
    assert info.value.option == "--metric" and not (tmp_path / "never").exists()


@pytest.mark.parametrize("levels", [3, 5, 1])
def test_morris_levels_must_be_even_as_salib_asks(levels):
    with pytest.raises(RexsimError, match=f"^levels: expected an even int >= 2 .* got {levels}"
                       ) as info:
        screen(lambda v: v["a"], ABC, levels=levels)
    assert info.value.option == "--levels"


@needs_salib
def test_a_missing_answer_is_none_and_no_warning_reaches_stderr(recwarn):
    rows = screen(lambda v: None, ABC, samples=4)
    assert all(r[k] is None for r in rows for k in ("mu_star", "mu"))
    assert [str(w.message) for w in recwarn] == []


@needs_salib
def test_morris_finds_the_parameter_a_function_depends_on_most():
    rows = screen(lambda v: 10 * v["a"] + v["b"] + 0 * v["c"], ABC, "morris", 10)
    mu = {r["parameter"]: r["mu_star"] for r in rows}
    assert mu["a"] == pytest.approx(10) and mu["b"] == pytest.approx(1) and mu["c"] == 0
    assert all(r["sigma"] == pytest.approx(0, abs=1e-9) for r in rows)  # no interactions


@needs_salib
def test_screen_takes_the_ranges_as_a_mapping_as_sensitivity_does():
    rows = screen(lambda v: 3 * v["a"], {"a": (0, 1), "b": (0, 1)}, "morris", 6)
    assert [r["parameter"] for r in rows] == ["a", "b"]
    assert rows[0]["mu_star"] == pytest.approx(3) and rows[1]["mu_star"] == 0


@needs_salib
def test_morris_sigma_shows_an_interaction():
    rows = {r["parameter"]: r for r in screen(lambda v: v["a"] * v["b"], ABC, "morris", 20)}
    assert rows["a"]["sigma"] > 0.1 and rows["b"]["sigma"] > 0.1 and rows["c"]["mu_star"] == 0


@needs_salib
def test_sobol_indices_are_the_variance_shares_of_a_linear_function():
    rows = {r["parameter"]: r for r in screen(lambda v: 4 * v["a"] + 2 * v["b"], ABC, "sobol",
                                              256)}
    assert rows["a"]["S1"] == pytest.approx(0.8, abs=0.02)  # 16 / (16 + 4)
    assert rows["b"]["ST"] == pytest.approx(0.2, abs=0.02)
    assert rows["c"]["ST"] == 0 and rows["a"]["S1_conf"] > 0


@needs_salib
def test_sobol_needs_a_power_of_two_samples():
    with pytest.raises(RexsimError, match="power of 2"):
        screen(lambda v: v["a"], ABC, "sobol", 100)


def test_without_salib_it_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "SALib", None)
    monkeypatch.setitem(sys.modules, "SALib.sample.morris", None)
    with pytest.raises(RexsimError, match=r"needs SALib: pip install 'rexsim\[sensitivity\]'"):
        screen(lambda v: v["a"], ABC, "morris", 4)


# --------------------------------------------------------------------------- with runs

@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    out = tmp_path_factory.mktemp("sens") / "s"
    res = sensitivity(small_scenario(), out=out, params={"behaviour.volume_factor": (0.5, 1.5),
                                                         "behaviour.premium_bp": (0, 20)},
                      samples=2, metrics=["tonnage_kg", "PRND_OX.avg_price_yuan_t"],
                      what_if=[SHOCK], until="2024-01-05", jobs=1)
    return out, res


@needs_salib
def test_a_what_if_analysis_writes_each_parameters_importance_per_metric(analysed):
    out, res = analysed
    table = read_csv(out / "sensitivity.csv")
    assert table.columns == ("metric", "unit", "answer", "parameter", "low", "high", "integer",
                             "mu_star", "mu_star_conf", "sigma", "mu", "rank")
    rows = {(r[0], r[3]): dict(zip(table.columns, r, strict=True)) for r in table.rows}
    assert len(rows) == 4 and rows["tonnage_kg", "behaviour.volume_factor"]["unit"] == "kg"
    assert {r["answer"] for r in rows.values()} == {"change under the what-if"}
    # more intent moves more tonnage, and so loses more of it to the withdrawal
    assert rows["tonnage_kg", "behaviour.volume_factor"]["rank"] == 1
    assert (res.ran, len(res.runs)) == (12, 12)  # 2 trajectories x 3 points x 2 variants
    assert list(res.indices.columns) == list(table.columns)


@needs_salib
def test_rerunning_an_analysis_reuses_its_runs_and_gives_the_same_indices(analysed):
    out, _ = analysed
    before = (out / "sensitivity.csv").read_bytes()
    res = sensitivity(small_scenario(), out=out, params={"behaviour.volume_factor": (0.5, 1.5),
                                                         "behaviour.premium_bp": (0, 20)},
                      samples=2, metrics=["tonnage_kg", "PRND_OX.avg_price_yuan_t"],
                      what_if=[SHOCK], until="2024-01-05", jobs=1)
    assert res.ran == 0 and (out / "sensitivity.csv").read_bytes() == before


@pytest.mark.parametrize("args, message", [
    (["--what-if", "national.settlement_weight_pct=20"],
     "--what-if: national.settlement_weight_pct=20 sets national.settlement_weight_pct, "
     "which --param samples"),
    (["--metric", "tonnage_kg", "--metric", "tonnage_kg"], "--metric: 'tonnage_kg' is given"),
    (["--levels", "3"], "--levels: expected an even int >= 2"),
    (["--until", "2024-02-01"], "--until: 2024-02-01 is after the scenario's end 2024-01-19"),
    (["--out", ""], "--out: expected a directory, got an empty path"),
])
@needs_salib  # --until is checked with the samples' points
def test_cli_sensitivity_refuses_bad_options_in_one_line_before_any_run(args, message, tmp_path,
                                                                        capsys, monkeypatch):
    path = tmp_path / "small.toml"
    path.write_text(small_toml(), "utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["sensitivity", str(path), "--param", "national.settlement_weight_pct=10:40",
                 "--samples", "2", "--jobs", "1", "--out", "never", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"rexsim: {message}") and err.count("\n") == 1, err
    assert [p.name for p in tmp_path.iterdir()] == ["small.toml"]


@needs_salib
def test_cli_sensitivity_prints_the_ranking_and_refuses_an_unknown_metric(tmp_path, capsys):
    path = tmp_path / "small.toml"
    path.write_text(small_toml(), "utf-8")
    args = ["sensitivity", str(path), "--param", "behaviour.volume_factor=0.5:1.5", "--param",
            "population.members=120:200", "--samples", "2", "--until", "2024-01-04",
            "--jobs", "1"]
    assert main([*args, "--metric", "tonnage_t", "--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err
    assert "'tonnage_t' is not a headline metric (e.g. tonnage_kg" in err
    assert err.count("\n") == 1 and not (tmp_path / "bad").exists()
    assert main([*args, "--out", str(tmp_path / "s")]) == 0
    text = capsys.readouterr().out
    assert "morris over 2 parameters: 6 runs (6 made, 0 already complete)" in text
    assert "tonnage_kg (mean over seeds" in text
    assert "integer settings, each sample rounded to the nearest integer: population.members" \
        in text
    sample = read_csv(tmp_path / "s" / "sweep.csv")
    assert all(type(v) is int for v in sample.column("population.members"))
