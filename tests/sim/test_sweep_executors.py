"""A sweep's runs give the same files in this process, a process pool or on Dask; deaths retry.

The Dask tests start a real `distributed.LocalCluster` of worker processes; they skip, saying
so, where `distributed` is not installed (install `rexsim[dask]` to run them, as CI does).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest

from sim.cli import main
from sim.errors import RexsimError, RunError
from sim.experiments.executors import (
    Dask,
    InProcess,
    Pool,
    Shared,
    execute,
    open_backend,
    perform,
    shared_of,
)
from sim.experiments.plan import Run, grid_points, make_plan
from sim.metrics import headline
from sim.sweep import sweep
from tests.sim.small import small_scenario

HAVE_DASK = importlib.util.find_spec("distributed") is not None
needs_dask = pytest.mark.skipif(not HAVE_DASK, reason="distributed is not installed "
                                                      "(pip install 'rexsim[dask]')")
GRID = {"behaviour.volume_factor": [0.8, 1.2]}


def tree(root: Path) -> dict[str, bytes]:
    """Every file under `root` (relative path -> bytes)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def make(out: Path, **kw) -> None:
    sweep(small_scenario(), out=out, seeds=[1, 2, 3], grid=GRID, until="2024-01-10", **kw)


@pytest.fixture(scope="module")
def sequential(tmp_path_factory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("seq") / "s"
    make(out, jobs=1)
    return tree(out)


def test_a_process_pool_writes_the_same_files_as_sequential_runs(sequential, tmp_path):
    make(tmp_path / "s", jobs=2)
    files = tree(tmp_path / "s")
    assert files.keys() == sequential.keys() and len(files) > 20
    assert files == sequential  # every run's files, the journal and both tables, byte for byte


@needs_dask
def test_a_dask_local_cluster_writes_the_same_files_as_sequential_runs(sequential, tmp_path):
    make(tmp_path / "s", scheduler="local:2")
    assert tree(tmp_path / "s") == sequential


def test_a_worker_hands_back_the_runs_headline_metrics_only(tmp_path):
    plan = make_plan(small_scenario(), [2], grid_points([]), until="2024-01-04")
    (tmp_path / "sweep.json").write_text("{}")  # the sweep's directory, as workers see it
    metrics = perform(shared_of(plan, tmp_path), plan.run(0))
    summary = json.loads((tmp_path / "seed-2" / "summary.json").read_text())
    assert metrics == [(m.key, m.value) for m in headline(summary)]  # no tables, no summary


def test_a_worker_that_cannot_see_the_sweep_says_so(tmp_path):
    plan = make_plan(small_scenario(), [2], grid_points([]), until="2024-01-04")
    with pytest.raises(RexsimError, match="cannot see the sweep's directory"):
        perform(shared_of(plan, tmp_path / "elsewhere"), plan.run(0))
    assert not (tmp_path / "elsewhere").exists()


# --------------------------------------------------------------------------- failures
# Stand-ins for `perform`, at module level so worker processes can import them. Each leaves
# a file per attempt in the directory it is given, to count attempts across processes.

def _attempt(shared: Shared, run: Run) -> int:
    marks = Path(shared.out)
    n = len(list(marks.glob(f"run-{run.index}-*")))
    (marks / f"run-{run.index}-{n}-{os.getpid()}").touch()
    return n


def dies_once_on_run_2(shared: Shared, run: Run) -> list:
    if _attempt(shared, run) == 0 and run.index == 2:
        os._exit(3)  # the worker process dies, as if killed or out of memory
    return [("run", run.index)]


def always_dies_on_run_2(shared: Shared, run: Run) -> list:
    _attempt(shared, run)
    if run.index == 2:
        os._exit(3)
    return [("run", run.index)]


def refuses_run_1(shared: Shared, run: Run) -> list:
    _attempt(shared, run)
    if run.index == 1:
        raise RunError("a bad input", param="until", option="--until")
    return [("run", run.index)]


def _runs(n: int) -> list[Run]:
    return [Run(i, 0, i, f"seed-{i}", (), f"cmd {i}", "sha") for i in range(n)]


def _attempts(marks: Path, n: int) -> list[int]:
    return [len(list(marks.glob(f"run-{i}-*"))) for i in range(n)]


def test_a_pool_worker_that_dies_is_retried_once_and_nothing_else_is_lost(tmp_path):
    pool = Pool(Shared(None, None, 1, str(tmp_path)), 2, dies_once_on_run_2)
    try:
        outcomes = list(execute(pool, _runs(6)))
    finally:
        pool.close()
    assert sorted(o.metrics for o in outcomes) == [[("run", i)] for i in range(6)]
    assert all(o.error is None for o in outcomes)
    attempts = _attempts(tmp_path, 6)
    assert attempts[2] == 2 and sum(attempts) <= 6 + 2  # it, and at most its neighbour, twice


def test_a_run_that_kills_its_worker_twice_is_reported_and_the_others_finish(tmp_path):
    pool = Pool(Shared(None, None, 1, str(tmp_path)), 2, always_dies_on_run_2)
    try:
        outcomes = {o.run.index: o for o in execute(pool, _runs(5))}
    finally:
        pool.close()
    assert outcomes[2].error == "its worker process died (failed twice)"
    assert all(outcomes[i].metrics == [("run", i)] for i in (0, 1, 3, 4))
    assert _attempts(tmp_path, 5)[2] == 2  # the retry ran alone: nobody else died with it


def test_a_rexsim_error_is_reported_at_once_without_a_retry(tmp_path):
    outcomes = {o.run.index: o for o in execute(
        InProcess(Shared(None, None, 1, str(tmp_path)), refuses_run_1), _runs(3))}
    assert outcomes[1].error == "--until: a bad input" and outcomes[0].error is None
    assert _attempts(tmp_path, 3) == [1, 1, 1]


@needs_dask
def test_a_dask_worker_that_dies_is_retried_once(tmp_path):
    dask = Dask(Shared(None, None, 1, str(tmp_path)), "local:2", dies_once_on_run_2)
    try:
        dask._check_sight = lambda out: None  # the stand-in runs have no sweep directory
        dask.ready()
        outcomes = {o.run.index: o for o in execute(dask, _runs(4))}
    finally:
        dask.close()
    assert all(outcomes[i].metrics == [("run", i)] for i in range(4))
    assert _attempts(tmp_path, 4)[2] == 2


# --------------------------------------------------------------------------- options

def test_jobs_and_scheduler_together_are_refused(tmp_path, capsys):
    with pytest.raises(RexsimError, match="give --jobs or --scheduler, not both"):
        open_backend(Shared(None, None, 1, str(tmp_path)), 4, jobs=2, scheduler="local:2")
    with pytest.raises(SystemExit):
        main(["sweep", "--jobs", "2", "--scheduler", "local:2"])
    assert "not allowed with argument" in capsys.readouterr().err


@pytest.mark.parametrize("address", ["local:0", "local:x"])
@needs_dask
def test_a_bad_local_cluster_size_is_one_line(tmp_path, address):
    with pytest.raises(RexsimError, match="expected local:N with N >= 1"):
        open_backend(Shared(None, None, 1, str(tmp_path)), 4, scheduler=address)


def test_without_distributed_the_scheduler_option_says_how_to_install_it(tmp_path, capsys,
                                                                          monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    out = tmp_path / "s"
    assert main(["sweep", "--seeds", "1", "--until", "2024-01-03", "--scheduler", "local:2",
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == ("rexsim: --scheduler: running on Dask needs the distributed package: "
                   "pip install 'rexsim[dask]'\n")
    assert not out.exists()  # refused before the sweep's directory was made


SCRIPT = """
import sim
res = sim.sweep("baotou-2024", out={out!r}, seeds="1-2", until="2024-01-03", {where})
print("runs", len(res.runs))
"""


@pytest.mark.parametrize("where", ["jobs=2", pytest.param("scheduler='local:2'",
                                                          marks=needs_dask)])
@pytest.mark.parametrize("how", ["file", "stdin"])
def test_a_script_without_a_main_guard_runs_its_sweep_once(tmp_path, where, how):
    """Workers do not import the user's script: no guard needed, and stdin scripts work."""
    import subprocess

    text = SCRIPT.format(out=str(tmp_path / "sweep"), where=where)
    script = tmp_path / "experiment.py"
    script.write_text(text)
    args = [sys.executable, str(script)] if how == "file" else [sys.executable, "-"]
    done = subprocess.run(args, input=None if how == "file" else text, capture_output=True,
                          text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["runs", "2"]
    assert "Traceback" not in done.stderr
