"""`rexsim scenarios`: list the built-in scenarios, or print one as TOML to copy and edit."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `scenarios` subcommand (and `scenarios show NAME`)."""
    p = subparsers.add_parser("scenarios", help="list built-in scenarios; `show NAME` prints one",
                              description="List the built-in scenarios, or print one as TOML.")
    p.add_argument("action", nargs="?", choices=["show"], help="print a scenario's TOML")
    p.add_argument("name", nargs="?", help="the scenario to show")
    p.set_defaults(func=_scenarios)


def _scenarios(args: argparse.Namespace) -> int:
    from sim.cli import UserError
    from sim.scenario import builtin_scenarios, builtin_text, parse_scenario

    if args.action == "show":
        if not args.name:
            raise UserError("scenarios show: which scenario? (see `rexsim scenarios`)")
        if args.name.endswith(".toml") and args.name not in builtin_scenarios():
            stem = args.name[:-len(".toml")]
            if not Path(args.name).is_file():
                hint = (f"; did you mean `rexsim scenarios show {stem}`?"
                        if stem in builtin_scenarios() else " (see `rexsim scenarios`)")
                raise UserError(f"scenarios show: no file {args.name}, and show prints a "
                                f"built-in scenario by name{hint}")
            raise UserError(f"scenarios show: {args.name} is a file, and show prints a built-in "
                            f"scenario (see `rexsim scenarios`); `rexsim run {args.name}` "
                            f"records the file resolved in summary.json's resolved_scenario")
        print(builtin_text(args.name), end="")
        return 0
    if args.name:
        raise UserError(f"scenarios: unexpected {args.name!r}; did you mean "
                        f"`rexsim scenarios show {args.name}`?")
    for name in builtin_scenarios():
        sc = parse_scenario(builtin_text(name), f"{name}.toml")
        default = " (default)" if name == "baotou-2024" else ""
        print(f"{name}{default}: {sc.description}")
    return 0
