"""Run directories appear whole or not at all and never mix with other runs' files."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from sim import OutputError
from sim.rundir import check_target, foreign_entries, publish, stage


def _write(directory, names):
    for name in names:
        (directory / name).write_text(name, "utf-8")


def test_a_new_directory_is_published_with_exactly_the_staged_files(tmp_path):
    out = tmp_path / "a" / "run"
    staging = stage(out)
    assert staging.parent == out.parent and staging.name.startswith(".run.partial-")
    _write(staging, ["summary.json", "trades.csv"])
    publish(staging, out)
    assert sorted(p.name for p in out.iterdir()) == ["summary.json", "trades.csv"]
    assert not staging.exists()
    assert [p.name for p in out.parent.iterdir()] == ["run"]  # no staging left beside it


def test_a_rerun_replaces_the_previous_run_whole(tmp_path):
    out = tmp_path / "run"
    first = stage(out)
    _write(first, ["summary.json", "trades.csv", "quotes.csv", "report.html", "report-a.png"])
    publish(first, out)
    second = stage(out)
    _write(second, ["summary.json", "trades.csv"])
    (second / "trades.csv").write_text("new", "utf-8")
    publish(second, out)
    assert sorted(p.name for p in out.iterdir()) == ["summary.json", "trades.csv"]
    assert (out / "trades.csv").read_text("utf-8") == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_a_directory_holding_other_files_is_refused_and_left_untouched(tmp_path):
    out = tmp_path / "sweep"
    (out / "seed-1").mkdir(parents=True)
    _write(out, ["sweep.json", "summary.json"])
    before = sorted(os.listdir(out))
    with pytest.raises(OutputError, match=r"holds files that are not one run's own "
                                          r"\(seed-1/, sweep.json\)") as info:
        stage(out)
    assert info.value.for_cli().startswith("--out: ")
    assert sorted(os.listdir(out)) == before
    assert [p.name for p in tmp_path.iterdir()] == ["sweep"]  # nothing staged


def test_a_file_an_empty_path_and_an_unwritable_place_are_refused(tmp_path):
    (tmp_path / "f").write_text("x", "utf-8")
    with pytest.raises(OutputError, match="is a file"):
        check_target(tmp_path / "f")
    with pytest.raises(OutputError, match="empty path"):
        check_target("")
    with pytest.raises(OutputError, match="cannot write here"):
        stage(tmp_path / "f" / "below")


def test_the_runs_own_extra_files_are_not_foreign(tmp_path):
    _write(tmp_path, ["summary.json", "run.journal", "notes.txt"])
    assert foreign_entries(tmp_path, own=["run.journal"]) == ["notes.txt"]


def test_a_stale_staging_directory_of_a_dead_writer_is_removed(tmp_path):
    out = tmp_path / "run"
    stale = tmp_path / ".run.partial-999999999-dead"
    stale.mkdir()
    staging = stage(out)
    publish(staging, out)
    assert not stale.exists()


def test_a_run_that_fails_leaves_none_of_the_parents_it_made(tmp_path):
    from sim import RunError, run

    out = tmp_path / "a" / "b" / "run"
    with pytest.raises(RunError, match="seed"):
        run("baotou-2024", seed=2**63, out=out)
    assert list(tmp_path.iterdir()) == []


def test_a_rerun_replaces_the_previous_runs_journal_with_it(tmp_path):
    import json

    out = tmp_path / "run"
    first = stage(out)
    _write(first, ["trades.csv", "run.journal"])
    (first / "summary.json").write_text(json.dumps({"journal": str(out / "run.journal")}),
                                        "utf-8")
    publish(first, out, own=["run.journal"])
    assert foreign_entries(out) == []  # the journal goes with the run that wrote it
    second = stage(out)
    _write(second, ["summary.json", "trades.csv"])
    publish(second, out)
    assert sorted(p.name for p in out.iterdir()) == ["summary.json", "trades.csv"]


@contextlib.contextmanager
def unwritable(directory):
    """Make `directory` unwritable for this process (chmod, or chattr +i as root), or skip."""
    if os.geteuid() == 0:
        if shutil.which("chattr") is None or subprocess.run(
                ["chattr", "+i", str(directory)], capture_output=True).returncode:
            pytest.skip("root, and chattr +i is not available here")
        undo = ["chattr", "-i", str(directory)]
    else:
        directory.chmod(0o555)
        undo = ["chmod", "755", str(directory)]
    try:
        if os.access(directory, os.W_OK):
            pytest.skip("the directory stays writable here")
        yield directory
    finally:
        subprocess.run(undo, check=True)


def test_a_symbolic_link_is_refused_and_left_pointing_where_it_did(tmp_path):
    target = tmp_path / "run"
    publish(stage(target), target)
    link = tmp_path / "latest"
    link.symlink_to("run")
    with pytest.raises(OutputError, match=r"latest is a symbolic link \(to run\); give the "
                                          r"directory itself"):
        stage(link)
    assert os.readlink(link) == "run"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest", "run"]


def test_a_previous_run_that_cannot_be_replaced_is_refused_before_staging(tmp_path):
    out = tmp_path / "run"
    first = stage(out)
    _write(first, ["summary.json"])
    publish(first, out)
    with unwritable(out), pytest.raises(OutputError, match="cannot write here: the "
                                                             "directory is not writable"):
        stage(out)
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_a_publish_that_fails_removes_its_staging_and_leaves_the_previous_run(tmp_path,
                                                                             monkeypatch):
    out = tmp_path / "run"
    first = stage(out)
    _write(first, ["summary.json"])
    publish(first, out)
    second = stage(out)
    _write(second, ["summary.json", "trades.csv"])

    def refuse(a, b):
        raise OSError(errno.EPERM, os.strerror(errno.EPERM), str(b))

    monkeypatch.setattr("sim.rundir._exchange", refuse)
    with pytest.raises(OutputError, match="cannot write results: Operation not permitted"):
        publish(second, out)
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
    assert [p.name for p in out.iterdir()] == ["summary.json"]


def test_a_publish_without_exchange_that_fails_puts_the_previous_run_back(tmp_path,
                                                                          monkeypatch):
    out = tmp_path / "run"
    first = stage(out)
    _write(first, ["summary.json"])
    publish(first, out)
    second = stage(out)
    rename = os.rename

    def failing(a, b):
        if Path(a) == second:
            raise OSError(errno.EIO, os.strerror(errno.EIO), str(b))
        rename(a, b)

    monkeypatch.setattr("sim.rundir._exchange", lambda a, b: False)
    monkeypatch.setattr("sim.rundir.os.rename", failing)
    with pytest.raises(OutputError, match="cannot write results"):
        publish(second, out)
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
    assert [p.name for p in out.iterdir()] == ["summary.json"]


def test_a_publish_refused_for_files_written_meanwhile_removes_its_staging(tmp_path):
    out = tmp_path / "run"
    staging = stage(out)
    _write(staging, ["summary.json"])
    out.mkdir()
    _write(out, ["notes.txt"])
    with pytest.raises(OutputError, match=r"not one run's own \(notes.txt\)"):
        publish(staging, out)
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_a_sigterm_during_an_uninterrupted_step_goes_to_its_own_handler_after_the_step():
    import os
    import signal

    from sim import rundir

    got: list[str] = []
    before = signal.signal(signal.SIGTERM, lambda signum, _frame: got.append("handler"))
    try:
        with rundir.uninterrupted():
            os.kill(os.getpid(), signal.SIGTERM)
            got.append("step finished")
        assert got == ["step finished", "handler"]  # held, then the script's own handler ran
        mine = signal.getsignal(signal.SIGTERM)
    finally:
        signal.signal(signal.SIGTERM, before)
    assert callable(mine) and mine is not before  # restored to the script's handler
