"""`rexsim scenarios` from the command line (`rexsim run`: tests/sim/test_run_cli.py)."""

from __future__ import annotations

import pytest

from sim import run
from sim.cli import main
from sim.scenario import parse_scenario
from tests.sim.small import small_scenario


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


def test_scenarios_show_of_a_file_says_show_is_for_built_ins(capsys, tmp_path):
    (tmp_path / "mine.toml").write_text('base = "baotou-2024"\n')
    assert main(["scenarios", "show", str(tmp_path / "mine.toml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"rexsim: scenarios show: {tmp_path / 'mine.toml'} is a file, and "
                          f"show prints a built-in scenario") and err.count("\n") == 1


def test_scenarios_show_of_a_missing_file_named_like_a_built_in_suggests_the_name(capsys):
    """It said the file was a file and suggested `rexsim run` of it, which could not read it."""
    assert main(["scenarios", "show", "quota-cut-2024.toml"]) == 2
    assert capsys.readouterr().err == (
        "rexsim: scenarios show: no file quota-cut-2024.toml, and show prints a built-in "
        "scenario by name; did you mean `rexsim scenarios show quota-cut-2024`?\n")


@pytest.mark.parametrize("command", [["sweep"], ["validate"],
                                     ["sensitivity", "--param", "behaviour.act_pct=10:40"],
                                     ["run"], ["report", "r"]])
def test_an_empty_out_is_refused_in_one_line_and_nothing_is_written(command, tmp_path, capsys,
                                                                    monkeypatch):
    monkeypatch.chdir(tmp_path)
    if command[0] == "report":
        run(small_scenario(), seed=1, until="2024-01-03", out=tmp_path / "r")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert main([*command, "--out", ""]) == 2
    kind = "file" if command[0] == "report" else "directory"
    assert capsys.readouterr().err == f"rexsim: --out: expected a {kind}, got an empty path\n"
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_ctrl_c_while_the_commands_are_imported_is_interrupted_not_a_traceback(monkeypatch,
                                                                               capsys):
    import sim.cli

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(sim.cli, "build_parser", interrupted)
    assert sim.cli.main(["scenarios"]) == 130
    assert capsys.readouterr().err == "rexsim: interrupted\n"
