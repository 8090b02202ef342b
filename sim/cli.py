"""The `rexsim` command line: a thin layer of subcommands over functions scripts can call."""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading
from collections.abc import Sequence

from sim.errors import OutputError, RexsimError, Terminated

# Each module registers one subcommand: `register(subparsers)` adds a parser whose
# `func(args) -> int` does the work and returns the exit status.
COMMAND_MODULES = (
    "sim.commands.demo",
    "sim.commands.run",
    "sim.commands.scenarios",
    "sim.commands.sweep",
    "sim.commands.sensitivity",
    "sim.commands.compare",
    "sim.commands.report",
    "sim.commands.replay",
    "sim.commands.lobster",
    "sim.commands.validate",
)


class UserError(RexsimError):
    """A problem with the command line itself (a missing name, a bad combination of options)."""


def _version() -> str:
    from sim import __version__

    return __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rexsim",
        description="Order-matching engine and simulator of a rare-earth spot exchange.",
    )
    parser.add_argument("--version", action="version", version=f"rexsim {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def _check_out(args: argparse.Namespace) -> None:
    """Refuse an empty --out: a command would take it for its default or for `.`."""
    out = getattr(args, "out", None)
    if isinstance(out, str) and not out.strip():
        what = "file" if args.command == "report" else "directory"
        raise OutputError(f"expected a {what}, got an empty path", param="out",
                          option="--out")


def _terminate_handler(pid: int):
    """A SIGTERM handler raising Terminated in process `pid`; a worker it forked just dies."""

    def handle(signum: int, _frame: object) -> None:
        if os.getpid() != pid:  # a sweep's worker inherited it: die as SIGTERM would
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        raise Terminated

    return handle


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line `argv`; return its exit status (2: refused, 130/143: interrupted)."""
    if threading.current_thread() is not threading.main_thread():
        return _main(argv)
    previous = signal.signal(signal.SIGTERM, _terminate_handler(os.getpid()))
    try:
        return _main(argv)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _main(argv: Sequence[str] | None) -> int:
    try:
        parser = build_parser()  # imports every command: Ctrl-C may land in it
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        _check_out(args)
        return int(args.func(args) or 0)
    except RexsimError as exc:  # a problem the user caused: one line, no traceback
        print(f"rexsim: {exc.for_cli()}", file=sys.stderr)
        return 2
    except Terminated:  # before KeyboardInterrupt, its base
        print("rexsim: terminated", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("rexsim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
