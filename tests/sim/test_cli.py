"""`rexsim scenarios` from the command line (`rexsim run`: tests/sim/test_run_cli.py)."""

from __future__ import annotations

from sim.cli import main
from sim.scenario import parse_scenario


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
