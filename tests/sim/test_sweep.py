"""Sweeps: grids of settings over seeds, each run exactly its own run, the two tables."""

from __future__ import annotations

import json
import shutil
import sys

import pytest

from sim import run
from sim.cli import main
from sim.errors import OutputError, RexsimError, RunError, ScenarioError
from sim.experiments import limits
from sim.experiments.plan import (
    baseline_points,
    grid_points,
    make_plan,
    parse_grid,
    parse_seeds,
    split_values,
)
from sim.experiments.stats import estimate, paired
from sim.experiments.tables import read_csv
from sim.metrics import headline
from sim.recorder import Table
from sim.sweep import compare_sweeps, format_sweep_comparison, load_sweep, sweep
from tests.sim.small import small_scenario, small_toml

VF = "behaviour.volume_factor"
SHOCK = 'events=[{date=2024-01-08, kind="withdraw", member="dominant_light"}]'


# --------------------------------------------------------------------------- parsing

@pytest.mark.parametrize("text, seeds", [
    ("1-4", [1, 2, 3, 4]), ("3", [3]), ("1,3,5", [1, 3, 5]), ("0-1, 7", [0, 1, 7]),
])
def test_seeds_are_ranges_and_lists(text, seeds):
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text", ["", "a", "4-2", "-1", "1-3,2", "0-1000000000000",
                                  "1-600000,700000-1300000"])
def test_bad_seeds_are_one_line_errors_naming_the_option(text):
    with pytest.raises(RexsimError, match="^seeds: ") as info:
        parse_seeds(text)
    assert info.value.for_cli().startswith("--seeds: ")


@pytest.mark.parametrize("text, values", [
    ("5,8,10", ["5", "8", "10"]),
    ("[10,60],[5, 30]", ["[10,60]", "[5, 30]"]),
    ('"a,b", "c"', ['"a,b"', '"c"']),
    ("{x = 1, y = [2, 3]},{x = 2}", ["{x = 1, y = [2, 3]}", "{x = 2}"]),
])
def test_grid_values_split_at_commas_outside_brackets_and_quotes(text, values):
    assert split_values(text) == values


@pytest.mark.parametrize("items, message", [
    (["behaviour.volume_factor"], "expected KEY=VALUE"),
    ([f"{VF}=1", f"{VF}=2"], "given twice"),
    (["seed=1,2"], "give the seeds with --seeds"),
    ([f"{VF}=1,,2"], "an empty value"),
    ([f"{VF}=1,1"], "listed twice"),
])
def test_bad_grid_options_are_one_line_errors(items, message):
    with pytest.raises(RexsimError, match=message) as info:
        parse_grid(items)
    assert info.value.for_cli().startswith("--grid")


def test_grid_points_are_every_combination_last_key_fastest_with_readable_names():
    points = grid_points(parse_grid(["products.PRND_OX.band_pct=5,8",
                                     "products.ND_OX.band_pct=5",
                                     "counter.delay_minutes=[10, 60],[5,30]"]))
    assert [p.name for p in points] == [
        "PRND_OX.band_pct=5,ND_OX.band_pct=5,delay_minutes=10_60",
        "PRND_OX.band_pct=5,ND_OX.band_pct=5,delay_minutes=5_30",
        "PRND_OX.band_pct=8,ND_OX.band_pct=5,delay_minutes=10_60",
        "PRND_OX.band_pct=8,ND_OX.band_pct=5,delay_minutes=5_30",
    ]
    assert points[1].overrides == ("products.PRND_OX.band_pct=5", "products.ND_OX.band_pct=5",
                                   "counter.delay_minutes=[5,30]")
    assert dict(points[1].labels)["counter.delay_minutes"] == "[5,30]"
    assert grid_points([])[0].name == ""  # a seed sweep: runs at OUT/seed-N


def test_a_grid_over_the_population_seed_is_not_named_like_a_run_seed():
    points = grid_points(parse_grid(["population.seed=1,2", f"{VF}=0.8"]))
    assert [p.name for p in points] == ["population.seed=1,volume_factor=0.8",
                                        "population.seed=2,volume_factor=0.8"]
    unset = grid_points(parse_grid(["population.seed=null,1"]))
    assert [p.name for p in unset] == ["population.seed=null", "population.seed=1"]
    assert baseline_points(unset, {"population.seed": "null"}) == [0, 0]


def test_a_baseline_pairs_each_point_with_the_one_that_has_its_other_values():
    points = grid_points(parse_grid([f"{VF}=0.8,1.2", "products.PRND_OX.band_pct=5,8"]))
    assert baseline_points(points, {VF: "0.8"}) == [0, 1, 0, 1]
    assert baseline_points(points, {VF: "1.2", "products.PRND_OX.band_pct": "8"}) == [3] * 4
    with pytest.raises(RexsimError, match="not a grid key"):
        baseline_points(points, {"behaviour.act_pct": "3"})
    with pytest.raises(RexsimError, match="not one of the grid's values"):
        baseline_points(points, {VF: "0.9"})


# --------------------------------------------------------------------------- checked up front

def test_every_point_is_resolved_and_hashed_before_anything_runs():
    plan = make_plan(small_scenario(), [1, 2], grid_points(parse_grid([f"{VF}=0.8,1.2"])),
                     overrides=["behaviour.act_pct=30"], until="2024-01-05")
    assert len(plan) == 4 and len(set(plan.hashes)) == 2
    r = plan.run(3)
    assert (r.point, r.seed, r.dir) == (1, 2, "volume_factor=1.2/seed-2")
    assert r.overrides == ("behaviour.act_pct=30", f"{VF}=1.2")
    assert r.command == ("rexsim run '<Scenario baotou-2024>' --seed 2 --until 2024-01-05 "
                         f"--set behaviour.act_pct=30 --set {VF}=1.2")


def test_a_bad_value_names_its_grid_key_and_a_bad_combination_names_the_point():
    with pytest.raises(ScenarioError) as info:
        make_plan(small_scenario(), [1], grid_points(parse_grid([f"{VF}=0.8,-1"])))
    assert info.value.for_cli() == (f"--grid {VF}: value -1: $.behaviour.volume_factor: "
                                    "expected float > 0.0, got -1")
    grid = ["population.members_at_start=100,200", "population.members=150,300"]
    with pytest.raises(ScenarioError, match="members_at_start=200, population.members=150: "
                                            r"\$.population.members_at_start: expected <="):
        make_plan(small_scenario(), [1], grid_points(parse_grid(grid)))


def test_two_values_that_make_the_same_scenario_are_refused():
    with pytest.raises(RexsimError, match="give the same scenario"):
        make_plan(small_scenario(), [1], grid_points(parse_grid(["behaviour.act_pct=30,30.0"])))


def test_cli_bad_grid_key_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "never"
    assert main(["sweep", "--grid", "behaviour.volume_factorx=1,2", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown field volume_factorx" in err
    assert not out.exists()


def _refused(argv, capsys) -> str:
    """Run the CLI, which must refuse: exit 2 and one `rexsim: ` line on stderr."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("rexsim: ") and err.count("\n") == 1, err
    return err.strip()


@pytest.mark.parametrize("args, message", [
    (["--until", "2024-01-22"], "--until: 2024-01-22 is after the scenario's end 2024-01-19"),
    (["--grid", "calendar.end=2024-01-03,2024-01-04", "--until", "2024-01-04"],
     "--until: 2024-01-04 is after the scenario's end 2024-01-03 (at calendar.end=2024-01-03)"),
    (["--grid", "calendar.start=2024-01-02,2024-01-05", "--until", "2024-01-04"],
     "--until: 2024-01-04 is before the scenario's start 2024-01-05 (at calendar.start="),
    (["--grid", "calendar.start=2024-01-02,2024-01-06", "--until", "2024-01-07"],
     "--until: baotou-2024: no trading days from 2024-01-06 to 2024-01-07 (at calendar."),
])
def test_cli_an_until_outside_any_points_calendar_is_refused_before_anything_is_written(
        args, message, tmp_path, capsys):
    path = tmp_path / "small.toml"
    path.write_text(small_toml(), "utf-8")
    out = tmp_path / "never"
    err = _refused(["sweep", str(path), "--seeds", "1", "--jobs", "1", "--out", str(out),
                    *args], capsys)
    assert err.startswith(f"rexsim: {message}")
    assert not out.exists()


def test_cli_a_baseline_key_given_twice_is_refused(tmp_path, capsys):
    out = tmp_path / "never"
    err = _refused(["sweep", "--seeds", "1", "--grid", "products.PRND_OX.band_pct=1,8",
                    "--baseline", "products.PRND_OX.band_pct=1", "--baseline",
                    "products.PRND_OX.band_pct=8", "--out", str(out)], capsys)
    assert err == ("rexsim: --baseline: products.PRND_OX.band_pct is given twice (1 and 8); "
                   "a baseline has one value per grid key")
    assert not out.exists()


@pytest.mark.parametrize("grid, setting", [
    ("products.PRND_OX.band_pct=5,8", "products.PRND_OX.band_pct=3"),
    ("products.*.band_pct=5,8", "products.PRND_OX.band_pct=3"),  # the wildcard covers it
    ("products.PRND_OX.band_pct=5,8", "products.0.band_pct=3"),  # PRND_OX by its index
])
def test_cli_a_set_on_a_grid_key_is_refused_not_silently_replaced_by_the_grid(
        grid, setting, tmp_path, capsys):
    out = tmp_path / "never"
    err = _refused(["sweep", "--seeds", "1", "--until", "2024-01-05", "--grid", grid,
                    "--set", setting, "--out", str(out)], capsys)
    key = grid.partition("=")[0]
    assert err == (f"rexsim: --set: {setting} sets {key}, which --grid varies: each point's "
                   f"value would replace it")
    assert not out.exists()


def test_library_a_set_on_a_grid_or_baseline_key_is_refused(tmp_path):
    key = "products.PRND_OX.band_pct"
    for kwargs in ({"grid": {key: [5, 8]}}, {"grid": {key: [5, 8]}, "baseline": {key: 5}}):
        with pytest.raises(RexsimError, match=f"{key}=3 sets {key}, which --grid varies") as info:
            sweep(small_scenario(), out=tmp_path / "never", seeds=[1], until="2024-01-03",
                  jobs=1, overrides=[f"{key}=3"], **kwargs)
        assert info.value.option == "--set" and "\n" not in str(info.value)
    assert not any(tmp_path.iterdir())


def test_a_set_beside_the_grid_on_other_keys_is_kept(tmp_path):
    plan_keys = ["products.PRND_OX.band_pct=5,8"]
    res = sweep(small_scenario(), out=tmp_path / "s", seeds=[1], until="2024-01-03", jobs=1,
                grid=plan_keys, overrides=["products.ND_OX.band_pct=3"])
    assert len(res.runs) == 2


def test_a_wildcard_set_the_grid_undoes_only_in_part_stands_for_the_other_products(tmp_path):
    """`--set products.*.band_pct=3 --grid products.PRND_OX.band_pct=5,8`: 3 for the rest."""
    sweep(small_scenario(), out=tmp_path / "s", seeds=[1], until="2024-01-03", jobs=1,
          grid=["products.PRND_OX.band_pct=5,8"], overrides=["products.*.band_pct=3"])
    for run_dir, prnd in (("band_pct=5/seed-1", 5), ("band_pct=8/seed-1", 8)):
        resolved = json.loads((tmp_path / "s" / run_dir / "summary.json").read_text())
        bands = {p["code"]: p["band_pct"] for p in resolved["resolved_scenario"]["products"]}
        assert bands.pop("PRND_OX") == prnd and set(bands.values()) == {3}


def test_cli_seeds_beyond_the_runners_range_blame_seeds(tmp_path, capsys):
    out = tmp_path / "never"
    err = _refused(["sweep", "--seeds", str(2**63), "--out", str(out)], capsys)
    assert err.startswith("rexsim: --seeds: expected seeds like 1-8 or 1,3,5 (each from 0 to "
                          "2**63-1)")
    assert not out.exists()


@pytest.mark.parametrize("kwargs, message", [
    ({"seeds": 1}, "seeds: expected seeds like '1-8' or a list of ints, got 1"),
    ({"seeds": [2**63]}, "seeds: expected distinct ints from 0 to 2**63-1"),
    ({"grid": {VF: 5}}, f"grid: {VF}: expected a non-empty list of values, got 5"),
    ({"grid": {VF: []}}, f"grid: {VF}: expected a non-empty list of values, got []"),
    ({"grid": 5}, "grid: expected a mapping or a list of 'KEY=V1,V2' texts, got 5"),
    ({"grid": {VF: [0.8, 1.2]}, "baseline": [f"{VF}=0.8", f"{VF}=1.2"]},
     f"baseline: {VF} is given twice"),
    ({"out": ""}, "out: expected a directory, got an empty path"),
])
def test_library_sweep_arguments_of_the_wrong_shape_are_one_line_errors(kwargs, message,
                                                                        tmp_path):
    args = {"out": tmp_path / "never", "seeds": [1], **kwargs}
    with pytest.raises(RexsimError) as info:
        sweep(small_scenario(), until="2024-01-03", jobs=1, **args)
    assert str(info.value).startswith(message) and "\n" not in str(info.value)
    assert not any(tmp_path.iterdir())


def test_cli_sweep_refuses_an_empty_out_instead_of_writing_the_default(tmp_path, capsys,
                                                                        monkeypatch):
    monkeypatch.chdir(tmp_path)
    err = _refused(["sweep", "--seeds", "1", "--until", "2024-01-03", "--out", ""], capsys)
    assert err == "rexsim: --out: expected a directory, got an empty path"
    assert not any(tmp_path.iterdir())


def test_more_than_ten_thousand_runs_needs_yes(tmp_path, capsys):
    out = tmp_path / "big"
    assert main(["sweep", "--seeds", "0-10000", "--out", str(out)]) == 2
    assert "10,001 runs, more than 10,000" in capsys.readouterr().err and not out.exists()
    limits.check_runs(10_001, yes=True)


def test_more_disk_than_is_free_needs_yes(tmp_path):
    with pytest.raises(OutputError, match=r"100 runs of about 4.0 MB need about 400.0 MB, and "
                                          r".* has 1.0 MB free") as info:
        limits.check_disk(100, 4_000_000, 1_000_000, tmp_path)
    assert info.value.option == "--yes"
    limits.check_disk(100, 4_000_000, 1_000_000, tmp_path, yes=True)


def test_a_runs_size_is_estimated_from_a_short_probe_on_the_large_side(tmp_path):
    plan = make_plan(small_scenario(), [1], grid_points([]))
    estimate_bytes, summary = limits.probe(plan)
    run(small_scenario(), seed=1, out=tmp_path / "r", command=plan.run(0).command)
    actual = sum(f.stat().st_size for f in (tmp_path / "r").iterdir())
    assert actual <= estimate_bytes <= 3 * actual
    assert summary["trading_days"] == limits.PROBE_DAYS


# --------------------------------------------------------------------------- outputs

@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "vf"
    seen = []
    res = sweep(small_scenario(), out=out, seeds=[3, 4, 5], grid={VF: [0.8, 1.2]},
                baseline={VF: 0.8}, jobs=1, progress=lambda done, total: seen.append((done,
                                                                                       total)))
    return out, res, seen


def test_each_run_of_a_sweep_is_exactly_that_run(swept, tmp_path):
    out, _, _ = swept
    plan = make_plan(small_scenario(), [3, 4, 5], grid_points(parse_grid([f"{VF}=1.2"])))
    r = plan.run(1)
    run(small_scenario(), seed=4, overrides=[f"{VF}=1.2"], out=tmp_path, command=r.command)
    for name in ("summary.json", "trades.csv", "daily.csv", "enterprises.csv"):
        assert (out / "volume_factor=1.2" / "seed-4" / name).read_bytes() == \
            (tmp_path / name).read_bytes()


def test_sweep_csv_has_a_row_per_run_with_exact_metrics_and_units_in_the_header(swept):
    out, res, _ = swept
    table = read_csv(out / "sweep.csv")
    assert table.columns[:3] == ("run", VF, "seed")
    assert {"tonnage_kg", "value_fen", "avg_price_yuan_t", "online_share_pct"} <= \
        set(table.columns)
    assert [r[:3] for r in table.rows] == [(f"volume_factor={v}/seed-{s}", v, s)
                                           for v in (0.8, 1.2) for s in (3, 4, 5)]
    for row in table.rows:
        summary = json.loads((out / row[0] / "summary.json").read_text())
        want = {m.key: m.value for m in headline(summary)}
        got = dict(zip(table.columns[3:], row[3:], strict=True))
        assert got == want and type(got["tonnage_kg"]) is int
    assert list(res.runs.columns) == list(table.columns)  # the returned table is the file's
    if isinstance(res.runs, Table):  # pandas is not installed
        assert res.runs.rows == table.rows
    else:
        assert res.runs["tonnage_kg"].tolist() == table.column("tonnage_kg")


def test_summary_holds_mean_sd_t_interval_and_the_change_paired_by_seed(swept):
    out, res, _ = swept
    runs = read_csv(out / "sweep.csv")
    by = {(r[1], r[2]): dict(zip(runs.columns, r, strict=True)) for r in runs.rows}
    summary = read_csv(out / "sweep-summary.csv")
    rows = {(r[1], r[2]): dict(zip(summary.columns, r, strict=True)) for r in summary.rows}
    for key in ("tonnage_kg", "online_share_pct"):
        x = [by[0.8, s][key] for s in (3, 4, 5)]
        y = [by[1.2, s][key] for s in (3, 4, 5)]
        row = rows[1.2, key]
        assert (row["n"], row["mean"], row["sd"], row["ci95_low"], row["ci95_high"]) == \
            tuple(estimate(y))
        change = paired(x, y)[1]
        assert (row["change_mean"], row["change_ci95_low"], row["change_ci95_high"]) == \
            (change.mean, change.low, change.high)
        assert rows[0.8, key]["change_mean"] == 0
    assert rows[1.2, "tonnage_kg"]["change_mean"] > 0  # more intent, more tonnage
    assert (rows[1.2, "online_share_pct"]["change_unit"], rows[1.2, "tonnage_kg"]["unit"]) == \
        ("pp", "kg")
    assert rows[1.2, "online_share_pct"]["change_pct"] is None  # shares change in pp only


def test_progress_reports_every_run_as_it_ends(swept):
    _, _, seen = swept
    assert seen == [(k, 6) for k in range(1, 7)]


def test_a_progress_bar_counts_runs_on_stderr(tmp_path, capsys):
    sweep(small_scenario(), out=tmp_path / "bar", seeds=[1, 2], until="2024-01-03", jobs=1,
          progress=True)
    err = capsys.readouterr().err
    assert "2/2" in err and "run" in err


def test_tables_are_light_tables_without_pandas(swept, monkeypatch):
    out, _, _ = swept
    monkeypatch.setitem(sys.modules, "pandas", None)
    res = sweep(small_scenario(), out=out, seeds=[3, 4, 5], grid={VF: [0.8, 1.2]}, jobs=1)
    assert (res.ran, res.reused) == (0, 6)  # all complete: nothing runs again
    assert res.runs.columns[:3] == ("run", VF, "seed") and len(res.runs.rows) == 6
    assert "change_mean" not in res.summary.columns  # no baseline this time


def test_cli_sweep_prints_each_points_interval_and_change(tmp_path, capsys):
    path = tmp_path / "small.toml"
    path.write_text(small_toml(), "utf-8")
    out = tmp_path / "s"
    assert main(["sweep", str(path), "--seeds", "1-2", "--until", "2024-01-05", "--grid",
                 f"{VF}=0.8,1.2", "--baseline", f"{VF}=0.8", "--jobs", "1", "--out",
                 str(out)]) == 0
    text = capsys.readouterr().out
    assert "95% interval (Student t, 1 df)" in text and "volume_factor=1.2" in text
    assert "tonnage (t)" in text and "4 runs made, 0 already complete" in text
    first = json.loads((out / "volume_factor=0.8" / "seed-1" / "summary.json").read_text())
    assert first["command"] == (f"rexsim run {path} --seed 1 --until 2024-01-05 --set "
                                f"{VF}=0.8")


# --------------------------------------------------------------------------- comparing

@pytest.fixture(scope="module")
def seed_sweeps(tmp_path_factory):
    root = tmp_path_factory.mktemp("pairs")
    sweep(small_scenario(), out=root / "base", seeds=[3, 4, 5], jobs=1)
    sweep(small_scenario(), out=root / "shock", seeds=[3, 4, 5], overrides=[SHOCK], jobs=1)
    return root


def test_sweeps_compare_seed_by_seed(seed_sweeps):
    base, shocked = load_sweep(seed_sweeps / "base"), load_sweep(seed_sweeps / "shock")
    rows = {r["metric"]: r for r in compare_sweeps(base, shocked)}
    t = rows["tonnage_kg"]
    x = base["table"].column("tonnage_kg")
    y = shocked["table"].column("tonnage_kg")
    assert t["change"] == [b - a for a, b in zip(x, y, strict=True)]
    assert t["change_mean"] < 0 and t["seeds"] == [3, 4, 5] and t["point"] == {}
    assert t["change_ci95"][0] < t["change_mean"] < t["change_ci95"][1]
    same = compare_sweeps(base, base)
    assert all(r["change_mean"] in (0, None) and r["change_sd"] in (0, None) for r in same)
    text = format_sweep_comparison(base, shocked)
    assert text.startswith("paired over seeds 3-5") and "differs in overrides" in text


def test_cli_compares_two_sweeps_and_refuses_a_run_with_a_sweep(seed_sweeps, capsys):
    assert main(["compare", str(seed_sweeps / "base"),
                 str(seed_sweeps / "shock" / "sweep.json")]) == 0
    assert "tonnage (t)" in capsys.readouterr().out
    assert main(["compare", str(seed_sweeps / "base"), str(seed_sweeps / "base" / "seed-3")]) \
        == 2
    assert "two runs or two sweeps" in capsys.readouterr().err


def test_load_sweep_is_none_for_a_run_and_says_so_for_an_unfinished_sweep(seed_sweeps,
                                                                           tmp_path):
    assert load_sweep(seed_sweeps / "base" / "seed-3") is None
    (tmp_path / "sweep.json").write_text(
        (seed_sweeps / "base" / "sweep.json").read_text())
    with pytest.raises(RexsimError, match="not finished"):
        load_sweep(tmp_path)


def test_a_sweep_table_cut_short_is_incomplete_not_a_sweep_sharing_no_seed(seed_sweeps,
                                                                          tmp_path):
    cut = tmp_path / "cut"
    shutil.copytree(seed_sweeps / "base", cut)
    lines = (cut / "sweep.csv").read_text().splitlines(keepends=True)
    (cut / "sweep.csv").write_text("".join(lines[:2]))  # the header and one of three runs
    with pytest.raises(RexsimError, match=r"holds 1 of the 3 runs its sweep.json records"):
        load_sweep(cut)


def test_cli_compare_names_a_directory_that_is_neither_a_run_nor_a_sweep(seed_sweeps,
                                                                         tmp_path, capsys):
    (tmp_path / "stray").mkdir()
    assert main(["compare", str(tmp_path / "stray"), str(seed_sweeps / "base")]) == 2
    err = capsys.readouterr().err
    assert err == (f"rexsim: compare: {tmp_path / 'stray'} is neither a run (no summary.json) "
                   f"nor a sweep (no sweep.json)\n")


def test_compare_needs_common_runs(seed_sweeps, tmp_path):
    sweep(small_scenario(), out=tmp_path, seeds=[7], until="2024-01-04", jobs=1)
    with pytest.raises(RexsimError, match="share no seed"):
        compare_sweeps(load_sweep(seed_sweeps / "base"), load_sweep(tmp_path))


def test_library_errors_name_the_argument(tmp_path):
    with pytest.raises(RunError, match="^scale: "):
        sweep(small_scenario(), out=tmp_path, seeds=[1], scale=0)
    with pytest.raises(RunError, match="^until: "):
        sweep(small_scenario(), out=tmp_path, seeds=[1], until="2023-12-01")
    assert not any(tmp_path.iterdir())


def test_a_grid_of_numpy_numbers_is_written_as_the_plain_numbers_they_are():
    """np.linspace gives float64s, whose repr is `np.float64(0.8)`: not TOML."""
    import numpy as np

    from sim.sweep import _grid

    assert _grid({VF: list(np.linspace(0.8, 1.0, 2)),
                  "population.members": list(np.arange(150, 152))}) == [
        (VF, ["0.8", "1.0"]), ("population.members", ["150", "151"])]


def test_sweeps_of_one_seed_compare_without_an_interval_of_zero_df(tmp_path):
    """It printed '95% interval (Student t, 0 df)' over one seed, a meaningless heading."""
    sweep(small_scenario(), out=tmp_path / "a", seeds=[1], until="2024-01-05")
    sweep(small_scenario(), out=tmp_path / "b", seeds=[1], until="2024-01-05",
          overrides=[f"{VF}=0.5"])
    text = format_sweep_comparison(load_sweep(tmp_path / "a"), load_sweep(tmp_path / "b"))
    assert text.startswith("paired over seed 1 alone: its change, with no interval")
    assert "0 df" not in text
