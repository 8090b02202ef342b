"""Events: every state change of a book or the exchange, as frozen, tagged msgspec structs.

The same objects are returned to callers, delivered to listeners, written to the journal and
decoded on replay. Business failures are `Rejected` events with a reason code, never exceptions.
"""

from __future__ import annotations

import enum
from typing import Any

import msgspec

from engine.orders import Channel, Side, TimeInForce
from engine.session import SessionState


class RejectReason(enum.Enum):
    """Why a request was refused. One code per cause, grouped by what was wrong."""

    # the request itself
    PRICE_OFF_TICK = "price_off_tick"  # price is not a multiple of the tick
    PRICE_NOT_POSITIVE = "price_not_positive"  # price <= 0
    QTY_NOT_LOT_MULTIPLE = "qty_not_lot_multiple"  # quantity not a positive multiple of the lot
    DUPLICATE_ORDER_ID = "duplicate_order_id"  # id live in the book; at the exchange, not new
    UNKNOWN_ORDER = "unknown_order"  # cancel/amend of an id that is not resting
    AMEND_NO_CHANGE = "amend_no_change"  # amend that changes neither price nor quantity
    # what the book can do with it
    FOK_CANNOT_FILL = "fok_cannot_fill"  # fill-or-kill that cannot fill completely at once
    POST_ONLY_WOULD_CROSS = "post_only_would_cross"  # post-only that would trade on arrival
    NO_LIQUIDITY = "no_liquidity"  # market order against an empty opposite side
    # the exchange around the books
    UNKNOWN_PRODUCT = "unknown_product"
    UNKNOWN_MEMBER = "unknown_member"
    MEMBER_SUSPENDED = "member_suspended"
    MEMBER_NOT_JOINED = "member_not_joined"  # before the member's join date
    NOT_OWNER = "not_owner"  # cancel/amend of someone else's order
    PRICE_OUTSIDE_BAND = "price_outside_band"  # outside the day's price band
    MARKET_CLOSED = "market_closed"  # the product's session does not accept requests now
    CHANNEL_CLOSED = "channel_closed"  # the request's channel is closed (set_channel_open)
    NOT_ALLOWED_IN_AUCTION = "not_allowed_in_auction"  # e.g. market/IOC/FOK in the call auction
    BELOW_MIN_BLOCK = "below_min_block"  # negotiated trade smaller than the product's block
    SAME_ENTERPRISE = "same_enterprise"  # negotiated trade with one enterprise on both sides
    UNKNOWN_AUCTION = "unknown_auction"  # block auction id unknown
    AUCTION_NOT_OPEN = "auction_not_open"  # bid outside the block auction's window
    BELOW_RESERVE = "below_reserve"  # block-auction bid under the reserve price
    SELLER_CANNOT_BID = "seller_cannot_bid"  # the seller bidding in its own block auction
    INVALID_WINDOW = "invalid_window"  # block auction whose end is not after its start
    AUCTION_NOT_ENDED = "auction_not_ended"  # block auction settled before its end
    AUCTION_SETTLED = "auction_settled"  # block auction already settled
    AUCTION_WITHDRAWN = "auction_withdrawn"  # block auction withdrawn (its seller suspended)


class CancelReason(enum.Enum):
    """Why open quantity left without trading: an order's, a block offer's or a block bid's."""

    USER = "user"  # cancel request
    IOC_REMAINDER = "ioc_remainder"  # what an IOC (or FOK-free sweep) could not fill
    MARKET_REMAINDER = "market_remainder"  # market order stopped by exhaustion or protection
    SELF_TRADE = "self_trade"  # self-trade prevention
    MEMBER_SUSPENDED = "member_suspended"  # exchange pulled a suspended member's orders/blocks
    OUTSIDE_BAND = "outside_band"  # a carried-over order priced outside the new day's band


class Event(msgspec.Struct, frozen=True, tag=True, gc=False):
    """Base of every event. `time` is the caller's integer nanoseconds."""


class Accepted(Event, frozen=True, tag=True, gc=False):
    """An order was accepted. A market order's `price` is its protection price, or None."""

    order_id: int
    side: Side
    price: int | None
    qty: int
    owner: Any
    tif: TimeInForce
    time: int = 0
    product: str | None = None
    channel: Channel = Channel.ONLINE


class Rejected(Event, frozen=True, tag=True, gc=False):
    """A request was refused and changed nothing."""

    order_id: int | None
    reason: RejectReason
    detail: str = ""
    time: int = 0
    product: str | None = None
    channel: Channel = Channel.ONLINE


class Trade(Event, frozen=True, tag=True, gc=False):
    """A fill between a resting (maker) and an incoming (taker) order.

    `channel` is the channel of the order that caused the trade (the taker); negotiated deals
    are `offline`.
    """

    price: int
    qty: int
    maker_order_id: int
    taker_order_id: int
    maker_owner: Any
    taker_owner: Any
    aggressor: Side
    time: int = 0
    product: str | None = None
    channel: Channel = Channel.ONLINE

    @property
    def buyer(self) -> Any:
        return self.taker_owner if self.aggressor is Side.BUY else self.maker_owner

    @property
    def seller(self) -> Any:
        return self.maker_owner if self.aggressor is Side.BUY else self.taker_owner

    @property
    def buy_order_id(self) -> int:
        return self.taker_order_id if self.aggressor is Side.BUY else self.maker_order_id

    @property
    def sell_order_id(self) -> int:
        return self.maker_order_id if self.aggressor is Side.BUY else self.taker_order_id

    @property
    def value(self) -> int:
        """Value in fen for rare-earth units: yuan/t x kg / 10, exact for qty in tens of kg."""
        return self.price * self.qty // 10


class Cancelled(Event, frozen=True, tag=True, gc=False):
    """Open quantity `qty` of an order left the book without trading."""

    order_id: int
    side: Side
    price: int | None
    qty: int
    owner: Any
    reason: CancelReason = CancelReason.USER
    time: int = 0
    product: str | None = None
    channel: Channel = Channel.ONLINE


class Amended(Event, frozen=True, tag=True, gc=False):
    """A resting order changed price and/or open quantity; re-queued unless `priority_kept`."""

    order_id: int
    side: Side
    old_price: int
    old_qty: int
    price: int
    qty: int
    owner: Any
    priority_kept: bool
    time: int = 0
    product: str | None = None
    channel: Channel = Channel.ONLINE


class Expired(Event, frozen=True, tag=True, gc=False):
    """A DAY order's open quantity expired at the close."""

    order_id: int
    side: Side
    price: int
    qty: int
    owner: Any
    time: int = 0
    product: str | None = None
    channel: Channel = Channel.ONLINE


BOOK_EVENTS = (Accepted, Rejected, Trade, Cancelled, Amended, Expired)


# ---------------------------------------------------------------- exchange-level events
# The exchange's own events. Those that concern no order carry `channel=None`.


class SessionChanged(Event, frozen=True, tag=True, gc=False):
    """A product's session moved to `state` on trading day `day` (0 = first begin_day)."""

    state: SessionState
    day: int
    time: int = 0
    product: str | None = None
    channel: Channel | None = None


class AuctionUncrossed(Event, frozen=True, tag=True, gc=False):
    """The opening call auction ended: `qty` traded at `price` (None and 0 when none crossed)."""

    price: int | None
    qty: int
    day: int
    time: int = 0
    product: str | None = None
    channel: Channel | None = None


class DaySettled(Event, frozen=True, tag=True, gc=False):
    """The close: the day's settlement price (vwap, or the previous settlement) and totals."""

    day: int
    settlement: int
    vwap: int | None
    volume: int
    value: int
    trades: int
    time: int = 0
    product: str | None = None
    channel: Channel | None = None


class BlockAuctionOpened(Event, frozen=True, tag=True, gc=False):
    """A seller offered `qty` with a reserve price; bids are taken in [start, end)."""

    auction_id: int
    seller: Any
    qty: int
    reserve_price: int
    start: int
    end: int
    uniform: bool
    time: int = 0
    product: str | None = None
    channel: Channel | None = Channel.ONLINE


class BlockBidAccepted(Event, frozen=True, tag=True, gc=False):
    """A bid in a block auction was taken; `bid_id` is the taker order id of its trade."""

    auction_id: int
    bid_id: int
    member: Any
    price: int
    qty: int
    time: int = 0
    product: str | None = None
    channel: Channel | None = Channel.ONLINE


class BlockAuctionSettled(Event, frozen=True, tag=True, gc=False):
    """A block auction ended: `sold` went to the best bids (its Trades come first)."""

    auction_id: int
    sold: int
    unsold: int
    low_price: int | None
    high_price: int | None
    value: int
    time: int = 0
    product: str | None = None
    channel: Channel | None = Channel.ONLINE


class BlockAuctionWithdrawn(Event, frozen=True, tag=True, gc=False):
    """A block auction ended unsettled: none of `qty` trades and every bid in it lapses.

    Today only the exchange withdraws, when the seller is suspended (MEMBER_SUSPENDED).
    `channel` is the channel the auction was opened on. It never settles or takes bids again.
    """

    auction_id: int
    seller: Any
    qty: int
    reason: CancelReason
    time: int = 0
    product: str | None = None
    channel: Channel | None = Channel.ONLINE


class BlockBidWithdrawn(Event, frozen=True, tag=True, gc=False):
    """A bid left an open block auction unfilled and will not count at its settlement.

    Today only the exchange withdraws bids, when the bidder is suspended (MEMBER_SUSPENDED).
    The fields repeat the bid's `BlockBidAccepted`; `channel` is the bid's.
    """

    auction_id: int
    bid_id: int
    member: Any
    price: int
    qty: int
    reason: CancelReason
    time: int = 0
    product: str | None = None
    channel: Channel | None = Channel.ONLINE


EXCHANGE_EVENTS = (
    SessionChanged,
    AuctionUncrossed,
    DaySettled,
    BlockAuctionOpened,
    BlockBidAccepted,
    BlockAuctionSettled,
    BlockAuctionWithdrawn,
    BlockBidWithdrawn,
)
