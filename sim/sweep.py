"""Sweeps: a scenario over seeds and a grid of settings, resumable, on processes or Dask.

One run is an anecdote: `sweep()` runs every combination of the grid's values for every seed,
each run exactly as `rexsim run` would make it, in its own directory (`OUT/POINT/seed-N/`,
`OUT/seed-N/` without a grid), and writes

- `sweep.csv`: one row per run: its directory, its grid values, its seed and every headline
  metric (`sim.metrics.headline`; each column's name ends in its unit: `tonnage_kg`, ...);
- `sweep-summary.csv`: per grid point and metric, the mean over seeds, its sample standard
  deviation and 95% Student t interval, and with a baseline the change against it, paired by
  seed, with its interval (percentage points for shares).

The sweep's directory records its configuration (`sweep.json`), so running the same sweep
again resumes it (complete runs are kept, the rest are made) and a different sweep is
refused; see `sim.experiments.store`. Runs go to worker processes (`jobs`) or to a Dask
cluster (`scheduler`), with the same files either way (`sim.experiments.executors`).
`rexsim compare A B` pairs two sweeps run by run (`compare_sweeps`).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from sim.errors import OutputError, RexsimError, RunError, RunFileError
from sim.experiments import limits
from sim.experiments.executors import Backend, execute, open_backend, shared_of
from sim.experiments.plan import (
    Plan,
    baseline_points,
    check_unset,
    grid_points,
    make_plan,
    parse_assignment,
    parse_grid,
    parse_seeds,
    seed_list,
    seeds_text,
    toml_value,
)
from sim.experiments.stats import estimate, paired
from sim.experiments.store import MANIFEST, RUNS_TABLE, SweepStore, manifest
from sim.experiments.tables import frame, read_csv
from sim.metrics import UNITS, format_value, unit_of
from sim.recorder import Table
from sim.scenario import Scenario

__all__ = [
    "SweepResult", "compare_sweeps", "format_sweep", "format_sweep_comparison", "load_sweep",
    "parse_grid", "parse_seeds", "run_plan", "sweep",
]

Progress = Callable[[int, int], None]
GridSpec = Mapping[str, Sequence[Any]] | Sequence[str] | None


class SweepResult(NamedTuple):
    """What a sweep wrote: its two tables (DataFrames with pandas, else `sim.Table`s)."""

    runs: Any  # sweep.csv
    summary: Any  # sweep-summary.csv
    out: Path
    ran: int  # runs this call made
    reused: int  # complete runs an earlier call had made


def sweep(scenario: Scenario | str | Path = "baotou-2024", *, out: str | Path,
          seeds: str | Sequence[int] = "1-8", grid: GridSpec = None,
          overrides: Sequence[str] = (), baseline: Mapping[str, Any] | Sequence[str] | None = None,
          until: dt.date | str | None = None, scale: int = 1, jobs: int | None = None,
          scheduler: str | None = None, yes: bool = False,
          progress: bool | Progress | None = None) -> SweepResult:
    """Run `scenario` for every seed and grid point into `out`; its tables (see the module).

    `grid` maps scenario field paths to values (`{"products.PRND_OX.band_pct": [5, 8, 10]}`)
    or lists `KEY=V1,V2` texts as `--grid` takes them; `overrides` (`--set`) apply to every
    run; `baseline` fixes some grid keys (`{"products.PRND_OX.band_pct": 5}`): every point is
    compared with the point that has these values and its own in the other keys. `jobs`
    worker processes (default one per CPU), or `scheduler`, a Dask address or `local:N`.
    More than 10,000 runs, or more disk than is free, needs `yes=True`. `progress` is True for
    a bar over runs on stderr, or a callable(done, total). Rerunning into the same `out`
    resumes; another configuration there is refused (OutputError).
    """
    _check_out(out)
    seeds = seed_list(seeds)
    keys = _grid(grid)
    fixed = _baseline(baseline) if baseline else None
    limits.check_runs(math.prod(len(v) for _, v in keys) * len(seeds), yes)  # before building
    plan = make_plan(scenario, seeds, grid_points(keys), overrides=overrides,
                     until=until, scale=scale)
    # the grid's values apply after --set: a --set on a grid key (so on a baseline key too,
    # which is one) would be replaced in every run without a word
    check_unset(plan.base, [k for k, _ in keys], plan.overrides)
    pairs = baseline_points(plan.points, fixed) if fixed else None
    grid_doc = [{"key": k, "values": values} for k, values in keys]
    return run_plan(plan, out, extra={"grid": grid_doc}, baseline=pairs, jobs=jobs,
                    scheduler=scheduler, yes=yes, progress=progress)


def _grid(grid: GridSpec) -> list[tuple[str, list[str]]]:
    if not grid:
        return []
    if isinstance(grid, Mapping):
        return parse_grid(f"{k}={','.join(_values(k, vs))}" for k, vs in grid.items())
    if (isinstance(grid, str) or not isinstance(grid, Sequence)
            or not all(isinstance(item, str) for item in grid)):
        raise RexsimError(f"expected a mapping or a list of 'KEY=V1,V2' texts, got {grid!r}",
                          param="grid", option="--grid")
    return parse_grid(grid)


def _values(key: str, values: Any) -> list[str]:
    """A grid key's values (a list or tuple of Python values) as TOML texts."""
    if not isinstance(values, (list, tuple)) or not values:
        raise RexsimError(f"{key}: expected a non-empty list of values, got {values!r}",
                          param="grid", option="--grid")
    try:
        return [toml_value(v) for v in values]
    except TypeError as exc:
        raise RexsimError(f"{key}: {exc}", param="grid", option="--grid") from None


def _baseline(baseline: Mapping[str, Any] | Sequence[str]) -> dict[str, str]:
    if isinstance(baseline, Mapping):
        try:
            return {k: toml_value(v) for k, v in baseline.items()}
        except TypeError as exc:
            raise RexsimError(str(exc), param="baseline", option="--baseline") from None
    if isinstance(baseline, str):
        baseline = [baseline]
    out: dict[str, str] = {}
    for key, value in (parse_assignment(a, "--baseline") for a in baseline):
        if key in out:
            raise RexsimError(f"{key} is given twice ({out[key]} and {value}); a baseline "
                              f"has one value per grid key", param="baseline",
                              option="--baseline")
        out[key] = value
    return out


def _check_out(out: str | Path) -> None:
    """Refuse an empty `out` (it would mean the current directory), as `rexsim run` does."""
    if isinstance(out, str) and not out.strip():
        raise OutputError("expected a directory, got an empty path", param="out",
                          option="--out")


def run_plan(plan: Plan, out: str | Path, *, kind: str = "sweep",
             extra: dict[str, Any] | None = None, baseline: Sequence[int] | None = None,
             jobs: int | None = None, scheduler: str | None = None, yes: bool = False,
             progress: bool | Progress | None = None,
             before: Callable[[dict[str, Any]], None] | None = None) -> SweepResult:
    """Run a checked plan into `out` (resuming what is there) and write its tables.

    `before(summary)`, if given, is called with the size probe's summary before anything is
    written (sensitivity checks its metric names there).
    """
    _check_out(out)
    out = Path(out)
    limits.check_runs(len(plan), yes)
    store = SweepStore(out, plan, manifest(plan, kind, extra))  # refuses, writing nothing
    plan = store.plan  # resuming: the scenario as the sweep's manifest spells it
    missing = store.missing()
    backend = None
    if missing:
        run_bytes, probe_summary = limits.probe(plan)
        if before is not None:
            before(probe_summary)
        where, free = limits.free_bytes(out)
        limits.check_disk(missing, run_bytes, free, where, yes)
        backend = open_backend(shared_of(plan, out), missing, jobs, scheduler)
    try:
        with store:
            if backend is not None:
                try:
                    backend.ready()  # Dask: every worker sees the directory
                except BaseException:
                    store.abandon()  # a new sweep's directory goes again: nothing ran
                    raise
            todo = store.pending()
            reused = len(plan) - len(todo)
            failures = _run(plan, store, todo, reused, backend, progress) if todo else []
            if failures:
                run, error = failures[0]
                raise RunError(f"{len(failures)} of {len(plan)} runs failed, the first "
                               f"{run.dir}: {error}; to see it alone: {run.command}; the other "
                               f"runs are kept: rerun the same sweep to retry these")
            runs_path, summary_path = store.finish(baseline)
    finally:
        if backend is not None:
            backend.close()
    return SweepResult(frame(read_csv(runs_path)), frame(read_csv(summary_path)), out,
                       len(todo), reused)


def _run(plan: Plan, store: SweepStore, todo: list, reused: int, backend: Backend | None,
         progress: bool | Progress | None) -> list:
    """Make the pending runs, journaling each as it ends; the runs that failed for good."""
    if backend is None:  # every run was on disk after all, but its directory was not
        backend = open_backend(shared_of(plan, store.out), len(todo), 1)
    total = len(plan)
    bar = None
    if progress is True:
        from tqdm import tqdm

        bar = tqdm(total=total, initial=reused, unit="run", desc=plan.base.name,
                   file=sys.stderr, smoothing=0.1)
    failures = []
    done = reused
    try:
        for outcome in execute(backend, todo):
            if outcome.error is None:
                store.record(outcome.run, outcome.metrics)
            else:
                failures.append((outcome.run, outcome.error))
            done += 1
            if bar is not None:
                bar.update(1)
            elif callable(progress):
                progress(done, total)
    finally:
        if bar is not None:
            bar.close()
    return failures


# --------------------------------------------------------------------------- reading back

def load_sweep(path: str | Path) -> dict[str, Any] | None:
    """A finished sweep (its directory, sweep.json or sweep.csv): manifest, metrics and table.

    None if `path` is not a sweep at all; RunFileError for a sweep that is not finished, or
    from an older rexsim, or unreadable. The dict holds the manifest's fields plus `path`,
    `metrics` (the metric columns, in order) and `table` (sweep.csv as a `sim.Table`).
    """
    p = Path(path)
    if p.is_file() and p.name in (MANIFEST, RUNS_TABLE):
        p = p.parent
    if not p.is_dir() or not (p / MANIFEST).is_file():
        return None
    try:
        doc = json.loads((p / MANIFEST).read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunFileError(f"{p / MANIFEST}: not a readable sweep manifest: {exc}") from None
    if not isinstance(doc, dict) or "rexsim_sweep" not in doc:
        raise RunFileError(f"{p}: a sweep of an older rexsim (no sweep.csv); run it again")
    if not (p / RUNS_TABLE).is_file():
        raise RunFileError(f"{p}: the sweep is not finished (no {RUNS_TABLE}); run the same "
                           f"sweep again to finish it")
    try:
        table = read_csv(p / RUNS_TABLE)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise RunFileError(f"{p / RUNS_TABLE}: cannot read: {exc}") from None
    if type(doc.get("runs")) is int and len(table.rows) != doc["runs"]:
        raise RunFileError(f"{p / RUNS_TABLE}: holds {len(table.rows)} of the {doc['runs']} "
                           f"runs its {MANIFEST} records: the sweep's table is incomplete")
    first = 2 + len(doc["columns"])  # run, the point's columns, seed, then the metrics
    return {**doc, "path": str(p), "metrics": list(table.columns[first:]), "table": table}


def _by_run(doc: dict[str, Any]) -> dict[tuple[tuple[Any, ...], int], tuple[Any, ...]]:
    """A sweep's metric values by (point's values, seed)."""
    k = len(doc["columns"])
    return {(tuple(r[1:1 + k]), r[1 + k]): r[2 + k:] for r in doc["table"].rows}


def compare_sweeps(base: dict[str, Any], other: dict[str, Any]) -> list[dict[str, Any]]:
    """Each metric's change from `base` to `other`, paired run by run (common random numbers).

    Runs pair up when they have the same seed and the same grid values (a seed sweep has one
    point, so its runs pair by seed). Per point and metric: `seeds` paired, the `change` per
    seed, its `change_mean`, `change_sd` and 95% Student t interval `change_ci95`, both means,
    and `change_pct`, the mean change relative to the base mean.
    """
    if list(base["columns"]) != list(other["columns"]):
        raise RunFileError(f"the two sweeps have different grid keys ({base['columns']} and "
                           f"{other['columns']}), so their runs do not pair up")
    a, b = _by_run(base), _by_run(other)
    common = [key for key in a if key in b]
    if not common:
        raise RunFileError("the two sweeps share no seed (and grid point), so nothing pairs up")
    metrics = [m for m in base["metrics"] if m in other["metrics"]]
    ia = [base["metrics"].index(m) for m in metrics]
    ib = [other["metrics"].index(m) for m in metrics]
    points = list(dict.fromkeys(values for values, _ in common))
    rows = []
    for values in points:
        keys = [k for k in common if k[0] == values]
        for name, i, j in zip(metrics, ia, ib, strict=True):
            x = [a[k][i] for k in keys]
            y = [b[k][j] for k in keys]
            change, st = paired(x, y)
            base_mean, other_mean = estimate(x).mean, estimate(y).mean
            pct = (100 * st.mean / base_mean if st.mean is not None and base_mean else None)
            rows.append({"point": dict(zip(base["columns"], values, strict=True)),
                         "metric": name, "unit": unit_of(name), "seeds": [s for _, s in keys],
                         "base_mean": base_mean, "other_mean": other_mean, "change": change,
                         "change_mean": st.mean, "change_sd": st.sd,
                         "change_ci95": [st.low, st.high], "change_pct": pct})
    return rows


def format_sweep_comparison(base: dict[str, Any], other: dict[str, Any]) -> str:
    """The paired comparison of two sweeps as a plain-text table."""
    rows = compare_sweeps(base, other)
    seeds = rows[0]["seeds"]
    lines = [f"paired over seeds {seeds_text(seeds)}: the mean of the per-seed changes, and "
             f"its 95% interval (Student t, {len(seeds) - 1} df)" if len(seeds) > 1 else
             f"paired over seed {seeds_text(seeds)} alone: its change, with no interval (one "
             f"seed has no spread; run more seeds for one)"]
    for key in ("scenario", "scale", "until", "overrides", "columns"):
        if base.get(key) != other.get(key):
            lines.append(f"differs in {key}: {json.dumps(base.get(key))} -> "
                         f"{json.dumps(other.get(key))}")
    point = None
    for r in rows:
        if r["point"] != point:
            point = r["point"]
            label = ", ".join(f"{k}={v}" for k, v in point.items())
            lines += ["", *([label] if label else []),
                      f"{'metric':<34} {'base mean':>16} {'other mean':>16} {'change':>14} "
                      f"{'95% interval':>27} {'change':>8}"]
        unit = r["unit"]
        pct = "-" if r["change_pct"] is None else f"{r['change_pct']:+.1f}%"
        low, high = r["change_ci95"]
        ci = "-" if low is None else (f"{format_value(low, unit, True)} .. "
                                      f"{format_value(high, unit, True)}")
        lines.append(f"{_label(r['metric']):<34} {format_value(r['base_mean'], unit):>16} "
                     f"{format_value(r['other_mean'], unit):>16} "
                     f"{format_value(r['change_mean'], unit, True):>14} {ci:>27} {pct:>8}")
    return "\n".join(lines)


def format_sweep(summary: Table, doc: dict[str, Any], metrics: Sequence[str] | None = None
                 ) -> str:
    """A sweep's summary as text: per point, each metric's mean, sd and 95% interval.

    `metrics` picks the rows (default: the whole-market ones, keys without a dot); with a
    baseline, each point's paired change and its interval follow.
    """
    cols = summary.columns
    rows = [dict(zip(cols, r, strict=True)) for r in summary.rows]
    seeds = doc["seeds"]
    n = len(doc["points"])
    head = (f"{doc['scenario']}  {n} point{'s' if n > 1 else ''} x seeds {seeds_text(seeds)} "
            f"= {doc['runs']} runs  scale {doc['scale']}"
            + (f"  until {doc['until']}" if doc.get("until") else ""))
    lines = [head, *(f"set {a}" for a in doc["overrides"])]
    lines.append(f"mean over seeds, sd, and the mean's 95% interval (Student t, "
                 f"{len(seeds) - 1} df)" if len(seeds) > 1 else "one seed: no spread")
    change = "change_mean" in cols
    point = None
    for r in rows:
        if not (r["metric"] in metrics if metrics is not None else "." not in r["metric"]):
            continue
        if not r["n"]:
            continue  # no run has this metric (a summary field this scenario lacks)
        if r["point"] != point:
            point = r["point"]
            lines += ["", *([point] if point else []),
                      f"  {'metric':<26} {'mean':>16} {'sd':>14} {'95% interval':>31}"
                      + (f" {'change':>14} {'its 95% interval':>29}" if change else "")]
        unit = r["unit"]
        text = (f"  {_label(r['metric']):<26} {format_value(r['mean'], unit):>16} "
                f"{format_value(r['sd'], unit):>14} {_interval(r, 'ci95', unit):>31}")
        if change:
            text += (f" {format_value(r['change_mean'], unit, True):>14} "
                     f"{_interval(r, 'change_ci95', unit, True):>29}")
        lines.append(text)
    return "\n".join(lines)


def _interval(row: dict[str, Any], prefix: str, unit: str, signed: bool = False) -> str:
    low, high = row[f"{prefix}_low"], row[f"{prefix}_high"]
    if low is None:
        return "-"
    return f"{format_value(low, unit, signed)} .. {format_value(high, unit, signed)}"


def _label(key: str) -> str:
    """A metric key with its printed unit: `tonnage_kg` -> `tonnage (t)`."""
    unit = unit_of(key)
    shown = UNITS[unit][0]
    stem = key
    for suffix in ("_kg", "_fen", "_yuan_t", "_pct", "_bp"):
        if key.endswith(suffix):
            stem = key[: -len(suffix)]
            break
    return f"{stem} ({shown})" if shown else stem
