"""What a sweep runs: seeds times points, each point's scenario resolved and checked up front.

A *point* is a set of scenario settings (`KEY=VALUE` overrides on top of the sweep's `--set`):
one combination of a grid's values, or one sample of a sensitivity analysis. A sweep runs
every point for every seed, in a fixed order (points in order, seeds in order), each run in its
own directory `OUT/POINT/seed-N/` (`OUT/seed-N/` when there is one point). Before anything
runs, every point's scenario is resolved and validated, so a bad key or value is one line and
nothing has started, and hashed: the hash identifies the run's scenario in its summary and in
the sweep's manifest.

Grid values on the command line are TOML, separated by commas that are not inside brackets,
braces or quotes: `--grid products.PRND_OX.band_pct=5,8,10`,
`--grid 'counter.delay_minutes=[10,60],[5,30]'` (two arrays),
`--grid 'exchange.trade_price="maker","median"'` (two strings; bare words work too).
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import itertools
import json
import numbers
import re
import shlex
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import msgspec

from sim.calendar import TradingCalendar
from sim.errors import RexsimError, RunError, ScenarioError
from sim.scenario import (
    Scenario,
    apply_overrides,
    load_scenario,
    override_value,
    scenario_sha256,
    with_overrides,
)

__all__ = [
    "Plan", "Point", "Run", "baseline_points", "check_unset", "grid_points", "label_value",
    "make_plan", "parse_assignment", "parse_grid", "parse_seeds", "problem_of", "seed_list",
    "split_values", "toml_value",
]

_SAFE = re.compile(r"[^A-Za-z0-9._+=@-]")
_NAME_MAX = 150
SEED_MAX = 2**63 - 1  # a run's seed, as the runner takes it
SEEDS_MAX = 1_000_000  # seeds in one list: 0-1000000000 would fill memory before any check


class Point(NamedTuple):
    """One setting of a sweep: its sweep.csv columns, its overrides and its directory name."""

    name: str  # directory relative to the sweep's, "" for the only point of a seed sweep
    labels: tuple[tuple[str, str], ...]  # (column, value as written in sweep.csv)
    overrides: tuple[str, ...]  # KEY=VALUE applied after the sweep's own --set


class Run(NamedTuple):
    """One run of a sweep: which point and seed, where it goes and how to redo it alone."""

    index: int  # position in the sweep's fixed order
    point: int
    seed: int
    dir: str  # relative to the sweep's directory
    overrides: tuple[str, ...]  # every override of the run: the sweep's, then the point's
    command: str  # the `rexsim run` line that makes exactly this run
    sha256: str  # its resolved scenario's hash


# --------------------------------------------------------------------------- parsing

def parse_seeds(text: str) -> list[int]:
    """Seeds from `1-8`, `1,3,5` or `1-4,9` (each 0 to 2**63-1, no repeats), in the order given."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            lo, sep, hi = part.strip().partition("-")
            first, last = int(lo), int(hi) if sep else int(lo)
            if first < 0 or last < first or last > SEED_MAX:
                raise ValueError
            if len(seeds) + last - first + 1 > SEEDS_MAX:  # before the list is built
                raise RexsimError(f"{text!r} is more than {SEEDS_MAX:,} seeds", param="seeds",
                                  option="--seeds")
            seeds.extend(range(first, last + 1))
    except ValueError:
        raise RexsimError(f"expected seeds like 1-8 or 1,3,5 (each from 0 to 2**63-1), got "
                          f"{text!r}", param="seeds", option="--seeds") from None
    if len(set(seeds)) != len(seeds):
        raise RexsimError(f"a seed is listed twice in {text!r}", param="seeds",
                          option="--seeds")
    return seeds


def seed_list(seeds: str | Iterable[int]) -> list[int]:
    """Seeds given as `1-8` text or as ints, checked: distinct ints from 0 to 2**63-1."""
    if isinstance(seeds, str):
        return parse_seeds(seeds)
    if not isinstance(seeds, Iterable):
        raise RunError(f"expected seeds like '1-8' or a list of ints, got {seeds!r}",
                       param="seeds", option="--seeds")
    seeds = list(seeds)
    if not seeds:
        raise RunError("expected at least one seed", param="seeds", option="--seeds")
    if (any(type(s) is not int or not 0 <= s <= SEED_MAX for s in seeds)
            or len(set(seeds)) != len(seeds)):
        raise RunError(f"expected distinct ints from 0 to 2**63-1, got {seeds!r}",
                       param="seeds", option="--seeds")
    return seeds


def seeds_text(seeds: Sequence[int]) -> str:
    """Seeds as text, parse_seeds' inverse: three or more consecutive as FIRST-LAST, else 1,3."""
    seeds = list(seeds)
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"{seeds[0]}-{seeds[-1]}"
    return ",".join(map(str, seeds))


def split_values(text: str) -> list[str]:
    """Split `V1,V2,...` at the commas outside brackets, braces and quoted strings."""
    parts, depth, quote, start, i = [], 0, "", 0, 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\" and quote == '"':
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
        i += 1
    parts.append(text[start:].strip())
    return parts


def parse_assignment(text: str, option: str) -> tuple[str, str]:
    """`KEY=VALUE` as (key, value text); a one-line error naming `option` otherwise."""
    key, sep, value = text.partition("=")
    key, value = key.strip(), value.strip()
    if not sep or not key or not value:
        raise RexsimError(f"expected KEY=VALUE, got {text!r}", param=option.lstrip("-"),
                          option=option)
    return key, value


def parse_grid(items: Iterable[str]) -> list[tuple[str, list[str]]]:
    """`KEY=V1,V2,...` items (as `--grid` takes them) as (key, value texts), keys in order."""
    grid: list[tuple[str, list[str]]] = []
    for item in items:
        key, text = parse_assignment(item, "--grid")
        values = split_values(text)
        if any(not v for v in values):
            raise RexsimError(f"{key}: an empty value in {text!r} (values are TOML, separated "
                              f"by commas outside brackets and quotes)", param="grid",
                              option="--grid")
        grid.append((key, values))
    return _checked_grid(grid)


def _checked_grid(grid: list[tuple[str, list[str]]]) -> list[tuple[str, list[str]]]:
    keys = [k for k, _ in grid]
    for key, values in grid:
        if keys.count(key) > 1:
            raise RexsimError(f"{key} is given twice; list all its values once, "
                              f"KEY=V1,V2,...", param="grid", option="--grid")
        if key in ("seed",):
            raise RexsimError("seed is not a grid key: give the seeds with --seeds",
                              param="grid", option="--grid")
        if len(set(values)) != len(values):
            raise RexsimError(f"{key}: a value is listed twice", param="grid",
                              option="--grid")
    return grid


def toml_value(value: Any) -> str:
    """A Python value as TOML text (`8`, `0.5`, `true`, `"median"`, `[10, 60]`, a date)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):  # int, and numpy's integers (np.arange)
        return str(int(value))
    if isinstance(value, float):  # float(): numpy's float64 reprs as `np.float64(0.8)`
        return repr(float(value))
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} {value!r} as a TOML value")


def label_value(text: str) -> str:
    """A point's value as sweep.csv shows it: strings unquoted, numbers and arrays as TOML."""
    value = override_value(text)
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, int, float)):
        return toml_value(value)
    return text


# --------------------------------------------------------------------------- points

def grid_points(grid: Sequence[tuple[str, Sequence[str]]]) -> list[Point]:
    """Every combination of the grid's values (the last key varies fastest), named readably.

    A point's directory is `KEY=VALUE,KEY=VALUE` with each key shortened to the last parts of
    its path that tell the grid's keys apart (`band_pct=8`, `PRND_OX.band_pct=8` beside
    `ND_OX.band_pct`) and each value without brackets, quotes or spaces (`[10, 60]` is
    `10_60`); other characters outside `A-Za-z0-9._+=@-` become `_`.
    """
    if not grid:
        return [Point("", (), ())]
    keys = [k for k, _ in grid]
    short = _short_keys(keys)
    points, seen = [], set()
    for index, values in enumerate(itertools.product(*(v for _, v in grid))):
        pairs = list(zip(keys, values, strict=True))
        name = ",".join(f"{short[k]}={_dir_text(v)}" for k, v in pairs)
        if len(name) > _NAME_MAX:
            digest = hashlib.sha256(name.encode()).hexdigest()[:8]
            name = f"{name[:_NAME_MAX - 9]}~{digest}"
        if name in seen:
            name = f"{name}~{index}"
        seen.add(name)
        points.append(Point(name, tuple((k, label_value(v)) for k, v in pairs),
                            tuple(f"{k}={v}" for k, v in pairs)))
    return points


def _dir_text(text: str) -> str:
    """A value as a directory name shows it: `[10, 60]` -> `10_60`, `"median"` -> `median`."""
    shown = re.sub(r"[\[\]{}\"' ]", "", label_value(text)).replace(",", "_")
    return _SAFE.sub("_", shown) or "_"


def _short_keys(keys: Sequence[str]) -> dict[str, str]:
    """Each key's shortest tail of dotted parts that no other key ends with.

    Never plain `seed`, the run seed's own name (its `seed-N` directories and sweep.csv's
    `seed` column): `population.seed` stays whole.
    """
    parts = {k: k.replace("[", ".").replace("]", "").split(".") for k in keys}
    out = {}
    for k in keys:
        for n in range(1, len(parts[k]) + 1):
            tail = parts[k][-n:]
            if tail != ["seed"] and all(parts[o][-n:] != tail for o in keys if o != k):
                break
        out[k] = ".".join(tail)
    return out


def baseline_points(points: Sequence[Point], baseline: Mapping[str, str]) -> list[int]:
    """For each point, the index of its baseline: the same point with `baseline`'s values.

    The baseline fixes some grid keys (`--baseline band_pct=5`); every point is paired with the
    point that equals it in the other keys and has the baseline's value in these.
    """
    columns = [c for c, _ in points[0].labels] if points else []
    for key in baseline:
        if key not in columns:
            raise RexsimError(f"{key} is not a grid key (grid: {', '.join(columns) or 'none'})",
                              param="baseline", option="--baseline")
    want = {k: override_value(v) for k, v in baseline.items()}
    index = {tuple(override_value(v) for _, v in p.labels): i for i, p in enumerate(points)}
    out = []
    for p in points:
        key = tuple(want.get(c, override_value(v)) for c, v in p.labels)
        if key not in index:
            shown = ", ".join(f"{k}={v}" for k, v in baseline.items())
            raise RexsimError(f"{shown} is not one of the grid's values", param="baseline",
                              option="--baseline")
        out.append(index[key])
    return out


_MARK = "<varied>"  # a bare-text value no scenario field holds: marks a varied field


def check_unset(base: Scenario, keys: Sequence[str], assignments: Sequence[str], *,
                by: str = "--grid varies", why: str = "each point's value would replace it",
                param: str = "overrides", option: str = "--set", partly: bool = True) -> None:
    """Refuse an assignment (a `--set`) that the varied fields `keys` would undo.

    (Sweeps' grids and sensitivity's sampled parameters alike; `by` says which varies them.)
    A point's overrides apply after the `--set`s, so a --set whose every change a point
    replaces would be dropped without a word: refused. One that also changes other fields
    (`products.*.band_pct=3` beside a grid of PRND_OX's band) keeps those changes, as the
    layering intends, and is taken when `partly`; with `partly=False` (a what-if, applied
    after the samples) any change to a varied field is refused. Fields are found with the
    runs' own path resolution (`products.*.x` covers `products.PRND_OX.x` and
    `products.0.x`); a key that resolves nowhere is skipped (call it after `make_plan`).
    """
    raw = msgspec.to_builtins(base)
    marked = raw
    varied = []
    for key in keys:
        try:
            marked = apply_overrides(copy.deepcopy(marked), [f"{key}={_MARK}"])
        except ScenarioError:
            continue
        varied.append(key)
    marks = _marks(marked)
    for a in assignments:
        try:
            after = apply_overrides(copy.deepcopy(marked), [a])
        except ScenarioError:  # it reaches inside a varied value
            after = None
        if after is not None and _marks(after) == marks:
            continue  # it changes no varied field
        if partly and after is not None:
            try:
                remarked = apply_overrides(after, [f"{k}={_MARK}" for k in varied])
            except ScenarioError:
                remarked = marked
            if remarked != marked:
                continue  # the points undo only part of it; the rest stands
        key = next(k for k in varied if _undone(raw, k, a))
        raise RexsimError(f"{a} sets {key}, which {by}: {why}", param=param, option=option)


def _undone(raw: dict, key: str, assignment: str) -> bool:
    """Whether `assignment` changes the field `key` names (or reaches inside it)."""
    marked = apply_overrides(copy.deepcopy(raw), [f"{key}={_MARK}"])
    marks = _marks(marked)
    try:
        return _marks(apply_overrides(marked, [assignment])) < marks
    except ScenarioError:
        return True


def _marks(node: Any) -> int:
    """How many varied-field marks a raw scenario holds."""
    if isinstance(node, dict):
        return sum(_marks(v) for v in node.values())
    if isinstance(node, list):
        return sum(_marks(v) for v in node)
    return int(node == _MARK)


# --------------------------------------------------------------------------- the plan

@dataclass(frozen=True)
class Plan:
    """A sweep's runs, every point checked: what `store` records and `executors` run."""

    base: Scenario  # the scenario before any override (what workers receive)
    source: str  # how the scenario was given: a name, a path, or <Scenario NAME>
    overrides: tuple[str, ...]  # the sweep's --set, for every run
    points: tuple[Point, ...]
    hashes: tuple[str, ...]  # each point's resolved scenario
    seeds: tuple[int, ...]
    until: dt.date | None
    scale: int
    columns: tuple[str, ...]  # the points' sweep.csv columns, in order
    days: int  # trading days of the first point's runs

    def __len__(self) -> int:
        return len(self.points) * len(self.seeds)

    def run(self, index: int) -> Run:
        """The run at `index` in the sweep's order (points in order, then seeds)."""
        p, s = divmod(index, len(self.seeds))
        point, seed = self.points[p], self.seeds[s]
        overrides = self.overrides + point.overrides
        where = f"seed-{seed}" if not point.name else f"{point.name}/seed-{seed}"
        return Run(index, p, seed, where, overrides,
                   run_command(self.source, seed, self.until, self.scale, overrides),
                   self.hashes[p])

    def runs(self) -> Iterator[Run]:
        """Every run, in the sweep's order."""
        return (self.run(i) for i in range(len(self)))


def run_command(source: str, seed: int, until: dt.date | None, scale: int,
                overrides: Sequence[str]) -> str:
    """The `rexsim run` line that makes one run of a sweep: its recorded provenance.

    It depends on the sweep's settings, the run's point and its seed only, never on how many
    workers or which machine ran it, so a run's files are the same wherever it ran.
    """
    args = ["rexsim", "run", source, "--seed", str(seed)]
    if until is not None:
        args += ["--until", until.isoformat()]
    if scale != 1:
        args += ["--scale", str(scale)]
    for assignment in overrides:
        args += ["--set", assignment]
    return shlex.join(args)


def make_plan(scenario: Scenario | str | Path, seeds: Sequence[int], points: Sequence[Point],
              *, overrides: Sequence[str] = (), until: dt.date | str | None = None,
              scale: int = 1, distinct: bool = True, option: str = "--grid") -> Plan:
    """Resolve and check every point's scenario before anything runs; the sweep's Plan.

    A bad key or value is one ScenarioError line naming the key (or, with several keys, the
    point's combination of values), worded for `option`, the flag that made the points;
    `until` must lie in every point's calendar with a trading day by then. With `distinct`,
    two points that resolve to the same scenario (`8` and `8.0`) are an error: they would be
    the same runs twice.
    """
    seeds = seed_list(seeds)
    if type(scale) is not int or scale < 1:
        raise RunError(f"expected an int >= 1, got {scale!r}", param="scale", option="--scale")
    until = _until(until)
    if isinstance(scenario, Scenario):
        base, source = scenario, f"<Scenario {scenario.name}>"
    else:
        base, source = load_scenario(scenario), str(scenario)
    overrides = tuple(overrides)
    with_overrides(base, overrides)  # --set alone first: its errors name --set
    hashes: list[str] = []
    seen: dict[str, int] = {}
    for point in points:
        try:
            sc = with_overrides(base, overrides + point.overrides)
        except ScenarioError as exc:
            raise _point_error(point, exc, option) from None
        sha = scenario_sha256(sc)
        if distinct and sha in seen:
            raise RexsimError(f"{_shown(points[seen[sha]])} and {_shown(point)} give the same "
                              f"scenario, so their runs would be the same", param="grid",
                              option="--grid")
        seen.setdefault(sha, len(hashes))
        hashes.append(sha)
        if until is not None:
            _check_until(until, sc, point if len(points) > 1 else None)
    first = with_overrides(base, overrides + points[0].overrides)
    days = TradingCalendar(first.calendar, until).days
    columns = tuple(c for c, _ in points[0].labels)
    return Plan(base, source, overrides, tuple(points), tuple(hashes), tuple(seeds), until,
                scale, columns, len(days))


def _check_until(until: dt.date, sc: Scenario, point: Point | None) -> None:
    """Refuse an `until` that a point's runs would refuse: outside its calendar, or no day."""
    cal = sc.calendar
    at = f" (at {_shown(point)})" if point is not None else ""
    if until < cal.start:
        raise RunError(f"{until} is before the scenario's start {cal.start}{at}",
                       param="until", option="--until")
    if until > cal.end:
        raise RunError(f"{until} is after the scenario's end {cal.end}{at}", param="until",
                       option="--until")
    if not TradingCalendar(cal, until).days:
        raise RunError(f"{sc.name}: no trading days from {cal.start} to {until}{at}",
                       param="until", option="--until")


def _until(until: dt.date | str | None) -> dt.date | None:
    if until is None or isinstance(until, dt.date):
        return until
    try:
        return dt.date.fromisoformat(until)
    except (TypeError, ValueError):
        raise RunError(f"expected a date YYYY-MM-DD, got {until!r}", param="until",
                       option="--until") from None


def _point_error(point: Point, exc: ScenarioError, option: str) -> ScenarioError:
    """The error of a point: its key when it sets one, else the whole combination."""
    param = option.lstrip("-")
    if len(point.overrides) == 1:
        key, _, value = point.overrides[0].partition("=")
        return ScenarioError(f"value {value}: {problem_of(exc)}", param=f"{param} {key}",
                             option=f"{option} {key}")
    return ScenarioError(f"{_shown(point)}: {problem_of(exc)}", param=param, option=option)


def problem_of(exc: ScenarioError) -> str:
    """The problem without the scenario module's `NAME (with --set): ` source prefix."""
    head, sep, rest = exc.detail.partition(" (with --set): ")
    return rest if sep and " " not in head else exc.detail


def _shown(point: Point) -> str:
    return ", ".join(point.overrides) or "the scenario"
