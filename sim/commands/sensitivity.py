"""`rexsim sensitivity`: which scenario assumptions drive the answer, by Morris or Sobol."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sim.commands.run import int_at_least, iso_date
from sim.commands.sweep import add_execution_options

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `sensitivity` subcommand."""
    p = subparsers.add_parser(
        "sensitivity", help="which scenario settings drive the answer (Morris or Sobol)",
        description="Sample ranges of scenario settings (SALib: Morris trajectories or the "
                    "Sobol' sequence), run the samples as a sweep (resumable, on processes or "
                    "Dask, in OUT/sample-N/seed-S/), and print and write OUT/sensitivity.csv: "
                    "each parameter's importance for each metric (Morris mu*, its 95% "
                    "interval, sigma and mu; Sobol first-order and total indices with 95% "
                    "intervals). With --what-if, the answer analysed is each sample's change "
                    "under the what-if, paired by seed. Integer settings get integer samples "
                    "(rounded). Needs `pip install 'rexsim[sensitivity]'`.")
    p.add_argument("scenario", nargs="?", default="baotou-2024", metavar="SCENARIO_OR_FILE",
                   help="a built-in scenario name or a TOML file (default: %(default)s)")
    p.add_argument("--param", action="append", default=[], metavar="KEY=LOW:HIGH",
                   required=True, dest="params",
                   help="a numeric scenario setting and the range to sample (repeatable), e.g. "
                        "national.settlement_weight_pct=10:40")
    p.add_argument("--method", choices=("morris", "sobol"), default="morris",
                   help="morris (screening: SAMPLES trajectories of k+1 runs; default) or "
                        "sobol (variance shares: SAMPLES x (k+2) runs, SAMPLES a power of 2)")
    p.add_argument("--samples", type=int_at_least(2), default=None, metavar="N",
                   help="Morris trajectories (default 10) or Sobol base samples (default 64)")
    p.add_argument("--metric", action="append", default=[], metavar="NAME", dest="metrics",
                   help="a headline metric to analyse (repeatable; names as in sweep.csv, "
                        "e.g. tonnage_kg, PRND_OX.avg_price_yuan_t; default: tonnage_kg, "
                        "value_fen, avg_price_yuan_t)")
    p.add_argument("--what-if", action="append", default=[], metavar="KEY=VALUE",
                   dest="what_if",
                   help="analyse each sample's change under this setting (repeatable), paired "
                        "by seed, instead of its level")
    p.add_argument("--seeds", default="1",
                   help="seeds each sample runs with, its answer their mean (default: 1)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="change one scenario setting for every run (repeatable), as in run")
    p.add_argument("--until", type=iso_date, default=None, metavar="DATE",
                   help="stop each run after this date, YYYY-MM-DD")
    p.add_argument("--scale", type=int_at_least(1), default=1, metavar="K",
                   help="multiply the population and order flow by K (default: 1)")
    p.add_argument("--levels", type=int_at_least(2), default=4, metavar="L",
                   help="Morris grid levels (default: 4)")
    p.add_argument("--sample-seed", type=int_at_least(0), default=1, metavar="N",
                   help="seed of the sampling design and its bootstrap intervals (default: 1)")
    add_execution_options(p, "sensitivity")
    p.set_defaults(func=_sensitivity)


def _sensitivity(args: argparse.Namespace) -> int:
    from sim.experiments.tables import read_csv
    from sim.scenario import load_scenario
    from sim.sensitivity import FILE, format_indices, sensitivity

    name = load_scenario(args.scenario).name
    out = Path(args.out) if args.out else Path("out") / f"{name}-sensitivity"
    res = sensitivity(args.scenario, params=args.params, out=out, method=args.method,
                      samples=args.samples, metrics=args.metrics or None,
                      what_if=args.what_if, seeds=args.seeds, overrides=args.overrides,
                      until=args.until, scale=args.scale, levels=args.levels,
                      sample_seed=args.sample_seed, jobs=args.jobs, scheduler=args.scheduler,
                      yes=args.yes, progress=not args.quiet and sys.stderr.isatty())
    if not args.quiet:
        runs = res.ran + res.reused
        k = len(args.params)
        print(f"{args.method} over {k} parameter{'s' if k > 1 else ''}: {runs} runs "
              f"({res.ran} made, {res.reused} already complete)")
        table = read_csv(out / FILE)
        rounded = list(dict.fromkeys(r[3] for r in table.rows if r[6] == "true"))
        if rounded:
            print(f"integer settings, each sample rounded to the nearest integer: "
                  f"{', '.join(rounded)}")
        print(format_indices(table, args.method))
        print(f"\nwrote {out}/{FILE}, {out}/sweep.csv, {out}/sweep-summary.csv and each "
              f"run's directory")
    return 0
