"""How large a sweep may be before it asks for `--yes`: its number of runs and its disk.

A typo in a grid (`--seeds 1-1000` times four keys of ten values) can ask for millions of
runs or more disk than the machine has; both are said in one line before anything runs, and
`--yes` (`yes=True`) accepts them. A run's size is estimated from a short probe: the sweep's
first point run for its first few trading days into a scratch directory, its bytes scaled to
the run's trading days (a run's files grow about linearly with its days; the summary's fixed
size makes the estimate err on the large side).
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from pathlib import Path
from typing import Any

from sim.errors import OutputError, RunError
from sim.experiments.plan import Plan

__all__ = ["MAX_RUNS", "PROBE_DAYS", "check_disk", "check_runs", "free_bytes", "probe",
           "size_text"]

MAX_RUNS = 10_000
PROBE_DAYS = 10


def check_runs(runs: int, yes: bool = False) -> None:
    """Refuse more than MAX_RUNS runs unless `yes`."""
    if runs > MAX_RUNS and not yes:
        raise RunError(f"this sweep is {runs:,} runs, more than {MAX_RUNS:,}: check the seeds "
                       f"and grid, or pass --yes to run it", param="yes", option="--yes")


def check_disk(runs: int, run_bytes: int, free: int, where: Path, yes: bool = False) -> None:
    """Refuse runs that need more than the `free` bytes at `where` unless `yes`."""
    need = runs * run_bytes
    if need > free and not yes:
        raise OutputError(f"{runs:,} runs of about {size_text(run_bytes)} need about "
                          f"{size_text(need)}, and {where} has {size_text(free)} free: free "
                          f"some space, give another --out, or pass --yes", param="yes",
                          option="--yes")


def free_bytes(path: Path) -> tuple[Path, int]:
    """Free bytes on the filesystem that `path` (or its nearest existing parent) is on."""
    p = path.resolve()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p, shutil.disk_usage(p).free


def probe(plan: Plan) -> tuple[int, dict[str, Any]]:
    """Estimated bytes of one run, and the probe run's summary (its metric names)."""
    from sim.runner import run

    days = min(PROBE_DAYS, plan.days)
    first = plan.run(0)
    with tempfile.TemporaryDirectory(prefix="rexsim-probe-") as tmp:
        res = run(plan.base, seed=first.seed, until=_nth_day(plan, days), scale=plan.scale,
                  overrides=first.overrides, out=Path(tmp) / "run", command=first.command)
        size = sum(f.stat().st_size for f in (Path(tmp) / "run").iterdir())
    return size * plan.days // days, res.summary


def _nth_day(plan: Plan, n: int) -> dt.date:
    """The n-th trading day of the first point's runs (the probe's last day)."""
    from sim.calendar import TradingCalendar
    from sim.scenario import with_overrides

    sc = with_overrides(plan.base, plan.run(0).overrides)
    return TradingCalendar(sc.calendar).days[n - 1]


def size_text(n: int) -> str:
    """Bytes as text: 4.0 MB, 12.3 GB."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"
