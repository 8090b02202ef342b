"""Sweeps resume where they stopped, lose and double nothing, and never mix configurations."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sim.cli import main
from sim.errors import OutputError, RunFileError
from sim.sweep import sweep
from tests.sim.small import small_scenario, small_toml

REPO = Path(__file__).resolve().parents[2]
UNTIL = "2024-01-05"  # four trading days: the runs of these tests are quick


def tree(root: Path) -> dict[str, bytes]:
    """Every file under `root` (relative path -> bytes)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def small(out: Path, **kw):
    kw.setdefault("seeds", [1, 2, 3])
    return sweep(small_scenario(), out=out, until=UNTIL, jobs=1, **kw)


@pytest.fixture(scope="module")
def done(tmp_path_factory) -> tuple[Path, dict[str, bytes]]:
    out = tmp_path_factory.mktemp("done") / "s"
    small(out)
    return out, tree(out)


def fresh_copy(done, tmp_path) -> Path:
    out, files = done
    copy = tmp_path / "s"
    for name, data in files.items():
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        (copy / name).write_bytes(data)
    return copy


# --------------------------------------------------------------------------- killed

def _complete(out: Path) -> list[Path]:
    return sorted(out.glob("seed-*/summary.json"))


def test_a_sweep_killed_mid_way_resumes_to_the_same_files(tmp_path):
    path = tmp_path / "small.toml"
    path.write_text(small_toml(), "utf-8")
    out, reference = tmp_path / "killed", tmp_path / "whole"
    argv = ["sweep", str(path), "--seeds", "1-24", "--until", UNTIL, "--jobs", "2", "--out",
            str(out), "--quiet"]
    proc = subprocess.Popen([sys.executable, "-m", "sim.cli", *argv], cwd=REPO,
                            start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while len(_complete(out)) < 4:
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "no run completed in 60 s"
            time.sleep(0.002)
        os.kill(proc.pid, signal.SIGKILL)  # the sweep's own process: no chance to tidy up
        proc.wait()
    finally:
        _reap(proc.pid)  # its orphaned pool workers, if any are still running
        proc.stderr.close()
    assert not (out / "sweep.csv").exists(), "the sweep finished before it was killed"
    survivors = {p: p.stat().st_ino for p in _complete(out)}
    res = sweep(str(path), out=out, seeds="1-24", until=UNTIL, jobs=2)
    assert res.reused >= len(survivors) and res.ran + res.reused == 24 and res.ran > 0
    assert {p: p.stat().st_ino for p in survivors} == survivors  # kept, not made again
    assert main([*argv[:-2], str(reference), "--quiet"]) == 0
    assert tree(out) == tree(reference)  # every run, the journal and both tables


def _reap(pgid: int) -> None:
    """Let the killed sweep's workers see their parent gone and exit; kill any left after 5 s."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


# --------------------------------------------------------------------------- the journal

def test_rerunning_a_finished_sweep_runs_nothing_and_rewrites_the_same_files(done, tmp_path):
    out = fresh_copy(done, tmp_path)
    res = small(out)
    assert (res.ran, res.reused) == (0, 3) and tree(out) == done[1]


def test_a_torn_last_journal_line_is_dropped(done, tmp_path):
    out = fresh_copy(done, tmp_path)
    with open(out / "sweep-runs.jsonl", "ab") as fh:
        fh.write(b'{"run": 1, "dir": "seed-2", "metr')  # killed mid-write
    assert small(out).ran == 0 and tree(out) == done[1]


def test_a_damaged_journal_line_with_whole_lines_after_it_is_an_error(done, tmp_path):
    out = fresh_copy(done, tmp_path)
    lines = (out / "sweep-runs.jsonl").read_bytes().splitlines(keepends=True)
    (out / "sweep-runs.jsonl").write_bytes(lines[0][:20] + b"\n" + b"".join(lines[1:]))
    with pytest.raises(RunFileError, match="damaged line at byte 0"):
        small(out)


def test_runs_finished_but_not_journaled_are_read_back_not_redone(done, tmp_path):
    out = fresh_copy(done, tmp_path)
    (out / "sweep-runs.jsonl").unlink()
    (out / "sweep.csv").unlink()
    assert small(out).ran == 0 and tree(out) == done[1]


def test_a_run_whose_directory_is_gone_is_made_again(done, tmp_path):
    out = fresh_copy(done, tmp_path)
    for f in (out / "seed-2").iterdir():
        f.unlink()
    (out / "seed-2").rmdir()
    assert small(out).ran == 1 and tree(out) == done[1]


# --------------------------------------------------------------------------- refusals

def _refused(out: Path, match: str, **kw) -> None:
    before = tree(out)
    with pytest.raises(OutputError, match=match) as info:
        small(out, **kw)
    assert "\n" not in str(info.value) and info.value.option == "--out"
    assert tree(out) == before  # nothing written, nothing removed


def test_another_configuration_in_the_directory_is_refused(done, tmp_path):
    out = fresh_copy(done, tmp_path)
    _refused(out, r"holds a sweep of another configuration \(seeds \[1, 2, 3\] there, "
                  r"\[1, 2, 3, 4\] here\)", seeds=[1, 2, 3, 4])
    _refused(out, r"another configuration \(--set \[\] there", overrides=["behaviour.act_pct=30"])


def test_a_scenario_path_spelled_another_way_resumes_with_the_sweeps_own_spelling(
        tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.toml").write_text(small_toml(), "utf-8")
    args = ["--seeds", "1-3", "--until", UNTIL, "--jobs", "1", "--quiet"]
    assert main(["sweep", "bad/x.toml", *args, "--out", "whole"]) == 0
    assert main(["sweep", "bad/x.toml", *args, "--out", "O"]) == 0
    shutil.rmtree(tmp_path / "O" / "seed-2")
    # the same scenario, as the runs resolve it: the sweep resumes, and the run it makes
    # records the command the sweep's other runs do
    assert main(["sweep", "./bad/x.toml", *args, "--out", "O"]) == 0
    assert tree(tmp_path / "O") == tree(tmp_path / "whole")
    res = sweep(str(tmp_path / "bad" / "x.toml"), out="O", seeds="1-3", until=UNTIL, jobs=1)
    assert (res.ran, res.reused) == (0, 3) and tree(tmp_path / "O") == tree(tmp_path / "whole")


def test_another_scenario_file_is_still_refused_naming_both_paths(tmp_path, monkeypatch,
                                                                  capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.toml").write_text(small_toml(), "utf-8")
    (tmp_path / "bad" / "y.toml").write_text(small_toml().replace("members = 150",
                                                                  "members = 140"), "utf-8")
    args = ["--seeds", "1", "--until", UNTIL, "--jobs", "1", "--quiet", "--out", "O"]
    assert main(["sweep", "bad/x.toml", *args]) == 0
    before = tree(tmp_path / "O")
    capsys.readouterr()
    assert main(["sweep", "./bad/y.toml", *args]) == 2
    err = capsys.readouterr().err
    assert err == ('rexsim: --out: O holds a sweep of another configuration (scenario given as '
                   '"bad/x.toml" there, "./bad/y.toml" here); give another --out or remove '
                   'it\n')
    assert tree(tmp_path / "O") == before


def test_an_older_sweep_beside_seed_directories_is_refused(tmp_path):
    out = tmp_path / "old"
    (out / "seed-1").mkdir(parents=True)
    (out / "seed-1" / "summary.json").write_text("{}")
    (out / "sweep.json").write_text(json.dumps({"seeds": [1], "metrics": []}))
    _refused(out, "holds a sweep of an older rexsim")


def test_a_directory_that_is_not_a_sweep_is_refused(tmp_path):
    out = tmp_path / "notes"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    _refused(out, r"holds files that are not a sweep's \(notes.txt\)")


def test_a_run_of_another_configuration_inside_the_sweep_is_refused(done, tmp_path):
    out = fresh_copy(done, tmp_path)
    other = tmp_path / "other"
    small(other, overrides=["behaviour.act_pct=30"])
    (out / "seed-2" / "summary.json").write_bytes((other / "seed-2" / "summary.json")
                                                  .read_bytes())
    (out / "sweep-runs.jsonl").unlink()
    _refused(out, r"seed-2 holds a run of another configuration")


def test_a_journaled_run_replaced_by_another_configurations_run_is_refused(done, tmp_path,
                                                                         capsys):
    out = fresh_copy(done, tmp_path)
    small_path = tmp_path / "small.toml"
    small_path.write_text(small_toml(), "utf-8")
    # the journal still records seed-2; its directory now holds a 2-day run of other settings
    assert main(["run", str(small_path), "--seed", "2", "--until", "2024-01-03", "--quiet",
                 "--out", str(out / "seed-2")]) == 0
    capsys.readouterr()
    _refused(out, r"seed-2 holds a run of another configuration \(its command 'rexsim run "
                  r".*small.toml --seed 2 --until 2024-01-03 .*, not \"rexsim run '<Scenario "
                  r"baotou-2024>' --seed 2 --until 2024-01-05\"\); give another --out, or "
                  r"remove .*seed-2 to make the run again$")


def test_a_journaled_run_whose_metrics_are_not_the_journals_is_refused(done, tmp_path):
    out = fresh_copy(done, tmp_path)
    path = out / "seed-3" / "summary.json"
    summary = json.loads(path.read_text("utf-8"))
    summary["trades"] += 1  # the same command, other results: not the run the sweep recorded
    path.write_text(json.dumps(summary), "utf-8")
    _refused(out, r"seed-3 holds a run whose metrics are not the ones sweep-runs.jsonl "
                  r"recorded for it \(trades\); give another --out, or remove .*seed-3 to "
                  r"make the run again$")


def test_a_journaled_run_whose_summary_is_unreadable_is_made_again(done, tmp_path):
    out = fresh_copy(done, tmp_path)
    (out / "seed-2" / "summary.json").write_text("{not json", "utf-8")
    res = small(out)
    assert (res.ran, res.reused) == (1, 2) and tree(out) == done[1]


def test_a_sweep_being_written_by_another_process_is_refused(done, tmp_path):
    out = fresh_copy(done, tmp_path)
    with open(out / ".sweep.lock", "ab") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        with pytest.raises(OutputError, match="being written by another rexsim sweep"):
            small(out)
