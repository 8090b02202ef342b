"""The offline counter keys orders in after their delay, and only during service hours."""

from __future__ import annotations

import numpy as np

from sim.calendar import NS_PER_MINUTE, TradingCalendar
from sim.counter import Counter
from sim.scenario import load_scenario


def _counter():
    sc = load_scenario()
    cal = TradingCalendar(sc.calendar)
    return sc, cal, Counter(sc.counter, cal, np.random.default_rng(1))


def test_orders_wait_for_their_delay():
    sc, cal, counter = _counter()
    t = cal.open_time(0)
    ready = counter.lodge(t, slot=5, price=100, qty=10)
    lo, hi = sc.counter.delay_minutes
    assert t + lo * NS_PER_MINUTE <= ready <= t + hi * NS_PER_MINUTE
    keyed = []
    assert counter.key_in(ready - 1, lambda *a: keyed.append(a)) == 0
    assert counter.key_in(ready, lambda *a: keyed.append(a)) == 1
    assert keyed == [(5, 100, 10, ready)]
    assert len(counter) == 0


def test_nothing_is_keyed_in_outside_service_hours():
    _, cal, counter = _counter()
    ready = counter.lodge(cal.close_time(0), slot=1, price=100, qty=10)
    lunch = cal.ns(cal.days[1], 12 * 60)
    keyed = []
    assert counter.key_in(lunch, lambda *a: keyed.append(a)) == 0
    next_morning = cal.ns(cal.days[1], 9 * 60 + 30)
    assert next_morning > ready
    assert counter.key_in(next_morning, lambda *a: keyed.append(a)) == 1


def test_orders_are_keyed_in_in_ready_order():
    _, cal, counter = _counter()
    t = cal.open_time(0)
    readies = [counter.lodge(t, slot=i, price=100, qty=10) for i in range(20)]
    keyed = []
    counter.key_in(t + 120 * NS_PER_MINUTE, lambda slot, *_: keyed.append(slot))
    assert keyed == sorted(range(20), key=lambda i: (readies[i], i))
