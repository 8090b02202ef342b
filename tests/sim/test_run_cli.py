"""`rexsim run` from a user's side: its files, its summary table, and every refusal.

A refusal is one line on stderr worded for the command line (`--until: ...`), exit status 2,
and nothing written: the directory the user ran in is exactly as it was (no run directory,
no staging directory, no empty parents).
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import pytest

from sim import run
from sim.cli import main
from sim.commands.run import WIDTH, format_summary
from sim.errors import OutputError, RunError
from sim.rundir import RUN_FILES
from sim.runner import Simulation
from tests.sim.small import END, small_scenario, small_toml


def snapshot(root: Path) -> dict[str, str]:
    """Every file and directory under root, with a digest of each file's bytes."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        out[rel] = "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture
def small(tmp_path) -> Path:
    path = tmp_path / "small.toml"
    path.write_text(small_toml(), "utf-8")
    return path


def refused(argv: list[str], root: Path, capsys) -> str:
    """Run `rexsim ARGV`; check exit 2, one line on stderr, nothing on stdout or under root."""
    before = snapshot(root)
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("rexsim: ") and captured.err.count("\n") == 1, captured.err
    assert snapshot(root) == before
    return captured.err[len("rexsim: "):-1]


# ------------------------------------------------------------------------- what it writes

def test_run_writes_every_run_file_and_prints_the_summary_table(small, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(small), "--seed", "2", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    for word in ("PRND_OX", "online", "offline", "total", "members", "provinces"):
        assert word in text
    assert sorted(p.name for p in out.iterdir()) == sorted(RUN_FILES)
    assert f"wrote {out}/: {', '.join(RUN_FILES)}" in " ".join(text.split())
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seed"] == 2 and summary["scenario"] == "baotou-2024"
    assert summary["command"] == f"rexsim run {small} --seed 2 --out {out}"


def test_run_quiet_prints_nothing(small, tmp_path, capsys):
    assert main(["run", str(small), "--quiet", "--until", "2024-01-05", "--out",
                 str(tmp_path / "o")]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    assert (tmp_path / "o" / "summary.json").is_file()


def test_run_set_changes_the_scenario_and_is_recorded(small, tmp_path, capsys):
    out = tmp_path / "out"
    shock = 'events=[{date=2024-01-06, kind="withdraw", member="dominant_light"}]'
    assert main(["run", str(small), "--until", "2024-01-10", "--out", str(out),
                 "--set", "products.PRND_OX.band_pct=8", "--set", shock]) == 0
    text = " ".join(capsys.readouterr().out.split())  # as one line, unwrapped
    assert "set products.PRND_OX.band_pct=8" in text
    # dated a Saturday: it takes effect on the Monday
    assert ("event 2024-01-06 withdraw, applied 2024-01-08: member 1 withdraws from the "
            "exchange") in text
    summary = json.loads((out / "summary.json").read_text())
    assert summary["overrides"] == ["products.PRND_OX.band_pct=8", shock]
    assert summary["events"][0]["applied"] == "2024-01-08"
    assert summary["resolved_scenario"]["products"][0]["band_pct"] == 8


def test_the_default_out_is_out_slash_the_scenarios_name(small, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(small), "--quiet", "--until", "2024-01-03",
                 "--set", 'name="renamed"']) == 0
    assert (tmp_path / "out" / "renamed" / "summary.json").is_file()


# ------------------------------------------------------------------------- the summary table

def small_results(tmp_path, **kw):
    return run(small_scenario(), until=kw.pop("until", END), out=tmp_path / "r", **kw)


def test_summary_table_shows_each_products_average_price_floored(tmp_path):
    res = small_results(tmp_path)
    lines = format_summary(res).splitlines()
    for code, p in res.summary["by_product"].items():
        row = next(line for line in lines if line.startswith(code + " "))
        expected = f"{p['value_fen'] * 10 // p['tonnage_kg']:,}" if p["tonnage_kg"] else "-"
        assert row.split()[-1] == expected


def test_summary_table_shows_the_market_around_the_exchange(tmp_path):
    res = small_results(tmp_path, until="2024-01-16", overrides=[
        'events=[{date=2024-01-08, kind="fee", bp=3}, {date=2024-01-18, kind="fee", bp=1}]'])
    s = res.summary
    text = " ".join(format_summary(res).split())
    off = s["off_exchange"]
    assert (f"off the exchange {off['tonnage_kg'] / 1000:,.1f} t; the exchange's share of "
            f"national tonnage {off['exchange_share_pct']:.1f}%") in text
    prnd = s["by_product"]["PRND_OX"]
    assert f"PRND_OX quoted on both sides in {prnd['two_sided_pct']:.1f}% of samples" in text
    b = s["block_auctions"]
    assert b["auctions"] >= 1
    assert (f"{b['auctions']} block auction{'' if b['auctions'] == 1 else 's'}: "
            f"{b['offered_kg'] / 1000:,.1f} t offered, "
            f"{b['sold_kg'] / 1000:,.1f} t sold") in text
    assert "event 2024-01-08 fee, applied 2024-01-08: exchange fee 3 bp a side" in text
    assert "event 2024-01-18 fee, not reached: exchange fee 1 bp a side" in text


def test_a_scenario_without_block_auctions_shows_no_block_auction_line(tmp_path):
    res = run(msgspec.structs.replace(small_scenario(), block_auctions=None), until=END,
              out=tmp_path / "r")
    assert res.summary["block_auctions"]["auctions"] == 0
    assert "block auction" not in format_summary(res)


def test_summary_fits_80_columns(tmp_path):
    long_set = ("events=[" + ", ".join(f'{{date=2024-01-{d:02d}, kind="fee", bp={d}}}'
                                       for d in range(8, 19)) + "]")
    res = small_results(tmp_path, overrides=[long_set])
    lines = format_summary(res).splitlines()
    assert max(map(len, lines)) <= WIDTH
    assert sum(line.startswith("event ") for line in lines) == 11


def _scaled(summary: dict, k: int) -> dict:
    """A summary with every amount (kg, fen, trades) k times as large: a huge --scale."""
    if isinstance(summary, dict):
        return {key: v * k if type(v) is int and (key.endswith(("_kg", "_fen"))
                                                   or key == "trades") else _scaled(v, k)
                for key, v in summary.items()}
    return summary


class _Results:
    def __init__(self, summary):
        self.summary = summary


def test_summary_fits_80_columns_at_the_largest_scale_with_the_longest_codes(tmp_path):
    summary = _scaled(small_results(tmp_path).summary, 10_131)  # the cap: 10M members
    summary["scale"] = 10_131
    summary["by_product"] = {f"P{k:015d}": v for k, v in
                             enumerate(summary["by_product"].values())}  # 16 characters
    text = format_summary(_Results(summary))
    assert max(map(len, text.splitlines())) <= WIDTH
    assert "value (M yuan)" in text  # past a trillion yuan the value is in millions
    total = next(line for line in text.splitlines() if line.startswith("total"))
    assert total.split()[3] == f"{summary['value_fen'] / 10**8:,.1f}"


# ------------------------------------------------------------------------- refusals

def test_an_invalid_file_exits_2_naming_the_file_and_field(small, tmp_path, capsys):
    small.write_text(small_toml().replace("tick = 100\n", "tick = -5\n", 1), "utf-8")
    msg = refused(["run", str(small), "--out", str(tmp_path / "o")], tmp_path, capsys)
    assert msg == f"{small}: $.products[0].tick: expected int >= 1, got -5"


def test_a_bad_set_exits_2_naming_the_file_and_field(small, tmp_path, capsys):
    msg = refused(["run", str(small), "--set", "population.membrs=3", "--out",
                   str(tmp_path / "o")], tmp_path, capsys)
    assert msg == f"{small} (with --set): $.population: contains unknown field membrs"


def test_a_bad_set_of_the_default_scenario_exits_2(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    msg = refused(["run", "--set", "population.members=1e9"], tmp_path, capsys)
    assert msg == "baotou-2024.toml (with --set): $.population.members: expected int, got float"


@pytest.mark.parametrize("value, shown", [("nan", "nan"), ("inf", "inf"), ("-inf", "-inf")])
def test_nan_and_inf_settings_exit_2(tmp_path, capsys, monkeypatch, value, shown):
    monkeypatch.chdir(tmp_path)
    msg = refused(["run", "--set", f"behaviour.act_pct={value}"], tmp_path, capsys)
    assert msg.startswith("baotou-2024.toml (with --set): $.behaviour.act_pct: expected "
                          "float")
    assert msg.endswith(f"got {shown}")


def test_role_weights_not_summing_to_100_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    msg = refused(["run", "--set", "roles.trader.weight_pct=30"], tmp_path, capsys)
    assert msg == ("baotou-2024.toml (with --set): $.roles: expected weight_pct to sum to "
                   "100, got 95")


def test_until_before_the_first_trading_day_exits_2(small, tmp_path, capsys):
    msg = refused(["run", str(small), "--until", "2023-12-01", "--out", str(tmp_path / "a" / "b")],
                  tmp_path, capsys)
    assert msg == "--until: 2023-12-01 is before the first trading day 2024-01-02"


def test_until_after_the_scenarios_end_exits_2(small, tmp_path, capsys):
    msg = refused(["run", str(small), "--until", "2024-02-01", "--out", str(tmp_path / "o")],
                  tmp_path, capsys)
    assert msg == f"--until: 2024-02-01 is after the scenario's end {END}"


@pytest.mark.parametrize("text", ["31/10/2024", "20240110", "2024-W02-3"])
def test_until_not_a_date_is_an_argument_error(tmp_path, capsys, monkeypatch, text):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        main(["run", "--until", text])
    assert info.value.code == 2
    assert f"expected a date YYYY-MM-DD, got {text!r}" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_an_empty_out_exits_2(small, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    msg = refused(["run", str(small), "--out", ""], tmp_path, capsys)
    assert msg == "--out: expected a directory, got an empty path"


def test_an_out_that_is_a_file_exits_2_and_leaves_it(small, tmp_path, capsys):
    (tmp_path / "f").write_text("mine", "utf-8")
    msg = refused(["run", str(small), "--out", str(tmp_path / "f")], tmp_path, capsys)
    assert msg == f"--out: {tmp_path / 'f'} is a file, not a directory"


def test_an_out_holding_other_files_exits_2_and_leaves_them(small, tmp_path, capsys):
    out = tmp_path / "o"
    out.mkdir()
    (out / "notes.txt").write_text("mine", "utf-8")
    (out / "summary.json").write_text("{}", "utf-8")
    msg = refused(["run", str(small), "--out", str(out)], tmp_path, capsys)
    assert msg == (f"--out: {out} holds files that are not one run's own (notes.txt); give "
                   f"another directory or remove them")


def test_a_seed_too_large_exits_2_leaving_no_directories(small, tmp_path, capsys):
    msg = refused(["run", str(small), "--seed", str(2**63), "--out",
                   str(tmp_path / "new" / "deep" / "run")], tmp_path, capsys)
    assert msg == f"--seed: expected an int from 0 to 2**63-1, got {2**63}"


def test_a_journal_in_a_missing_directory_exits_2(small, tmp_path, capsys):
    msg = refused(["run", str(small), "--out", str(tmp_path / "o"), "--journal",
                   str(tmp_path / "missing" / "run.journal")], tmp_path, capsys)
    assert msg.startswith("--journal: ") and "cannot write the journal" in msg


def test_an_unknown_scenario_exits_2(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    msg = refused(["run", "baotou-2042"], tmp_path, capsys)
    assert msg.startswith("unknown scenario 'baotou-2042' (built-in: baotou-2024, ")


def _signal_a_run(tmp_path, signum: int) -> tuple[int, str, str]:
    """Start `rexsim run`, send `signum` once it streams into its staging directory."""
    proc = subprocess.Popen([sys.executable, "-m", "sim.cli", "run", "--out",
                             str(tmp_path / "new" / "deep" / "run")], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        # once the simulation streams into its staging directory (an interrupt in the few
        # ms before can land in numpy's lazy `import numpy.random` and be lost: see the report)
        while not list((tmp_path / "new" / "deep").glob(".run.partial-*/trades.csv")):
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.005)
        time.sleep(0.2)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, out, err


def test_an_interrupted_run_exits_130_and_leaves_nothing(tmp_path):
    """Ctrl-C in the middle of a run: one line, exit 130, no staging or empty directories."""
    assert _signal_a_run(tmp_path, signal.SIGINT) == (130, "", "rexsim: interrupted\n")
    assert list(tmp_path.iterdir()) == []


def test_a_terminated_run_exits_143_and_leaves_nothing(tmp_path):
    """SIGTERM (kill, timeout, a batch scheduler) cleans up as Ctrl-C does: exit 143."""
    assert _signal_a_run(tmp_path, signal.SIGTERM) == (143, "", "rexsim: terminated\n")
    assert list(tmp_path.iterdir()) == []


def test_the_cli_restores_the_sigterm_handler_it_found(capsys):
    before = signal.getsignal(signal.SIGTERM)
    assert main(["scenarios"]) == 0
    assert signal.getsignal(signal.SIGTERM) is before


# ------------------------------------------------------------------------- the library side

def test_a_library_error_is_worded_for_the_caller_and_the_cli_for_its_user(small, tmp_path,
                                                                          capsys):
    with pytest.raises(RunError) as info:
        run(small_scenario(), until="2023-12-01")
    assert str(info.value) == "until: 2023-12-01 is before the first trading day 2024-01-02"
    assert info.value.for_cli() == ("--until: 2023-12-01 is before the first trading day "
                                    "2024-01-02")
    with pytest.raises(RunError, match=r"^until: expected a date YYYY-MM-DD, got '1/1/24'$"):
        run(small_scenario(), until="1/1/24")
    with pytest.raises(RunError, match=r"^scale: expected an int >= 1, got 0$"):
        run(small_scenario(), scale=0)


def test_run_day_past_the_last_day_is_a_run_error(tmp_path):
    sc = small_scenario()
    sim = Simulation(sc, until=dt.date(2024, 1, 3), directory=tmp_path)
    try:
        sim.run_day()
        sim.run_day()
        with pytest.raises(RunError, match=r"the run has ended: all 2 trading days are "
                                           r"simulated \(to 2024-01-03\); call results\(\)"):
            sim.run_day()
        assert sim.day == 2  # the refused call changed nothing
        assert sim.results().summary["trading_days"] == 2
    finally:
        sim.recorder.close()


def test_a_scenario_built_in_code_runs_from_the_library(tmp_path):
    sc = msgspec.structs.replace(small_scenario(), name="in-code")
    res = run(sc, until="2024-01-04", out=tmp_path / "r")
    assert res.summary["scenario"] == "in-code" and res.summary["trading_days"] == 3


# ------------------------------------------------------------------------- --journal and --out

UNTIL = "2024-01-03"  # two trading days: these runs only need to exist


@pytest.fixture
def earlier(small, tmp_path) -> Path:
    """A good earlier run directory, `tmp_path/A`."""
    assert main(["run", str(small), "--until", UNTIL, "--quiet", "--out",
                 str(tmp_path / "A")]) == 0
    return tmp_path / "A"


@pytest.fixture
def never_simulates(monkeypatch):
    """Fail the test if a run gets as far as simulating: a refusal must come before."""
    def simulation(*args, **kwargs):
        raise AssertionError("the run simulated before refusing")
    monkeypatch.setattr("sim.runner.Simulation", simulation)


def run_args(small: Path, *args: str | Path) -> list[str]:
    return ["run", str(small), "--until", UNTIL, "--quiet", *map(str, args)]


@pytest.mark.parametrize("name", ["summary.json", "trades.csv", "x.journal"])
def test_a_journal_inside_another_run_directory_is_refused_and_that_run_left_byte_identical(
        small, earlier, tmp_path, capsys, never_simulates, name):
    msg = refused(run_args(small, "--out", tmp_path / "np9", "--journal", earlier / name),
                  tmp_path, capsys)
    assert msg == (f"--journal: {earlier / name} is inside another run's directory "
                   f"({earlier}); give the journal another path")


@pytest.mark.parametrize("name", ["summary.json", "trades.csv", "report.html"])
def test_a_journal_named_as_one_of_the_runs_own_files_is_refused(small, tmp_path, capsys,
                                                                  never_simulates, name):
    out = tmp_path / "np5"
    msg = refused(run_args(small, "--out", out, "--journal", out / name), tmp_path, capsys)
    assert msg == (f"--journal: {out / name} is one of the files of the run in {out}; give "
                   f"the journal another name")


def test_an_existing_file_that_is_not_a_journal_is_refused_and_kept(small, earlier, tmp_path,
                                                                    capsys, never_simulates):
    (tmp_path / "notes.txt").write_text("mine", "utf-8")
    msg = refused(run_args(small, "--out", tmp_path / "B", "--journal", tmp_path / "notes.txt"),
                  tmp_path, capsys)
    assert msg == (f"--journal: {tmp_path / 'notes.txt'} exists and is not a rexsim journal; "
                   f"give another path or remove it")
    # nor in the run's own directory, which a rerun would otherwise replace whole
    (earlier / "notes.journal").write_text("mine", "utf-8")
    msg = refused(run_args(small, "--out", earlier, "--journal", earlier / "notes.journal"),
                  tmp_path, capsys)
    assert "notes.journal exists and is not a rexsim journal" in msg


@pytest.mark.parametrize("journal", ["jd", "", "."])
def test_a_journal_that_is_a_directory_or_an_empty_path_is_refused_before_running(
        small, tmp_path, capsys, monkeypatch, never_simulates, journal):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "jd").mkdir()
    msg = refused(run_args(small, "--out", "J", "--journal", journal), tmp_path, capsys)
    assert msg == {"jd": "--journal: jd is a directory, not a file",
                   "": "--journal: expected a file, got an empty path",
                   ".": "--journal: . holds the run's directory (--out J); give the journal "
                        "another path"}[journal]


def test_a_journal_at_the_out_path_or_above_it_is_refused_before_running(
        small, tmp_path, capsys, monkeypatch, never_simulates):
    monkeypatch.chdir(tmp_path)
    msg = refused(run_args(small, "--out", "np4x", "--journal", "np4x"), tmp_path, capsys)
    assert msg == ("--journal: np4x is the run's directory too (--out np4x); give the journal "
                   "another path")
    msg = refused(run_args(small, "--out", "a/b", "--journal", "a"), tmp_path, capsys)
    assert msg == "--journal: a holds the run's directory (--out a/b); give the journal " \
                  "another path"


def test_a_journal_that_is_not_a_regular_file_is_refused(small, tmp_path, capsys,
                                                          never_simulates):
    msg = refused(run_args(small, "--out", tmp_path / "B", "--journal", "/dev/null"), tmp_path,
                  capsys)
    assert msg == "--journal: /dev/null is not a regular file"


def test_the_library_refuses_a_journal_directory_or_empty_path_before_running(
        tmp_path, monkeypatch, never_simulates):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "somedir").mkdir()
    with pytest.raises(OutputError, match=r"^journal: somedir is a directory, not a file$"):
        run(small_scenario(), journal="somedir")
    with pytest.raises(OutputError, match=r"^journal: expected a file, got an empty path$"):
        run(small_scenario(), journal="")
    with pytest.raises(RunError, match=r"^journal: expected a path, got 5$"):
        run(small_scenario(), journal=5)
    assert [p.name for p in tmp_path.iterdir()] == ["somedir"]


def test_an_earlier_journal_is_replaced_by_the_reruns(small, tmp_path, capsys):
    journal = tmp_path / "run.journal"
    for seed in ("1", "2"):
        assert main(run_args(small, "--seed", seed, "--out", tmp_path / "r", "--journal",
                             journal)) == 0
    assert main(["replay", str(journal), "--against", str(tmp_path / "r")]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r", "run.journal", "small.toml"]


def test_a_journal_in_the_runs_own_directory_goes_with_the_run(small, tmp_path, capsys):
    from sim.runs import load_run

    out = tmp_path / "r"
    for _ in range(2):  # a rerun accepts the directory, journal and all
        assert main(run_args(small, "--out", out, "--journal", out / "run.journal")) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted([*RUN_FILES, "run.journal"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r", "small.toml"]
    assert json.loads((out / "summary.json").read_text())["journal"] == str(out / "run.journal")
    assert load_run(out).summary["trades"] > 0
    assert main(["replay", str(out / "run.journal"), "--against", str(out)]) == 0
    assert main(run_args(small, "--out", out)) == 0  # a run without one replaces it whole
    assert sorted(p.name for p in out.iterdir()) == sorted(RUN_FILES)


def test_a_symbolic_link_out_is_refused_and_left_as_it_was(small, earlier, tmp_path, capsys,
                                                          never_simulates):
    link = tmp_path / "Alink"
    link.symlink_to("A")
    msg = refused(run_args(small, "--out", link), tmp_path, capsys)
    assert msg == (f"--out: {link} is a symbolic link (to A); give the directory itself or "
                   f"another path")


def test_a_symbolic_link_journal_is_refused_and_left_as_it_was(small, tmp_path, capsys,
                                                              never_simulates):
    (tmp_path / "old.journal").write_bytes(b"")
    link = tmp_path / "j.journal"
    link.symlink_to("old.journal")
    msg = refused(run_args(small, "--out", tmp_path / "r", "--journal", link), tmp_path, capsys)
    assert msg == (f"--journal: {link} is a symbolic link (to old.journal); give the file "
                   f"itself or another path")
    assert link.is_symlink()


def test_an_out_that_cannot_be_replaced_is_refused_before_running(small, earlier, tmp_path,
                                                                   capsys, never_simulates):
    from tests.sim.test_rundir import unwritable

    with unwritable(earlier):
        msg = refused(run_args(small, "--out", earlier), tmp_path, capsys)
    assert msg == f"--out: {earlier}: cannot write here: the directory is not writable"


def test_a_run_that_cannot_be_published_leaves_no_staging_and_no_journal(
        small, earlier, tmp_path, capsys, monkeypatch):
    def refuse(staging, path):
        raise OSError(errno.EPERM, os.strerror(errno.EPERM), str(path))

    monkeypatch.setattr("sim.rundir._exchange", refuse)  # the final rename fails
    msg = refused(run_args(small, "--out", earlier, "--journal", tmp_path / "run.journal"),
                  tmp_path, capsys)
    assert msg == f"--out: {earlier}: cannot write results: Operation not permitted"


def test_the_library_refuses_an_until_or_overrides_of_the_wrong_kind(tmp_path):
    for until in (dt.datetime(2024, 1, 3), 20240103):
        with pytest.raises(RunError, match=rf"^until: expected a date or 'YYYY-MM-DD', got "
                                           rf"{re.escape(repr(until))}$"):
            run(small_scenario(), until=until)
        with pytest.raises(RunError, match=r"^until: expected a date or 'YYYY-MM-DD'"):
            Simulation(small_scenario(), until=until, directory=tmp_path)
    with pytest.raises(RunError, match=r"^until: expected a date YYYY-MM-DD, got '20240103'$"):
        run(small_scenario(), until="20240103")
    with pytest.raises(RunError, match=r"^overrides: expected a list of 'KEY=VALUE' strings, "
                                       r"got a str$") as info:
        run(small_scenario(), overrides="population.members=5")
    assert info.value.for_cli().startswith("--set: ")


def test_check_audits_the_run_each_day_and_records_itself_in_the_command(small, tmp_path,
                                                                          monkeypatch):
    from sim.agents import Agents

    days = []
    audit = Agents.audit
    monkeypatch.setattr(Agents, "audit", lambda self: (days.append(self.day), audit(self)))
    out = tmp_path / "checked"
    assert main(["run", str(small), "--out", str(out), "--quiet", "--check"]) == 0
    summary = json.loads((out / "summary.json").read_text("utf-8"))
    assert len(days) == summary["trading_days"] and summary["command"].endswith(" --check")


def test_a_failed_audit_is_one_line_naming_a_bug_and_writes_nothing(small, tmp_path, capsys,
                                                                    monkeypatch):
    from sim.agents import Agents, LedgerError

    def broken(self):
        raise LedgerError("member 3 has negative free cash -10")

    monkeypatch.setattr(Agents, "audit", broken)
    work = tmp_path / "work"
    work.mkdir()
    before = snapshot(work)
    assert main(["run", str(small), "--out", str(work / "a" / "run"), "--quiet",
                 "--check"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "member 3 has negative free cash -10" in err
    assert "a bug in rexsim" in err and snapshot(work) == before
