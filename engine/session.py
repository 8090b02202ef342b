"""The trading day of one product: its session states and the day's running tally and bar."""

from __future__ import annotations

import enum

import msgspec


class SessionState(enum.Enum):
    """Where a product is in its trading day."""

    PRE_OPEN = "pre_open"  # call auction: limit orders collect, nothing trades
    CONTINUOUS = "continuous"  # continuous matching in the order book
    CLOSED = "closed"  # between days (and before the first): every request is refused


class DailyBar(msgspec.Struct, frozen=True, gc=False):
    """One product's trading day: prices of the day (None without trades), totals, settlement.

    `value` is in fen (sum of each trade's price * qty // 10); `vwap` is the floor of
    sum(price * qty) / volume, and `settlement` is the vwap, or the previous settlement when
    nothing traded. `day` counts `begin_day` calls from 0.
    """

    day: int
    open: int | None
    high: int | None
    low: int | None
    close: int | None
    volume: int
    value: int
    vwap: int | None
    settlement: int
    trades: int


class DayTally:
    """Running open/high/low/close and exact totals of one product's trades today."""

    __slots__ = ("open", "high", "low", "close", "volume", "notional", "value", "trades")

    def __init__(self) -> None:
        self.open: int | None = None
        self.high = 0
        self.low = 0
        self.close: int | None = None
        self.volume = 0
        self.notional = 0  # sum of price * qty, exact
        self.value = 0  # sum of price * qty // 10 per trade (fen for rare-earth units)
        self.trades = 0

    def add(self, price: int, qty: int) -> None:
        """Count one trade."""
        if self.open is None:
            self.open = self.high = self.low = price
        elif price > self.high:
            self.high = price
        elif price < self.low:
            self.low = price
        self.close = price
        self.volume += qty
        self.notional += price * qty
        self.value += price * qty // 10
        self.trades += 1

    def vwap(self) -> int | None:
        """Floor of the volume-weighted average price, or None without trades."""
        return self.notional // self.volume if self.volume else None

    def bar(self, day: int, previous_settlement: int) -> DailyBar:
        """The day's bar; settlement is the vwap or, without trades, the previous settlement."""
        vwap = self.vwap()
        traded = self.open is not None
        return DailyBar(
            day,
            self.open,
            self.high if traded else None,
            self.low if traded else None,
            self.close,
            self.volume,
            self.value,
            vwap,
            previous_settlement if vwap is None else vwap,
            self.trades,
        )
