"""`rexsim lobster MESSAGE ORDERBOOK`: replay a NASDAQ LOBSTER day and report its conformance.

Each argument is a CSV path or `ARCHIVE.zip:MEMBER`. A progress bar goes to stderr when it is a
terminal; the last output is one JSON object on stdout (`engine.lobster.ReplayReport`). Exit
status 0 when no row differs at a trusted price and at least 99.5% of the FIFO-checkable
executions hit the head of the queue; 1 otherwise; 2 for unreadable or malformed input.

Accepted beyond LOBSTER's own files, and reported: times with more than nine decimals (float
artefacts such as 43002.632812672004) are rounded to the nanosecond (`rounded_times`); a
UTF-8 byte-order mark is stripped and blank lines at the end are ignored; a first line of
LOBSTER's column names is skipped (`message_header_skipped`, `orderbook_header_skipped`).
Times that go backwards are replayed as given and counted (`anomalies.time_went_backwards`).
A first line of other words, or a blank line with rows after it, is malformed input.
"""

from __future__ import annotations

import argparse
import sys

import msgspec

from engine.lobster import LobsterFormatError, open_source, replay
from sim.cli import UserError


def _levels(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number of levels, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"levels must be at least 1, got {value}")
    return value


def run_lobster(args: argparse.Namespace) -> int:
    """Replay the pair of files, print the report as JSON, return the exit status."""
    bar = None
    try:
        messages = open_source(args.message)
        orderbook = open_source(args.orderbook)
        if sys.stderr.isatty():
            from tqdm import tqdm

            bar = tqdm(total=messages.count_lines(), unit="msg",
                       file=sys.stderr, desc="replay", dynamic_ncols=True)
        report = replay(messages, orderbook, levels=args.levels,
                        progress=None if bar is None else bar.update)
    except LobsterFormatError as exc:
        raise UserError(str(exc)) from None
    finally:
        if bar is not None:
            bar.close()
    sys.stdout.write(msgspec.json.format(msgspec.json.encode(report), indent=2).decode() + "\n")
    return 0 if report.passed else 1


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `lobster` subcommand."""
    parser = subparsers.add_parser(
        "lobster",
        help="replay a NASDAQ LOBSTER day through the order book and check every row",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("message", metavar="MESSAGE",
                        help="the message file: a CSV path or ARCHIVE.zip:MEMBER")
    parser.add_argument("orderbook", metavar="ORDERBOOK",
                        help="the orderbook file: a CSV path or ARCHIVE.zip:MEMBER")
    parser.add_argument("--levels", type=_levels, default=None, metavar="N",
                        help="levels per orderbook row (default: inferred from the row width)")
    parser.set_defaults(func=run_lobster)
