"""A run killed while it writes leaves --out holding the old run whole or the new one whole.

`rexsim run` (a real process) stages its files in `.NAME.partial-*` beside `--out` and
publishes them in one atomic exchange (sim.rundir). Each trial here starts a run over a
known-good previous run, waits until the run's write phase has begun (its staging directory
holds daily.csv, which is written only once the simulation is over), lets it go on for a
random moment, possibly past the publication, and kills it with SIGKILL. `--out` must then
hold exactly the previous run's files or exactly the new run's, byte for byte; a stale
staging directory beside it is allowed, and the next run removes it.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.sim.small import small_toml

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")

UNTIL = "2024-01-19"  # the small calendar, 13 trading days: its write phase lasts ~15 ms
POLL = 0.0005  # seconds between looks at the staging directory


def digests(directory: Path) -> dict[str, str]:
    """Every entry of a run directory and the sha256 of each file ("dir" for a directory)."""
    return {e.name: ("dir" if e.is_dir() else hashlib.sha256(Path(e.path).read_bytes()
                                                              ).hexdigest())
            for e in os.scandir(directory)}


def command(scenario: Path, out: Path, seed: int) -> list[str]:
    return [sys.executable, "-m", "sim.cli", "run", str(scenario), "--until", UNTIL,
            "--seed", str(seed), "--out", str(out), "--quiet"]


class Runs:
    """Two known-good runs (seeds 1 and 2) into one --out, and a copy of the first."""

    def __init__(self, root: Path) -> None:
        self.scenario = root / "small.toml"
        self.scenario.write_text(small_toml(), "utf-8")
        self.parent = root / "runs"
        self.out = self.parent / "out"
        subprocess.run(command(self.scenario, self.out, 2), check=True, timeout=120)
        self.new = digests(self.out)
        subprocess.run(command(self.scenario, self.out, 1), check=True, timeout=120)
        self.old = digests(self.out)
        self.saved = root / "saved"
        shutil.copytree(self.out, self.saved)
        assert self.old != self.new and set(self.old) == set(self.new)

    def restore_old(self) -> None:
        """--out holds the first run again, and nothing else is beside it."""
        shutil.rmtree(self.parent)
        self.parent.mkdir()
        shutil.copytree(self.saved, self.out)

    def kill_while_writing(self, rng: random.Random, late: float) -> float:
        """Start the second run over the first and SIGKILL it during its write phase.

        The kill comes a random moment, up to `late` seconds, after daily.csv appears in the
        staging directory; returns that delay (-1 when the run finished before it was seen).
        """
        proc = subprocess.Popen(command(self.scenario, self.out, 2))
        try:
            started = time.monotonic()
            delay = rng.uniform(0, late)
            while True:
                if proc.poll() is not None:
                    return -1.0  # finished before the write phase was seen: still checked
                if time.monotonic() - started > 60:
                    raise AssertionError("the run never reached its write phase")
                if any((p / "daily.csv").exists() for p in self.parent.glob(".out.partial-*")):
                    break
                time.sleep(POLL)
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=60)
            return delay
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    def outcome(self) -> str:
        """'old' or 'new': what --out holds (AssertionError if it is anything else)."""
        assert self.out.is_dir(), "--out is missing after the kill"
        found = digests(self.out)
        if found == self.old:
            return "old"
        assert found == self.new, (f"--out holds a mixture: {sorted(found)}; old files: "
                                   f"{sorted(k for k in found if found[k] == self.old.get(k))}")
        for entry in self.parent.iterdir():
            assert entry == self.out or entry.name.startswith(".out.partial-"), entry
        return "new"


def trials(tmp_path: Path, count: int, seed: int) -> list[tuple[float, str]]:
    runs = Runs(tmp_path)
    rng = random.Random(seed)
    seen = []
    for _ in range(count):
        runs.restore_old()
        delay = runs.kill_while_writing(rng, late=0.03)
        seen.append((delay, runs.outcome()))
    # after all that, a run completes and clears the stale staging directories
    subprocess.run(command(runs.scenario, runs.out, 2), check=True, timeout=120)
    assert digests(runs.out) == runs.new
    assert [p.name for p in runs.parent.iterdir()] == ["out"]
    return seen


def test_a_run_killed_while_writing_leaves_the_old_run_or_the_new_one_whole(tmp_path):
    seen = trials(tmp_path, count=6, seed=10)
    assert all(outcome in ("old", "new") for _, outcome in seen)


@pytest.mark.slow
def test_a_run_killed_at_many_moments_leaves_the_old_run_or_the_new_one_whole(tmp_path):
    seen = trials(tmp_path, count=60, seed=11)
    outcomes = {outcome for _, outcome in seen}
    assert outcomes == {"old", "new"}, seen  # kills landed on both sides of the exchange


def test_a_first_run_killed_while_writing_leaves_no_run_or_the_whole_run(tmp_path):
    """With no previous run, --out is absent after the kill or holds the whole new run."""
    runs = Runs(tmp_path)
    rng = random.Random(12)
    for _ in range(3):
        shutil.rmtree(runs.parent)
        runs.parent.mkdir()
        runs.kill_while_writing(rng, late=0.03)
        if runs.out.exists():
            assert digests(runs.out) == runs.new
        for entry in runs.parent.iterdir():
            assert entry == runs.out or entry.name.startswith(".out.partial-"), entry


def test_ctrl_c_as_the_run_is_put_in_place_waits_for_its_journal_then_interrupts(
        tmp_path, monkeypatch):
    """The run directory was swapped in and the journal beside it left the earlier run's."""
    from engine import replay
    from sim import run, rundir
    from tests.sim.small import small_scenario

    out, journal = tmp_path / "win", tmp_path / "win.journal"
    run(small_scenario(), seed=1, until="2024-01-05", out=out, journal=journal)
    real = rundir._swap_in

    def swap_then_ctrl_c(staging, path):
        real(staging, path)
        os.kill(os.getpid(), signal.SIGINT)  # lands at once, between swap and journal

    monkeypatch.setattr(rundir, "_swap_in", swap_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        run(small_scenario(), seed=5, until="2024-01-05", out=out, journal=journal)
    assert json_seed(out) == 5
    trades = (out / "trades.csv").read_text().splitlines()[1:]
    replayed = [e for e in replay(journal).events if type(e).__name__ == "Trade"]
    assert len(replayed) == len(trades)  # the seed-5 run's own journal
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert not list(tmp_path.glob(".*"))  # no staging or temporary left


def json_seed(out: Path) -> int:
    import json

    return json.loads((out / "summary.json").read_text())["seed"]
