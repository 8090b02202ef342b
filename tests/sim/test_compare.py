"""Comparing two runs: exact deltas of unit-named metrics, and every setting that differs."""

from __future__ import annotations

import json

import pytest

from sim import run
from sim.cli import main
from sim.compare import compare, format_comparison, load_summary, notes, scenario_changes
from sim.errors import RexsimError
from sim.units import fixed
from tests.sim.small import small_scenario, small_toml

SHOCK = 'events=[{date=2024-01-08, kind="withdraw", member="dominant_light"}]'


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A small baseline, it with the dominant seller withdrawn, and an edited scenario copy.

    The copy is the scenario's TOML with volume_factor 1.0 -> 0.5.
    """
    base = tmp_path_factory.mktemp("base")
    shock = tmp_path_factory.mktemp("shock")
    edited = tmp_path_factory.mktemp("edited")
    run(small_scenario(), seed=3, out=base)
    run(small_scenario(), seed=3, out=shock, overrides=[SHOCK])
    text = small_toml()
    assert "volume_factor = 1.0" in text
    toml = edited / "half.toml"
    toml.write_text(text.replace("volume_factor = 1.0", "volume_factor = 0.5"), "utf-8")
    run(toml, seed=3, out=edited / "out")
    return base, shock, edited / "out"


def test_rows_are_exact_differences_in_the_unit_their_key_names(runs):
    base, other = (load_summary(p) for p in runs[:2])
    rows = {r.metric: r for r in compare(base, other)}
    t = rows["tonnage_kg"]
    assert (t.unit, t.base, t.other) == ("kg", base["tonnage_kg"], other["tonnage_kg"])
    assert t.change == other["tonnage_kg"] - base["tonnage_kg"] < 0  # the big seller left
    assert t.change_unit == "kg" and t.rel_change_pct == round(100 * t.change / t.base, 3)
    p = rows["PRND_OX.avg_price_yuan_t"]
    by = base["by_product"]["PRND_OX"]
    assert p.base == by["value_fen"] * 10 // by["tonnage_kg"] and p.unit == "yuan_t"
    assert rows["sell_value.hhi"].base == base["concentration"]["sell_value"]["hhi"]


def test_a_share_changes_in_percentage_points(runs):
    base, other = (load_summary(p) for p in runs[:2])
    row = {r.metric: r for r in compare(base, other)}["online_share_pct"]
    assert row.unit == "pct" and row.change_unit == "pp"
    assert row.change == round(row.other - row.base, 6)


def test_a_run_compared_with_itself_changes_nothing(runs):
    base = load_summary(runs[0])
    assert all(r.change in (0, None) for r in compare(base, base))
    assert notes(base, base) == []
    assert not format_comparison(base, base).startswith("differs")


def test_a_metric_only_one_run_has_is_none_on_the_other_side(runs):
    base = load_summary(runs[0])
    other = json.loads(json.dumps(base))
    other["by_product"]["NEW"] = {"tonnage_kg": 5000, "value_fen": 100_000}
    row = {r.metric: r for r in compare(base, other)}["NEW.tonnage_kg"]
    assert (row.base, row.other, row.change, row.rel_change_pct) == (None, 5000, None, None)


def test_an_edited_copy_of_the_scenario_file_names_the_field_it_changed(runs):
    base, edited = load_summary(runs[0]), load_summary(runs[2])
    assert notes(base, edited) == ["behaviour.volume_factor: 1.0 -> 0.5"]


def test_a_set_override_shows_as_the_scenario_field_it_set(runs):
    base, shock = load_summary(runs[0]), load_summary(runs[1])
    [line] = notes(base, shock)
    assert line.startswith('events: [] -> [{"kind": "withdraw", "date": "2024-01-08"')


def test_products_are_matched_by_code_not_by_position():
    a = {"products": [{"code": "LA_OX", "tick": 10}, {"code": "CE_OX", "tick": 10}],
         "roles": [{"name": "trader", "weight_pct": 35.0}]}
    b = {"products": [{"code": "CE_OX", "tick": 20}, {"code": "LA_OX", "tick": 10},
                      {"code": "NEW", "tick": 5}],
         "roles": [{"name": "trader", "weight_pct": 30.0}]}
    changes = scenario_changes({"resolved_scenario": a}, {"resolved_scenario": b})
    assert [(c.field, c.base, c.other, c.status) for c in changes] == [
        ("products.CE_OX.tick", 10, 20, "changed"),
        ("products.NEW", None, {"code": "NEW", "tick": 5}, "added"),
        ("roles.trader.weight_pct", 35.0, 30.0, "changed"),
    ]
    lines = notes({"resolved_scenario": a}, {"resolved_scenario": b})
    assert lines == ["products.CE_OX.tick: 10 -> 20", "products.NEW: added",
                     "roles.trader.weight_pct: 35.0 -> 30.0"]


def test_a_null_setting_is_told_apart_from_an_absent_one():
    a = {"resolved_scenario": {"products": [{"code": "X", "band_abs": None}]}}
    b = {"resolved_scenario": {"products": [{"code": "X", "band_abs": 2000, "fee_bp": 3}]}}
    assert notes(a, b) == ["products.X.band_abs: null -> 2000", "products.X.fee_bp: (absent) -> 3"]


def test_cli_prints_what_differs_then_the_table_in_printed_units(runs, capsys):
    assert main(["compare", str(runs[0]), str(runs[2] / "summary.json")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("differs in behaviour.volume_factor: 1.0 -> 0.5\n")
    header = next(line for line in out.splitlines() if line.startswith("metric"))
    assert header.split() == ["metric", "unit", "base", "other", "abs.", "change", "rel.",
                              "change"]
    tonnage = next(line for line in out.splitlines() if line.startswith("tonnage "))
    kg = load_summary(runs[0])["tonnage_kg"]
    assert tonnage.split()[:3] == ["tonnage", "t", fixed(kg, 1000, 1)]
    share = next(line for line in out.splitlines() if line.startswith("online_share "))
    assert share.split()[1] == "%" and " pp " in share
    assert "percentage points" in out


def test_cli_json_keys_name_their_units_and_hold_exact_integers(runs, capsys):
    assert main(["compare", str(runs[0]), str(runs[1]), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    value = next(r for r in doc["rows"] if r["metric"] == "value_fen")
    assert value["base"] == load_summary(runs[0])["value_fen"]
    assert type(value["change"]) is int and value["unit"] == "fen"
    assert not any("(t)" in r["metric"] or "(yuan)" in r["metric"] for r in doc["rows"])
    assert doc["scenario_changes"][0]["field"] == "events"


def test_a_missing_or_foreign_file_is_one_line(tmp_path, capsys):
    with pytest.raises(RexsimError, match="no such file"):
        load_summary(tmp_path / "nowhere")
    (tmp_path / "x.json").write_text('{"a": 1}')
    with pytest.raises(RexsimError, match="not a rexsim summary.json"):
        load_summary(tmp_path / "x.json")
    (tmp_path / "bad.json").write_text("{")
    assert main(["compare", str(tmp_path / "bad.json"), str(tmp_path / "x.json")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.parametrize("field, value, message", [
    ("tonnage_kg", "abc", 'tonnage_kg: expected int, got "abc"'),
    ("by_channel", {"online": {"value_fen": "1e9"}},
     'by_channel.online.value_fen: expected int, got "1e9"'),
])
def test_cli_refuses_a_summary_field_of_the_wrong_type_naming_file_and_field(
        runs, tmp_path, capsys, field, value, message):
    summary = load_summary(runs[0])
    bad = tmp_path / "summary.json"
    bad.write_text(json.dumps({**summary, field: value}))
    assert main(["compare", str(bad), str(runs[1])]) == 2
    assert capsys.readouterr().err == f"rexsim: {bad}: {message}\n"
    assert main(["compare", str(runs[1]), str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"rexsim: {bad}: {message}\n"


def test_lists_of_the_same_length_are_compared_element_by_element():
    from sim.compare import scenario_changes

    ev = [{"kind": "supply", "date": "2024-06-03", "group": "light", "pct": -20.0},
          {"kind": "fee", "date": "2024-07-01", "bp": 10}]
    later = [ev[0], dict(ev[1], date="2024-08-01")]
    a = {"resolved_scenario": {"events": ev, "calendar": {"holidays": [[1, 2]]}}}
    b = {"resolved_scenario": {"events": later, "calendar": {"holidays": [[1, 2], [3, 4]]}}}
    changes = scenario_changes(a, b)
    assert [(c.field, c.base, c.other) for c in changes] == [
        ("events[1].date", "2024-07-01", "2024-08-01"),
        ("calendar.holidays", [[1, 2]], [[1, 2], [3, 4]])]  # another length: the whole list
