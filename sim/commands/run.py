"""`rexsim run`: simulate a scenario, write its run directory and print a summary table."""

from __future__ import annotations

import argparse
import datetime as dt
import shlex
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

from sim.recorder import SimResults
from sim.units import fixed

__all__ = ["format_summary", "int_at_least", "iso_date", "register"]


def iso_date(text: str) -> dt.date:
    """An argparse type: a date YYYY-MM-DD."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None


def int_at_least(low: int) -> Callable[[str], int]:
    """An argparse type: an integer >= `low`."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {value}")
        return value
    return parse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `run` subcommand."""
    p = subparsers.add_parser(
        "run", help="simulate a scenario (default: baotou-2024) and summarise it",
        description="Simulate a scenario end to end and write its run directory: "
                    "summary.json, daily.csv, trades.csv, quotes.csv, enterprises.csv and "
                    "off_exchange.csv, whole or not at all.")
    p.add_argument("scenario", nargs="?", default="baotou-2024", metavar="SCENARIO_OR_FILE",
                   help="a built-in scenario name (see `rexsim scenarios`) or a TOML file "
                        "(default: %(default)s)")
    p.add_argument("--seed", type=int_at_least(0), default=None,
                   help="random seed (default: the scenario's)")
    p.add_argument("--until", type=iso_date, default=None, metavar="DATE",
                   help="stop after this date, YYYY-MM-DD (default: the scenario's end)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="directory for the output files (default: out/SCENARIO)")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no summary table")
    p.add_argument("--scale", type=int_at_least(1), default=1, metavar="K",
                   help="multiply the population and order flow by K (default: 1)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="change one scenario setting for this run (repeatable), e.g. "
                        "population.members=1974, products.PRND_OX.band_pct=10, "
                        "exchange.trade_price=median; VALUE is TOML")
    p.add_argument("--journal", default=None, metavar="FILE",
                   help="also write every exchange command to FILE, so that `rexsim replay "
                        "FILE` reproduces the run's matching exactly")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from sim.rundir import RUN_FILES
    from sim.runner import run
    from sim.scenario import load_scenario

    # loaded here only for its name (the default --out); the run loads it again itself, so a
    # bad file or --set is reported naming the file, before anything is written
    name = load_scenario(args.scenario, args.overrides).name
    out = Path("out") / name if args.out is None else args.out  # "" stays "": refused
    progress = (not args.quiet) and sys.stderr.isatty()
    made = _missing_parents(Path(out))
    try:
        res = run(args.scenario, seed=args.seed, until=args.until, out=out, progress=progress,
                  scale=args.scale, overrides=args.overrides, journal=args.journal,
                  command=_command(args))
    except BaseException:
        _remove_empty(made)  # a refused or interrupted run leaves no empty directories
        raise
    if not args.quiet:
        print(format_summary(res))
        files = ", ".join(f for f in RUN_FILES if (Path(out) / f).is_file())
        print("\n" + _fit(f"wrote {out}/: {files} in {res.wall_seconds:.1f}s"))
        if args.journal:
            print(_fit(f"journal of every exchange command: {args.journal}"))
    return 0


def _command(args: argparse.Namespace) -> str:
    """The run as one `rexsim run` command line (its provenance), from the parsed options."""
    words = ["rexsim", "run", args.scenario]
    for flag, value, default in (("--seed", args.seed, None), ("--until", args.until, None),
                                 ("--out", args.out, None), ("--scale", args.scale, 1),
                                 ("--journal", args.journal, None)):
        if value != default:
            words += [flag, str(value)]
    for assignment in args.overrides:
        words += ["--set", assignment]
    return shlex.join(words)


def _missing_parents(out: Path) -> list[Path]:
    """The directories above `out` that do not exist yet (deepest first): a run creates them."""
    missing = []
    for parent in out.absolute().parents:
        if parent.exists():
            break
        missing.append(parent)
    return missing


def _remove_empty(dirs: list[Path]) -> None:
    """Remove those of `dirs` (deepest first) that are empty; leave anything else alone."""
    for d in dirs:
        try:
            d.rmdir()
        except OSError:
            return


WIDTH = 80  # the summary fits a standard terminal


def format_summary(res: SimResults) -> str:
    """The run's summary as a plain-text table: totals, by product, by channel, membership.

    `avg yuan/t` is the volume-weighted average price over the run, floored to a yuan.
    """
    s = res.summary
    lines = [
        f"{s['scenario']}  seed {s['seed']}  scale {s['scale']}  {s['start']} .. {s['end']}"
        f"  ({s['trading_days']} trading days)",
        "",
        f"{'':<12} {'tonnes':>12} {'share':>7} {'value (yuan)':>20} {'share':>7} {'trades':>8}"
        f" {'avg yuan/t':>12}",
    ]

    def row(name: str, kg: int, fen: int, trades: int) -> str:
        share_t = 100 * kg / s["tonnage_kg"] if s["tonnage_kg"] else 0.0
        share_v = 100 * fen / s["value_fen"] if s["value_fen"] else 0.0
        average = f"{fen * 10 // kg:,}" if kg else "-"  # value = price * kg // 10
        return (f"{name:<12} {fixed(kg, 1000, 1):>12} {share_t:>6.1f}% "
                f"{fixed(fen, 100, 0):>20} {share_v:>6.1f}% {trades:>8,} {average:>12}")

    for code, p in s["by_product"].items():
        lines.append(row(code, p["tonnage_kg"], p["value_fen"], p["trades"]))
    lines.append("")
    for name, c in s["by_channel"].items():
        lines.append(row(name, c["tonnage_kg"], c["value_fen"], c["trades"]))
    lines.append(row("total", s["tonnage_kg"], s["value_fen"], s["trades"]))
    lines += [
        "",
        f"members {s['members']:,} from {s['provinces']} provinces; trading online "
        f"{s['online_members_start']:,} at the start, {s['online_members_end']:,} at the end",
    ]
    for assignment in s.get("overrides", []):
        lines.append(f"set {assignment}")
    for iv in s.get("interventions", []):
        verb = "withdrew" if iv["action"] == "withdraw" else "returned"
        when = f"on {iv['applied']}" if iv["applied"] else "(not reached: no trading day left)"
        lines.append(f"member {iv['member']} {verb} {when}")
    return "\n".join(lines)


def _fit(line: str) -> str:
    """A line wrapped at spaces to WIDTH columns, continuation lines indented.

    For a long event or `--set`: a word is never broken, so a `--set` stays copyable.
    """
    if len(line) <= WIDTH:
        return line
    return textwrap.fill(line, WIDTH, subsequent_indent="    ", break_long_words=False,
                         break_on_hyphens=False)
