"""`rexsim demo`: a small, fixed sequence of orders through one book, with its trades printed."""

from __future__ import annotations

import argparse

from engine import OrderBook, Side, TimeInForce, Trade

# (kind, order_id, side, price yuan/t, qty kg, owner, extra) — a morning in PrNd oxide
DEMO_ORDERS = (
    ("limit", 1, Side.SELL, 401_000, 5_000, "light-RE separator", TimeInForce.GTC),
    ("limit", 2, Side.SELL, 400_500, 3_000, "PrNd trader", TimeInForce.GTC),
    ("limit", 3, Side.BUY, 399_800, 2_000, "magnet maker A", TimeInForce.GTC),
    ("limit", 4, Side.BUY, 400_500, 4_000, "magnet maker B", TimeInForce.GTC),
    ("limit", 5, Side.BUY, 401_000, 2_000, "metal maker", TimeInForce.IOC),
    ("market", 6, Side.SELL, None, 1_000, "Baotou trader", None),
    ("limit", 7, Side.SELL, 400_000, 3_000, "light-RE separator", TimeInForce.FOK),
)


def run_demo() -> list[Trade]:
    """Play the demo orders through a PrNd-oxide-like book (tick 100 yuan/t, lot 1 t)."""
    book = OrderBook(tick=100, lot=1_000, product="PRND_OX")
    trades: list[Trade] = []
    for kind, order_id, side, price, qty, owner, tif in DEMO_ORDERS:
        if kind == "limit":
            events = book.limit(order_id, side, price, qty, owner, tif)
        else:
            events = book.market(order_id, side, qty, owner)
        trades.extend(e for e in events if isinstance(e, Trade))
    book.check_invariants()
    return trades


def _print_trades(trades: list[Trade]) -> None:
    print(f"{'price yuan/t':>13} {'tonnes':>7} {'value yuan':>14}  buyer <- seller")
    for t in trades:
        print(f"{t.price:>13,} {_fixed(t.qty, 1000):>7} {_fixed(t.value, 100):>14}  "
              f"{t.buyer} <- {t.seller}")
    kg = sum(t.qty for t in trades)
    fen = sum(t.value for t in trades)
    print(f"{len(trades)} trades, {_fixed(kg, 1000)} t, {_fixed(fen, 100)} yuan")


def _fixed(amount: int, scale: int) -> str:
    """An exact integer amount in 1/scale units as a fixed-point string (kg -> t, fen -> yuan)."""
    whole, part = divmod(amount, scale)
    return f"{whole:,}.{part:0{len(str(scale)) - 1}d}"


def _cmd(args: argparse.Namespace) -> int:
    _print_trades(run_demo())
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help="run a small built-in demo through one order book")
    parser.set_defaults(func=_cmd)
