"""`rexsim compare`: a baseline run and a what-if run, metric by metric."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `compare` subcommand."""
    p = subparsers.add_parser(
        "compare", help="compare two runs' results (e.g. a baseline and a what-if)",
        description="Compare two runs metric by metric: tonnage, value, average prices, "
                    "channels, concentration, each with its change; first every scenario "
                    "setting in which they differ. Each RUN is an output directory of `rexsim run` "
                    "or its summary.json; or both are sweeps (`rexsim sweep` directories or "
                    "their sweep.json), compared seed by seed: the mean change over the seeds "
                    "both ran and its 95% Student t interval.")
    p.add_argument("base", metavar="BASE_RUN", help="the baseline run")
    p.add_argument("other", metavar="OTHER_RUN", help="the run to compare with it")
    p.add_argument("--json", action="store_true",
                   help="print the rows as JSON: each metric's key names its unit and holds "
                        "it (tonnage_kg in kg, value_fen in fen), exact integers")
    p.set_defaults(func=_compare)


def _compare(args: argparse.Namespace) -> int:
    from sim.cli import UserError
    from sim.compare import comparison_json, format_comparison, load_summary
    from sim.sweep import compare_sweeps, format_sweep_comparison, load_sweep

    sweeps = load_sweep(args.base), load_sweep(args.other)
    if all(sweeps):
        if args.json:
            print(json.dumps({"rows": compare_sweeps(*sweeps)}, indent=1))
        else:
            print(format_sweep_comparison(*sweeps))
        return 0
    for path in (args.base, args.other):
        p = Path(path)
        if p.is_dir() and not (p / "summary.json").is_file() and not (p / "sweep.json").is_file():
            raise UserError(f"compare: {path} is neither a run (no summary.json) nor a sweep "
                            f"(no sweep.json)")
    if any(sweeps):
        raise UserError("compare: give two runs or two sweeps, not one of each")
    base, other = load_summary(args.base), load_summary(args.other)
    if args.json:
        print(json.dumps(comparison_json(base, other), indent=1))
    else:
        print(format_comparison(base, other))
    return 0
