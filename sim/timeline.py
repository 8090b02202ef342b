"""Dated scenario events by trading day: what changes, and when it takes effect.

An event takes effect at the start of the first trading day on or after its date, before
that day's call auction; events of one day apply in date order, then file order. An event
dated after the last trading day never applies (the run's summary says so).
"""

from __future__ import annotations

import bisect
import datetime as dt
from typing import Any

from sim.population import DOMINANT_HEAVY, DOMINANT_LIGHT
from sim.scenario import (
    BandEvent,
    ChannelEvent,
    DemandEvent,
    Event,
    FeeEvent,
    ReturnEvent,
    SupplyEvent,
    WithdrawEvent,
)

__all__ = ["Timeline", "describe", "member_id"]


def member_id(member: str | int) -> int:
    """The enterprise id an event names (`dominant_light`, `dominant_heavy` or an id)."""
    if member == "dominant_light":
        return DOMINANT_LIGHT
    if member == "dominant_heavy":
        return DOMINANT_HEAVY
    return int(member)


def describe(ev: Event) -> str:
    """One line saying what an event does, for the run's summary table."""
    if isinstance(ev, SupplyEvent | DemandEvent):
        what = "supply" if isinstance(ev, SupplyEvent) else "demand"
        of = f"group {ev.group}" if ev.group else ", ".join(ev.products)
        return f"national {what} of {of} {ev.pct:+g}%"
    if isinstance(ev, WithdrawEvent):
        return f"member {member_id(ev.member)} withdraws from the exchange"
    if isinstance(ev, ReturnEvent):
        return f"member {member_id(ev.member)} returns to the exchange"
    if isinstance(ev, BandEvent):
        width = f"±{ev.pct}%" if ev.pct is not None else f"±{ev.abs} yuan/t"
        return f"band {width} for {', '.join(ev.products) or 'every product'}"
    if isinstance(ev, FeeEvent):
        return f"exchange fee {ev.bp} bp a side"
    assert isinstance(ev, ChannelEvent)
    return f"{ev.channel} channel {'opens' if ev.open else 'closes'}"


class Timeline:
    """The scenario's events, indexed by the trading day they take effect on."""

    def __init__(self, events: list[Event], days: list[dt.date]) -> None:
        self.days = days
        self._by_day: dict[int, list[Event]] = {}
        for ev in sorted(events, key=lambda e: e.date):  # stable: file order on a tie
            self._by_day.setdefault(bisect.bisect_left(days, ev.date), []).append(ev)

    def on(self, day: int) -> list[Event]:
        """The events that take effect at the start of trading day `day`, in order."""
        return self._by_day.get(day, [])

    def summary(self, days_run: int) -> list[dict[str, Any]]:
        """Every event with the day it applied (None when the run ended before it)."""
        out = []
        for d in sorted(self._by_day):
            for ev in self._by_day[d]:
                applied = self.days[d].isoformat() if d < min(days_run, len(self.days)) else None
                out.append({"date": ev.date.isoformat(), "kind": ev.__struct_config__.tag,
                            "what": describe(ev), "applied": applied})
        return out
