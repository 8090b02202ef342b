"""LOBSTER replay speed: messages per second of a real NASDAQ day replayed and checked.

Replays one LOBSTER day (by default the GOOG level-10 sample in ../shared/data/lobster,
147,916 messages) through `engine.lobster.replay`: read both files, apply every message to an
OrderBook (executions through matching), check every row and reconcile the window. Method as
for `engine` (benchmarks/harness.py): one warm-up replay, then R timed rounds with
gc.collect() before each; the best round counts. The same rounds time reading the two files
and parsing the messages alone, so the cost of the replay proper can be told apart. As a
yardstick the bare OrderBook's events per second on the standard mixed stream
(benchmarks/stream.py) is measured in the same interleaved rounds, and the ratio of replayed
messages per second to bare-book events per second is printed (paired median and range).
Exits 1 if the replay does not pass (trusted-price mismatches or FIFO share below 99.5%), 2 if
the data is missing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks import harness
from benchmarks.stream import StreamSpec, generate
from benchmarks.stream import replay as replay_stream
from engine import OrderBook
from engine.lobster import LobsterFormatError, LobsterSource, open_source, replay
from engine.lobster_io import iter_messages

DATA = harness.REPO.parent / "shared" / "data" / "lobster"
STEM = "GOOG_2012-06-21_34200000_57600000"


def sample_pair(level: int, data: Path = DATA) -> tuple[str, str]:
    """The message and orderbook member specs of the GOOG sample day at `level` levels."""
    archive = data / f"LOBSTER_SampleFile_GOOG_2012-06-21_{level}.zip"
    return f"{archive}:{STEM}_message_{level}.csv", f"{archive}:{STEM}_orderbook_{level}.csv"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `python -m benchmarks lobster`."""
    parser.add_argument("--level", type=int, choices=(1, 5, 10), default=10,
                        help="which GOOG sample day to replay (default %(default)s)")
    parser.add_argument("--data", type=Path, default=DATA,
                        help="folder of the LOBSTER sample zips (default %(default)s)")
    parser.add_argument("--message", default=None,
                        help="replay this message file (CSV or ZIP:MEMBER) instead of a sample")
    parser.add_argument("--orderbook", default=None,
                        help="the orderbook file that goes with --message")
    parser.add_argument("--repeat", type=int, default=3,
                        help="timed rounds; the best counts (default %(default)s)")
    parser.add_argument("--baseline-events", type=int, default=200_000,
                        help="length of the standard stream timed through the bare OrderBook "
                             "as a yardstick; 0 skips it (default %(default)s)")
    parser.add_argument("--json", metavar="PATH", default=None,
                        help="also write every number and the environment to PATH as JSON")


def _read_only(messages: LobsterSource, orderbook: LobsterSource) -> int:
    """What every replay does besides replaying: read both files, parse the messages.

    (The replay parses an orderbook line only when it differs from the line the book
    predicts, so reading the lines is the part of their cost that is always paid.)
    Returns the number of orderbook lines.
    """
    n = sum(1 for _ in orderbook.lines())
    sum(1 for _ in iter_messages(messages))
    return n


def run(args: argparse.Namespace) -> int:
    """Time the replay and print messages per second; 0 on a passing replay."""
    if args.repeat < 1 or args.baseline_events < 0:
        print("error: --repeat must be >= 1 and --baseline-events >= 0")
        return 2
    if (args.message is None) != (args.orderbook is None):
        print("error: give both --message and --orderbook, or neither")
        return 2
    specs = ((args.message, args.orderbook) if args.message is not None
             else sample_pair(args.level, args.data))
    try:
        messages, orderbook = open_source(specs[0]), open_source(specs[1])
    except LobsterFormatError as exc:
        print(f"error: {exc}")
        return 2
    env = harness.environment()
    print(f"python {env['python']} ({env['implementation']}) on {env['platform']}")
    print(f"cpu {env['cpu']} x{env['cpus']}; commit {env['commit']}")
    print(f"day: {messages.name}")

    reports = []
    contenders = {
        "replay": (lambda: None, lambda _: reports.append(replay(messages, orderbook))),
        "read only": (lambda: None, lambda _: _read_only(messages, orderbook)),
    }
    warmups = {name: (lambda run=run: run(None)) for name, (_, run) in contenders.items()}
    requests = []
    if args.baseline_events:
        # the yardstick runs in the same interleaved rounds, so a busy spell hits all alike
        spec = StreamSpec(events=args.baseline_events)
        requests = generate(spec).requests
        contenders["bare OrderBook"] = (lambda: OrderBook(tick=spec.tick, lot=spec.lot),
                                        lambda book: replay_stream(book, requests))
        warmups["bare OrderBook"] = lambda: replay_stream(
            OrderBook(tick=spec.tick, lot=spec.lot), requests[:50_000])
    times = harness.time_rounds(contenders, args.repeat, warmup=lambda name: warmups[name]())
    report = reports[-1]
    rows = report.rows
    replay_rate = harness.rate_summary(times["replay"], rows)
    read_rate = harness.rate_summary(times["read only"], rows)
    proper = min(times["replay"]) - min(times["read only"])
    print(f"\nrows {rows:,}  mismatch_rows {report.mismatch_rows}  "
          f"best_price_mismatch_rows {report.best_price_mismatch_rows}  "
          f"fifo {report.fifo_head}/{report.fifo_checkable}  passed {report.passed}")
    print(f"{'':<28} {'best msg/s':>12} {'median msg/s':>13} {'best s':>8}")
    for name, rate in (("replay (read + replay)", replay_rate), ("read only", read_rate)):
        print(f"{name:<28} {rate['best_eps']:>12,.0f} {rate['median_eps']:>13,.0f} "
              f"{min(rate['seconds']):>8.2f}")
    print(f"{'replay proper (difference)':<28} {rows / proper if proper > 0 else 0:>12,.0f}")

    payload = {"environment": env, "day": messages.name, "rows": rows,
               "replay": replay_rate, "read_only": read_rate,
               "report": {"mismatch_rows": report.mismatch_rows,
                          "best_price_mismatch_rows": report.best_price_mismatch_rows,
                          "fifo_checkable": report.fifo_checkable,
                          "fifo_head": report.fifo_head, "passed": report.passed}}
    if requests:
        base_rate = harness.rate_summary(times["bare OrderBook"], len(requests))
        ratio = harness.ratio_summary(times["replay"], times["bare OrderBook"])
        # ratio_summary compares seconds per run; per event, scale by the work each did
        scale = rows / len(requests)
        scaled = {key: value * scale for key, value in ratio.items()}
        print(f"bare OrderBook, standard stream ({len(requests):,} events): "
              f"{base_rate['best_eps']:,.0f} ev/s (best)")
        print(f"replay msg/s / bare book ev/s: paired median {scaled['paired_median']:.3f} "
              f"(range {scaled['paired_min']:.3f}-{scaled['paired_max']:.3f}), "
              f"best-vs-best {scaled['best']:.3f}")
        payload.update(baseline=base_rate, replay_vs_bare_book=scaled)
    harness.write_json(args.json, payload)
    return 0 if report.passed else 1
