"""The offline counter keys orders in after their delay, and only during service hours."""

from __future__ import annotations

from sim.calendar import NS_PER_MINUTE, TradingCalendar
from sim.counter import Counter
from sim.scenario import load_scenario


def _counter():
    sc = load_scenario()
    cal = TradingCalendar(sc.calendar)
    return sc, cal, Counter(sc.counter, cal)


def test_a_delay_is_uniform_over_the_counters_range():
    sc, _, counter = _counter()
    lo, hi = sc.counter.delay_minutes
    assert counter.delay_ns(0.0) == lo * NS_PER_MINUTE
    assert counter.delay_ns(0.5) == round((lo + hi) / 2 * NS_PER_MINUTE)


def test_orders_wait_for_their_delay():
    sc, cal, counter = _counter()
    t = cal.open_time(0)
    delay = counter.delay_ns(0.3)
    ready = counter.lodge(t, delay, 5, 100, 10, 150, 5)
    assert ready == t + delay
    assert counter.ready(ready - 1) == []
    assert counter.ready(ready) == [(ready, 1, 5, 100, 10, 150, 5)]
    assert len(counter) == 0


def test_nothing_is_keyed_in_outside_service_hours():
    _, cal, counter = _counter()
    ready = counter.lodge(cal.close_time(0), counter.delay_ns(0.5), 1, 100, 10, 0, 5)
    lunch = cal.ns(cal.days[1], 12 * 60)
    assert counter.ready(lunch) == []
    next_morning = cal.ns(cal.days[1], 9 * 60 + 30)
    assert next_morning > ready
    assert len(counter.ready(next_morning)) == 1


def test_orders_are_keyed_in_in_ready_order():
    _, cal, counter = _counter()
    t = cal.open_time(0)
    readies = [counter.lodge(t, counter.delay_ns((i * 7 % 20) / 20), i, 100, 10, 0, 5)
               for i in range(20)]
    keyed = [row[2] for row in counter.ready(t + 120 * NS_PER_MINUTE)]
    assert keyed == sorted(range(20), key=lambda i: (readies[i], i))
