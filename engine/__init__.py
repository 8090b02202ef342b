"""rexsim's matching engine: price-time-priority order books and the exchange around them.

A library with no knowledge of simulation: `engine` never imports `sim`.
"""

from engine.book import (
    BookSnapshot,
    InvariantError,
    OrderBook,
    SelfTradePolicy,
    TradePriceRule,
)
from engine.events import (
    Accepted,
    Amended,
    Cancelled,
    CancelReason,
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
    "BookSnapshot",
    "CancelReason",
    "Cancelled",
    "Channel",
    "Event",
    "Expired",
    "InvariantError",
    "OrderBook",
    "Rejected",
    "RejectReason",
    "RestingOrder",
    "SelfTradePolicy",
    "Side",
    "TimeInForce",
    "Trade",
    "TradePriceRule",
]
