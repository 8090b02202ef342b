"""sweep-summary.csv: per point and metric, the mean over seeds with its spread and interval.

One row per point and headline metric: the point's columns, the metric and its unit (kg, fen,
yuan_t, pct, ...: the values are in that unit, exact amounts stay in kg and fen), then `n`
(seeds with a value), `mean`, `sd` (sample standard deviation) and `ci95_low`/`ci95_high`
(the 95% Student t interval of the mean, n-1 degrees of freedom; see `sim.experiments.stats`).
With a baseline, each point's change against its baseline point, paired by seed: `change_n`,
`change_mean`, `change_ci95_low`/`change_ci95_high` in `change_unit` (`pp`, percentage points,
for shares; else the metric's unit) and `change_pct` (the mean change relative to the
baseline's mean, for metrics that are not shares). Points come in the sweep's order, metrics
in the headline order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sim.experiments.plan import Plan
from sim.experiments.stats import estimate, paired
from sim.metrics import unit_of

__all__ = ["summary_columns", "summary_rows"]

STATS = ("n", "mean", "sd", "ci95_low", "ci95_high")
CHANGE = ("change_n", "change_mean", "change_ci95_low", "change_ci95_high", "change_unit",
          "change_pct")


def summary_columns(point_columns: Sequence[str], with_baseline: bool) -> tuple[str, ...]:
    """The header of sweep-summary.csv."""
    return ("point", *point_columns, "metric", "unit", *STATS,
            *(CHANGE if with_baseline else ()))


def summary_rows(plan: Plan, keys: Sequence[str],
                 values_of: Callable[[int], list[dict[str, Any]]],
                 baseline: Sequence[int] | None = None) -> Iterator[tuple[Any, ...]]:
    """The rows of sweep-summary.csv, one point at a time (`values_of(point)`: per seed)."""
    cached: tuple[int, list[dict[str, Any]]] | None = None
    for p, point in enumerate(plan.points):
        runs = values_of(p)
        base_runs = None
        if baseline is not None:
            b = baseline[p]
            if cached is None or cached[0] != b:
                cached = (b, runs if b == p else values_of(b))
            base_runs = cached[1]
        for key in keys:
            xs = [r.get(key) for r in runs]
            unit = unit_of(key)
            row: list[Any] = [point.name, *(v for _, v in point.labels), key, unit,
                              *estimate(xs)]
            if base_runs is not None:
                base = [r.get(key) for r in base_runs]
                _, change = paired(base, xs)
                base_mean = estimate(base).mean
                pct = None
                if unit != "pct" and change.mean is not None and base_mean:
                    pct = 100 * change.mean / base_mean
                row += [change.n, change.mean, change.low, change.high,
                        "pp" if unit == "pct" else unit, pct]
            yield tuple(row)
