"""`rexsim replay`: rebuild a run's exchange from its journal and report what it matched.

With `--against RUN_DIR` it also checks that the replay trades exactly what that run's
`trades.csv` records, trade for trade: an audit that the journal and the results agree.
Exit 0, or 1 when they differ; 2 (one line, no traceback) for a journal that cannot be read
or replayed (damaged, or a command the exchange refuses) and for `--against` something that
is not a run (no `trades.csv`, or one without a run's columns), checked before replaying.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `replay` subcommand."""
    p = subparsers.add_parser(
        "replay", help="replay a journal (rexsim run --journal) and report its trades",
        description="Rebuild the exchange from a journal written by `rexsim run --journal` "
                    "(or any JournalingExchange), re-issue every command, and report the "
                    "trades by product. Exit 0, or 1 when --against finds a difference.")
    p.add_argument("journal", metavar="JOURNAL", help="the journal file")
    p.add_argument("--against", metavar="RUN_DIR", default=None,
                   help="a run's output directory: check that the replay's trades equal its "
                        "trades.csv, trade for trade")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    p.set_defaults(func=_replay)


TRADE_COLUMNS = ("time", "product", "price", "qty_kg", "buy_order", "sell_order")


def _run_trades(against: str) -> Path:
    """The trades.csv of the run `against` names (a run directory or the file itself).

    Raises UserError (exit 2) unless it is a file whose header has a run's trade columns.
    """
    from sim.cli import UserError

    run = Path(against)
    path = run / "trades.csv" if run.is_dir() else run
    if not path.is_file():
        what = "not a run directory (it has no trades.csv)" if run.is_dir() else "no such file"
        raise UserError(f"--against {against}: {what}")
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            header = next(csv.reader(fh), [])
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UserError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}"
                        ) from None
    missing = [c for c in TRADE_COLUMNS if c not in header]
    if missing:
        raise UserError(f"--against {against}: {path} is not a rexsim trades.csv (no column "
                        f"{', '.join(missing)})")
    return path


def _replay(args: argparse.Namespace) -> int:
    from engine import JournalError, Trade, replay
    from sim.cli import UserError
    from sim.units import fixed

    trades: list[tuple] = []
    against = None if args.against is None else _run_trades(args.against)  # before replaying

    def keep(event: object) -> None:
        if event.__class__ is Trade:
            t = event
            trades.append((t.time, t.product, t.price, t.qty, t.buy_order_id, t.sell_order_id))

    try:
        replayed = replay(args.journal, keep, keep_events=False)
    except FileNotFoundError:
        raise UserError(f"{args.journal}: no such file") from None
    except OSError as exc:
        raise UserError(f"{args.journal}: cannot read: {exc.strerror or exc}") from None
    except JournalError as exc:
        raise UserError(str(exc).splitlines()[0]) from None
    by_product: dict[str, list[int]] = {p.code: [0, 0, 0] for p in replayed.exchange.products}
    for _time, product, price, qty, _buy, _sell in trades:
        row = by_product[product]
        row[0] += qty
        row[1] += price * qty // 10
        row[2] += 1
    report = replayed.report
    doc = {"journal": str(args.journal), "commands": report.commands, "events": report.events,
           "valid_bytes": report.valid_bytes, "dropped_bytes": report.dropped_bytes,
           "trades": len(trades), "tonnage_kg": sum(r[0] for r in by_product.values()),
           "value_fen": sum(r[1] for r in by_product.values()),
           "by_product": {code: {"tonnage_kg": kg, "value_fen": fen, "trades": n}
                          for code, (kg, fen, n) in by_product.items()}}
    status = 0
    if args.against is not None:
        differences = _differences(trades, against)
        doc["against"] = {"run": str(args.against), "equal": not differences,
                          "differences": differences}
        status = 1 if differences else 0
    if args.json:
        print(json.dumps(doc, indent=1))
        return status
    print(report.summary())
    print(f"{doc['trades']:,} trades, {fixed(doc['tonnage_kg'], 1000, 1)} t, "
          f"{fixed(doc['value_fen'], 100, 0)} yuan")
    for code, r in doc["by_product"].items():
        print(f"  {code:<10} {fixed(r['tonnage_kg'], 1000, 1):>12} t "
              f"{fixed(r['value_fen'], 100, 0):>18} yuan {r['trades']:>8,} trades")
    if args.against is not None:
        if status:
            print(f"DIFFERS from {args.against}/trades.csv: " + "; ".join(differences))
        else:
            print(f"equal to {args.against}/trades.csv, trade for trade")
    return status


def _differences(trades: list[tuple], path: Path) -> list[str]:
    """How the replayed trades differ from a run's trades.csv (empty when they are equal)."""
    from sim.cli import UserError

    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = [(int(r["time"]), r["product"], int(r["price"]), int(r["qty_kg"]),
                     int(r["buy_order"]), int(r["sell_order"])) for r in csv.DictReader(fh)]
    except OSError as exc:
        raise UserError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (KeyError, ValueError, TypeError) as exc:
        raise UserError(f"{path}: not a rexsim trades.csv ({exc})") from None
    out = []
    if len(rows) != len(trades):
        out.append(f"{len(trades)} trades replayed, {len(rows)} in the run")
    first = next((i for i, (a, b) in enumerate(zip(trades, rows, strict=False)) if a != b), None)
    if first is not None:
        out.append(f"trade {first + 1} differs: replayed {trades[first]}, run {rows[first]}")
    return out
