"""Venue choice: meet a need on the exchange or off it, by expected price net of friction.

Off the exchange a member deals at the national price plus its own premium (a buyer) or less
its own discount (a seller): search, credit, inspection and logistics the exchange would
have provided. On it, the member pays the exchange fee and, at the offline counter, the cost
of the keying delay. So a buyer never pays more on the exchange than its *cap*, the national
price with its premium net of those costs, and a seller never takes less than its *floor*.

Each decision routes one need (`route`):
- the exchange looks better (the best opposite price an online member sees, or yesterday's
  settlement for an offline one, is within the cap or floor): trade there, crossing the
  spread if the need is urgent;
- it looks worse and the member can wait: an online member still rests a bid or offer at its
  own price within the cap or floor (a free option: filled, it does at least as well as off
  the exchange; unfilled, the need comes back at the next decision);
- it looks worse otherwise (the need is urgent, a buyer below its minimum cover or a seller
  above its maximum stock; or the member is offline, where a counter order is no free
  option: its keying delay costs and it cannot be re-priced): deal off the exchange now.
  (An offline member that waited instead would skip its off-exchange deal exactly when that
  deal was good, and take the counter on the draws where it was bad: the counter's friction
  would cost it nothing, and moving members online would not matter.)
A member that cannot use the exchange (withdrawn, or its channel closed) deals off it.

`OffExchange` records every off-exchange deal apart from the exchange's tallies.
"""

from __future__ import annotations

import numpy as np

__all__ = ["EXCHANGE", "OFF", "OffExchange", "buyer_cap", "cap_or_floor", "delay_cost_bp",
           "route", "seller_floor"]

EXCHANGE, OFF = 1, 2  # where a decision goes


def delay_cost_bp(delay_minutes: tuple[float, float], bp_per_hour: float) -> float:
    """The friction of the offline counter: its mean keying delay at the hourly cost."""
    return (delay_minutes[0] + delay_minutes[1]) / 2 / 60 * bp_per_hour


def buyer_cap(national: np.ndarray, premium_bp: np.ndarray, cost_bp: np.ndarray) -> np.ndarray:
    """The most a buyer pays on the exchange: what it would pay off it, net of exchange costs."""
    return national * (1 + premium_bp / 10_000) / (1 + cost_bp / 10_000)


def seller_floor(national: np.ndarray, discount_bp: np.ndarray, cost_bp: np.ndarray
                 ) -> np.ndarray:
    """The least a seller takes on the exchange: what it would get off it, net of costs."""
    return national * (1 - discount_bp / 10_000) / (1 - cost_bp / 10_000)


def cap_or_floor(sign: np.ndarray, national: np.ndarray, friction_bp: np.ndarray,
                 cost_bp: np.ndarray) -> np.ndarray:
    """`buyer_cap` where `sign` is +1 and `seller_floor` where it is -1, in one pass.

    The same arithmetic, bit for bit: multiplying by -1 negates exactly, and 1 + (-x) is
    1 - x, so a seller's factors are seller_floor's own.
    """
    return national * (1 + sign * friction_bp / 10_000) / (1 + sign * cost_bp / 10_000)


def route(is_buy: np.ndarray, online: np.ndarray, usable: np.ndarray, urgent: np.ndarray,
          touch: np.ndarray, settlement: np.ndarray, limit: np.ndarray) -> np.ndarray:
    """Where each decision goes: EXCHANGE or OFF (see the module docstring).

    `touch` is the best opposite price an online member sees (an empty side: nan, or an
    infinity on its far side, +inf for no ask and -inf for no bid: either compares as no
    better than any limit), `settlement` what an offline member expects, `limit` the buyer's
    cap or seller's floor, `usable` whether the member may use the exchange at all (member,
    channel open).
    """
    expected = np.where(online, touch, settlement)
    if np.count_nonzero(np.isnan(expected)):  # nan compares False; some numpy versions warn
        with np.errstate(invalid="ignore"):
            better = _no_worse(is_buy, expected, limit)
    else:  # no nan (the agents give infinities): no floating-point state to switch
        better = _no_worse(is_buy, expected, limit)
    return np.where(usable & (better | (online & ~urgent)), EXCHANGE, OFF)


def _no_worse(is_buy: np.ndarray, expected: np.ndarray, limit: np.ndarray) -> np.ndarray:
    """Whether the expected price is within each buyer's cap or seller's floor."""
    return np.where(is_buy, expected <= limit, expected >= limit)


class OffExchange:
    """Off-exchange deals of the trading day in progress, by product, member and side."""

    __slots__ = ("_today",)

    def __init__(self) -> None:
        self._today: dict[tuple[int, int, str], list[int]] = {}

    def add(self, product: int, member: int, side: str, qty: int, value: int) -> None:
        """Record one deal (member 0: every non-member together), kg and fen."""
        cell = self._today.get((product, member, side))
        if cell is None:
            self._today[(product, member, side)] = [qty, value]
        else:
            cell[0] += qty
            cell[1] += value

    def cells(self) -> dict[tuple[int, int, str], list[int]]:
        """Today's deals, live: (product, member, side) -> [kg, fen], for loops that add many."""
        return self._today

    def take_day(self) -> list[tuple[int, int, str, int, int]]:
        """The day's deals as (product, member, side, qty_kg, value_fen), sorted; then none."""
        today = self._today
        rows = []
        for key in sorted(today):  # the keys alone: a cheaper sort than the items'
            q, v = today[key]
            rows.append((*key, q, v))
        self._today = {}
        return rows
