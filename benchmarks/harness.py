"""Timing method shared by the `python -m benchmarks` commands: warm-up, best of R, environment.

Contenders are timed in interleaved rounds (A, B, C, A, B, C, ...) so that a slow spell of a
shared machine hits all of them alike; each timed run gets a fresh state built outside the
timer, after `gc.collect()`. The garbage collector stays enabled while timing, as in real use.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def cpu_model() -> str:
    """The processor's model name, as the OS reports it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit() -> str | None:
    """The checkout's HEAD commit (with `+dirty` if it has local changes), or None."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "")


def environment(packages: tuple[str, ...] = ("numpy", "msgspec", "tqdm")) -> dict:
    """What the numbers were measured on: interpreter, OS, CPU, package versions, commit."""
    versions = {}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "packages": versions,
        "commit": git_commit(),
    }


def time_rounds(
    contenders: dict[str, tuple[Callable[[], Any], Callable[[Any], Any]]],
    repeat: int,
    warmup: Callable[[str], None] | None = None,
) -> dict[str, list[float]]:
    """Seconds per timed run of each contender, `repeat` interleaved rounds.

    `contenders` maps a name to `(setup, run)`: `setup()` builds fresh state (untimed) and
    `run(state)` is the timed work. `warmup(name)`, if given, runs once per contender first.
    """
    if repeat < 1:
        raise ValueError(f"repeat must be >= 1, got {repeat}")
    if warmup is not None:
        for name in contenders:
            warmup(name)
    times: dict[str, list[float]] = {name: [] for name in contenders}
    clock = time.perf_counter
    for _ in range(repeat):
        for name, (setup, run) in contenders.items():
            state = setup()
            gc.collect()
            start = clock()
            run(state)
            times[name].append(clock() - start)
            del state
    return times


def rate_summary(seconds: list[float], events: int) -> dict:
    """Events per second of the best and of the median run, and the raw times."""
    return {
        "best_eps": events / min(seconds),
        "median_eps": events / statistics.median(seconds),
        "seconds": seconds,
    }


def ratio_summary(a: list[float], b: list[float]) -> dict:
    """Speed of A relative to B: best-vs-best, and the median and range over paired rounds.

    A ratio above 1 means A is faster. Rounds are paired because they ran back to back, so on a
    busy machine the paired median is steadier than best-vs-best.
    """
    paired = sorted(tb / ta for ta, tb in zip(a, b, strict=True))
    return {
        "best": min(b) / min(a),
        "paired_median": statistics.median(paired),
        "paired_min": paired[0],
        "paired_max": paired[-1],
    }


def write_json(path: str | None, payload: dict) -> None:
    """Write `payload` to `path` as indented JSON (no-op when path is None)."""
    if path is None:
        return
    Path(path).write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
