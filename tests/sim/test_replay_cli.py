"""`rexsim run --journal` and `rexsim replay`: a run's journal reproduces its trades exactly."""

from __future__ import annotations

import json

import pytest

from sim import run
from sim.cli import main
from tests.sim.small import small_scenario


@pytest.fixture(scope="module")
def journaled(tmp_path_factory):
    root = tmp_path_factory.mktemp("journaled")
    run(small_scenario(), seed=4, out=root / "plain")
    run(small_scenario(), seed=4, out=root / "run", journal=root / "run.journal")
    return root


def test_journaling_a_run_changes_none_of_its_results(journaled):
    for name in ("daily.csv", "trades.csv", "enterprises.csv"):
        plain = (journaled / "plain" / name).read_bytes()
        assert (journaled / "run" / name).read_bytes() == plain, name
    plain, run_ = (json.loads((journaled / d / "summary.json").read_text()) for d in
                   ("plain", "run"))
    assert run_["journal"] == str(journaled / "run.journal") and plain["journal"] is None
    provenance = ("command", "journal")
    assert {k: v for k, v in run_.items() if k not in provenance} == {
        k: v for k, v in plain.items() if k not in provenance}


def test_replay_reproduces_the_runs_trades_trade_for_trade(journaled, capsys):
    assert main(["replay", str(journaled / "run.journal"), "--against",
                 str(journaled / "run"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    summary = json.loads((journaled / "run" / "summary.json").read_text())
    assert doc["against"]["equal"] and doc["dropped_bytes"] == 0
    assert (doc["trades"], doc["tonnage_kg"], doc["value_fen"]) == (
        summary["trades"], summary["tonnage_kg"], summary["value_fen"])
    for code, p in summary["by_product"].items():
        assert doc["by_product"][code]["tonnage_kg"] == p["tonnage_kg"]


def test_replay_against_other_trades_reports_the_first_difference(journaled, tmp_path, capsys):
    lines = (journaled / "run" / "trades.csv").read_text().splitlines(keepends=True)
    fields = lines[5].split(",")
    fields[3] = str(int(fields[3]) + 10)  # one trade's price
    lines[5] = ",".join(fields)
    (tmp_path / "trades.csv").write_text("".join(lines))
    assert main(["replay", str(journaled / "run.journal"), "--against", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "DIFFERS" in out and "trade 5 differs" in out


def test_replay_prints_the_report_and_trades_by_product(journaled, capsys):
    assert main(["replay", str(journaled / "run.journal")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("replayed ") and "PRND_OX" in out and " trades" in out


def test_a_missing_or_foreign_journal_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["replay", str(tmp_path / "none.journal")]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    (tmp_path / "x.journal").write_bytes(b"not a journal at all")
    assert main(["replay", str(tmp_path / "x.journal")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_an_unwritable_journal_path_is_one_line_and_exit_2(tmp_path, capsys):
    bad = tmp_path / "no-such-dir" / "run.journal"
    assert main(["run", "--quiet", "--until", "2024-01-03", "--out", str(tmp_path / "o"),
                 "--journal", str(bad)]) == 2
    assert "cannot write the journal" in capsys.readouterr().err


def test_a_journal_whose_command_the_exchange_refuses_is_one_line_and_exit_2(tmp_path, capsys):
    from tests.engine.test_journal import BeginDay, handmade

    path = tmp_path / "twice.journal"
    path.write_bytes(handmade(BeginDay(1, None), BeginDay(2, None)))
    assert main(["replay", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert "record 2" in captured.err and "the exchange refused it" in captured.err
    assert "Traceback" not in captured.err


def test_a_journal_damaged_in_the_middle_is_one_line_and_exit_2_not_a_torn_tail(journaled,
                                                                               tmp_path, capsys):
    data = bytearray((journaled / "run.journal").read_bytes())
    offset = 0
    for _ in range(3):  # the length field of the fourth frame
        offset += 8 + int.from_bytes(data[offset:offset + 4], "big")
    data[offset + 2] ^= 0x10
    path = tmp_path / "damaged.journal"
    path.write_bytes(bytes(data))
    assert main(["replay", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"record 3 at byte offset {offset} is corrupt" in err


@pytest.mark.parametrize("make_target, message", [
    (lambda tmp: tmp, "not a run directory (it has no trades.csv)"),
    (lambda tmp: tmp / "nothing-here", "no such file"),
    (lambda tmp: _write(tmp / "other.csv", "a,b\n1,2\n"), "is not a rexsim trades.csv (no column"),
    (lambda tmp: _write(tmp / "empty.csv", ""), "is not a rexsim trades.csv (no column"),
])
def test_against_something_that_is_not_a_run_is_a_usage_error_before_replaying(
        journaled, tmp_path, capsys, make_target, message):
    target = make_target(tmp_path)
    assert main(["replay", str(journaled / "run.journal"), "--against", str(target)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and message in captured.err


def _write(path, text):
    path.write_text(text)
    return path
