"""Seed sweeps: each seed is exactly its own run; statistics and paired comparisons."""

from __future__ import annotations

import json
import math

import pytest

from sim import run
from sim.cli import main
from sim.errors import RexsimError as UserError
from sim.sweep import compare_sweeps, load_sweep, parse_seeds, run_sweep, stats
from tests.sim.small import small_scenario, small_toml

SHOCK = 'interventions=[{date=2024-01-08, action="withdraw", member="dominant_light"}]'


@pytest.mark.parametrize("text, seeds", [
    ("1-4", [1, 2, 3, 4]), ("3", [3]), ("1,3,5", [1, 3, 5]), ("0-1, 7", [0, 1, 7]),
])
def test_seeds_are_ranges_and_lists(text, seeds):
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text", ["", "a", "4-2", "-1", "1-3,2"])
def test_bad_seeds_are_one_line_user_errors(text):
    with pytest.raises(UserError, match="^seeds: ") as info:
        parse_seeds(text)
    assert info.value.for_cli().startswith("--seeds: ")


def test_stats_are_mean_sample_sd_min_max_of_the_known_values():
    s = stats([2, 4, None, 4, 5, 5, 7, 9])
    assert s["mean"] == 36 / 7 and (s["min"], s["max"]) == (2, 9)
    assert math.isclose(s["sd"], math.sqrt(sum((x - 36 / 7) ** 2
                                               for x in [2, 4, 4, 5, 5, 7, 9]) / 6))
    assert stats([None]) == {"mean": None, "sd": None, "min": None, "max": None}
    assert stats([3])["sd"] == 0.0


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweeps")
    base = run_sweep(small_scenario(), [3, 4, 5], root / "base", jobs=2)
    shocked = run_sweep(small_scenario(), [3, 4, 5], root / "shock", overrides=[SHOCK], jobs=1)
    return root, base, shocked


def test_each_seed_of_a_sweep_is_exactly_that_seeds_run(sweeps, tmp_path):
    root, _, _ = sweeps
    run(small_scenario(), seed=4, out=tmp_path)
    for name in ("summary.json", "trades.csv", "daily.csv", "enterprises.csv"):
        assert (root / "base" / "seed-4" / name).read_bytes() == (tmp_path / name).read_bytes()


def test_sweep_json_does_not_depend_on_the_number_of_workers(sweeps, tmp_path):
    root, _, _ = sweeps
    run_sweep(small_scenario(), [3, 4, 5], tmp_path, jobs=1)
    assert (tmp_path / "sweep.json").read_bytes() == (root / "base" / "sweep.json").read_bytes()


def test_sweep_metrics_hold_each_seeds_exact_value(sweeps):
    root, base, _ = sweeps
    tonnage = next(m for m in base["metrics"] if m["metric"] == "tonnage (t)")
    kgs = [json.loads((root / "base" / f"seed-{s}" / "summary.json").read_text())["tonnage_kg"]
           for s in (3, 4, 5)]
    assert tonnage["values"] == kgs and tonnage["mean"] == sum(kgs) / 3
    assert load_sweep(root / "base") == base


def test_sweeps_compare_seed_by_seed(sweeps):
    _, base, shocked = sweeps
    rows = {r["metric"]: r for r in compare_sweeps(base, shocked)}
    t = rows["tonnage (t)"]
    x = next(m for m in base["metrics"] if m["metric"] == "tonnage (t)")["values"]
    y = next(m for m in shocked["metrics"] if m["metric"] == "tonnage (t)")["values"]
    assert t["change"] == [b - a for a, b in zip(x, y, strict=True)]
    assert t["change_mean"] < 0 and t["seeds"] == [3, 4, 5]
    same = compare_sweeps(base, base)
    assert all(r["change_mean"] in (0, None) and r["change_sd"] in (0, None) for r in same)


def test_cli_sweep_then_compare_two_sweeps(tmp_path, capsys):
    path = tmp_path / "small.toml"
    path.write_text(small_toml(), "utf-8")
    for name, extra in (("a", []), ("b", ["--set", "products.PRND_OX.band_pct=8"])):
        assert main(["sweep", str(path), "--seeds", "1-2", "--until", "2024-01-05", "--jobs",
                     "1", "--out", str(tmp_path / name), *extra]) == 0
    out = capsys.readouterr().out
    assert "seeds 1,2 (2 runs)" in out and "tonnage (t)" in out
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b" / "sweep.json")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("paired over seeds 1,2") and "differs in overrides" in out


def test_cli_compare_of_a_run_with_a_sweep_is_refused(sweeps, capsys):
    root, _, _ = sweeps
    assert main(["compare", str(root / "base"), str(root / "base" / "seed-3")]) == 2
    assert "two runs or two sweeps" in capsys.readouterr().err
