"""Run directories: a run's files appear whole or not at all, and never mix with another run's.

A run is written into a staging directory beside its target (`.NAME.partial-PID-XXXX` in the
same parent, so on the same filesystem), then published in one step: renamed into place when
the target is new, or atomically exchanged with the old run directory (Linux `renameat2` with
`RENAME_EXCHANGE`) and the old one removed. A reader therefore sees the previous complete set
of files or the new one, never a mixture, even if the writer is killed at any point; a kill
leaves at most a stale staging directory, which the next publish into that parent removes.

A target that holds anything but one run's own files (a sweep's `sweep.json`, `seed-N/`
directories, a user's notes) is refused before anything runs, so nothing is mixed or lost.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fnmatch
import json
import os
import secrets
import shutil
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from sim.errors import OutputError

__all__ = ["DERIVED_PATTERNS", "RUN_FILES", "check_target", "discard", "foreign_entries",
           "publish", "stage", "uninterrupted"]

# every file a run writes (a run writes the ones its version knows; all are its own)
RUN_FILES = ("summary.json", "daily.csv", "trades.csv", "quotes.csv", "enterprises.csv",
             "off_exchange.csv")
# files made from a run by `rexsim report`: stale once the run is rewritten, removed with it
DERIVED_PATTERNS = ("report.html", "report-*.png")
_PARTIAL = ".partial-"
_CREATED: dict[Path, list[Path]] = {}  # staging dir -> parents `stage` created for it

def foreign_entries(out: Path, own: Iterable[str] = ()) -> list[str]:
    """Entries of directory `out` that are not a run's own files (sorted; dirs end with /).

    A run's own files are its tables and summary, the report made from it, `own`, and the
    journal its summary names when that lies in `out` (it goes with the run it recorded).
    """
    allowed = set(RUN_FILES) | set(own) | set(_journal_of(out))
    found = []
    for entry in sorted(os.scandir(out), key=lambda e: e.name):
        name = entry.name
        if entry.is_file() and (name in allowed
                                or any(fnmatch.fnmatch(name, p) for p in DERIVED_PATTERNS)):
            continue
        found.append(name + "/" if entry.is_dir() else name)
    return found


def _journal_of(out: Path) -> list[str]:
    """The file name of the journal a previous run in `out` wrote into `out`, if any."""
    try:
        journal = json.loads((out / "summary.json").read_text("utf-8")).get("journal")
    except (OSError, ValueError, AttributeError):
        return []
    if not isinstance(journal, str):
        return []
    path = Path(journal)
    try:
        inside = path.resolve().parent == out.resolve()
    except OSError:
        return []
    return [path.name] if inside else []


def check_target(out: str | os.PathLike[str], own: Iterable[str] = ()) -> Path:
    """Check that a run may be written to `out`; return it as a Path, or raise OutputError.

    `out` must be a non-empty path that is not a file or a symbolic link, and if it is a
    directory it may hold only a run's own files (a previous run, which the new one replaces
    whole). `own` names further files that belong to the run (its journal, when the caller
    put it there).
    """
    text = os.fspath(out)
    if not text.strip():
        raise OutputError("expected a directory, got an empty path", param="out",
                          option="--out")
    path = Path(text)
    if path.is_symlink():  # a run would replace the link, not what it points to
        raise OutputError(f"{path} is a symbolic link (to {os.readlink(path)}); give the "
                          f"directory itself or another path", param="out", option="--out")
    if path.exists() and not path.is_dir():
        raise OutputError(f"{path} is a file, not a directory", param="out", option="--out")
    if path.is_dir():
        foreign = foreign_entries(path, own)
        if foreign:
            shown = ", ".join(foreign[:6]) + (f" and {len(foreign) - 6} more"
                                               if len(foreign) > 6 else "")
            raise OutputError(f"{path} holds files that are not one run's own ({shown}); "
                              f"give another directory or remove them", param="out",
                              option="--out")
    return path


def stage(out: str | os.PathLike[str], own: Iterable[str] = ()) -> Path:
    """Check `out` and make a fresh, empty staging directory beside it; return its path.

    Making it is also the check that the location can be written, done before a run starts;
    a previous run there must be writable too, or it could not be replaced and removed.
    """
    path = check_target(out, own)
    if path.is_dir() and not os.access(path, os.W_OK | os.X_OK):
        raise OutputError(f"{path}: cannot write here: the directory is not writable",
                          param="out", option="--out")
    parent = path.parent
    created = []
    missing = parent
    while not missing.exists() and missing != missing.parent:
        created.append(missing)
        missing = missing.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = parent / f".{path.name}{_PARTIAL}{os.getpid()}-{secrets.token_hex(4)}"
        staging.mkdir()
    except OSError as exc:
        _remove_empty(created)
        raise OutputError(f"{path}: cannot write here: {exc.strerror or exc}", param="out",
                          option="--out") from None
    _CREATED[staging] = created
    return staging


@contextlib.contextmanager
def uninterrupted() -> Iterator[None]:
    """Hold Ctrl-C (SIGINT) off a step that must finish once begun; it is raised after it.

    So is SIGTERM where a Python handler takes it; that handler is given it after the step
    (the CLI's raises `Terminated`; a script's own handler runs as it would have).

    Only the main thread receives signals, so elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def hold(signum: int, _frame: object) -> None:
        caught.append(signum)

    previous = signal.signal(signal.SIGINT, hold)
    # SIGTERM too, where a Python handler takes it (the CLI's), which then gets it after
    term = signal.getsignal(signal.SIGTERM)
    if callable(term):
        signal.signal(signal.SIGTERM, hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler if previous is None
                      else previous)
        if callable(term):
            signal.signal(signal.SIGTERM, term)
    if callable(term) and signal.SIGTERM in caught:
        term(signal.SIGTERM, None)  # the CLI's raises Terminated
    if signal.SIGINT in caught:
        raise KeyboardInterrupt


def publish(staging: Path, out: str | os.PathLike[str], own: Iterable[str] = (),
            then: Callable[[], None] | None = None) -> Path:
    """Put the complete run in `staging` at `out` in one step (see the module docstring).

    When that fails, `out` is left as it was and the staging directory is removed. `then`
    (the run's journal put beside it) runs with the swap, and Ctrl-C waits for both: an
    interrupted publish leaves the previous run, or the new one whole with its journal.
    """
    try:
        path = check_target(out, own)  # still nothing foreign: another may have written
    except OutputError:
        discard(staging)
        raise
    with uninterrupted():
        try:
            _swap_in(staging, path)
        except OSError as exc:
            discard(staging)
            raise OutputError(f"{path}: cannot write results: {exc.strerror or exc}",
                              param="out", option="--out") from None
        _CREATED.pop(staging, None)
        _remove_stale(path)
        if then is not None:
            then()
    return path


def _swap_in(staging: Path, path: Path) -> None:
    """Rename `staging` to `path`, replacing a previous run there (removed once replaced)."""
    if not path.exists():
        os.rename(staging, path)
    elif _exchange(staging, path):
        shutil.rmtree(staging, ignore_errors=True)  # now holds the previous run
    else:
        old = path.parent / f".{path.name}.old-{os.getpid()}-{secrets.token_hex(4)}"
        os.rename(path, old)  # no renameat2 here: a reader may find `out` missing briefly
        try:
            os.rename(staging, path)
        except OSError:
            os.rename(old, path)  # the previous run back in place
            raise
        shutil.rmtree(old, ignore_errors=True)


def discard(staging: Path) -> None:
    """Remove a staging directory whose run did not complete, and the empty parents it made."""
    shutil.rmtree(staging, ignore_errors=True)
    _remove_empty(_CREATED.pop(staging, []))


def _remove_empty(dirs: list[Path]) -> None:
    for d in dirs:  # deepest first
        try:
            d.rmdir()
        except OSError:
            return


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two directories (Linux renameat2); False where that is not available."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    renameat2.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_uint)
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _remove_stale(path: Path) -> None:
    """Remove staging directories of `path` left by writers that are no longer running."""
    prefix = f".{path.name}{_PARTIAL}"
    for entry in path.parent.glob(prefix + "*"):
        pid = entry.name[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(entry, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
