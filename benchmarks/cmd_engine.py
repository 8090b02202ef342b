"""Engine throughput: engine.OrderBook vs a minimal plain-Python book and PyPI order books.

Replays the standard seeded mixed stream (benchmarks/stream.py: 60% limit orders around a
drifting mid, 30% cancels of live orders, 10% market orders) through every contender in the
same run: warm-up, then R interleaved rounds with a fresh book per run and gc.collect() before
it; events per second are the stream's length over the best round. After timing, each book's
final state (order count and full depth) is checked against the minimal book's, so every
contender did the same matching work. A third reference, the minimal book that also builds
the contract's events (benchmarks/event_book.py), splits OrderBook's gap into what the events
alone cost and what everything else costs. Memory: bytes per resting order in a book of N resting
orders, by tracemalloc and by RSS growth, each in a fresh interpreter (benchmarks/memory.py).
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable
from typing import Any

from benchmarks import competitors, harness, memory
from benchmarks.event_book import EventMinimalBook
from benchmarks.minimal_book import MinimalBook
from benchmarks.stream import KIND_NAMES, StreamSpec, generate, replay, replay_by_kind

# The engine is judged against the books a user could pick instead (re-based this round):
# at least 3x the fastest pure-Python PyPI book and ahead of every compiled one measured.
# The minimal book's ratio is printed for reference, with issue 2's old target beside it.
TARGET_VS_MINIMAL = 0.75  # OrderBook / minimal book, events per second (issue 2's, superseded)
TARGET_VS_PURE_PYTHON = 3.0  # OrderBook / fastest pure-Python PyPI order book
TARGET_VS_COMPILED = 1.0  # OrderBook / fastest compiled PyPI order book: ahead of it
TARGET_BYTES_PER_ORDER = 250
ALL_LEVELS = 1 << 30
BREAKDOWN_PASSES = 3  # --breakdown keeps each kind's best total over this many passes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `python -m benchmarks engine`."""
    spec = StreamSpec()
    parser.add_argument(
        "--events", type=int, default=spec.events, help="length of the stream (default %(default)s)"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=5,
        help="timed rounds per contender; the best counts (default %(default)s)",
    )
    parser.add_argument(
        "--seed", type=int, default=spec.seed, help="seed of the stream (default %(default)s)"
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=50_000,
        help="events replayed once per contender before timing (default %(default)s)",
    )
    parser.add_argument(
        "--competitors",
        default="all",
        help="comma-separated PyPI order books to include, 'all' (those "
        "installed) or 'none' (default %(default)s); choose from: "
        + ", ".join(c.name for c in competitors.COMPETITORS),
    )
    parser.add_argument(
        "--competitor-repeat",
        type=int,
        default=None,
        help="timed rounds for PyPI books, which can be slow (default: same as --repeat)",
    )
    parser.add_argument(
        "--memory-orders",
        type=int,
        default=1_000_000,
        help="resting orders in the memory measurement; 0 skips it (default %(default)s)",
    )
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="also time every request and print ns per request kind for OrderBook and the "
        "minimal book (one extra untimed-by-the-score pass each)",
    )
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="K",
        help="also replay the stream through OrderBook under cProfile and print the K "
        "functions with the most own time (default: no profile)",
    )
    parser.add_argument(
        "--json",
        metavar="PATH",
        default=None,
        help="also write every number and the environment to PATH as JSON",
    )


def _orderbook(spec: StreamSpec) -> Callable[[], Any]:
    from engine import OrderBook

    return lambda: OrderBook(tick=spec.tick, lot=spec.lot)


def _state(book: Any) -> tuple[int, Any] | None:
    """A book's final state as (resting orders, full depth), or None if it cannot say."""
    depth = getattr(book, "depth", None)
    if depth is None:
        return None
    return len(book), depth(ALL_LEVELS)


def _breakdown(
    makers: dict[str, Callable[[], Any]], requests: list, kinds: bytearray
) -> dict[str, dict[str, Any]]:
    """Print and return ns per request of each kind, for OrderBook and the two minimal books."""
    names = ("OrderBook", "minimal", "minimal+events")
    counts = [kinds.count(k) for k in range(len(KIND_NAMES))]

    def best_of(make: Callable[[], Any]) -> list[int]:
        runs = []
        for _ in range(BREAKDOWN_PASSES):
            book = make()
            gc.collect()
            runs.append(replay_by_kind(book, requests, kinds))
        return [min(per_kind) for per_kind in zip(*runs, strict=True)]

    overhead = best_of(_NullBook)  # clock reads + a call
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        totals = [t - o for t, o in zip(best_of(makers[name]), overhead, strict=True)]
        out[name] = {
            KIND_NAMES[k]: totals[k] / counts[k] for k in range(len(KIND_NAMES)) if counts[k]
        }
        out[name]["share of time, %"] = {
            KIND_NAMES[k]: 100 * totals[k] / sum(totals) for k in range(len(KIND_NAMES))
        }
    print(
        f"\nns per request by kind (each request timed alone, best of {BREAKDOWN_PASSES} passes,"
        " minus the same loop's time over a do-nothing book):"
    )
    print(
        f"  {'kind':<16} {'count':>9} {'OrderBook':>10} {'minimal':>10} {'+events':>10}"
        f" {'OB/min':>7} {'OB/+ev':>7} {'OrderBook time share':>21}"
    )
    for k, kind in enumerate(KIND_NAMES):
        if not counts[k]:
            continue
        ob, mn, ev = (out[name][kind] for name in names)
        share = out["OrderBook"]["share of time, %"][kind]
        print(
            f"  {kind:<16} {counts[k]:>9,} {ob:>10,.0f} {mn:>10,.0f} {ev:>10,.0f}"
            f" {ob / mn:>7.2f} {ob / ev:>7.2f} {share:>20.1f}%"
        )
    return out


class _NullBook:
    """A book that does nothing: the timing overhead of `replay_by_kind` itself."""

    def limit(self, order_id: int, side: Any, price: int, qty: int) -> None:
        """Do nothing."""

    def cancel(self, order_id: int) -> None:
        """Do nothing."""

    def market(self, order_id: int, side: Any, qty: int) -> None:
        """Do nothing."""


def _profile(make: Callable[[], Any], requests: list, top: int) -> None:
    """Replay through a fresh OrderBook under cProfile; print the `top` functions by own time."""
    import cProfile
    import io
    import pstats

    book = make()
    profiler = cProfile.Profile()
    profiler.runcall(replay, book, requests)
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(top)
    lines = text.getvalue().splitlines()
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    print(
        f"\ncProfile of OrderBook over the stream (top {top} by own time; profiling"
        " inflates call-heavy code):"
    )
    for line in lines[start:]:
        if line.strip():
            print("  " + line)


def _select(arg: str) -> tuple[list[competitors.Competitor], list[str]]:
    """The competitors asked for that can run, and a line for each one skipped."""
    if arg == "none":
        return [], []
    known = {c.name: c for c in competitors.COMPETITORS}
    names = list(known) if arg == "all" else [n.strip() for n in arg.split(",") if n.strip()]
    chosen, skipped = [], []
    for name in names:
        comp = known.get(name)
        if comp is None:
            skipped.append(f"{name}: not a known competitor")
            continue
        why = competitors.unavailable(comp)
        if why is None:
            chosen.append(comp)
        else:
            skipped.append(f"{name}: skipped, {why}")
    return chosen, skipped


def _check_args(args: argparse.Namespace) -> str | None:
    if args.events < 1:
        return f"--events must be >= 1, got {args.events}"
    if args.repeat < 1:
        return f"--repeat must be >= 1, got {args.repeat}"
    if args.competitor_repeat is not None and args.competitor_repeat < 1:
        return f"--competitor-repeat must be >= 1, got {args.competitor_repeat}"
    if args.warmup < 0 or args.memory_orders < 0:
        return "--warmup and --memory-orders must be >= 0"
    if args.competitors not in ("all", "none"):
        known = {c.name for c in competitors.COMPETITORS}
        unknown = [n for n in args.competitors.split(",") if n.strip() not in known]
        if unknown:
            return (
                f"unknown competitor {unknown[0].strip()!r}; choose from "
                f"{', '.join(sorted(known))}, 'all' or 'none'"
            )
    return None


def run(args: argparse.Namespace) -> int:
    """Run the engine benchmark and print its numbers; 0 on success, 1 if OrderBook disagrees."""
    problem = _check_args(args)
    if problem:
        print(f"error: {problem}")
        return 2
    env = harness.environment()
    print(f"python {env['python']} ({env['implementation']}) on {env['platform']}")
    print(f"cpu {env['cpu']} x{env['cpus']}; commit {env['commit']}")

    spec = StreamSpec(events=args.events, seed=args.seed)
    t0 = time.perf_counter()
    stream = generate(spec)
    requests = stream.requests
    n = len(requests)
    c = stream.counts
    print(
        f"stream: {n:,} events (seed {spec.seed}, generated in {time.perf_counter() - t0:.1f}s):"
        f" {c['limit']:,} limit ({c['limit_crossing']:,} trade on arrival),"
        f" {c['cancel']:,} cancel, {c['market']:,} market;"
        f" {stream.resting_at_end:,} orders rest at the end"
    )

    chosen, skipped = _select(args.competitors)
    for line in skipped:
        print(f"competitor {line}")

    makers: dict[str, Callable[[], Any]] = {
        "OrderBook": _orderbook(spec),
        "minimal": MinimalBook,
        "minimal+events": EventMinimalBook,
    }
    labels = {
        "OrderBook": "engine.OrderBook",
        "minimal": "minimal book (benchmarks/)",
        "minimal+events": "minimal book + contract events",
    }
    for comp in chosen:
        makers[comp.name] = lambda comp=comp: comp.make(spec.tick, spec.lot)
        labels[comp.name] = f"{comp.name} {competitors.version(comp)} ({comp.kind})"

    last: dict[str, Any] = {}

    def contender(name: str) -> tuple[Callable[[], Any], Callable[[Any], None]]:
        def setup() -> Any:
            last.pop(name, None)
            book = makers[name]()
            last[name] = book
            return book

        return setup, lambda book: replay(book, requests)

    warm = requests[: args.warmup]

    def warmup(name: str) -> None:
        replay(makers[name](), warm)

    core = {name: contender(name) for name in ("OrderBook", "minimal", "minimal+events")}
    times = harness.time_rounds(core, args.repeat, warmup if warm else None)
    # competitors get rounds of their own, OrderBook timed in each so ratios are paired
    comp_times: dict[str, list[float]] = {}
    if chosen:
        rounds = args.competitor_repeat or args.repeat
        block = {"OrderBook": core["OrderBook"]}
        block.update({comp.name: contender(comp.name) for comp in chosen})
        comp_times = harness.time_rounds(block, rounds, warmup if warm else None)
        times.update({comp.name: comp_times[comp.name] for comp in chosen})

    reference = _state(last["minimal"])
    status = 0
    results: dict[str, dict] = {}
    print(f"\n{'book':<44} {'best ev/s':>12} {'median ev/s':>12}  same end state")
    for name, secs in times.items():
        summary = harness.rate_summary(secs, n)
        state = _state(last[name])
        same = None if state is None else state == reference
        if same is False and name == "OrderBook":
            status = 1  # the engine disagrees with the minimal book: a bug in one of them
        summary.update(label=labels[name], same_end_state=same)
        results[name] = summary
        mark = {True: "yes", False: "NO", None: "not checked"}[same]
        print(
            f"{labels[name]:<44} {summary['best_eps']:>12,.0f} {summary['median_eps']:>12,.0f}"
            f"  {mark}"
        )

    ratios: dict[str, Any] = {}
    vs_min = harness.ratio_summary(times["OrderBook"], times["minimal"])
    ratios["OrderBook/minimal"] = vs_min
    met = "met" if vs_min["best"] >= TARGET_VS_MINIMAL else "NOT met"
    print(
        f"\nOrderBook / minimal book: {vs_min['best']:.2f}x best-vs-best, "
        f"{vs_min['paired_median']:.2f}x median of paired rounds "
        f"(range {vs_min['paired_min']:.2f}-{vs_min['paired_max']:.2f}; "
        f"issue 2's old target >= {TARGET_VS_MINIMAL}, superseded by the PyPI books) {met}"
    )
    ev_cost = harness.ratio_summary(times["minimal+events"], times["minimal"])
    vs_ev = harness.ratio_summary(times["OrderBook"], times["minimal+events"])
    ratios["minimal+events/minimal"] = ev_cost
    ratios["OrderBook/minimal+events"] = vs_ev
    print(
        f"  of which the contract's events alone: minimal+events / minimal "
        f"{ev_cost['best']:.2f}x best-vs-best, {ev_cost['paired_median']:.2f}x paired median;"
        f"\n  everything else: OrderBook / minimal+events {vs_ev['best']:.2f}x best-vs-best, "
        f"{vs_ev['paired_median']:.2f}x paired median"
    )
    if chosen:
        for comp in chosen:
            ratios[f"OrderBook/{comp.name}"] = harness.ratio_summary(
                comp_times["OrderBook"], comp_times[comp.name]
            )
        fastest = max(chosen, key=lambda comp: results[comp.name]["best_eps"])
        vs_comp = ratios[f"OrderBook/{fastest.name}"]
        ratios["OrderBook/fastest_competitor"] = dict(vs_comp, competitor=fastest.name)
        print(
            f"OrderBook / fastest PyPI book ({labels[fastest.name]}): {vs_comp['best']:.2f}x "
            f"best-vs-best in its rounds, {vs_comp['paired_median']:.2f}x paired median"
        )
        for pure, key, target in ((True, "pure_python", TARGET_VS_PURE_PYTHON),
                                  (False, "compiled", TARGET_VS_COMPILED)):
            group = [comp for comp in chosen if (comp.kind == "pure Python") == pure]
            if not group:
                continue
            best = max(group, key=lambda comp: results[comp.name]["best_eps"])
            r = ratios[f"OrderBook/{best.name}"]
            ratios[f"OrderBook/fastest_{key}_competitor"] = dict(r, competitor=best.name)
            met = "met" if r["best"] >= target else "NOT met"
            print(
                f"OrderBook / fastest {'pure-Python' if pure else 'compiled'} PyPI book "
                f"({labels[best.name]}): "
                f"{r['best']:.2f}x best-vs-best, {r['paired_median']:.2f}x paired median "
                f"(target >= {target:g}x) {met}"
            )
    else:
        why = "none asked for" if args.competitors == "none" else "none installed"
        print(f"OrderBook / PyPI book: {why} (see benchmarks/README.md)")

    kinds_out = _breakdown(makers, requests, stream.kinds) if args.breakdown else None
    if args.profile:
        _profile(makers["OrderBook"], requests, args.profile)

    mem: list[dict] = []
    if args.memory_orders:
        print(f"\nmemory, {args.memory_orders:,} resting orders (fresh interpreter each):")
        for book_name in ("OrderBook", "minimal"):
            for method in memory.METHODS:
                m = memory.measure_in_subprocess(book_name, args.memory_orders, method)
                mem.append(m)
                if "error" in m:
                    print(f"  {book_name:<10} {method:<12} failed: {m['error']}")
                    status = 1
                    continue
                flag = (
                    ""
                    if book_name != "OrderBook" or method != "tracemalloc"
                    else (
                        f"  (target < {TARGET_BYTES_PER_ORDER}: "
                        f"{'met' if m['bytes_per_order'] < TARGET_BYTES_PER_ORDER else 'NOT met'})"
                    )
                )
                print(
                    f"  {book_name:<10} {method:<12} {m['bytes_per_order']:7.1f} bytes/order{flag}"
                )

    if status:
        print(
            "\nOrderBook ended in a different state from the minimal book, "
            "or a memory measurement failed."
        )
    harness.write_json(
        args.json,
        {
            "environment": env,
            "stream": {
                "spec": spec._asdict(),
                "counts": c,
                "resting_at_end": stream.resting_at_end,
            },
            "repeat": args.repeat,
            "warmup": args.warmup,
            "skipped_competitors": skipped,
            "results": results,
            "ratios": ratios,
            "memory": mem,
            "breakdown_ns_per_request": kinds_out,
        },
    )
    return status
