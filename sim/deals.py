"""Deals off the continuous book: negotiated trades and the dominant seller's block auctions.

Both settle on the agents' ledger (`sim.agents.Agents`): a negotiated deal is registered with
the exchange and, once it is a `Trade`, moves cash and stock between buyer and seller; a block
auction reserves the seller's stock and each bidder's cash, and its settlement pays winners at
their price and releases what did not sell or win.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from typing import Any

import numpy as np

from engine import Rejected, Trade
from sim.population import DOMINANT_LIGHT

__all__ = ["Deals"]

REQUEST_SPACING_NS = 1_000  # bids of one step are 1 us apart
BID_PREMIUM_BP = 150  # bidders offer up to this much above their belief


class Deals:
    """Negotiated deals and block auctions of one run, on one `Agents` ledger."""

    def __init__(self, agents: Any) -> None:
        self.agents = agents
        sc = agents.sc
        self.block = sc.block_auctions
        self.block_pidx = agents.codes.index(self.block.product) if self.block else -1
        self._auction: dict[str, Any] | None = None
        # each product's sellers as a list, with their cumulative output weights, for the
        # counterparty draw of `negotiate` (the same sums as np.cumsum and .sum() of the rates)
        self._sellers = [sl.tolist() for sl in agents.sellers_of]
        self._seller_cum = [np.cumsum(agents.rate[sl]).tolist() for sl in agents.sellers_of]
        self._seller_total = [float(agents.rate[sl].sum()) for sl in agents.sellers_of]

    def negotiate(self, i: int, want: int, t: int) -> None:
        """A large buyer agrees a deal for `want` kg off the book with a seller, and registers it.

        The deal buys ahead: the buyer's need (and the seller's) may go below zero, and they
        place no orders for that product until it has accrued again.
        """
        a = self.agents
        p = a.slot_p_l[i]
        m = a.slot_m_l[i]
        sellers = self._sellers[p]
        if not sellers:
            return
        # a seller drawn in proportion to its output: bisect_left is np.searchsorted's "left"
        s = sellers[bisect_left(self._seller_cum[p], a.rng.random() * self._seller_total[p])]
        sm = a.slot_m_l[s]
        if sm == m or not a.active[s]:
            return
        lot = a.lot[p]
        have = a.stock[sm][p]
        tick = a.tick[p]
        price = int(round(float(a.anchor[p]) / tick)) * tick
        price = min(max(price, a.band_lo[p]), a.band_hi[p])
        qty = min(want, have // lot * lot, a.cash[m] * 10 // price // lot * lot)
        if qty < a.min_block[p]:
            return
        evs = a.ex.register_negotiated(m + 1, sm + 1, a.codes[p], price, qty, time=t)
        for ev in evs:
            if ev.__class__ is Trade:
                val = ev.price * ev.qty // 10
                a.cash[m] -= val
                a.stock[m][p] += ev.qty
                a.need[i] -= ev.qty
                a.cash[sm] += val
                a.stock[sm][p] -= ev.qty
                a.need[s] -= ev.qty
                a.counts["negotiated"] += 1
            elif ev.__class__ is Rejected:
                a.counts["rejected"] += 1

    def open_block(self, t: int, end: int) -> None:
        """The dominant light seller offers a block; some eligible buyers bid at once."""
        a = self.agents
        spec = self.block
        if spec is None or self._auction is not None:
            return
        p = self.block_pidx
        seller = DOMINANT_LIGHT - 1
        if a.withdrawn[seller]:
            return
        lot = a.lot[p]
        tick = a.tick[p]
        qty = min(int(spec.tonnes * 1000 * a.scale) // lot * lot,
                  a.stock[seller][p] // lot * lot)
        if qty < lot:
            return
        fund = float(a.anchor[p])
        reserve = math.ceil(fund * (1 - spec.reserve_discount_bp / 10_000) / tick) * tick
        reserve = min(max(reserve, a.band_lo[p]), a.band_hi[p])
        evs = a.ex.open_block_auction(seller + 1, a.codes[p], qty, reserve, start=t,
                                         end=end)
        opened = next((e for e in evs if e.__class__.__name__ == "BlockAuctionOpened"), None)
        if opened is None:
            a.counts["rejected"] += 1
            return
        a.counts["block_auctions"] += 1
        a.stock[seller][p] -= qty
        auction = {"id": opened.auction_id, "qty": qty, "p": p, "bids": {}}
        self._auction = auction
        buyers = a.buyers_of[p]
        rng = a.rng
        pick = buyers[(rng.random(len(buyers)) < spec.bidders_pct / 100)
                      & a.active[buyers] & (a.need[buyers] >= lot)]
        prem = rng.random(len(pick)) * BID_PREMIUM_BP
        for k, s in enumerate(pick.tolist()):
            m = a.slot_m_l[s]
            raw = a.belief[s] * (1 + prem[k] / 10_000)
            price = min(max(int(raw // tick) * tick, reserve), a.band_hi[p])
            bq = min(int(a.need[s]) // lot * lot, a.cash[m] * 10 // price // lot * lot)
            if bq < lot:
                continue
            a.cash[m] -= price * bq // 10
            evs = a.ex.bid_block_auction(m + 1, opened.auction_id, price, bq,
                                             time=t + (k + 1) * REQUEST_SPACING_NS)
            a.counts["block_bids"] += 1
            if any(e.__class__ is Rejected for e in evs):
                a.cash[m] += price * bq // 10
                a.counts["rejected"] += 1
                continue
            auction["bids"][m + 1] = (s, price, bq)

    def settle_block(self, t: int) -> list:
        """Settle the open block auction: winners pay and receive, the rest is released."""
        a = self.agents
        auction = self._auction
        if auction is None:
            return []
        self._auction = None
        p = auction["p"]
        seller = DOMINANT_LIGHT - 1
        evs = a.ex.settle_block_auction(auction["id"], time=t)
        filled: dict[int, int] = {}
        sold = 0
        for ev in evs:
            if ev.__class__ is not Trade:
                continue
            member = ev.buyer
            s, bid, _ = auction["bids"][member]
            m = member - 1
            q = ev.qty
            a.cash[m] += bid * q // 10 - ev.price * q // 10
            a.stock[m][p] += q
            a.need[s] -= q
            filled[member] = filled.get(member, 0) + q
            a.cash[seller] += ev.price * q // 10
            sold += q
        for member, (_s, bid, bq) in auction["bids"].items():
            left = bq - filled.get(member, 0)
            a.cash[member - 1] += bid * left // 10
        a.stock[seller][p] += auction["qty"] - sold
        dom = np.flatnonzero(a.is_seller_need & (a.slot_m == seller) & (a.slot_p == p))
        if len(dom):
            a.need[dom[0]] -= sold
        return evs
