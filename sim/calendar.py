"""The trading calendar: which days trade, and when each session starts and ends, in integer ns.

Times are nanoseconds since the Unix epoch (UTC); the exchange's local clock (Beijing, UTC+8 by
default) only appears here, at the edge.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

from sim.scenario import CalendarSpec

__all__ = ["NS_PER_MINUTE", "NS_PER_SECOND", "TradingCalendar", "parse_date", "trading_days"]

NS_PER_SECOND = 1_000_000_000
NS_PER_MINUTE = 60 * NS_PER_SECOND
_EPOCH = dt.date(1970, 1, 1)


def parse_date(text: str) -> dt.date:
    """A date written YYYY-MM-DD, exactly (ValueError otherwise).

    date.fromisoformat alone also takes 20240110 and 2024-W02-3, which a user who meant
    another date would not see refused.
    """
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
        raise ValueError(f"expected a date YYYY-MM-DD, got {text!r}")
    return dt.date.fromisoformat(text)


def trading_days(
    start: dt.date, end: dt.date, holidays: Iterable[tuple[dt.date, dt.date]] = ()
) -> list[dt.date]:
    """Weekdays from start to end inclusive, minus the inclusive holiday ranges."""
    spans = list(holidays)
    days = []
    d = start
    one = dt.timedelta(days=1)
    while d <= end:
        if d.weekday() < 5 and not any(a <= d <= b for a, b in spans):
            days.append(d)
        d += one
    return days


def _minutes(t: dt.time) -> int:
    return t.hour * 60 + t.minute


class TradingCalendar:
    """Trading days of a scenario and the instants of their sessions, as integer ns."""

    __slots__ = ("days", "_offset_ns", "_auction", "_sessions", "_index")

    def __init__(self, spec: CalendarSpec, until: dt.date | None = None) -> None:
        end = spec.end if until is None else min(spec.end, until)
        self.days: list[dt.date] = trading_days(spec.start, end, spec.holidays)
        self._offset_ns = spec.utc_offset_hours * 60 * NS_PER_MINUTE
        self._auction = (_minutes(spec.auction[0]), _minutes(spec.auction[1]))
        self._sessions = [(_minutes(a), _minutes(b)) for a, b in spec.sessions]
        self._index = {d: i for i, d in enumerate(self.days)}

    def __len__(self) -> int:
        return len(self.days)

    def ns(self, day: dt.date, minutes: float) -> int:
        """The instant `minutes` after local midnight of `day`, in ns since the epoch (UTC)."""
        midnight = (day - _EPOCH).days * 86_400 * NS_PER_SECOND - self._offset_ns
        return midnight + round(minutes * NS_PER_MINUTE)

    def auction_start(self, i: int) -> int:
        """When the opening call auction of trading day i starts."""
        return self.ns(self.days[i], self._auction[0])

    def open_time(self, i: int) -> int:
        """When the call auction uncrosses and continuous trading starts on day i."""
        return self.ns(self.days[i], self._sessions[0][0])

    def close_time(self, i: int) -> int:
        """When the last session of day i ends."""
        return self.ns(self.days[i], self._sessions[-1][1])

    def steps(self, i: int, n: int) -> list[int]:
        """N decision instants spread evenly over day i's continuous sessions (mid-slot)."""
        total = sum(b - a for a, b in self._sessions)
        out = []
        for k in range(n):
            at = (k + 0.5) * total / n
            for a, b in self._sessions:
                if at < b - a:
                    out.append(self.ns(self.days[i], a + at))
                    break
                at -= b - a
        return out

    def index(self, day: dt.date) -> int | None:
        """The trading-day index of a date, or None if it does not trade."""
        return self._index.get(day)

    def date_of(self, t: int) -> dt.date:
        """The local calendar date of instant t."""
        return _EPOCH + dt.timedelta(days=(t + self._offset_ns) // (86_400 * NS_PER_SECOND))

    def local_minutes(self, t: int) -> float:
        """Minutes after local midnight of instant t."""
        return ((t + self._offset_ns) % (86_400 * NS_PER_SECOND)) / NS_PER_MINUTE
