"""`rexsim sweep`: a scenario over seeds and a grid of settings, each metric's mean and interval."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sim.commands.run import int_at_least, iso_date

__all__ = ["add_execution_options", "register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `sweep` subcommand."""
    p = subparsers.add_parser(
        "sweep", help="run a scenario over seeds and a grid of settings; mean and 95%% "
                      "interval of each metric",
        description="Run a scenario for every combination of the --grid values, each for "
                    "every seed (each run exactly `rexsim run`, in OUT/POINT/seed-N/), and "
                    "write OUT/sweep.csv (one row per run: grid values, seed, every headline "
                    "metric) and OUT/sweep-summary.csv (per point: each metric's mean, sd and "
                    "95% Student t interval over the seeds; with --baseline, the change paired "
                    "by seed and its interval). Rerunning the same command resumes; another "
                    "configuration in OUT is refused. `rexsim compare` pairs two sweeps.")
    p.add_argument("scenario", nargs="?", default="baotou-2024", metavar="SCENARIO_OR_FILE",
                   help="a built-in scenario name or a TOML file (default: %(default)s)")
    p.add_argument("--seeds", default="1-8", help="seeds like 1-8 or 1,3,5 (default: 1-8)")
    p.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...",
                   help="run every value of this scenario setting (repeatable: every "
                        "combination); values are TOML, split at commas outside brackets and "
                        "quotes, e.g. products.PRND_OX.band_pct=5,8,10 or "
                        "'counter.delay_minutes=[10,60],[5,30]'")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="change one scenario setting for every run (repeatable), as in run")
    p.add_argument("--baseline", action="append", default=[], metavar="KEY=VALUE",
                   help="compare every grid point with the one that has this grid value "
                        "(repeatable for several keys), paired by seed")
    p.add_argument("--until", type=iso_date, default=None, metavar="DATE",
                   help="stop each run after this date, YYYY-MM-DD")
    p.add_argument("--scale", type=int_at_least(1), default=1, metavar="K",
                   help="multiply the population and order flow by K (default: 1)")
    add_execution_options(p, "sweep")
    p.set_defaults(func=_sweep)


def add_execution_options(p: argparse.ArgumentParser, what: str) -> None:
    """Where the runs go and how large they may be: shared by sweep and sensitivity."""
    where = p.add_mutually_exclusive_group()
    where.add_argument("--jobs", type=int_at_least(1), default=None, metavar="N",
                       help="worker processes on this machine (default: one per CPU)")
    where.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="run on a Dask cluster: a scheduler's address (tcp://host:8786), "
                            "or local:N to start N worker processes here; needs "
                            "`pip install 'rexsim[dask]'`")
    p.add_argument("--out", default=None, metavar="DIR",
                   help=f"directory for the runs and tables (default: out/SCENARIO-{what})")
    p.add_argument("--yes", action="store_true",
                   help="run even more than 10,000 runs, or more than the free disk holds")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no table")


def _sweep(args: argparse.Namespace) -> int:
    from sim.experiments.store import SUMMARY_TABLE
    from sim.experiments.tables import read_csv
    from sim.scenario import load_scenario
    from sim.sweep import format_sweep, load_sweep, sweep

    name = load_scenario(args.scenario).name
    out = Path(args.out) if args.out else Path("out") / f"{name}-sweep"
    res = sweep(args.scenario, out=out, seeds=args.seeds, grid=args.grid,
                overrides=args.overrides, baseline=args.baseline or None, until=args.until,
                scale=args.scale, jobs=args.jobs, scheduler=args.scheduler, yes=args.yes,
                progress=not args.quiet and sys.stderr.isatty())
    if not args.quiet:
        doc = load_sweep(out)
        print(format_sweep(read_csv(out / SUMMARY_TABLE), doc))
        print(f"\n{res.ran} runs made, {res.reused} already complete; wrote {out}/sweep.csv, "
              f"{out}/sweep-summary.csv and each run's directory")
    return 0
