"""`rexsim run`: simulate a scenario, write its run directory and print a summary table."""

from __future__ import annotations

import argparse
import datetime as dt
import shlex
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

from sim.calendar import parse_date
from sim.recorder import SimResults
from sim.units import fixed

__all__ = ["format_summary", "int_at_least", "iso_date", "register"]


def iso_date(text: str) -> dt.date:
    """An argparse type: a date YYYY-MM-DD."""
    try:
        return parse_date(text)
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
                   help="random seed, 0 to 2**63-1 (default: the scenario's)")
    p.add_argument("--until", type=iso_date, default=None, metavar="DATE",
                   help="stop after this date, YYYY-MM-DD (default: the scenario's end)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="the run's directory (default: out/NAME, NAME the scenario's name); "
                        "a previous run there is replaced whole, a directory holding other "
                        "files is refused")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no summary table")
    p.add_argument("--scale", type=int_at_least(1), default=1, metavar="K",
                   help="multiply the members, the national market and the order flow by K "
                        "(default: 1); a run too large for this machine's memory is refused "
                        "before it starts (sim.limits)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="change one scenario setting for this run (repeatable), e.g. "
                        "population.members=1974, products.PRND_OX.band_pct=10, "
                        "exchange.trade_price=median; VALUE is TOML")
    p.add_argument("--journal", default=None, metavar="FILE",
                   help="also write every exchange command to FILE, so that `rexsim replay "
                        "FILE` reproduces the run's matching exactly")
    p.add_argument("--check", action="store_true",
                   help="audit every member's cash, stock and reservations and every book's "
                        "invariants after each day (about 10%% slower); a failure is a bug in "
                        "rexsim, reported in one line, and writes nothing")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from engine.book import InvariantError
    from sim.agents import LedgerError
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
                  command=_command(args), check=args.check)
    except (LedgerError, InvariantError) as exc:
        _remove_empty(made)
        print(f"rexsim: the audit failed: {exc} (a bug in rexsim, not in the input: please "
              f"report it with this command); nothing was written", file=sys.stderr)
        return 1
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
    if args.check:
        words.append("--check")
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
    """The run's summary as plain text no wider than 80 columns.

    A table of what traded on the exchange (by product, by channel, in total: tonnes, share of
    tonnage, value, share of value, trades and the volume-weighted average price over the run,
    floored to a yuan), then the national market around it (off-exchange tonnage and the
    exchange's share of national tonnage), PrNd oxide's liquidity (the share of quote samples
    with both sides, the median spread), the block auctions, membership, each dated event with
    the day it applied, and the `--set` overrides. Values are in yuan, or in million yuan
    once the run's total passes a trillion yuan (a large `--scale`), so the table still fits.
    """
    s = res.summary
    total_kg, total_fen = s["tonnage_kg"], s["value_fen"]
    # yuan to 999,999,999,999 (15 characters), then million yuan, so that the widest value
    # (a scale of thousands, a 16-character product code) still fits in 80 columns
    in_millions = total_fen >= 10**14
    value_unit, value_head = (10**8, "value (M yuan)") if in_millions else (100, "value (yuan)")

    def shares(part: int, whole: int) -> str:
        return f"{100 * part / whole:.1f}" if whole else "-"

    def row(name: str, kg: int, fen: int, trades: int) -> list[str]:
        average = f"{fen * 10 // kg:,}" if kg else "-"  # value = price * kg // 10
        return [name, fixed(kg, 1000, 1), shares(kg, total_kg),
                fixed(fen, value_unit, 1 if in_millions else 0), shares(fen, total_fen),
                f"{trades:,}", average]

    body = [row(code, p["tonnage_kg"], p["value_fen"], p["trades"])
            for code, p in s["by_product"].items()]
    channels = [row(name, c["tonnage_kg"], c["value_fen"], c["trades"])
                for name, c in s["by_channel"].items()]
    total = row("total", total_kg, total_fen, s["trades"])
    head = ["", "tonnes", "%", value_head, "%", "trades", "avg yuan/t"]
    table = _columns([head, *body, None, *channels, total])
    top = _fit(f"{s['scenario']}  seed {s['seed']}  scale {s['scale']:,}  {s['start']} .. "
               f"{s['end']}  ({s['trading_days']} trading days)")
    lines = _market_lines(s)
    lines.append(f"members {s['members']:,} from {s['provinces']} provinces; online "
                 f"{s['online_members_start']:,} at the start, {s['online_members_end']:,} "
                 f"at the end")
    for ev in s.get("events", []):
        when = f"applied {ev['applied']}" if ev["applied"] else "not reached"
        lines.append(f"event {ev['date']} {ev['kind']}, {when}: {ev['what']}")
    for assignment in s.get("overrides", []):
        lines.append(f"set {assignment}")
    return "\n".join([top, "", *table, "", *(_fit(line) for line in lines)])


def _market_lines(s: dict) -> list[str]:
    """The national market, PrNd oxide's liquidity and the block auctions, a line each."""
    out = []
    off = s.get("off_exchange")
    if off is not None:
        share = off["exchange_share_pct"]
        share = "-" if share is None else f"{share:.1f}%"
        out.append(f"off the exchange {fixed(off['tonnage_kg'], 1000, 1)} t; the exchange's "
                   f"share of national tonnage {share}")
    code = "PRND_OX" if "PRND_OX" in s["by_product"] else next(iter(s["by_product"]), None)
    if code is not None and s["by_product"][code].get("two_sided_pct") is not None:
        p = s["by_product"][code]
        spread = p.get("median_spread_bp")
        spread = "" if spread is None else f", median spread {spread:.1f} bp"
        out.append(f"{code} quoted on both sides in {p['two_sided_pct']:.1f}% of samples"
                   f"{spread}")
    blocks = s.get("block_auctions")
    held = s.get("resolved_scenario", {}).get("block_auctions", True) is not None
    if blocks is not None and held:  # a scenario without [block_auctions] has none to show
        n = blocks["auctions"]
        out.append(f"{n:,} block auction{'' if n == 1 else 's'}: "
                   f"{fixed(blocks['offered_kg'], 1000, 1)} t offered, "
                   f"{fixed(blocks['sold_kg'], 1000, 1)} t sold")
    return out


def _columns(rows: list[list[str] | None]) -> list[str]:
    """Rows of cells as aligned lines: the first column left, the others right; None: blank.

    Columns are two spaces apart, or one where two would pass WIDTH (huge scales).
    """
    cells = [r for r in rows if r is not None]
    widths = [max(len(r[k]) for r in cells) for k in range(len(cells[0]))]
    gap = "  " if sum(widths) + 2 * (len(widths) - 1) <= WIDTH else " "
    out = []
    for r in rows:
        if r is None:
            out.append("")
            continue
        first = f"{r[0]:<{widths[0]}}"
        out.append(gap.join([first, *(f"{c:>{w}}" for c, w in zip(r[1:], widths[1:],
                                                                    strict=True))]).rstrip())
    return out


def _fit(line: str) -> str:
    """A line wrapped at spaces to WIDTH columns, continuation lines indented.

    For a long event or `--set`: a word is never broken, so a `--set` stays copyable.
    """
    if len(line) <= WIDTH:
        return line
    return textwrap.fill(line, WIDTH, subsequent_indent="    ", break_long_words=False,
                         break_on_hyphens=False)
