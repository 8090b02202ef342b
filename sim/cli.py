"""The `rexsim` command line: a thin layer of subcommands over functions scripts can call."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Each module registers one subcommand: `register(subparsers)` adds a parser whose
# `func(args) -> int` does the work and returns the exit status.
COMMAND_MODULES = (
    "sim.commands.demo",
    "sim.commands.run",
    "sim.commands.scenarios",
    "sim.commands.sweep",
    "sim.commands.compare",
    "sim.commands.replay",
    "sim.commands.lobster",
)


class UserError(Exception):
    """An error the user caused (bad file, bad argument): printed as one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rexsim",
        description="Order-matching engine and simulator of a rare-earth spot exchange.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"rexsim: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rexsim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
