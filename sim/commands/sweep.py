"""`rexsim sweep`: one scenario over several seeds, each metric's mean and spread."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sim.commands.run import int_at_least, iso_date

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `sweep` subcommand."""
    p = subparsers.add_parser(
        "sweep", help="run a scenario over several seeds and summarise each metric",
        description="Run a scenario once per seed (each run exactly `rexsim run --seed N`, "
                    "written to OUT/seed-N/), in parallel worker processes, and write "
                    "OUT/sweep.json: every metric per seed with its mean, standard deviation, "
                    "minimum and maximum. `rexsim compare` pairs two sweeps seed by seed.")
    p.add_argument("scenario", nargs="?", default="baotou-2024", metavar="SCENARIO_OR_FILE",
                   help="a built-in scenario name or a TOML file (default: %(default)s)")
    p.add_argument("--seeds", default="1-8", help="seeds like 1-8 or 1,3,5 (default: 1-8)")
    p.add_argument("--until", type=iso_date, default=None, metavar="DATE",
                   help="stop each run after this date, YYYY-MM-DD")
    p.add_argument("--scale", type=int_at_least(1), default=1, metavar="K",
                   help="multiply the population and order flow by K (default: 1)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="change one scenario setting for every run (repeatable), as in run")
    p.add_argument("--jobs", type=int_at_least(1), default=None, metavar="N",
                   help="worker processes (default: one per CPU, at most one per seed)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="directory for the runs and sweep.json (default: out/SCENARIO-sweep)")
    p.add_argument("--quiet", action="store_true", help="print nothing")
    p.set_defaults(func=_sweep)


def _sweep(args: argparse.Namespace) -> int:
    from sim.cli import UserError
    from sim.scenario import load_scenario
    from sim.sweep import format_sweep, parse_seeds, run_sweep

    seeds = parse_seeds(args.seeds)
    sc = load_scenario(args.scenario, args.overrides)  # fail fast, before any worker starts
    out = Path(args.out) if args.out else Path("out") / f"{sc.name}-sweep"

    def progress(done: int, total: int) -> None:
        if not args.quiet and sys.stderr.isatty():
            print(f"\r{done}/{total} runs", end="" if done < total else "\n", file=sys.stderr)

    try:
        doc = run_sweep(args.scenario, seeds, out, until=args.until, scale=args.scale,
                        overrides=args.overrides, jobs=args.jobs, progress=progress)
    except OSError as exc:
        raise UserError(f"{out}: cannot write results: {exc.strerror or exc}") from None
    if not args.quiet:
        print(format_sweep(doc))
        print(f"\nwrote {out}/sweep.json and {len(seeds)} runs in {out}/seed-N/")
    return 0
