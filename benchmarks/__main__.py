"""`python -m benchmarks NAME ...`: run one benchmark command.

Command NAME lives in module `benchmarks.cmd_NAME`, which exposes `add_arguments(parser)` and
`run(args) -> int` (the exit status). A command whose module fails to import (say, a
dependency missing) is still listed, and running it prints why it is unavailable.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = ("engine", "lobster", "sim", "sweep", "runmem")


def _unavailable(name: str, error: Exception):
    def run(args: argparse.Namespace) -> int:
        print(f"benchmark {name!r} is unavailable: {error}", file=sys.stderr)
        return 2

    return run


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser, one subcommand per entry of COMMANDS."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="NAME")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"benchmarks.cmd_{name}")
        except ImportError as exc:
            sub.add_parser(name, help=f"(unavailable: {exc})").set_defaults(
                run=_unavailable(name, exc)
            )
            continue
        doc = (module.__doc__ or name).strip().splitlines()[0]
        cmd = sub.add_parser(
            name,
            help=doc,
            description=module.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(cmd)
        cmd.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse `argv` and run the chosen command; return its exit status."""
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
