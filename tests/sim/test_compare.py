"""Comparing two runs: exact deltas from summary.json, one line per error."""

from __future__ import annotations

import json

import pytest

from sim import run
from sim.cli import main
from sim.errors import RexsimError as UserError
from sim.compare import compare, format_comparison, load_summary
from tests.sim.small import small_scenario

SHOCK = 'interventions=[{date=2024-01-08, action="withdraw", member="dominant_light"}]'


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("base")
    other = tmp_path_factory.mktemp("other")
    run(small_scenario(), seed=3, out=base)
    run(small_scenario(), seed=3, out=other, overrides=[SHOCK])
    return base, other


def test_rows_are_exact_differences_of_the_summaries(two_runs):
    base, other = (load_summary(p) for p in two_runs)
    rows = {r.metric: r for r in compare(base, other)}
    t = rows["tonnage (t)"]
    assert (t.base, t.other) == (base["tonnage_kg"], other["tonnage_kg"])
    assert t.change == other["tonnage_kg"] - base["tonnage_kg"] < 0  # the big seller left
    assert t.change_pct == round(100 * t.change / t.base, 3)
    p = rows["PRND_OX average price (yuan/t)"]
    by = base["by_product"]["PRND_OX"]
    assert p.base == by["value_fen"] * 10 // by["tonnage_kg"]
    hhi = rows["sell value HHI"]
    assert hhi.base == base["concentration"]["sell_value"]["hhi"]


def test_a_run_compared_with_itself_changes_nothing(two_runs):
    base = load_summary(two_runs[0])
    assert all(r.change in (0, None) for r in compare(base, base))
    assert not format_comparison(base, base).startswith("differs")


def test_a_metric_only_one_run_has_is_none_on_the_other_side(two_runs):
    base = load_summary(two_runs[0])
    other = json.loads(json.dumps(base))
    other["by_product"]["NEW"] = {"tonnage_kg": 5000, "value_fen": 100_000}
    row = {r.metric: r for r in compare(base, other)}["NEW tonnage (t)"]
    assert (row.base, row.other, row.change, row.change_pct) == (None, 5000, None, None)


def test_cli_prints_the_table_and_what_differs(two_runs, capsys):
    assert main(["compare", str(two_runs[0]), str(two_runs[1] / "summary.json")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("differs in overrides")
    assert "tonnage (t)" in out and "sell value HHI" in out


def test_cli_json_carries_exact_integers(two_runs, capsys):
    assert main(["compare", str(two_runs[0]), str(two_runs[1]), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    value = next(r for r in doc["rows"] if r["metric"] == "value (yuan)")
    assert value["base"] == load_summary(two_runs[0])["value_fen"]
    assert type(value["change"]) is int
    assert any(n.startswith("interventions") for n in doc["notes"])


def test_a_missing_or_foreign_file_is_one_line(tmp_path, capsys):
    with pytest.raises(UserError, match="no such file"):
        load_summary(tmp_path / "nowhere")
    (tmp_path / "x.json").write_text('{"a": 1}')
    with pytest.raises(UserError, match="not a rexsim summary.json"):
        load_summary(tmp_path / "x.json")
    (tmp_path / "bad.json").write_text("{")
    assert main(["compare", str(tmp_path / "bad.json"), str(tmp_path / "x.json")]) == 2
    assert capsys.readouterr().err.count("\n") == 1
