"""The exchange's offline counter: orders lodged by phone or at the desk, keyed in by staff.

An order lodged at time t becomes ready after a delay (drawn by the lodging member from its
own random stream, `Counter.delay_ns`) and is keyed in (submitted with `Channel.OFFLINE`) at
the first decision instant that is at or after its ready time and falls within the counter's
service hours. What is not keyed in by the close waits for the next day.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable

import numpy as np

from sim.calendar import NS_PER_MINUTE, TradingCalendar
from sim.scenario import CounterSpec

__all__ = ["Counter", "Lodged"]

# (ready_ns, seq, slot, price, qty, reserved, fee_bp): one order waiting to be keyed in, with
# what its member reserved for it (fen for a bid, kg for an offer) and the fee it was placed at
Lodged = tuple[int, int, int, int, int, int, int]


class Counter:
    """A FIFO-by-ready-time queue of lodged orders, drained during service hours.

    The queue is a list kept sorted by ready time (lodging order among equal times), with
    the ready times alongside as plain ints: a lodge is one C-level bisect and two inserts,
    and `ready` takes a prefix slice, with no per-order Python work (the queue is short).
    """

    __slots__ = ("_queue", "_times", "_seq", "_lo", "_span", "_service", "_cal")

    def __init__(self, spec: CounterSpec, calendar: TradingCalendar) -> None:
        self._queue: list[Lodged] = []  # in keying order
        self._times: list[int] = []  # each queued order's ready time, same order
        self._seq = 0
        lo, hi = spec.delay_minutes
        self._lo = lo * NS_PER_MINUTE
        self._span = (hi - lo) * NS_PER_MINUTE
        self._service = [(a.hour * 60 + a.minute, b.hour * 60 + b.minute) for a, b in spec.service]
        self._cal = calendar

    def __len__(self) -> int:
        return len(self._queue)

    def delay_ns(self, u: float) -> int:
        """The keying delay for a uniform draw u in [0, 1): uniform over the delay range."""
        return round(self._lo + self._span * u)

    def delays_ns(self, u: np.ndarray) -> list[int]:
        """`delay_ns` of each draw in `u` (np.rint rounds half to even, as round does)."""
        return np.rint(self._lo + self._span * u).astype(np.int64).tolist()

    def lodge(self, now: int, delay: int, slot: int, price: int, qty: int, reserved: int,
              fee_bp: int) -> int:
        """Take an order at the counter; returns when it will be ready to key in (ns)."""
        self.lodge_all([(now, delay, slot, price, qty, reserved, fee_bp)])
        return now + delay

    def lodge_all(self, orders: Iterable[tuple[int, int, int, int, int, int, int]]) -> None:
        """Take each (now, delay, slot, price, qty, reserved, fee_bp) in turn, as `lodge`."""
        times, queue = self._times, self._queue
        seq = self._seq
        for now, delay, slot, price, qty, reserved, fee_bp in orders:
            ready = now + delay
            seq += 1
            k = bisect_right(times, ready)  # after any equal time: lodging order
            times.insert(k, ready)
            queue.insert(k, (ready, seq, slot, price, qty, reserved, fee_bp))
        self._seq = seq

    def in_service(self, now: int) -> bool:
        """Whether staff are keying orders in at instant `now`."""
        minute = self._cal.local_minutes(now)
        return any(a <= minute < b for a, b in self._service)

    def ready(self, now: int) -> list[Lodged]:
        """Take every order staff can key in at `now`, in keying order."""
        times = self._times
        if not times or times[0] > now or not self.in_service(now):
            return []
        k = bisect_right(times, now)
        out = self._queue[:k]
        del self._queue[:k], times[:k]
        return out

    def pending(self) -> list[Lodged]:
        """The orders still waiting, in keying order."""
        return list(self._queue)
