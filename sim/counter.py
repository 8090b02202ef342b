"""The exchange's offline counter: orders lodged by phone or at the desk, keyed in by staff.

An order lodged at time t becomes ready after a random delay and is keyed in (submitted with
`Channel.OFFLINE`) at the first decision instant that is at or after its ready time and falls
within the counter's service hours. What is not keyed in by the close waits for the next day.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

import numpy as np

from sim.calendar import NS_PER_MINUTE, TradingCalendar
from sim.scenario import CounterSpec

__all__ = ["Counter", "Lodged"]

_BATCH = 4096  # delays drawn at a time
# (ready_ns, seq, slot, price, qty): one order waiting to be keyed in
Lodged = tuple[int, int, int, int, int]


class Counter:
    """A FIFO-by-ready-time queue of lodged orders, drained during service hours."""

    __slots__ = ("_queue", "_seq", "_lo", "_hi", "_rng", "_service", "_cal", "_delays")

    def __init__(self, spec: CounterSpec, calendar: TradingCalendar,
                 rng: np.random.Generator) -> None:
        self._queue: list[Lodged] = []
        self._seq = 0
        self._lo, self._hi = spec.delay_minutes
        self._rng = rng
        self._service = [(a.hour * 60 + a.minute, b.hour * 60 + b.minute) for a, b in spec.service]
        self._cal = calendar
        self._delays: list[int] = []  # pre-drawn delays (ns), used from the end

    def __len__(self) -> int:
        return len(self._queue)

    def lodge(self, now: int, slot: int, price: int, qty: int) -> int:
        """Take an order at the counter; returns when it will be ready to key in (ns)."""
        delays = self._delays
        if not delays:
            span = (self._hi - self._lo) * NS_PER_MINUTE
            draws = self._lo * NS_PER_MINUTE + span * self._rng.random(_BATCH)
            delays.extend(np.round(draws).astype(np.int64).tolist()[::-1])
        ready = now + delays.pop()
        self._seq += 1
        heapq.heappush(self._queue, (ready, self._seq, slot, price, qty))
        return ready

    def in_service(self, now: int) -> bool:
        """Whether staff are keying orders in at instant `now`."""
        minute = self._cal.local_minutes(now)
        return any(a <= minute < b for a, b in self._service)

    def ready(self, now: int) -> list[tuple[int, int, int]]:
        """Take every order staff can key in at `now`, oldest first, as (slot, price, qty)."""
        q = self._queue
        if not q or q[0][0] > now or not self.in_service(now):
            return []
        out = []
        pop = heapq.heappop
        while q and q[0][0] <= now:
            _, _, slot, price, qty = pop(q)
            out.append((slot, price, qty))
        return out

    def key_in(self, now: int, submit: Callable[[int, int, int, int], None]) -> int:
        """Key in every ready order, oldest first, via `submit(slot, price, qty, now)`."""
        batch = self.ready(now)
        for slot, price, qty in batch:
            submit(slot, price, qty, now)
        return len(batch)

    def pending(self) -> list[Lodged]:
        """The orders still waiting, in keying order."""
        return sorted(self._queue)
