"""Sensitivity analysis: how much each assumption drives an answer (Morris or Sobol, by SALib).

A parameter is a numeric scenario field with a range (`national.settlement_weight_pct=10:40`).
`sensitivity()` samples the ranges (SALib's Morris trajectories or Sobol' sequence), runs the
samples as a sweep (same directory layout, resume, process pool and Dask as `sim.sweep`), and
reports each parameter's importance for each metric:

- **Morris** (screening, cheap: `samples` trajectories of k+1 runs): `mu_star`, the mean
  absolute elementary effect, in the metric's unit, is about how much the metric moves as
  the parameter crosses its whole range (effects are steps on a grid of `levels` levels,
  divided by the step as a share of the range); `mu_star_conf`, the half-width of its 95%
  bootstrap interval; `sigma`, the effects' spread (large: the parameter interacts with
  others, or the answer is noisy); `mu`, their signed mean (its sign is the direction).
- **Sobol** (variance shares, dearer: `samples` * (k+2) runs, `samples` a power of 2):
  `S1`, the share of the metric's variance the parameter explains alone, `ST` with all its
  interactions, each with `_conf`, the half-width of its 95% bootstrap interval.

The metric analysed for a sample is its mean over the seeds; with a what-if (`what_if`,
`KEY=VALUE` overrides), every sample is also run with the what-if, and the metric analysed is
the what-if's change, paired by seed (common random numbers): which assumptions drive the
answer to the what-if, not its level. Integer fields get integer samples: each sampled value
is rounded to the nearest integer before it is run (the analysis uses the design's values,
so give an integer range many integers wide). Samples are drawn from `sample_seed`, so the
same call gives the same samples, runs and tables.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import msgspec

from sim.errors import RexsimError, ScenarioError
from sim.experiments.plan import (
    Point,
    baseline_points,
    check_unset,
    make_plan,
    parse_assignment,
    problem_of,
    seed_list,
    toml_value,
)
from sim.experiments.tables import frame, read_csv, write_csv
from sim.metrics import UNITS, format_value, headline, unit_of
from sim.recorder import Table
from sim.scenario import Scenario, load_scenario, with_overrides
from sim.sweep import Progress, run_plan

__all__ = [
    "METHODS", "Param", "SensitivityResult", "analyse", "check_range", "format_indices",
    "index_columns", "param_points", "parse_param", "resolve_params", "sample", "screen",
    "sensitivity",
]

METHODS = ("morris", "sobol")
DEFAULT_SAMPLES = {"morris": 10, "sobol": 64}
DEFAULT_METRICS = ("tonnage_kg", "value_fen", "avg_price_yuan_t")
INDICES = {"morris": ("mu_star", "mu_star_conf", "sigma", "mu"),
           "sobol": ("S1", "S1_conf", "ST", "ST_conf")}
RANK_BY = {"morris": "mu_star", "sobol": "ST"}
FILE = "sensitivity.csv"
_HINT = "pip install 'rexsim[sensitivity]'"


class Param(NamedTuple):
    """A scenario field and the range its samples cover."""

    key: str
    low: float
    high: float
    integer: bool  # an int field: samples are rounded to integers


class SensitivityResult(NamedTuple):
    """What a sensitivity analysis wrote: its indices and its sweep's two tables."""

    indices: Any  # sensitivity.csv
    runs: Any  # sweep.csv
    summary: Any  # sweep-summary.csv
    out: Path
    ran: int
    reused: int


# --------------------------------------------------------------------------- parameters

def parse_param(text: str) -> tuple[str, float, float]:
    """`KEY=LOW:HIGH` as (key, low, high), low < high, both numbers."""
    key, value = parse_assignment(text, "--param")
    lo, sep, hi = value.partition(":")
    if not sep:
        lo = hi = "nan"
    return (key, *check_range(key, lo, hi, repr(value)))


def check_range(key: str, low: Any, high: Any, shown: str = "") -> tuple[float, float]:
    """(low, high) as floats when they are a range the design can sample; else one line.

    Both finite numbers with low < high; a width a float holds (SALib scales its unit
    samples by it); and wider than a billionth of its ends, or the samples would differ
    only in their last digits.
    """
    shown = shown or f"({low!r}, {high!r})"
    try:
        if isinstance(low, bool) or isinstance(high, bool):  # True is 1: not a number here
            raise TypeError
        low, high = float(low), float(high)
    except (TypeError, ValueError):
        low = high = math.nan
    if not (math.isfinite(low) and math.isfinite(high)) or low >= high:
        raise RexsimError(f"{key}: expected a range LOW:HIGH of numbers with LOW < HIGH, got "
                          f"{shown}", param="params", option="--param")
    if not math.isfinite(high - low):
        raise RexsimError(f"{key}: the range {shown} is wider than a float holds",
                          param="params", option="--param")
    if high - low < 1e-9 * max(abs(low), abs(high)):
        raise RexsimError(f"{key}: the range {shown} is too narrow to sample: its samples "
                          f"would differ only in their last digits", param="params",
                          option="--param")
    return low, high


def _specs(params: Mapping[str, Any] | Sequence[str]) -> list[tuple[str, float, float]]:
    """`params` as given to `sensitivity` or `screen`: (key, low, high) each, checked."""
    if isinstance(params, str):
        params = [params]
    if not isinstance(params, Mapping):
        return [parse_param(t) for t in params]
    specs = []
    for key, bounds in params.items():
        if not isinstance(bounds, (list, tuple)) or len(bounds) != 2:
            raise RexsimError(f"{key}: expected a range (low, high), got {bounds!r}",
                              param="params", option="--param")
        specs.append((key, *check_range(key, *bounds, f"({bounds[0]!r}, {bounds[1]!r})")))
    return specs


def field_kind(key: str) -> str:
    """`int` or `float`: the type of the scenario field at dotted path `key`.

    Read from the scenario schema (`msgspec.inspect`), so it stays right as fields change.
    """
    info: Any = msgspec.inspect.type_info(Scenario)
    for step in key.replace("[", ".").replace("]", "").split("."):
        info = _numeric_part(info) if isinstance(info, msgspec.inspect.UnionType) else info
        if isinstance(info, msgspec.inspect.StructType):
            found = [f.type for f in info.fields if f.encode_name == step]
            if not found:
                raise _param_error(key, f"no field {step!r} here")
            info = found[0]
        elif isinstance(info, msgspec.inspect.ListType):
            info = info.item_type  # an index, a product code or a role name
        elif isinstance(info, msgspec.inspect.TupleType) and step.isdigit():
            if int(step) >= len(info.item_types):
                raise _param_error(key, f"no entry [{step}]")
            info = info.item_types[int(step)]
        else:
            raise _param_error(key, f"{step!r} is inside a value, not a table")
    info = _numeric_part(info) if isinstance(info, msgspec.inspect.UnionType) else info
    if isinstance(info, msgspec.inspect.IntType):
        return "int"
    if isinstance(info, msgspec.inspect.FloatType):
        return "float"
    raise _param_error(key, "not a number field, so it has no range to sample")


def _numeric_part(union: Any) -> Any:
    kinds = [t for t in union.types if not isinstance(t, msgspec.inspect.NoneType)]
    for t in kinds:
        if isinstance(t, (msgspec.inspect.IntType, msgspec.inspect.FloatType)):
            return t
    return kinds[0] if len(kinds) == 1 else union


def _param_error(key: str, detail: str) -> RexsimError:
    return RexsimError(detail, param=f"param {key}", option=f"--param {key}")


def resolve_params(scenario: Scenario, specs: Iterable[tuple[str, float, float]],
                   overrides: Sequence[str] = ()) -> list[Param]:
    """Each (key, low, high) as a Param: its field's type known and both ends valid."""
    fixed = with_overrides(scenario, overrides)
    params = []
    for key, low, high in specs:
        low, high = check_range(key, low, high)
        integer = field_kind(key) == "int"
        if integer:
            low, high = float(math.ceil(low)), float(math.floor(high))
            if low >= high:
                raise _param_error(key, "an integer field needs a range at least 1 wide")
        for end in (low, high):
            value = int(end) if integer else end
            try:
                with_overrides(fixed, [f"{key}={toml_value(value)}"])
            except ScenarioError as exc:
                raise _param_error(key, f"{toml_value(value)}: {problem_of(exc)}") from None
        params.append(Param(key, low, high, integer))
    keys = [p.key for p in params]
    if len(set(keys)) != len(keys):
        raise RexsimError("a parameter is given twice", param="params", option="--param")
    if not params:
        raise RexsimError("expected at least one parameter KEY=LOW:HIGH", param="params",
                          option="--param")
    return params


# --------------------------------------------------------------------------- the design

def _salib(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise RexsimError(f"sensitivity analysis needs SALib: {_HINT}") from None


def _problem(params: Sequence[Param]) -> dict[str, Any]:
    return {"num_vars": len(params), "names": [p.key for p in params],
            "bounds": [[p.low, p.high] for p in params]}


def sample(params: Sequence[Param], method: str = "morris", samples: int | None = None, *,
           seed: int = 1, levels: int = 4) -> Any:
    """The design: one row of parameter values per sample (numpy array, not yet rounded)."""
    samples = _samples(method, samples)
    for p in params:
        check_range(p.key, p.low, p.high)
    problem = _problem(params)
    if method == "morris":
        _levels(levels)
        return _salib("SALib.sample.morris").sample(problem, samples, num_levels=levels,
                                                    seed=seed)
    return _salib("SALib.sample.sobol").sample(problem, samples, calc_second_order=False,
                                               scramble=True, seed=seed)


def _levels(levels: int) -> None:
    """Morris levels: SALib's grid is unbiased only with an even number of them."""
    if type(levels) is not int or levels < 2 or levels % 2:
        raise RexsimError(f"expected an even int >= 2 (a Morris grid of an odd number of "
                          f"levels samples its range unevenly), got {levels!r}",
                          param="levels", option="--levels")


def _samples(method: str, samples: int | None) -> int:
    if method not in METHODS:
        raise RexsimError(f"expected one of {', '.join(METHODS)}, got {method!r}",
                          param="method", option="--method")
    n = DEFAULT_SAMPLES[method] if samples is None else samples
    if type(n) is not int or n < 2:
        raise RexsimError(f"expected an int >= 2, got {n!r}", param="samples",
                          option="--samples")
    if method == "sobol" and n & (n - 1):
        raise RexsimError(f"expected a power of 2 for sobol (the Sobol' sequence is balanced "
                          f"only then), got {n}", param="samples", option="--samples")
    return n


def analyse(params: Sequence[Param], X: Any, Y: Sequence[float], method: str = "morris", *,
            seed: int = 1, levels: int = 4) -> list[dict[str, float | None]]:
    """Each parameter's indices (`INDICES[method]`) from the design X and the outputs Y."""
    import numpy as np

    y = np.array([math.nan if v is None else float(v) for v in Y], dtype=float)
    problem = _problem(params)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # a constant or missing output: NaN, said as "-"
        if method == "morris":
            si = _salib("SALib.analyze.morris").analyze(problem, np.asarray(X, dtype=float), y,
                                                        num_levels=levels, conf_level=0.95,
                                                        seed=seed)
        else:
            si = _salib("SALib.analyze.sobol").analyze(problem, y, calc_second_order=False,
                                                       conf_level=0.95, seed=seed)
    return [{name: _number(si[name][i]) for name in INDICES[method]}
            for i in range(len(params))]


def _number(x: Any) -> float | None:
    import numpy as np

    if np.ma.is_masked(x):  # SALib masks the effects of a missing output
        return None
    x = float(x)
    return None if math.isnan(x) else x


def screen(fn: Callable[[Mapping[str, float]], float],
           params: Sequence[Param] | Mapping[str, tuple[float, float]],
           method: str = "morris", samples: int | None = None, *, seed: int = 1,
           levels: int = 4) -> list[dict[str, Any]]:
    """The indices of a pure function of the parameters (no simulation): the method itself.

    `params` maps names to (low, high), as for `sensitivity`, or lists `Param`s (to mark a
    parameter integer); `fn` gets one mapping of name to value per sample and returns the
    answer. One row per parameter, with the method's indices (as in sensitivity.csv).
    """
    if isinstance(params, Mapping):
        params = [Param(k, lo, hi, False) for k, lo, hi in _specs(params)]
    X = sample(params, method, samples, seed=seed, levels=levels)
    Y = [fn(dict(zip((p.key for p in params), _rounded(params, row), strict=True)))
         for row in X]
    rows = analyse(params, X, Y, method, seed=seed, levels=levels)
    return [{"parameter": p.key, **r} for p, r in zip(params, rows, strict=True)]


def _rounded(params: Sequence[Param], row: Sequence[float]) -> list[int | float]:
    """A design row as the values run: integer fields rounded to the nearest integer."""
    return [math.floor(float(x) + 0.5) if p.integer else float(x)
            for p, x in zip(params, row, strict=True)]


def param_points(params: Sequence[Param], X: Any, what_if: Sequence[str] = ()
                 ) -> list[Point]:
    """The sweep's points: one per sample (two with a what-if: its base and the what-if)."""
    width = len(str(len(X)))
    points = []
    for i, row in enumerate(X, start=1):
        values = _rounded(params, row)
        labels = (("sample", str(i)), *((p.key, toml_value(v))
                                         for p, v in zip(params, values, strict=True)))
        sets = tuple(f"{p.key}={toml_value(v)}" for p, v in zip(params, values, strict=True))
        name = f"sample-{i:0{width}d}"
        if not what_if:
            points.append(Point(name, labels, sets))
        else:
            points.append(Point(f"{name}/base", (*labels, ("variant", "base")), sets))
            points.append(Point(f"{name}/what-if", (*labels, ("variant", "what-if")),
                                sets + tuple(what_if)))
    return points


# --------------------------------------------------------------------------- the analysis

def sensitivity(scenario: Scenario | str | Path = "baotou-2024", *,
                params: Mapping[str, tuple[float, float]] | Sequence[str], out: str | Path,
                method: str = "morris", samples: int | None = None,
                metrics: Sequence[str] | None = None, what_if: Sequence[str] = (),
                seeds: str | Sequence[int] = (1,), overrides: Sequence[str] = (),
                until: dt.date | str | None = None, scale: int = 1, levels: int = 4,
                sample_seed: int = 1, jobs: int | None = None, scheduler: str | None = None,
                yes: bool = False, progress: bool | Progress | None = None
                ) -> SensitivityResult:
    """Sample `params`, run the samples as a sweep into `out`, write and return the indices.

    `params` maps field paths to (low, high) or lists `KEY=LOW:HIGH` texts (`--param`);
    `metrics` are headline metric names (default: tonnage, value, average price); `what_if`
    makes the analysed answer each sample's paired change under these overrides. The other
    arguments are as for `sim.sweep`. Returns `indices` (sensitivity.csv: one row per
    metric and parameter) and the sweep's `runs` and `summary` tables. A what-if or an
    override that sets a sampled field is refused before anything runs, as is a repeated
    metric or an odd number of Morris `levels`.
    """
    base = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    ps = resolve_params(base, _specs(params), overrides)
    samples = _samples(method, samples)
    metrics = _metrics(metrics)
    what_if = [what_if] if isinstance(what_if, str) else list(what_if)
    for a in what_if:
        parse_assignment(a, "--what-if")
    try:
        with_overrides(base, [*overrides, *what_if])
    except ScenarioError as exc:
        raise RexsimError(problem_of(exc), param="what_if", option="--what-if") from None
    _check_unsampled(base, ps, overrides, "overrides", "--set")
    _check_unsampled(base, ps, what_if, "what_if", "--what-if")
    X = sample(ps, method, samples, seed=sample_seed, levels=levels)
    points = param_points(ps, X, what_if)
    seeds = seed_list(seeds)
    plan = make_plan(scenario, seeds, points, overrides=overrides, until=until, scale=scale,
                     distinct=False, option="--param")
    pairs = baseline_points(plan.points, {"variant": "base"}) if what_if else None
    design = {"method": method, "samples": samples, "levels": levels,
              "sample_seed": sample_seed, "what_if": what_if,
              "params": [p._asdict() for p in ps]}

    def check_metrics(summary: dict[str, Any]) -> None:
        _check_metrics(metrics, [m.key for m in headline(summary)])

    res = run_plan(plan, out, kind="sensitivity", extra={"sensitivity": design},
                   baseline=pairs, jobs=jobs, scheduler=scheduler, yes=yes, progress=progress,
                   before=check_metrics)
    out = Path(out)
    summary = read_csv(out / "sweep-summary.csv")
    _check_metrics(metrics, list(dict.fromkeys(summary.column("metric"))))
    table = index_table(ps, X, summary, metrics, method, what_if, sample_seed, levels)
    write_csv(out / FILE, table.columns, table.rows)
    return SensitivityResult(frame(read_csv(out / FILE)), res.runs, res.summary, out, res.ran,
                             res.reused)


def _metrics(metrics: Sequence[str] | str | None) -> list[str]:
    """The metrics to analyse (default DEFAULT_METRICS), each named once."""
    metrics = [metrics] if isinstance(metrics, str) else list(metrics or DEFAULT_METRICS)
    for m in metrics:
        if metrics.count(m) > 1:
            raise RexsimError(f"{m!r} is given twice", param="metrics", option="--metric")
    return metrics


def _check_unsampled(base: Scenario, params: Sequence[Param], assignments: Sequence[str],
                     param: str, option: str) -> None:
    """Refuse a what-if that sets a sampled field, or a --set the samples wholly replace.

    A what-if would run every sample at its own value, and the samples would replace a --set
    (`plan.check_unset`, as a sweep refuses a --set on a grid key); a --set that also sets
    other fields keeps those.
    """
    why = ("every sample's what-if run would have the what-if's value, so its change "
           "says nothing about the range" if option == "--what-if" else
           "the samples would replace it")
    check_unset(base, [p.key for p in params], assignments, by="--param samples", why=why,
                param=param, option=option, partly=option != "--what-if")


def _check_metrics(metrics: Sequence[str], known: Sequence[str]) -> None:
    for m in metrics:
        if m not in known:
            close = [k for k in known if m.split(".")[-1] in k][:4] or list(known)[:4]
            raise RexsimError(f"{m!r} is not a headline metric (e.g. {', '.join(close)})",
                              param="metrics", option="--metric")


def index_columns(method: str) -> tuple[str, ...]:
    """The header of sensitivity.csv for a method."""
    return ("metric", "unit", "answer", "parameter", "low", "high", "integer",
            *INDICES[method], "rank")


def index_table(params: Sequence[Param], X: Any, summary: Table, metrics: Sequence[str],
                method: str, what_if: Sequence[str], seed: int, levels: int) -> Table:
    """sensitivity.csv: per metric and parameter, its indices and its rank (1 = drives most)."""
    cols = summary.columns
    want = "what-if" if what_if else None
    value = "change_mean" if what_if else "mean"
    ys: dict[str, dict[int, float | None]] = {m: {} for m in metrics}
    for r in summary.rows:
        row = dict(zip(cols, r, strict=True))
        if row["metric"] in ys and (want is None or row["variant"] == want):
            ys[row["metric"]][int(row["sample"])] = row[value]
    rows = []
    for m in metrics:
        Y = [ys[m].get(i) for i in range(1, len(X) + 1)]
        indices = analyse(params, X, Y, method, seed=seed, levels=levels)
        key = RANK_BY[method]
        order = sorted(range(len(params)), key=lambda i: -(indices[i][key] or -math.inf))
        rank = {i: n for n, i in enumerate(order, start=1)}
        answer = "change under the what-if" if what_if else "mean over seeds"
        for i, (p, ix) in enumerate(zip(params, indices, strict=True)):
            rows.append((m, unit_of(m), answer, p.key, _shown(p, p.low), _shown(p, p.high),
                         "true" if p.integer else "false",
                         *(ix[name] for name in INDICES[method]), rank[i]))
    return Table(index_columns(method), rows)


def _shown(p: Param, x: float) -> int | float:
    return int(x) if p.integer else x


def format_indices(table: Table, method: str) -> str:
    """sensitivity.csv as text: per metric, the parameters from most to least important."""
    names = INDICES[method]
    rows = [dict(zip(table.columns, r, strict=True)) for r in table.rows]
    lines = []
    metric = None
    for r in sorted(rows, key=lambda r: (list(dict.fromkeys(x["metric"] for x in rows))
                                         .index(r["metric"]), r["rank"])):
        unit = r["unit"]
        if r["metric"] != metric:
            metric = r["metric"]
            shown = UNITS[unit][0]
            in_unit = (f", effects in {shown}" if method == "morris" and shown else "")
            lines += ["", f"{metric} ({r['answer']}{in_unit})",
                      f"  {'parameter':<36} {'range':>19} " + " ".join(f"{n:>14}"
                                                                        for n in names)]
        span = f"{r['low']:g} .. {r['high']:g}"
        if method == "morris":
            cells = [format_value(r[n], unit, signed=n == "mu") for n in names]
        else:
            cells = ["-" if r[n] is None else f"{r[n]:.3f}" for n in names]
        lines.append(f"  {r['parameter']:<36} {span:>19} " + " ".join(f"{c:>14}"
                                                                     for c in cells))
    return "\n".join(lines).lstrip("\n")
