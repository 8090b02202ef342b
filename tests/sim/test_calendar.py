"""The 2024 trading calendar: weekdays minus the listed holidays, sessions in Beijing time."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from sim.calendar import NS_PER_MINUTE, TradingCalendar, parse_date, trading_days
from sim.scenario import load_scenario


def _expand(spans):
    out = []
    for a, b in spans:
        d = a
        while d <= b:
            out.append(d)
            d += dt.timedelta(days=1)
    return out


def test_trading_days_are_weekdays_without_listed_holidays():
    cal = load_scenario().calendar
    days = trading_days(cal.start, cal.end, cal.holidays)
    holidays = _expand(cal.holidays)
    expected = np.busday_count(cal.start, cal.end + dt.timedelta(days=1), holidays=holidays)
    assert len(days) == expected
    assert all(d.weekday() < 5 and d not in holidays for d in days)
    assert dt.date(2024, 2, 12) not in days  # Spring Festival
    assert dt.date(2024, 10, 8) in days  # first day after National Day


def test_sessions_are_in_beijing_time():
    cal = TradingCalendar(load_scenario().calendar)
    first = cal.days[0]
    utc = dt.datetime.fromtimestamp(cal.open_time(0) / 1e9, dt.UTC)
    assert (utc.date(), utc.hour, utc.minute) == (first, 1, 0)  # 09:00 in UTC+8
    assert cal.open_time(0) - cal.auction_start(0) == 5 * NS_PER_MINUTE
    assert cal.date_of(cal.close_time(0)) == first


def test_decision_steps_fall_inside_the_sessions_in_order():
    cal = TradingCalendar(load_scenario().calendar)
    steps = cal.steps(3, 12)
    assert steps == sorted(steps) and len(set(steps)) == 12
    for t in steps:
        minute = cal.local_minutes(t)
        assert 9 * 60 <= minute < 11 * 60 + 30 or 13 * 60 + 30 <= minute < 15 * 60


def test_until_truncates_the_days():
    spec = load_scenario().calendar
    cal = TradingCalendar(spec, until=dt.date(2024, 1, 31))
    assert cal.days[-1] == dt.date(2024, 1, 31)
    assert cal.index(dt.date(2024, 1, 6)) is None  # a Saturday


def test_parse_date_takes_yyyy_mm_dd_only():
    assert parse_date("2024-01-10") == dt.date(2024, 1, 10)
    for text in ("20240110", "2024-W02-3", "2024-1-10", " 2024-01-10", "2024-13-01"):
        with pytest.raises(ValueError):
            parse_date(text)
