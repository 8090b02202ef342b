"""Order vocabulary shared by the book and the exchange: sides, time in force, channels, orders."""

from __future__ import annotations

import enum
from typing import Any

import msgspec


class Side(enum.Enum):
    """Which side of the book an order is on."""

    BUY = "buy"
    SELL = "sell"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class TimeInForce(enum.Enum):
    """How long an order may live: until cancelled, until the close, or not at all."""

    GTC = "gtc"  # good till cancelled: rests until filled or cancelled
    DAY = "day"  # rests until the close of the session (expire_day_orders)
    IOC = "ioc"  # immediate or cancel: fill what it can, cancel the rest
    FOK = "fok"  # fill or kill: all at once or nothing, decided before any fill


class Channel(enum.Enum):
    """How an order reached the exchange (DESIGN.md, Hybrid channels)."""

    ONLINE = "online"  # the member's own terminal; enters the book at once
    OFFLINE = "offline"  # lodged at the counter or by phone, keyed in by staff; negotiated deals


class Order(msgspec.Struct, gc=False):
    """A resting order inside a book. Internal and mutable: `qty` is the open quantity.

    The book hands out frozen `RestingOrder` snapshots, never these objects.
    `qty == 0` marks an order that has left the book (lazy removal from its level queue).
    """

    order_id: int
    side: Side
    price: int
    qty: int
    owner: Any
    tif: TimeInForce
    channel: Channel
    time: int


class RestingOrder(msgspec.Struct, frozen=True, gc=False):
    """A read-only snapshot of one resting order, as returned by book queries."""

    order_id: int
    side: Side
    price: int
    qty: int
    owner: Any
    tif: TimeInForce
    channel: Channel
    time: int
