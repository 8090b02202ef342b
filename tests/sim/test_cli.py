"""`rexsim run` and `rexsim scenarios` from the command line."""

from __future__ import annotations

import json

import pytest

from sim.cli import main
from sim.scenario import parse_scenario
from tests.sim.small import small_toml


def test_scenarios_lists_the_default(capsys):
    assert main(["scenarios"]) == 0
    assert "baotou-2024 (default)" in capsys.readouterr().out


def test_scenarios_show_prints_toml_that_loads(capsys):
    assert main(["scenarios", "show", "baotou-2024"]) == 0
    assert parse_scenario(capsys.readouterr().out).name == "baotou-2024"


def test_scenarios_show_unknown_exits_2(capsys):
    assert main(["scenarios", "show", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown scenario 'nope'" in err


def test_run_writes_files_and_prints_the_summary_table(tmp_path, capsys):
    path = tmp_path / "small.toml"
    path.write_text(small_toml(), "utf-8")
    out = tmp_path / "out"
    assert main(["run", str(path), "--seed", "2", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    for word in ("PRND_OX", "online", "offline", "total", "members", "provinces"):
        assert word in text
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seed"] == 2 and summary["scenario"] == "baotou-2024"
    for name in ("daily.csv", "trades.csv", "enterprises.csv"):
        assert (out / name).stat().st_size > 0


def test_run_quiet_prints_nothing(tmp_path, capsys):
    path = tmp_path / "small.toml"
    path.write_text(small_toml(), "utf-8")
    assert main(["run", str(path), "--quiet", "--until", "2024-01-05", "--out",
                 str(tmp_path / "o")]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_run_with_an_invalid_file_exits_2_with_one_line(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text(small_toml().replace("tick = 100\n", "tick = -5\n", 1), "utf-8")
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert err == f"rexsim: {path}: $.products[0].tick: expected int >= 1, got -5\n"


def test_run_with_a_bad_date_is_an_argument_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["run", "--until", "31/10/2024"])
    assert info.value.code == 2
    assert "expected a date YYYY-MM-DD" in capsys.readouterr().err


def test_until_before_the_start_exits_2(tmp_path, capsys):
    path = tmp_path / "small.toml"
    path.write_text(small_toml(), "utf-8")
    out = tmp_path / "out"
    assert main(["run", str(path), "--until", "2023-12-01", "--out", str(out)]) == 2
    assert "--until: 2023-12-01 is before the first trading day" in capsys.readouterr().err
    assert not out.exists()


def test_run_set_changes_the_scenario_and_is_recorded(tmp_path, capsys):
    path = tmp_path / "small.toml"
    path.write_text(small_toml(), "utf-8")
    out = tmp_path / "out"
    shock = 'events=[{date=2024-01-08, kind="withdraw", member="dominant_light"}]'
    assert main(["run", str(path), "--until", "2024-01-10", "--out", str(out),
                 "--set", "products.PRND_OX.band_pct=8", "--set", shock]) == 0
    text = capsys.readouterr().out
    assert "set products.PRND_OX.band_pct=8" in text
    summary = json.loads((out / "summary.json").read_text())
    assert summary["overrides"] == ["products.PRND_OX.band_pct=8", shock]
    assert summary["events"][0]["applied"] == "2024-01-08"


def test_run_with_a_bad_set_exits_2_with_one_line(capsys):
    assert main(["run", "--set", "population.membrs=3"]) == 2
    err = capsys.readouterr().err
    assert err == "rexsim: baotou-2024 (with --set): $.population: contains unknown field membrs\n"


def test_summary_table_shows_each_products_average_price_floored(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", "--until", "2024-01-05", "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    p = json.loads((out / "summary.json").read_text())["by_product"]["PRND_OX"]
    row = next(line for line in lines if line.startswith("PRND_OX"))
    assert row.split()[-1] == f"{p['value_fen'] * 10 // p['tonnage_kg']:,}"
