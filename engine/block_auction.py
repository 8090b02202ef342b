"""Block auctions (竞价): a seller offers a quantity with a reserve price; the best bids win.

At settlement the offered quantity goes to the bids by price (highest first), then arrival;
the marginal bid may fill partly. Each winner pays its own bid, or, when the auction is
uniform, every winner pays the lowest winning bid. Bids are not bounded by the day's price
band: a block auction prices itself (a reserve below, competition above).

A suspended member does not trade, here either: when a seller is suspended, each of its
auctions not yet settled is withdrawn (`withdrawn`; it never settles or takes bids again, and
every bid in it lapses), and the bids a suspended member placed in other sellers' open
auctions are removed, so that settlement never sees them. Reinstatement restores neither.
"""

from __future__ import annotations

from typing import Any

import msgspec

from engine.orders import Channel


class BlockBid(msgspec.Struct, frozen=True, gc=False):
    """One bid: its id (the taker order id of its trade), bidder, price, quantity, arrival."""

    bid_id: int
    member: Any
    price: int
    qty: int
    time: int
    channel: Channel


class BlockAuction(msgspec.Struct, gc=False):
    """An offer and the bids it has collected, in arrival order.

    It is open until it is `settled` or `withdrawn` (at most one of them); a withdrawn
    auction keeps the bids it had as a record, none of which can trade. `channel` is the
    channel it was opened on.
    """

    auction_id: int
    product: str
    seller: Any
    qty: int
    reserve_price: int
    start: int
    end: int
    uniform: bool
    bids: list[BlockBid] = msgspec.field(default_factory=list)
    settled: bool = False
    withdrawn: bool = False
    channel: Channel = Channel.ONLINE


def allocate_block(
    bids: list[BlockBid], qty: int, uniform: bool
) -> list[tuple[BlockBid, int, int]]:
    """Winning bids as (bid, fill qty, price paid), best bid first.

    Bids are ranked by price, highest first, then arrival (their order in `bids`).
    """
    ranked = sorted(enumerate(bids), key=lambda item: (-item[1].price, item[0]))
    wins: list[tuple[BlockBid, int, int]] = []
    left = qty
    for _, bid in ranked:
        if left == 0:
            break
        fill = bid.qty if bid.qty < left else left
        wins.append((bid, fill, bid.price))
        left -= fill
    if uniform and wins:
        clearing = wins[-1][0].price
        wins = [(bid, fill, clearing) for bid, fill, _ in wins]
    return wins
