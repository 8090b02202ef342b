"""Run one scenario over several seeds and summarise each metric across them.

A what-if answered with one seed may be noise; over seeds 1-8 it has a mean and a spread.
Each seed's run is exactly `rexsim run --seed N` (its files go to `OUT/seed-N/`), runs go to
worker processes, and `sweep.json` lists every metric's value per seed (exact integers for
kg, fen and yuan/t) with its mean, sample standard deviation, minimum and maximum. The file
does not depend on how many workers ran. `rexsim compare` pairs two sweeps seed by seed.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from sim.errors import RexsimError, RunFileError
from sim.compare import metric_format, metrics, show

__all__ = [
    "SWEEP_FILE", "compare_sweeps", "format_sweep", "format_sweep_comparison", "load_sweep",
    "parse_seeds", "run_sweep", "stats",
]

SWEEP_FILE = "sweep.json"


def parse_seeds(text: str) -> list[int]:
    """Seeds from `1-8`, `1,3,5` or `1-4,9` (each >= 0, no repeats), in the order given."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            lo, sep, hi = part.strip().partition("-")
            first, last = int(lo), int(hi) if sep else int(lo)
            if first < 0 or last < first:
                raise ValueError
            seeds.extend(range(first, last + 1))
    except ValueError:
        raise RexsimError(f"expected seeds like 1-8 or 1,3,5 (each >= 0), got {text!r}",
                          param="seeds", option="--seeds") from None
    if len(set(seeds)) != len(seeds):
        raise RexsimError(f"a seed is listed twice in {text!r}", param="seeds",
                          option="--seeds")
    return seeds


def stats(values: list[int | float | None]) -> dict[str, float | None]:
    """Mean, sample standard deviation, min and max of the values that are not None."""
    xs = [v for v in values if v is not None]
    if not xs:
        return {"mean": None, "sd": None, "min": None, "max": None}
    mean = math.fsum(xs) / len(xs)
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0
    return {"mean": mean, "sd": sd, "min": min(xs), "max": max(xs)}


def _one(job: tuple[Any, int, Any, int, list[str], str]) -> dict[str, Any]:
    """One seed's run in a worker process; its summary."""
    from sim.runner import run

    scenario, seed, until, scale, overrides, out = job
    return run(scenario, seed=seed, until=until, scale=scale, overrides=overrides,
               out=out).summary


def run_sweep(scenario: Any, seeds: list[int], out: str | Path, *, until: Any = None,
              scale: int = 1, overrides: list[str] | tuple[str, ...] = (),
              jobs: int | None = None,
              progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Run `scenario` once per seed into `out/seed-N/`, write `out/sweep.json`, return it.

    `jobs` worker processes (default: one per CPU, at most one per seed); `progress` is
    called as (runs done, runs) as runs finish.
    """
    if not seeds:
        raise RexsimError("expected at least one seed", param="seeds", option="--seeds")
    out = Path(out)
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(seeds)))
    work = [(scenario, seed, until, scale, list(overrides), str(out / f"seed-{seed}"))
            for seed in seeds]
    summaries: list[dict[str, Any]] = []
    if jobs == 1:
        for k, job in enumerate(work, start=1):
            summaries.append(_one(job))
            if progress:
                progress(k, len(work))
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            for k, summary in enumerate(pool.map(_one, work), start=1):  # in seed order
                summaries.append(summary)
                if progress:
                    progress(k, len(work))
    per_seed = [metrics(s) for s in summaries]
    names = list(dict.fromkeys(name for m in per_seed for name in m))
    first = summaries[0]
    doc = {
        "scenario": first["scenario"],
        "seeds": seeds,
        "scale": first["scale"],
        "start": first["start"],
        "end": first["end"],
        "overrides": list(overrides),
        "runs": [f"seed-{seed}" for seed in seeds],
        "metrics": [
            {"metric": name, "values": (vals := [m.get(name, (None,))[0] for m in per_seed]),
             **stats(vals)}
            for name in names
        ],
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / SWEEP_FILE).write_text(json.dumps(doc, indent=1) + "\n", "utf-8")
    return doc


def load_sweep(path: str | Path) -> dict[str, Any] | None:
    """The sweep.json of a sweep directory (or the file itself); None if `path` is no sweep."""
    p = Path(path)
    if p.is_dir():
        p = p / SWEEP_FILE
    if p.name != SWEEP_FILE or not p.is_file():
        return None
    try:
        doc = json.loads(p.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunFileError(f"{p}: not a readable sweep.json: {exc}") from None
    if not isinstance(doc, dict) or "metrics" not in doc or "seeds" not in doc:
        raise RunFileError(f"{p}: not a rexsim sweep.json (no metrics or seeds)")
    return doc


def format_sweep(doc: dict[str, Any]) -> str:
    """A sweep's metrics across seeds as a plain-text table."""
    seeds = doc["seeds"]
    lines = [f"{doc['scenario']}  seeds {_seed_list(seeds)} ({len(seeds)} runs)  scale "
             f"{doc['scale']}  {doc['start']} .. {doc['end']}"]
    lines += [f"set {a}" for a in doc.get("overrides", [])]
    lines += ["", f"{'metric':<34} {'mean':>18} {'sd':>16} {'min':>18} {'max':>18}"]
    for m in doc["metrics"]:
        fmt = metric_format(m["metric"])
        lines.append(f"{m['metric']:<34} {show(m['mean'], fmt):>18} {show(m['sd'], fmt):>16} "
                     f"{show(m['min'], fmt):>18} {show(m['max'], fmt):>18}")
    return "\n".join(lines)


def _seed_list(seeds: list[int]) -> str:
    if seeds == list(range(seeds[0], seeds[0] + len(seeds))) and len(seeds) > 2:
        return f"{seeds[0]}-{seeds[-1]}"
    return ",".join(map(str, seeds))


def compare_sweeps(base: dict[str, Any], other: dict[str, Any]) -> list[dict[str, Any]]:
    """Each metric's change from `base` to `other`, paired by seed (common random numbers).

    Only seeds both sweeps ran count. `change` holds the per-seed differences; `mean` and `sd`
    summarise them, `change_pct` is the mean change relative to the base mean.
    """
    common = [s for s in base["seeds"] if s in other["seeds"]]
    if not common:
        raise RunFileError("the two sweeps share no seed, so nothing pairs up")
    ia = [base["seeds"].index(s) for s in common]
    ib = [other["seeds"].index(s) for s in common]
    theirs = {m["metric"]: m["values"] for m in other["metrics"]}
    rows = []
    for m in base["metrics"]:
        if m["metric"] not in theirs:
            continue
        x = [m["values"][i] for i in ia]
        y = [theirs[m["metric"]][i] for i in ib]
        change = [b - a if a is not None and b is not None else None for a, b in zip(x, y,
                                                                                      strict=True)]
        st = stats(change)
        base_mean = stats(x)["mean"]
        pct = (100 * st["mean"] / base_mean if st["mean"] is not None and base_mean else None)
        rows.append({"metric": m["metric"], "seeds": common, "base_mean": base_mean,
                     "other_mean": stats(y)["mean"], "change": change,
                     "change_mean": st["mean"], "change_sd": st["sd"], "change_pct": pct})
    return rows


def format_sweep_comparison(base: dict[str, Any], other: dict[str, Any]) -> str:
    """The paired comparison of two sweeps as a plain-text table."""
    rows = compare_sweeps(base, other)
    seeds = rows[0]["seeds"] if rows else []
    lines = [f"paired over seeds {_seed_list(seeds)}: mean of the per-seed changes, and their "
             f"standard deviation"]
    for key in ("scenario", "scale", "start", "end", "overrides"):
        if base.get(key) != other.get(key):
            lines.append(f"differs in {key}: {json.dumps(base.get(key))} -> "
                         f"{json.dumps(other.get(key))}")
    lines += ["", f"{'metric':<34} {'base mean':>18} {'other mean':>18} {'change':>16} "
                  f"{'sd':>14} {'change':>9}"]
    for r in rows:
        fmt = metric_format(r["metric"])
        change = show(r["change_mean"], fmt)
        if r["change_mean"] is not None and r["change_mean"] > 0:
            change = "+" + change
        pct = "-" if r["change_pct"] is None else f"{r['change_pct']:+.1f}%"
        lines.append(f"{r['metric']:<34} {show(r['base_mean'], fmt):>18} "
                     f"{show(r['other_mean'], fmt):>18} {change:>16} "
                     f"{show(r['change_sd'], fmt):>14} {pct:>9}")
    return "\n".join(lines)
