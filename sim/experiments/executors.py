"""Where a sweep's runs execute: this process, a pool of worker processes, or a Dask cluster.

Every backend runs the same function (`perform`) on the same arguments, so a run's files are
the same wherever it ran: the worker runs `sim.run` into the run's directory and returns only
the run's headline metrics (never its tables), so the sweep's process holds one small result
per run in flight. At most as many runs are in flight as there are workers (twice as many on
Dask), so memory does not grow with the sweep.

A run that fails with a `RexsimError` (a problem with its inputs) is reported at once: it
would fail again. Any other failure, above all a worker that dies (killed, out of memory, a
crash: the pool breaks, or Dask reports the worker lost), is retried once; the retry runs
alone, so that a run that kills its worker cannot take other runs down with it twice. A run
that fails twice is reported. Nothing is lost: runs that did not fail are unaffected.

`--scheduler ADDRESS` connects to a running Dask scheduler (`dask scheduler`, with workers
started by `dask worker ADDRESS`, each with rexsim installed and the sweep's directory at the
same path, i.e. on a shared filesystem); `--scheduler local:N` starts a `LocalCluster` of N
single-threaded worker processes on this machine. Workers are checked before the first run:
the same rexsim, numpy and msgspec versions as here (numpy's random streams decide the runs),
and the sweep's directory visible.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import platform
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from sim.errors import OutputError, RexsimError, RunError
from sim.experiments.plan import Plan, Run

__all__ = ["Outcome", "Shared", "execute", "open_backend", "perform"]

Metrics = list[tuple[str, Any]]
_DASK_HINT = "pip install 'rexsim[dask]'"


class Shared(NamedTuple):
    """What every run of a sweep shares: sent to each worker once."""

    base: Any  # the Scenario before overrides
    until: Any
    scale: int
    out: str  # the sweep's directory, absolute


class Outcome(NamedTuple):
    """A run's end: its metrics, or why it failed for good."""

    run: Run
    metrics: Metrics | None
    error: str | None = None


def shared_of(plan: Plan, out: Path) -> Shared:
    """The shared part of a plan's runs, for workers."""
    return Shared(plan.base, plan.until, plan.scale, str(out.resolve()))


def perform(shared: Shared, run: Run) -> Metrics:
    """Make one run (as `rexsim run` would, into its directory); its headline metrics."""
    from sim.experiments.store import MANIFEST
    from sim.metrics import headline
    from sim.runner import run as simulate
    from sim.scenario import scenario_sha256, with_overrides

    out = Path(shared.out)
    if not (out / MANIFEST).is_file():
        raise OutputError(f"{socket.gethostname()}: cannot see the sweep's directory {out} "
                          f"(every worker must reach it at the same path: a shared filesystem)")
    sha = scenario_sha256(with_overrides(shared.base, run.overrides))
    if sha != run.sha256:
        raise RunError(f"{socket.gethostname()}: {run.dir} resolves to another scenario here "
                       f"({sha[:12]}, not {run.sha256[:12]}): does this worker have another "
                       f"rexsim?")
    res = simulate(shared.base, seed=run.seed, until=shared.until, scale=shared.scale,
                   overrides=list(run.overrides), out=out / run.dir, command=run.command)
    return [(m.key, m.value) for m in headline(res.summary)]


# --------------------------------------------------------------------------- the driver

class Backend(Protocol):
    """Runs `perform` somewhere: submit runs, wait for some to end."""

    capacity: int

    def ready(self) -> None: ...
    def submit(self, run: Run) -> Any: ...
    def wait(self, handles: Iterable[Any]) -> list[tuple[Any, Metrics | None,
                                                         BaseException | None]]: ...
    def recover(self) -> None: ...
    def close(self) -> None: ...


def execute(backend: Backend, runs: Iterable[Run]) -> Iterator[Outcome]:
    """Every run's outcome, as runs end; a failure other than a RexsimError is retried once."""
    queue, retry = deque(runs), deque()
    in_flight: dict[Any, Run] = {}
    tried: set[int] = set()
    while queue or retry or in_flight:
        alone = bool(retry) or any(r.index in tried for r in in_flight.values())
        while (queue or retry) and len(in_flight) < (1 if alone else backend.capacity):
            run = retry.popleft() if retry else queue.popleft()
            in_flight[backend.submit(run)] = run
            alone = alone or run.index in tried
        for handle, metrics, exc in backend.wait(list(in_flight)):
            run = in_flight.pop(handle)
            if exc is None:
                yield Outcome(run, metrics)
            elif isinstance(exc, RexsimError):
                yield Outcome(run, None, exc.for_cli())
            elif run.index in tried:
                yield Outcome(run, None, f"{_describe(exc)} (failed twice)")
            else:
                tried.add(run.index)
                retry.append(run)
        backend.recover()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BrokenProcessPool):
        return "its worker process died"
    name = type(exc).__name__
    if name in ("KilledWorker", "CommClosedError"):
        return f"its Dask worker died ({name})"
    text = str(exc).strip().splitlines()
    return f"{name}: {text[0]}" if text else name


# --------------------------------------------------------------------------- backends

Task = Callable[[Shared, Run], Metrics]  # `perform`, or a stand-in in tests


class InProcess:
    """The runs one after another in this process (`--jobs 1`)."""

    capacity = 1

    def __init__(self, shared: Shared, fn: Task = perform) -> None:
        self.shared = shared
        self.fn = fn
        self._done: dict[int, tuple[Metrics | None, BaseException | None]] = {}

    def ready(self) -> None:
        pass

    def submit(self, run: Run) -> int:
        try:
            self._done[run.index] = (self.fn(self.shared, run), None)
        except RexsimError as exc:
            self._done[run.index] = (None, exc)
        except Exception as exc:  # noqa: BLE001 - reported with its run (and retried once)
            self._done[run.index] = (None, exc)
        return run.index

    def wait(self, handles: Iterable[int]) -> list[tuple[int, Metrics | None,
                                                         BaseException | None]]:
        return [(h, *self._done.pop(h)) for h in handles]

    def recover(self) -> None:
        pass

    def close(self) -> None:
        pass


_WORKER: tuple[Task, Shared] | None = None  # set once in each pool worker


def _init_worker(fn: Task, shared: Shared, sweep_pid: int) -> None:
    """Set a pool worker up: what it runs, and to exit if the sweep's process dies."""
    global _WORKER
    _WORKER = (fn, shared)
    threading.Thread(target=_exit_with, args=(sweep_pid,), daemon=True).start()


def _exit_with(pid: int) -> None:
    """Exit this worker once process `pid` is gone (a sweep killed by SIGKILL cannot say so).

    A pool's workers otherwise wait for work forever; a run in progress is cut off, which
    leaves at most a staging directory that the next publish there removes.
    """
    while True:
        time.sleep(0.25)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            os._exit(1)
        except PermissionError:  # pragma: no cover - a pid reused by another user
            os._exit(1)


def _in_worker(run: Run) -> Metrics:
    assert _WORKER is not None
    fn, shared = _WORKER
    return fn(shared, run)


@contextlib.contextmanager
def _main_left_out() -> Iterator[None]:
    """Start worker processes without importing the user's `__main__` in them.

    Python's forkserver and spawn workers import the script that started them (by its path,
    or by its module name under `python -m`), which fails for a script read from standard
    input and, for a script without `if __name__ == "__main__":`, starts the sweep again in
    every worker. Workers run only rexsim's own functions on rexsim's own values, so they
    need nothing from `__main__`: hiding its file and spec while they start leaves it out.
    """
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    saved = {k: main.__dict__[k] for k in ("__file__", "__spec__") if k in main.__dict__}
    main.__dict__.pop("__file__", None)
    main.__spec__ = None
    try:
        yield
    finally:
        main.__dict__.pop("__spec__", None)
        main.__dict__.update(saved)


def _pool_context() -> Any:
    """A start method that is safe in a process with threads (tqdm's monitor, Dask's loop)."""
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["sim.experiments.executors", "sim.runner"])
        return ctx
    return multiprocessing.get_context("spawn")


class Pool:
    """The runs in N worker processes on this machine (`--jobs N`)."""

    def __init__(self, shared: Shared, jobs: int, fn: Task = perform) -> None:
        self.shared = shared
        self.fn = fn
        self.capacity = jobs
        self._pool = self._start()
        self._broken = False

    def ready(self) -> None:
        pass

    def _start(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self.capacity, mp_context=_pool_context(),
                                   initializer=_init_worker,
                                   initargs=(self.fn, self.shared, os.getpid()))

    def submit(self, run: Run) -> Future:
        with _main_left_out():  # workers start on demand, at a submit
            try:
                return self._pool.submit(_in_worker, run)
            except BrokenProcessPool:  # a worker died since the last wait
                self._broken = True
                self.recover()
                return self._pool.submit(_in_worker, run)

    def wait(self, handles: Iterable[Future]) -> list[tuple[Future, Metrics | None,
                                                            BaseException | None]]:
        done, _ = wait(list(handles), return_when=FIRST_COMPLETED)
        out = []
        for f in done:
            exc = f.exception()
            self._broken = self._broken or isinstance(exc, BrokenProcessPool)
            out.append((f, None if exc else f.result(), exc))
        return out

    def recover(self) -> None:
        """A worker died: the pool is broken, so start a fresh one for the retries."""
        if self._broken:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = self._start()
            self._broken = False

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class Dask:
    """The runs on a Dask distributed cluster (`--scheduler ADDRESS` or `local:N`)."""

    def __init__(self, shared: Shared, scheduler: str, fn: Task = perform) -> None:
        self.fn = fn
        try:
            import dask
            from distributed import Client, LocalCluster
        except ImportError:
            raise RexsimError(f"running on Dask needs the distributed package: {_DASK_HINT}",
                              param="scheduler", option="--scheduler") from None
        self._cluster = None
        self._client = None
        try:
            if scheduler.startswith("local:"):
                n = _local_workers(scheduler)
                # a task whose worker dies fails at once; the driver retries it once, alone
                with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
                    with _main_left_out():
                        self._cluster = LocalCluster(n_workers=n, threads_per_worker=1,
                                                     processes=True, dashboard_address=None,
                                                     silence_logs=logging.ERROR)
                self._client = Client(self._cluster)
            else:
                self._client = Client(scheduler, timeout="20s")
                self._client.wait_for_workers(1, timeout=60)
        except RexsimError:
            raise
        except Exception as exc:  # noqa: BLE001 - Dask raises many kinds; one line for all
            self.close()
            raise RexsimError(f"cannot use the Dask scheduler {scheduler}: {_describe(exc)}",
                              param="scheduler", option="--scheduler") from None
        try:
            self._check_versions()
        except BaseException:
            self.close()
            raise
        self._shared = shared
        self.capacity = 2 * max(1, sum(self._client.nthreads().values()))

    def ready(self) -> None:
        """The sweep's directory exists now: check that every worker sees it."""
        self._check_sight(self._shared.out)

    def _check_versions(self) -> None:
        """Every worker runs the same versions as here (numpy's streams decide the runs)."""
        here = _facts()
        for address, facts in self._client.run(_facts).items():
            for key in ("python", "rexsim", "numpy", "msgspec"):
                if facts[key] != here[key]:
                    raise RexsimError(f"worker {address} has {key} {facts[key]}, this machine "
                                      f"{here[key]}: install the same versions everywhere, so "
                                      f"runs are the same wherever they run",
                                      param="scheduler", option="--scheduler")

    def _check_sight(self, out: str) -> None:
        """Every worker sees the sweep's directory (written by then) at the same path."""
        for address, (host, sees) in self._client.run(_sees, out).items():
            if not sees:
                raise RexsimError(f"worker {address} ({host}) cannot see {out}: the sweep's "
                                  f"directory must be on a filesystem every worker shares, at "
                                  f"the same path", param="scheduler", option="--scheduler")

    def submit(self, run: Run) -> Any:
        # what runs share goes with each run (a few kB): no scattered data a dying worker
        # could take with it
        return self._client.submit(self.fn, self._shared, run, pure=False, retries=0,
                                   key=f"rexsim-run-{run.index}-{os.urandom(6).hex()}")

    def wait(self, handles: Iterable[Any]) -> list[tuple[Any, Metrics | None,
                                                         BaseException | None]]:
        from distributed import wait as dask_wait

        done, _ = dask_wait(list(handles), return_when="FIRST_COMPLETED")
        out = []
        for f in done:
            if f.status == "error":
                out.append((f, None, f.exception()))
            elif f.status == "cancelled":
                out.append((f, None, RuntimeError("the scheduler cancelled the run")))
            else:
                out.append((f, f.result(), None))
            f.release()
        return out

    def recover(self) -> None:
        pass

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def _local_workers(scheduler: str) -> int:
    text = scheduler.partition(":")[2]
    if not text.isdigit() or int(text) < 1:
        raise RexsimError(f"expected local:N with N >= 1 worker processes, got {scheduler!r}",
                          param="scheduler", option="--scheduler")
    return int(text)


def _facts() -> dict[str, Any]:
    """What a worker runs (compared with this machine's before any run)."""
    import msgspec
    import numpy

    from sim import __version__

    return {"python": platform.python_version(), "rexsim": __version__,
            "numpy": numpy.__version__, "msgspec": msgspec.__version__}


def _sees(out: str) -> tuple[str, bool]:
    """A worker's host name, and whether it sees the sweep's manifest in `out`."""
    from sim.experiments.store import MANIFEST

    return socket.gethostname(), (Path(out) / MANIFEST).is_file()


def open_backend(shared: Shared, runs: int, jobs: int | None = None,
                 scheduler: str | None = None, fn: Task = perform) -> Backend:
    """The backend a sweep asked for: Dask, a process pool, or this process.

    `fn(shared, run)` makes one run (`perform`; tests pass stand-ins that misbehave).
    """
    if scheduler is not None:
        if jobs is not None:
            raise RexsimError("give --jobs or --scheduler, not both (Dask decides how many "
                              "runs each worker takes)", param="jobs", option="--jobs")
        return Dask(shared, scheduler, fn)
    if jobs is not None and (type(jobs) is not int or jobs < 1):
        raise RunError(f"expected an int >= 1, got {jobs!r}", param="jobs", option="--jobs")
    n = max(1, min(jobs or os.cpu_count() or 1, runs))
    return InProcess(shared, fn) if n == 1 else Pool(shared, n, fn)
