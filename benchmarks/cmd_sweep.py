"""Sweep throughput: runs per minute on 1 and 2 worker processes and a 2-worker Dask cluster.

Each measurement is a whole `sim.sweep` of `--runs` seeds of the scenario (default: the
default scenario, Jan-Oct 2024) into a fresh directory, timed end to end: the size probe,
starting the pool or the `LocalCluster`, every run written to disk, the journal and both
tables. Rounds are interleaved (1 worker, 2 workers, Dask, then again) so a busy spell of a
shared machine hits all of them, and the best of `--repeat` rounds counts. Every figure is
quoted as a ratio against the 1-worker figure measured in the same invocation (target: at
least 1.7x on 2 workers). The tables of every contender must be byte-identical to the
1-worker sweep's; a difference makes the command exit 1.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import harness

TARGET_TWO_WORKERS = 1.7


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `python -m benchmarks sweep`."""
    parser.add_argument("--runs", type=int, default=12,
                        help="runs (seeds) per sweep (default %(default)s)")
    parser.add_argument("--repeat", type=int, default=2,
                        help="interleaved rounds; the best counts (default %(default)s)")
    parser.add_argument("--scenario", default="baotou-2024",
                        help="scenario to sweep (default %(default)s)")
    parser.add_argument("--until", default=None, metavar="DATE",
                        help="stop each run after DATE (default: the scenario's end)")
    parser.add_argument("--no-dask", action="store_true",
                        help="skip the LocalCluster (also skipped when distributed is missing)")
    parser.add_argument("--json", metavar="PATH", default=None,
                        help="also write every number and the environment to PATH as JSON")


def _sweep_once(args: argparse.Namespace, root: Path, name: str, **where: Any) -> tuple[float,
                                                                                      bytes]:
    """Seconds of one whole sweep, and its sweep.csv (to check it equals the others')."""
    from sim import sweep

    out = root / name
    shutil.rmtree(out, ignore_errors=True)
    gc.collect()
    start = time.perf_counter()
    sweep(args.scenario, out=out, seeds=list(range(1, args.runs + 1)), until=args.until,
          yes=True, **where)
    seconds = time.perf_counter() - start
    tables = (out / "sweep.csv").read_bytes() + (out / "sweep-summary.csv").read_bytes()
    shutil.rmtree(out, ignore_errors=True)
    return seconds, tables


def run(args: argparse.Namespace) -> int:
    """Run the sweep benchmark and print its numbers; 0 on success, 1 if tables differ."""
    if args.runs < 2 or args.repeat < 1:
        print("error: --runs must be >= 2 and --repeat >= 1")
        return 2
    env = harness.environment(("numpy", "msgspec", "distributed"))
    print(f"python {env['python']} ({env['implementation']}) on {env['platform']}")
    print(f"cpu {env['cpu']} x{env['cpus']}; commit {env['commit']}")
    contenders: list[tuple[str, dict[str, Any]]] = [("1 worker", {"jobs": 1}),
                                                    ("2 workers", {"jobs": 2})]
    if args.no_dask:
        pass
    elif importlib.util.find_spec("distributed") is None:
        print("LocalCluster skipped: distributed is not installed (pip install 'rexsim[dask]')")
    else:
        contenders.append(("Dask LocalCluster, 2 workers", {"scheduler": "local:2"}))
    print(f"{args.scenario}, {args.runs} runs per sweep"
          + (f" until {args.until}" if args.until else "") + f", best of {args.repeat} "
          f"interleaved rounds, each sweep timed end to end (probe, pool or cluster start, "
          f"runs, tables)")
    best = {name: float("inf") for name, _ in contenders}
    tables: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="rexsim-bench-sweep-") as tmp:
        for r in range(args.repeat):
            for i, (name, where) in enumerate(contenders):
                seconds, t = _sweep_once(args, Path(tmp), f"s{i}", **where)
                best[name] = min(best[name], seconds)
                tables.setdefault(name, t)
                print(f"  round {r + 1}: {name:<30} {seconds:7.2f}s")
    one = best["1 worker"]
    reference = tables["1 worker"]
    print(f"\n{'':<30} {'wall s':>8} {'runs/min':>9} {'vs 1 worker':>12} {'same tables':>12}")
    rows = []
    for name, _ in contenders:
        rpm = args.runs / best[name] * 60
        ratio = one / best[name]
        same = tables[name] == reference
        rows.append({"contender": name, "seconds": best[name], "runs_per_minute": rpm,
                     "ratio_to_one_worker": ratio, "same_tables": same})
        print(f"{name:<30} {best[name]:>8.2f} {rpm:>9.1f} {ratio:>11.2f}x "
              f"{'yes' if same else 'NO':>12}")
    two = one / best["2 workers"]
    print(f"\n2 workers: {two:.2f}x the 1-worker rate (target >= {TARGET_TWO_WORKERS}x) "
          f"{'met' if two >= TARGET_TWO_WORKERS else 'NOT met'}")
    harness.write_json(args.json, {"environment": env, "runs": args.runs,
                                   "scenario": args.scenario, "until": args.until,
                                   "repeat": args.repeat, "contenders": rows,
                                   "target_two_workers": TARGET_TWO_WORKERS})
    return 0 if all(r["same_tables"] for r in rows) else 1
