"""rexsim's matching engine: price-time-priority order books and the exchange around them.

A library with no knowledge of simulation: `engine` never imports `sim`.
"""

from engine.events import (
    Accepted,
    Amended,
    CancelReason,
    Cancelled,
    Event,
    Expired,
    Rejected,
    RejectReason,
    Trade,
)
from engine.orders import Channel, RestingOrder, Side, TimeInForce

__all__ = [
    "Accepted",
    "Amended",
    "CancelReason",
    "Cancelled",
    "Channel",
    "Event",
    "Expired",
    "Rejected",
    "RejectReason",
    "RestingOrder",
    "Side",
    "TimeInForce",
    "Trade",
]
