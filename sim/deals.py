"""Deals off the continuous book: negotiated trades and the dominant producer's block auctions.

Both settle on the agents' ledger (`sim.agents.Agents`), with the exchange fee on each side:

- a **negotiated deal**: a block buyer's decision (sim.agents) agrees a block (its need and,
  bought ahead, up to its maximum cover; at most `negotiation.days` of its use) with
  a producer drawn in proportion to output, at the national price (on the tick, within the
  band), and registers it with the exchange, which records it as an offline trade off the
  book;
- a **block auction**: the dominant light producer offers part of its stock beyond its working
  cover, with a reserve below the national price that falls the more stock it holds; users of
  the product bid from their needs (what brings them up to their maximum cover) at prices
  within their cap, and the auction's settlement pays winners at their bids (or one uniform
  price), releasing what did not sell or win.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from typing import Any

import numpy as np

from engine import BlockAuctionOpened, Rejected, Trade
from sim.agents import buy_reservation, with_fee
from sim.population import DOMINANT_LIGHT
from sim.streams import counter, normal, uniform

__all__ = ["Deals"]

REQUEST_SPACING_NS = 1_000  # bids of one step are 1 us apart
BIDDER, BID_PRICE = 20, 21  # purposes of a user's draws in a block auction


class Deals:
    """Negotiated deals and block auctions of one run, on one `Agents` ledger."""

    def __init__(self, agents: Any) -> None:
        self.agents = agents
        sc = agents.sc
        self.block = sc.block_auctions
        self.block_pidx = agents.codes.index(self.block.product) if self.block else -1
        self._auction: dict[str, Any] | None = None
        # ids the recorder tells trade kinds by: block auctions, negotiated buy orders
        self.block_ids: set[int] = set()
        self.negotiated_ids: set[int] = set()
        self.offered_kg = 0
        self.sold_kg = 0
        self.auctions = 0
        # each product's producers as a list, with cumulative output weights, for the
        # counterparty draw of `negotiate`
        self._sellers = [sl.tolist() for sl in agents.sellers_of]
        self._seller_cum = [np.cumsum(agents.rate[sl]).tolist() for sl in agents.sellers_of]
        self._seller_total = [float(agents.rate[sl].sum()) for sl in agents.sellers_of]

    def negotiate(self, i: int, want: int, t: int, key: int) -> int:
        """A large user negotiates up to `want` kg off the book; returns the kg dealt (0: none).

        The producer is drawn in proportion to output, and the deal registered at the
        national price, when the exchange's fee costs each side less than dealing off the
        exchange would (the buyer's own premium, the seller's own discount).
        """
        a = self.agents
        if not a.channel_open["offline"]:
            return 0
        p = a.slot_p_l[i]
        m = a.slot_m_l[i]
        sellers = self._sellers[p]
        if not sellers:
            return 0
        u = float(uniform(a.keys[i:i + 1], key)[0])
        s = sellers[min(bisect_left(self._seller_cum[p], u * self._seller_total[p]),
                        len(sellers) - 1)]
        sm = a.slot_m_l[s]
        if sm == m or not a.usable[s]:
            return 0
        bp = a.fee_bp
        if bp >= a.friction[i] or bp >= a.friction[s]:  # cheaper off the exchange
            return 0
        lot = a.lot[p]
        tick = a.tick[p]
        price = int(round(float(a.nat_s[i]) / tick)) * tick
        price = min(max(price, a.band_lo[p]), a.band_hi[p])
        qty, _ = buy_reservation(a.cash[m], price, min(want // lot * lot,
                                                       a.stock[sm * a.P + p] // lot * lot),
                                 lot, bp)
        if qty < a.min_block[p]:
            return 0
        evs = a.ex.register_negotiated(m + 1, sm + 1, a.codes[p], price, qty, time=t)
        dealt = 0
        for ev in evs:
            if ev.__class__ is Trade:
                self.negotiated_ids.add(ev.buy_order_id)
                val = ev.price * ev.qty // 10
                fee = val * bp // 10_000
                a.cash[m] -= val + fee
                a.stock[m * a.P + p] += ev.qty
                a.need[i] -= ev.qty
                a.cash[sm] += val - fee
                a.stock[sm * a.P + p] -= ev.qty
                a.need[s] -= ev.qty
                a.totals["fees_fen"] += 2 * fee
                a.counts["negotiated"] += 1
                dealt += ev.qty
            elif ev.__class__ is Rejected:
                a.counts["rejected"] += 1
        return dealt

    # ------------------------------------------------------------------ block auctions

    def open_block(self, t: int, end: int) -> None:
        """The dominant light producer offers a block; users of the product bid at once."""
        a = self.agents
        spec = self.block
        if spec is None or self._auction is not None or not a.channel_open["online"]:
            return
        p = self.block_pidx
        seller = DOMINANT_LIGHT - 1
        if seller >= len(a.cash) or a.withdrawn[seller]:
            return
        slot = self._seller_slot(seller, p)
        if slot is None:
            return
        inv = a.sc.inventory
        lot = a.lot[p]
        tick = a.tick[p]
        keep = inv.seller_cover_days * float(a.flow[slot])
        spare = a.stock[seller * a.P + p] - keep
        qty = min(int(spec.tonnes * 1000 * a.scale) // lot * lot, int(spare) // lot * lot)
        if qty < lot:
            return
        excess_cover = max(0.0, spare / keep) if keep > 0 else 0.0
        discount = spec.reserve_discount_bp + spec.stock_discount_bp * excess_cover
        discount = min(discount, 5_000.0)
        national = float(a.nat_s[slot])
        reserve = math.ceil(national * (1 - discount / 10_000) / tick) * tick
        reserve = min(max(reserve, a.band_lo[p]), a.band_hi[p])
        evs = a.ex.open_block_auction(seller + 1, a.codes[p], qty, reserve, start=t, end=end)
        opened = next((e for e in evs if e.__class__ is BlockAuctionOpened), None)
        if opened is None:
            a.counts["rejected"] += 1
            return
        a.counts["block_auctions"] += 1
        self.block_ids.add(opened.auction_id)
        self.auctions += 1
        self.offered_kg += qty
        a.stock[seller * a.P + p] -= qty
        auction = {"id": opened.auction_id, "qty": qty, "p": p, "slot": slot, "bids": {}}
        self._auction = auction
        self._bid(auction, reserve, t)

    def _seller_slot(self, member: int, p: int) -> int | None:
        a = self.agents
        for s in self._sellers[p]:
            if a.slot_m_l[s] == member:
                return s
        return None

    def _bid(self, auction: dict[str, Any], reserve: int, t: int) -> None:
        """Users of the product bid for what brings them to their maximum cover, in their cap."""
        a = self.agents
        spec = self.block
        p = auction["p"]
        lot, tick = a.lot[p], a.tick[p]
        users = a.users_of[p]
        day = a.day
        pick = users[(uniform(a.keys[users], counter(day, 0, BIDDER)) < spec.bidders_pct / 100)
                     & a.usable[users] & a.online[users]]
        if not len(pick):
            return
        inv = a.sc.inventory
        held = a.held()[pick].astype(float)
        want = np.floor((inv.max_cover_days * a.flow[pick] - held) / lot) * lot
        conc = a.beh.premium_bp + a.beh.premium_sd_bp * normal(a.keys[pick],
                                                               counter(day, 0, BID_PRICE))
        raw = np.minimum(a.belief[pick] * (1 + conc / 10_000), a.limit[pick])
        prices = np.minimum(np.floor(raw / tick) * tick, a.band_hi[p])
        bp = a.fee_bp
        for k, (s, price, q) in enumerate(zip(pick.tolist(), prices.astype(np.int64).tolist(),
                                              want.astype(np.int64).tolist(), strict=True)):
            if q < lot or price < reserve:
                continue
            m = a.slot_m_l[s]
            q, held_fen = buy_reservation(a.cash[m], price, q, lot, bp)
            if q < lot:
                continue
            a.cash[m] -= held_fen
            evs = a.ex.bid_block_auction(m + 1, auction["id"], price, q,
                                         time=t + (k + 1) * REQUEST_SPACING_NS)
            a.counts["block_bids"] += 1
            if any(e.__class__ is Rejected for e in evs):
                a.cash[m] += held_fen
                a.counts["rejected"] += 1
                continue
            auction["bids"][m + 1] = (s, price, q, held_fen, bp)

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
        sold = 0
        for ev in evs:
            if ev.__class__ is not Trade:
                continue
            member = ev.buyer
            s, bid, q_bid, held, bp = auction["bids"][member]
            m = member - 1
            q = ev.qty
            value = ev.price * q // 10
            fee = value * bp // 10_000
            part = with_fee(bid * q // 10, bp)
            a.cash[m] += part - value - fee
            auction["bids"][member] = (s, bid, q_bid - q, held - part, bp)
            a.stock[m * a.P + p] += q
            a.need[s] -= q
            seller_fee = value * a.fee_bp // 10_000
            a.cash[seller] += value - seller_fee
            a.totals["fees_fen"] += fee + seller_fee
            sold += q
        for _member, (_s, _bid, _left, held, _bp) in auction["bids"].items():
            a.cash[_member - 1] += held  # what did not win, and what rounding kept back
        a.stock[seller * a.P + p] += auction["qty"] - sold
        a.need[auction["slot"]] -= sold
        self.sold_kg += sold
        return evs

    def summary(self) -> dict[str, int]:
        """The block auctions of the run: how many, and tonnage offered and sold (kg)."""
        return {"auctions": self.auctions, "offered_kg": self.offered_kg,
                "sold_kg": self.sold_kg}
