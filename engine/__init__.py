"""rexsim's matching engine: price-time-priority order books and the exchange around them.

A library with no knowledge of simulation: `engine` never imports `sim`.
"""

from engine.auction import auction_price
from engine.block_auction import BlockAuction, BlockBid
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
    AuctionUncrossed,
    BlockAuctionOpened,
    BlockAuctionSettled,
    BlockAuctionWithdrawn,
    BlockBidAccepted,
    BlockBidWithdrawn,
    Cancelled,
    CancelReason,
    DaySettled,
    Event,
    Expired,
    Rejected,
    RejectReason,
    SessionChanged,
    Trade,
)
from engine.exchange import Exchange, ExchangeSettings, ExchangeSnapshot, MarketSnapshot, Member
from engine.journal import (
    Journal,
    JournalContents,
    JournalError,
    JournalHeader,
    JournalingExchange,
    Replayed,
    ReplayReport,
    apply_command,
    read_journal,
    replay,
)
from engine.orders import Channel, RestingOrder, Side, TimeInForce
from engine.product import Product
from engine.session import DailyBar, SessionState

__all__ = [
    "Accepted",
    "Amended",
    "AuctionUncrossed",
    "BlockAuction",
    "BlockAuctionOpened",
    "BlockAuctionSettled",
    "BlockAuctionWithdrawn",
    "BlockBid",
    "BlockBidAccepted",
    "BlockBidWithdrawn",
    "DailyBar",
    "DaySettled",
    "Exchange",
    "ExchangeSettings",
    "ExchangeSnapshot",
    "MarketSnapshot",
    "Member",
    "Product",
    "SessionChanged",
    "SessionState",
    "auction_price",
    "apply_command",
    "read_journal",
    "replay",
    "BookSnapshot",
    "CancelReason",
    "Cancelled",
    "Channel",
    "Event",
    "Expired",
    "InvariantError",
    "Journal",
    "JournalContents",
    "JournalError",
    "JournalHeader",
    "JournalingExchange",
    "OrderBook",
    "Rejected",
    "RejectReason",
    "Replayed",
    "ReplayReport",
    "RestingOrder",
    "SelfTradePolicy",
    "Side",
    "TimeInForce",
    "Trade",
    "TradePriceRule",
]
