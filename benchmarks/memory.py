"""Bytes per resting order: the memory a book keeps for N resting orders, divided by N.

The book is filled with N non-crossing GTC limit orders (half bids, half asks, spread evenly
over `levels` price levels per side, quantities 1-10 lots). Inputs are made on the fly, as a
caller would make them, so each order arrives with its own id and price int objects; whatever
of them the book keeps alive counts, whatever it drops does not. Two methods, each run in a
fresh interpreter so that nothing else lives in the heap:

- `tracemalloc`: traced bytes still allocated after the fill (and `gc.collect()`) minus traced
  bytes before the book was made. Exact for Python's allocators, but counts requested sizes,
  so allocator rounding (16-byte size classes) and arena slack are not included.
- `rss`: growth of the process's resident set size over the fill. Includes allocator slack
  and freed-but-kept arenas, so it is an upper bound; Linux only (/proc/self/statm).

Run one measurement: `python -m benchmarks.memory BOOK N METHOD`; prints one JSON object.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import tracemalloc
from collections.abc import Callable
from typing import Any

from benchmarks.harness import REPO
from benchmarks.minimal_book import MinimalBook
from engine.orders import Side

TICK = 10
LOT = 10
MID = 450_000
LEVELS = 1_000  # per side


def _make_orderbook() -> Any:
    from engine import OrderBook

    return OrderBook(tick=TICK, lot=LOT)


BOOKS: dict[str, Callable[[], Any]] = {"OrderBook": _make_orderbook, "minimal": MinimalBook}
METHODS = ("tracemalloc", "rss")


def fill(book: Any, n: int, levels: int = LEVELS) -> None:
    """Rest `n` non-crossing orders in `book`, alternating bid and ask, over `levels` per side."""
    limit = book.limit
    buy, sell = Side.BUY, Side.SELL
    base = MID // TICK
    for i in range(n):
        depth = 1 + (i >> 1) % levels
        qty = LOT * (1 + i % 10)
        if i & 1:
            limit(i + 1, sell, (base + depth) * TICK, qty)
        else:
            limit(i + 1, buy, (base - depth) * TICK, qty)


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def measure(book_name: str, n: int, method: str) -> dict:
    """Bytes per resting order of book `book_name` holding `n` orders, in this process."""
    if book_name not in BOOKS:
        raise ValueError(f"unknown book {book_name!r}; choose from {sorted(BOOKS)}")
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {METHODS}")
    if n < 1:
        raise ValueError(f"orders must be >= 1, got {n}")
    make = BOOKS[book_name]
    make()  # import whatever the book needs before the baseline
    gc.collect()
    if method == "tracemalloc":
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
    else:
        before = _rss_bytes()
    book = make()
    fill(book, n)
    gc.collect()
    if method == "tracemalloc":
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
    else:
        after = _rss_bytes()
    if len(book) != n:
        raise RuntimeError(f"{book_name} holds {len(book)} orders, expected {n}")
    return {
        "book": book_name,
        "method": method,
        "orders": n,
        "bytes": after - before,
        "bytes_per_order": (after - before) / n,
    }


def measure_in_subprocess(book_name: str, n: int, method: str, timeout: float = 600) -> dict:
    """`measure` run in a fresh interpreter, so the heap holds nothing but the book."""
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.memory", book_name, str(n), method],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"book": book_name, "method": method, "orders": n, "error": last}
    return json.loads(proc.stdout)


def main(argv: list[str]) -> int:
    """Entry point of `python -m benchmarks.memory BOOK N METHOD`."""
    if len(argv) != 3 or not argv[1].isdigit():
        print(
            f"usage: python -m benchmarks.memory {{{','.join(BOOKS)}}} N {{{','.join(METHODS)}}}",
            file=sys.stderr,
        )
        return 2
    try:
        result = measure(argv[0], int(argv[1]), argv[2])
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
