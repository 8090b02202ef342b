"""`rexsim validate`: baotou-2024 and every what-if over some seeds, one table of checks."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sim.commands.run import int_at_least

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `validate` subcommand."""
    p = subparsers.add_parser(
        "validate", help="check the model against the 2024 facts and its own economics",
        description="Run baotou-2024 and every built-in what-if (and the quota cut with every "
                    "band at ±10%) over the seeds, and print one table of checks: each "
                    "target with its figure (mean and range over the seeds), what the "
                    "scenario's elasticities imply, and pass or fail. Writes "
                    "OUT/validation.json; exit 0 when every check holds.")
    p.add_argument("--seeds", default="1-5", help="seeds like 1-5 or 1,3 (default: 1-5)")
    p.add_argument("--jobs", type=int_at_least(1), default=None, metavar="N",
                   help="worker processes (default: one per CPU)")
    p.add_argument("--out", default="out/validate", metavar="DIR",
                   help="directory for validation.json (default: %(default)s)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="change one scenario setting in every run (repeatable), e.g. "
                        "venue.delay_cost_bp_per_hour=100: is a changed assumption still "
                        "held to the facts? VALUE is TOML")
    p.add_argument("--quiet", action="store_true", help="print nothing")
    p.set_defaults(func=_validate)


def _validate(args: argparse.Namespace) -> int:
    from sim.sweep import parse_seeds
    from sim.validate import format_validation, validate

    seeds = parse_seeds(args.seeds)
    progress = None
    if not args.quiet and sys.stderr.isatty():
        from tqdm import tqdm

        bars: list = []  # made at the first finished run: a refused setting shows no bar

        def progress(done: int, total: int) -> None:
            if not bars:
                bars.append(tqdm(total=total, unit="run", desc="validate", leave=False))
            bars[0].update(done - bars[0].n)

    doc = validate(seeds, jobs=args.jobs, out=Path(args.out), progress=progress,
                   overrides=args.overrides)
    if not args.quiet:
        print(format_validation(doc))
        print(f"\nwrote {Path(args.out) / 'validation.json'}")
    return 0 if doc["passed"] else 1
