"""Simulator throughput: simulated requests per second, efficiency against the bare book, scaling.

Runs the default scenario (baotou-2024, Jan-Oct 2024) end to end with `sim.run` for each
`--scale` K (default 1, 2, 4), best of `--repeat` rounds with gc.collect() before each, and
replays the standard engine stream (benchmarks/stream.py) through `engine.OrderBook` in the same
process, best of `--repeat` rounds after a warm-up. It reports:

- simulated requests: every request the agents sent to the exchange (new limit orders, online
  or keyed in at the counter, amends, negotiated registrations, block-auction bids);
- requests per second of the whole run (agents, exchange, recorder and setup together);
- efficiency = the simulator's requests per second / the OrderBook's events per second on the
  standard stream (for comparison across versions; no longer a target);
- the bare Exchange's requests per second on the same stream, relative to the book: what the
  efficiency would be if agents and recorder cost nothing;
- wall time per unit of K and cost per request, both relative to the first K (linear scaling
  keeps them near 1.0; the two dominant sellers do not multiply with K, so their larger orders
  make requests grow a little slower than K), and the K = 1 wall time against its 4 s target;
- where the first K's run spends its time (`benchmarks/sim_workload.py`; `--no-decompose`
  skips it): the run's own requests replayed into a fresh exchange, and its book calls into
  fresh books, so the run splits into matching, the exchange around it, and the simulator's
  own Python (target: at most 0.55 of the run); and the efficiency the run would have if the
  simulator's Python cost nothing;
- that own Python part by part (the members' decisions, the market makers, the day's start, the
  recorder, ...: a run timed at each part's entry and exit, each part less the replay time of
  the exchange calls it made), and how much own Python the share target leaves beside the
  exchange's time.
"""

from __future__ import annotations

import argparse
import gc
import time
from typing import Any

from benchmarks import harness
from benchmarks.stream import StreamSpec, generate, replay

TARGET_WALL_SECONDS = 4.0  # the default run, on the 2-core development machine
TARGET_OWN_SHARE = 0.55  # the simulator's own Python, as a share of the run


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `python -m benchmarks sim`."""
    parser.add_argument("--scales", default="1,2,4",
                        help="comma-separated --scale values to run (default %(default)s)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="timed rounds per measurement; the best counts (default %(default)s)")
    parser.add_argument("--seed", type=int, default=1, help="simulation seed (default 1)")
    parser.add_argument("--until", default=None, metavar="DATE",
                        help="stop the simulation after DATE (default: the scenario's end)")
    parser.add_argument("--events", type=int, default=StreamSpec().events,
                        help="length of the engine stream (default %(default)s)")
    parser.add_argument("--no-decompose", action="store_true",
                        help="skip replaying the first run's own requests without the agents")
    parser.add_argument("--json", metavar="PATH", default=None,
                        help="also write every number and the environment to PATH as JSON")


def requests_of(summary: dict[str, Any]) -> int:
    """Requests the agents sent to the exchange, from a run's summary."""
    r = summary["requests"]
    return r["orders"] + r["amends"] + r["negotiated"] + r["block_bids"]


def _book_rate(events: int, repeat: int) -> tuple[float, int]:
    from engine import OrderBook

    spec = StreamSpec(events=events)
    requests = generate(spec).requests
    replay(OrderBook(tick=spec.tick, lot=spec.lot), requests[:50_000])
    best = float("inf")
    for _ in range(repeat):
        book = OrderBook(tick=spec.tick, lot=spec.lot)
        gc.collect()
        start = time.perf_counter()
        replay(book, requests)
        best = min(best, time.perf_counter() - start)
    return len(requests) / best, len(requests)


class _ExchangeVenue:
    """An Exchange in continuous trading, with one listener, behind the replay's methods."""

    MEMBERS = 50

    def __init__(self, spec: StreamSpec) -> None:
        from engine import Exchange, Product

        self.ex = Exchange([Product("X", "stream", tick=spec.tick, lot=spec.lot,
                                    reference_price=spec.start_mid, band_pct=None)])
        for member in range(self.MEMBERS):
            self.ex.add_member(member)
        self.ex.subscribe(lambda event: None)
        self.ex.begin_day(time=0)
        self.ex.open_market(time=0)

    def limit(self, order_id: int, side: Any, price: int, qty: int) -> list:
        return self.ex.submit_limit(order_id % self.MEMBERS, "X", side, price, qty, time=1,
                                    order_id=order_id)

    def cancel(self, order_id: int) -> list:
        return self.ex.cancel(order_id % self.MEMBERS, order_id, time=1)

    def market(self, order_id: int, side: Any, qty: int) -> list:
        return self.ex.submit_market(order_id % self.MEMBERS, "X", side, qty, time=1,
                                     order_id=order_id)


def _exchange_rate(events: int, repeat: int) -> float:
    """Requests per second of a bare Exchange (+ one listener) on the standard stream."""
    spec = StreamSpec(events=events)
    requests = generate(spec).requests
    best = float("inf")
    for _ in range(repeat):
        venue = _ExchangeVenue(spec)
        gc.collect()
        start = time.perf_counter()
        replay(venue, requests)
        best = min(best, time.perf_counter() - start)
    return len(requests) / best


def _sim(scale: int, seed: int, until: str | None, repeat: int) -> dict[str, Any]:
    from sim import run

    best = float("inf")
    summary: dict[str, Any] = {}
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        res = run("baotou-2024", seed=seed, until=until, scale=scale)
        best = min(best, time.perf_counter() - start)
        summary = res.summary
    n = requests_of(summary)
    return {"scale": scale, "seconds": best, "requests": n, "rps": n / best,
            "trades": summary["trades"], "tonnage_t": summary["tonnage_t"]}


def _decompose(base: dict[str, Any], args: argparse.Namespace,
               book_eps: float) -> dict[str, Any]:
    """Replay the first K's run without its agents; print and return where its time goes."""
    from benchmarks.sim_workload import (
        by_part,
        check,
        record,
        replay_books,
        replay_exchange,
        time_parts,
    )

    # timed part by part before the workload is recorded (held in memory, it would slow the
    # run's closing garbage collection)
    timed = [time_parts(base["scale"], args.seed, args.until) for _ in range(args.repeat)]
    w = record(base["scale"], args.seed, args.until)
    check(w)  # the replays do exactly the run's matching work
    exchange_s = min(replay_exchange(w) for _ in range(args.repeat))
    books_s = min(replay_books(w) for _ in range(args.repeat))
    wall = base["seconds"]
    own = max(wall - exchange_s, 0.0)
    ceiling = base["requests"] / exchange_s / book_eps
    print(f"\nwhere the K={base['scale']} run's time goes (its own {len(w.exchange_calls):,} "
          f"exchange calls and {len(w.book_calls):,} book calls replayed without the agents, "
          f"best of {args.repeat}):")
    print(f"  order books alone        {books_s:6.2f}s  {books_s / wall:5.2f} of the run")
    print(f"  exchange around them     {exchange_s - books_s:6.2f}s  "
          f"{(exchange_s - books_s) / wall:5.2f}")
    print(f"  simulator's own Python   {own:6.2f}s  {own / wall:5.2f} (the run minus the "
          f"exchange replay)")
    print(f"  efficiency if the simulator's Python cost nothing: {ceiling:.3f}; the run's "
          f"requests cost {books_s / base['requests'] * book_eps:.2f}x a stream event in the "
          f"books alone")
    share = own / wall
    print(f"  simulator's own Python share: {share:.2f} (target <= {TARGET_OWN_SHARE}) "
          f"{'met' if share <= TARGET_OWN_SHARE else 'NOT met'}")
    parts = by_part(min(timed, key=lambda p: sum(p.values())), w, args.repeat)
    _print_parts(parts, exchange_s, args.repeat)
    return {"books_seconds": books_s, "exchange_seconds": exchange_s, "run_seconds": wall,
            "simulator_python_seconds": own, "efficiency_ceiling": ceiling,
            "exchange_calls": len(w.exchange_calls), "book_calls": len(w.book_calls),
            "own_python_by_part": parts}


def _print_parts(parts: list[dict[str, Any]], exchange_s: float, repeat: int) -> None:
    """Where the simulator's own Python goes, and what the share target leaves for it."""
    run_s = sum(p["seconds"] for p in parts)
    print(f"\nthe simulator's own Python by part (a run timed part by part, {run_s:.2f}s, best "
          f"of {repeat}; each part less the replay time of the exchange calls it made):")
    for p in parts:
        calls = (f" (with its {p['exchange_calls']:,} exchange calls {p['seconds']:.2f}s)"
                 if p["exchange_calls"] else "")
        print(f"  {p['own_seconds']:6.2f}s  {p['own_seconds'] / run_s:5.2f}  "
              f"{p['part']}{calls}")
    own = sum(p["own_seconds"] for p in parts)
    budget = TARGET_OWN_SHARE / (1 - TARGET_OWN_SHARE) * exchange_s
    acting = sum(p["own_seconds"] for p in parts if p["exchange_calls"])
    print(f"  the share target allows {budget:.2f}s of own Python beside the exchange's "
          f"{exchange_s:.2f}s; the run has {own:.2f}s, of which {own - acting:.2f}s in parts "
          f"that make no exchange call (the day's bookkeeping, the recorder, setup)")


def run(args: argparse.Namespace) -> int:
    """Run the simulator benchmark and print its numbers; 0 on success, 2 on bad arguments."""
    try:
        scales = [int(x) for x in args.scales.split(",") if x.strip()]
    except ValueError:
        print(f"error: --scales must be comma-separated integers, got {args.scales!r}")
        return 2
    if not scales or min(scales) < 1 or args.repeat < 1 or args.events < 1:
        print("error: --scales must be >= 1, --repeat and --events >= 1")
        return 2
    env = harness.environment()
    print(f"python {env['python']} ({env['implementation']}) on {env['platform']}")
    print(f"cpu {env['cpu']} x{env['cpus']}; commit {env['commit']}")

    book_eps, n_events = _book_rate(args.events, args.repeat)
    print(f"OrderBook on the standard stream ({n_events:,} events): {book_eps:,.0f} events/s")
    ex_rps = _exchange_rate(args.events, args.repeat)
    print(f"Exchange (+1 listener) on the same stream: {ex_rps:,.0f} requests/s = "
          f"{ex_rps / book_eps:.3f} of the book (the ceiling of the efficiency below)")

    rows = [_sim(k, args.seed, args.until, args.repeat) for k in scales]
    base = rows[0]
    k0 = str(base["scale"])
    print(f"\n{'scale':>5} {'wall s':>8} {'requests':>10} {'requests/s':>11} "
          f"{'efficiency':>10} {'wall/K vs K=' + k0:>15} {'cost/request vs K=' + k0:>22}")
    for r in rows:
        r["efficiency"] = r["rps"] / book_eps
        r["relative_wall_per_k"] = (r["seconds"] / r["scale"]) / (base["seconds"] / base["scale"])
        r["relative_cost"] = (r["seconds"] / r["requests"]) / (base["seconds"] / base["requests"])
        print(f"{r['scale']:>5} {r['seconds']:>8.2f} {r['requests']:>10,} {r['rps']:>11,.0f} "
              f"{r['efficiency']:>10.3f} {r['relative_wall_per_k']:>15.2f} "
              f"{r['relative_cost']:>22.2f}")
    one = next((r for r in rows if r["scale"] == 1), None)
    if one is not None:
        eff, wall = one["efficiency"], one["seconds"]
        print(f"\nefficiency at K=1: {eff:.3f}")
        print(f"default run wall time: {wall:.1f}s (target < {TARGET_WALL_SECONDS:.0f}s) "
              f"{'met' if wall < TARGET_WALL_SECONDS else 'NOT met'}")
    split = None if args.no_decompose else _decompose(base, args, book_eps)
    harness.write_json(args.json, {"environment": env, "book_events_per_second": book_eps,
                                   "exchange_requests_per_second": ex_rps,
                                   "stream_events": n_events, "runs": rows,
                                   "decomposition": split,
                                   "targets": {"own_python_share": TARGET_OWN_SHARE,
                                               "wall_seconds": TARGET_WALL_SECONDS}})
    return 0
