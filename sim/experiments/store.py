"""A sweep's directory: its manifest, the journal of finished runs, resuming, its final tables.

```
OUT/sweep.json            the manifest: the configuration (scenario, --set, seeds, points and
                          each point's scenario hash, until, scale, rexsim version), written
                          before any run starts
OUT/POINT/seed-N/         each run, exactly as `rexsim run` writes it, published whole
OUT/sweep-runs.jsonl      the journal: one line per finished run (its headline metrics),
                          appended as runs finish, so memory does not grow with the sweep
OUT/sweep.csv             one row per run, written from the journal when every run is done
OUT/sweep-summary.csv     per point and metric: mean, sd, 95% interval (and paired change)
```
A run is complete when its directory holds a `summary.json` whose scenario hash and command
are the ones the manifest implies (a run directory is published whole, so one that exists is
complete). Rerunning the same sweep skips complete runs and reruns the rest; a run that
finished but was not yet journaled (the sweep was killed in between) is read back from its
summary; a torn last journal line is dropped. Every run directory is checked on each resume,
journaled or not (reading its summary): a journaled run is kept only while its directory still
holds the run the journal recorded. A directory holding another configuration's manifest, a
run of another configuration (or a journaled run replaced by one with other metrics), or
anything that is not a sweep is refused in one line before anything runs. When all runs are
done, the journal is rewritten in the sweep's order and the tables are written from it, so
every file is the same however the runs were scheduled.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from sim.errors import OutputError, RexsimError, RunFileError
from sim.experiments.plan import Plan, Run
from sim.experiments.summary import summary_columns, summary_rows
from sim.experiments.tables import write_csv
from sim.metrics import headline

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

__all__ = ["FORMAT", "JOURNAL", "MANIFEST", "RUNS_TABLE", "SUMMARY_TABLE", "SweepStore",
           "manifest"]

MANIFEST = "sweep.json"
JOURNAL = "sweep-runs.jsonl"
LOCK = ".sweep.lock"
RUNS_TABLE = "sweep.csv"
SUMMARY_TABLE = "sweep-summary.csv"
FORMAT = 1  # of the manifest and journal
_SUMMARY = "summary.json"
Metrics = list[tuple[str, Any]]


def manifest(plan: Plan, kind: str = "sweep", extra: dict[str, Any] | None = None
             ) -> dict[str, Any]:
    """The configuration a sweep directory holds: everything that decides its runs' files."""
    from sim import __version__

    return {
        "rexsim_sweep": FORMAT,
        "kind": kind,
        "rexsim_version": __version__,
        "scenario": plan.base.name,
        "source": plan.source,
        "overrides": list(plan.overrides),
        "until": None if plan.until is None else plan.until.isoformat(),
        "scale": plan.scale,
        "seeds": list(plan.seeds),
        "columns": list(plan.columns),
        "runs": len(plan),
        **(extra or {}),
        "points": [{"dir": p.name, "values": dict(p.labels), "set": list(p.overrides),
                    "scenario_sha256": sha} for p, sha in zip(plan.points, plan.hashes,
                                                               strict=True)],
    }


class SweepStore:
    """The directory of one sweep, opened for writing by one process at a time."""

    def __init__(self, out: str | os.PathLike[str], plan: Plan, doc: dict[str, Any]) -> None:
        """Check `out` for `plan` (its manifest `doc`), writing nothing: new, or this sweep.

        Refuses (OutputError) a file, a directory holding anything but this sweep, or a sweep
        of another configuration. `open()` then takes the directory for writing.
        """
        self.out = Path(out)
        self.plan = plan
        self.doc = doc
        self._lockfile: IO[bytes] | None = None
        self._journal: IO[bytes] | None = None
        self._index: dict[int, int] = {}  # run -> byte offset of its journal line
        if self.out.exists() and not self.out.is_dir():
            raise OutputError(f"{self.out} is a file, not a directory", param="out",
                              option="--out")
        self.resuming = self._check(doc)
        self._made_dir = False
        self._todo: list[Run] = []
        self._recover: list[tuple[Run, Metrics]] = []  # complete on disk, not journaled
        self._good = 0  # journal bytes up to its last whole line
        self._scan()

    def missing(self) -> int:
        """How many runs are still to make (read-only: for sizing a sweep before it runs)."""
        return len(self._todo)

    def open(self) -> SweepStore:
        """Take the directory: lock it, write the manifest if new, open the journal."""
        try:
            self._made_dir = not self.out.exists()
            self.out.mkdir(parents=True, exist_ok=True)
            self._lock()
            if not self._check(self.doc):  # again, now that no other sweep can write here
                _write_text(self.out / MANIFEST, json.dumps(self.doc, indent=1) + "\n")
            self._scan()
            self._journal = open(self.out / JOURNAL, "a+b")
            self._journal.truncate(self._good)  # a torn last line (a kill mid-write) goes
            for run, metrics in self._recover:  # read by the scan just now, under the lock
                self.record(run, metrics)
        except RexsimError:
            self.close()
            raise
        except OSError as exc:
            self.close()
            raise OutputError(f"{self.out}: cannot write here: {exc.strerror or exc}",
                              param="out", option="--out") from None
        except BaseException:
            self.close()
            raise
        return self

    def _read_manifest(self) -> dict[str, Any] | None:
        path = self.out / MANIFEST
        if not path.is_file():
            return None
        try:
            doc = json.loads(path.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise OutputError(f"{path}: not a readable sweep manifest ({exc}); give another "
                              f"--out or remove it", param="out", option="--out") from None
        if not isinstance(doc, dict) or doc.get("rexsim_sweep") != FORMAT:
            raise OutputError(f"{self.out} holds a sweep of an older rexsim or another kind "
                              f"({MANIFEST} without format {FORMAT}); give another --out or "
                              f"remove it", param="out", option="--out")
        return doc

    def _check_empty(self) -> None:
        if not self.out.is_dir():
            return
        found = sorted(e.name + ("/" if e.is_dir() else "") for e in os.scandir(self.out)
                       if not e.name.startswith("."))
        if found:
            shown = ", ".join(found[:5]) + (f" and {len(found) - 5} more" if len(found) > 5
                                             else "")
            raise OutputError(f"{self.out} holds files that are not a sweep's ({shown}); give "
                              f"another --out or remove them", param="out", option="--out")

    def _check(self, doc: dict[str, Any]) -> bool:
        """Whether `out` holds this sweep already (False: new or empty); else OutputError.

        The same sweep with its scenario given another way (`./bad/x.toml` for `bad/x.toml`,
        a name for its file) takes the held manifest's spelling: its runs' commands say it, so
        the runs made now record the commands of the runs made before.
        """
        held = self._read_manifest()
        if held is None:
            self._check_empty()
            return False
        _check_same(self.out, held, doc)
        if held["source"] != doc["source"]:
            self.plan = dataclasses.replace(self.plan, source=held["source"])
            self.doc = {**doc, "source": held["source"]}
        return True

    def _lock(self) -> None:
        """Hold an exclusive lock on the directory while this sweep writes it."""
        self._lockfile = open(self.out / LOCK, "ab")
        if fcntl is None:  # pragma: no cover - not POSIX
            return
        try:
            fcntl.flock(self._lockfile.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputError(f"{self.out} is being written by another rexsim sweep right now; "
                              f"wait for it, or give another --out", param="out",
                              option="--out") from None

    def abandon(self) -> None:
        """Remove what `open()` wrote into a new sweep's directory (nothing has run)."""
        if self.resuming:
            return
        self.close()
        for name in (JOURNAL, MANIFEST, LOCK):
            (self.out / name).unlink(missing_ok=True)
        if self._made_dir:
            try:
                self.out.rmdir()
            except OSError:
                pass

    def close(self) -> None:
        """Release the directory (the journal stays for a later resume)."""
        for fh in (self._journal, self._lockfile):
            if fh is not None:
                fh.close()
        self._journal = self._lockfile = None

    def __enter__(self) -> SweepStore:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ resuming

    def pending(self) -> list[Run]:
        """The runs still to make, in the sweep's order."""
        return list(self._todo)

    def _scan(self) -> None:
        """Which runs are complete, journaled or only on disk, and which are still to make.

        Read-only. Every run directory is checked against the plan, journaled or not: the
        journal says what a run was when it finished, not that its directory still holds it
        (`rexsim run --out OUT/seed-1` replaces it). A directory holding a run of another
        configuration, or a journaled run whose metrics are not the journal's, is refused
        here, before anything is written, as a foreign run not in the journal always was: it
        is someone's run, and neither mixed into the sweep nor deleted. A directory whose
        summary is unreadable is not a published run, so it is made again.
        """
        self._index, self._good, data = self._read_journal()
        self._todo, self._recover = [], []
        for run in self.plan.runs():
            summary = self.out / run.dir / _SUMMARY
            on_disk = self._metrics_on_disk(run) if summary.is_file() else None
            if on_disk is None:
                self._index.pop(run.index, None)  # journaled, but its directory is gone
                self._todo.append(run)
            elif run.index not in self._index:
                self._recover.append((run, on_disk))
            else:
                self._check_journaled(run, on_disk, data)

    def _check_journaled(self, run: Run, on_disk: Metrics, data: bytes) -> None:
        """Refuse a journaled run whose directory's metrics are not the ones journaled."""
        offset = self._index[run.index]
        journaled = json.loads(data[offset:data.index(b"\n", offset)])["metrics"]
        if json.dumps(journaled) == json.dumps([list(m) for m in on_disk]):
            return  # as text: a NaN equals itself, a tuple its list
        was = {m[0]: json.dumps(m[1:]) for m in journaled}
        now = {k: json.dumps([v]) for k, v in on_disk}
        differ = [k for k in dict.fromkeys([*was, *now]) if was.get(k) != now.get(k)]
        shown = ", ".join(differ[:4]) + (f" and {len(differ) - 4} more" if len(differ) > 4
                                          else "")
        where = self.out / run.dir
        raise OutputError(f"{where} holds a run whose metrics are not the ones {JOURNAL} "
                          f"recorded for it ({shown}); give another --out, or remove {where} "
                          f"to make the run again", param="out", option="--out")

    def _read_journal(self) -> tuple[dict[int, int], int, bytes]:
        """The journal's whole lines (run -> offset), the bytes up to the last, and its bytes.

        A torn last line (a kill mid-write) is left out; a damaged line with whole lines after
        it is an error (RunFileError).
        """
        path = self.out / JOURNAL
        data = path.read_bytes() if path.is_file() else b""
        index: dict[int, int] = {}
        offset = 0
        for line in data.splitlines(keepends=True):
            try:
                entry = json.loads(line) if line.endswith(b"\n") else None
            except (json.JSONDecodeError, UnicodeDecodeError):
                entry = None
            if entry is None:
                if offset + len(line) < len(data):
                    raise RunFileError(f"{path}: damaged line at byte {offset} with whole lines "
                                       f"after it; remove the file to rebuild it from the run "
                                       f"directories")
                break
            index[self._run_of(entry).index] = offset
            offset += len(line)
        return index, offset, data

    def _run_of(self, entry: Any) -> Run:
        try:
            run = self.plan.run(entry["run"])
            ok = entry["dir"] == run.dir and entry["scenario_sha256"] == run.sha256
        except (KeyError, TypeError, IndexError):
            ok = False
        if not ok:
            raise RunFileError(f"{self.out / JOURNAL}: a line that is not one of this sweep's "
                               f"runs ({str(entry)[:80]}); remove the file to rebuild it from "
                               f"the run directories")
        return run

    def _metrics_on_disk(self, run: Run) -> Metrics | None:
        """The metrics of `run` read from its directory's summary, or None if it has none.

        A run of another configuration there is refused: it would be mixed into this sweep.
        """
        path = self.out / run.dir / _SUMMARY
        try:
            summary = json.loads(path.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return None  # not a published run: it is made again, and replaced whole
        if (summary.get("scenario_sha256"), summary.get("command")) != (run.sha256,
                                                                         run.command):
            raise OutputError(f"{path.parent} holds a run of another configuration (its "
                              f"command {summary.get('command')!r}, not {run.command!r}); give "
                              f"another --out, or remove {path.parent} to make the run again",
                              param="out", option="--out")
        return [(m.key, m.value) for m in headline(summary)]

    # ------------------------------------------------------------------ recording

    def record(self, run: Run, metrics: Metrics) -> None:
        """Journal one finished run's metrics (one line, flushed)."""
        fh = self._journal
        assert fh is not None
        line = json.dumps({"run": run.index, "dir": run.dir, "seed": run.seed,
                           "scenario_sha256": run.sha256,
                           "metrics": [list(m) for m in metrics]}) + "\n"
        self._index[run.index] = fh.seek(0, os.SEEK_END)
        fh.write(line.encode("ascii"))
        fh.flush()

    def metrics(self, index: int) -> Metrics:
        """One journaled run's metrics (read from the journal, not kept in memory)."""
        fh = self._journal
        assert fh is not None
        fh.seek(self._index[index])
        return [tuple(m) for m in json.loads(fh.readline())["metrics"]]

    # ------------------------------------------------------------------ finishing

    def finish(self, baseline: Sequence[int] | None = None) -> tuple[Path, Path]:
        """Every run done: the journal in order, then sweep.csv and sweep-summary.csv."""
        missing = len(self.plan) - len(self._index)
        if missing:
            raise RunFileError(f"{self.out}: {missing} of {len(self.plan)} runs are not done")
        self._rewrite_journal()
        keys = self._metric_keys()
        runs_path, summary_path = self.out / RUNS_TABLE, self.out / SUMMARY_TABLE
        write_csv(runs_path, ("run", *self.plan.columns, "seed", *keys), self._run_rows(keys))
        write_csv(summary_path, summary_columns(self.plan.columns, baseline is not None),
                  summary_rows(self.plan, keys, self.point_values, baseline))
        return runs_path, summary_path

    def _rewrite_journal(self) -> None:
        """The journal in the sweep's order, so it too is the same however runs finished."""
        path = self.out / JOURNAL
        tmp = path.with_name(f".{JOURNAL}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
        index = {}
        try:
            with open(tmp, "wb") as out:
                for i in range(len(self.plan)):
                    index[i] = out.tell()
                    out.write((json.dumps({"run": i, **self._entry(i)}) + "\n").encode("ascii"))
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        assert self._journal is not None
        self._journal.close()
        self._journal = open(path, "a+b")
        self._index = index

    def _entry(self, index: int) -> dict[str, Any]:
        run = self.plan.run(index)
        return {"dir": run.dir, "seed": run.seed, "scenario_sha256": run.sha256,
                "metrics": [list(m) for m in self.metrics(index)]}

    def _metric_keys(self) -> list[str]:
        """Every metric any run has, in the order the runs first name them."""
        keys: dict[str, None] = {}
        for i in range(len(self.plan)):
            for key, _ in self.metrics(i):
                keys.setdefault(key)
        return list(keys)

    def _run_rows(self, keys: Sequence[str]) -> Iterator[tuple[Any, ...]]:
        for run in self.plan.runs():
            values = dict(self.metrics(run.index))
            point = self.plan.points[run.point]
            yield (run.dir, *(v for _, v in point.labels), run.seed,
                   *(values.get(k) for k in keys))

    def point_values(self, point: int) -> list[dict[str, Any]]:
        """Each seed's metrics of one point, in seed order."""
        n = len(self.plan.seeds)
        return [dict(self.metrics(point * n + s)) for s in range(n)]


def _check_same(out: Path, held: dict[str, Any], doc: dict[str, Any]) -> None:
    """Refuse a sweep directory whose manifest is not this sweep's, naming what differs.

    The configuration is judged by what decides the runs (each point's resolved scenario
    hash, the seeds, grid, --set, --until, --scale...), not by how the scenario was given:
    a source spelled another way (a string, as every manifest's is) is the same sweep when
    all the rest is equal. When anything else differs, a differing source is named first.
    """
    if _without_source(held) == _without_source(doc) and isinstance(held.get("source"), str):
        return
    labels = {"kind": "kind", "rexsim_version": "rexsim version", "scenario": "scenario",
              "source": "scenario given as", "overrides": "--set", "until": "--until",
              "scale": "--scale", "seeds": "seeds", "columns": "grid keys",
              "runs": "number of runs", "points": "grid points (or their scenarios)"}
    for key in [*labels, *(k for k in doc if k not in labels)]:
        if held.get(key) != doc.get(key):
            what = labels.get(key, key)
            if key == "points":
                detail = what
            else:
                detail = f"{what} {_brief(held.get(key))} there, {_brief(doc.get(key))} here"
            raise OutputError(f"{out} holds a sweep of another configuration ({detail}); give "
                              f"another --out or remove it", param="out", option="--out")
    raise OutputError(f"{out} holds a sweep of another configuration; give another --out or "
                      f"remove it", param="out", option="--out")  # pragma: no cover


def _without_source(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "source"}


def _brief(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _write_text(path: Path, text: str) -> None:
    """Write a small file whole or not at all."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        tmp.write_text(text, "utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise

