"""A run's peak memory: `rexsim run --scale K` to several dates, each in a fresh process.

The recorder streams trades, quotes and off-exchange deals to disk as each day closes and
keeps only per-day, per-product and per-member tallies, so a run's peak resident set should
not grow with the run's length (issue 11: at most 300 MB at --scale 20, flat in the run's
length). Each measurement runs `rexsim run` as a child process and reads its peak RSS
(`getrusage(RUSAGE_CHILDREN).ru_maxrss` of a fresh wrapper process, so children do not mix).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile

TARGET_MB = 300.0

_CHILD = r"""
import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `python -m benchmarks runmem`."""
    parser.add_argument("--scale", type=int, default=20, help="--scale of the runs (default 20)")
    parser.add_argument("--until", default="2024-03-29,2024-06-28,2024-10-31",
                        help="comma-separated end dates, shortest first (default %(default)s)")
    parser.add_argument("--json", metavar="PATH", default=None, help="also write JSON here")


def peak_rss_mb(scale: int, until: str) -> float:
    """Peak RSS (MB) of one `rexsim run --scale SCALE --until UNTIL` in a fresh process."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-c", _CHILD, sys.executable, "-m", "sim.cli", "run", "--quiet",
               "--scale", str(scale), "--until", until, "--out", f"{tmp}/run"]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return int(out.split()[-1]) / 1024  # ru_maxrss is in KiB on Linux


def run(args: argparse.Namespace) -> int:
    dates = [d.strip() for d in args.until.split(",") if d.strip()]
    rows = []
    print(f"rexsim run --scale {args.scale}: peak resident memory by the run's last day")
    for date in dates:
        mb = peak_rss_mb(args.scale, date)
        rows.append({"until": date, "peak_rss_mb": round(mb, 1)})
        print(f"  to {date}: {mb:8.1f} MB")
    full = rows[-1]["peak_rss_mb"]
    growth = full / rows[0]["peak_rss_mb"] if rows[0]["peak_rss_mb"] else float("nan")
    met = full <= TARGET_MB
    print(f"full run {full:.0f} MB (target <= {TARGET_MB:.0f} MB) {'met' if met else 'NOT met'}; "
          f"longest / shortest run: {growth:.2f}x (flat is 1.0)")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"scale": args.scale, "rows": rows, "target_mb": TARGET_MB}, fh, indent=1)
    return 0
