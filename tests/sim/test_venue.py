"""Venue choice: on the exchange within the cap or floor, off it when worse (urgent, or offline)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.venue import (
    EXCHANGE,
    OFF,
    OffExchange,
    buyer_cap,
    delay_cost_bp,
    route,
    seller_floor,
)


def test_the_cap_and_floor_are_the_off_exchange_price_net_of_the_exchanges_costs():
    nat = np.array([400_000.0])
    assert buyer_cap(nat, np.array([80.0]), np.array([5.0]))[0] == pytest.approx(
        400_000 * 1.008 / 1.0005)
    assert seller_floor(nat, np.array([80.0]), np.array([5.0]))[0] == pytest.approx(
        400_000 * 0.992 / 0.9995)
    assert delay_cost_bp((10, 60), 150) == pytest.approx(35 / 60 * 150)


@pytest.mark.parametrize("buy, online, usable, urgent, touch, settle, limit, want", [
    (True, True, True, False, 399.0, 0.0, 400.0, EXCHANGE),   # the best ask is within the cap
    (True, True, True, True, 401.0, 0.0, 400.0, OFF),         # worse and it cannot wait
    (True, True, True, False, 401.0, 0.0, 400.0, EXCHANGE),   # worse: rest a bid, a free option
    (True, True, True, True, math.nan, 0.0, 400.0, OFF),      # nothing offered and urgent
    (True, False, True, False, 0.0, 401.0, 400.0, OFF),       # offline and worse: no free
    (True, False, True, True, 0.0, 401.0, 400.0, OFF),        # option at the counter
    (False, False, True, False, 0.0, 399.0, 400.0, OFF),      # an offline seller, the same
    (False, False, True, False, 0.0, 401.0, 400.0, EXCHANGE),
    (True, False, True, False, 0.0, 399.0, 400.0, EXCHANGE),  # offline: settlement in the cap
    (False, True, True, False, 401.0, 0.0, 400.0, EXCHANGE),  # the best bid is above the floor
    (False, True, True, True, 399.0, 0.0, 400.0, OFF),
    (True, True, False, False, 399.0, 0.0, 400.0, OFF),       # withdrawn / channel closed
])
def test_each_decision_goes_where_its_expected_price_net_of_friction_is_best(
        buy, online, usable, urgent, touch, settle, limit, want):
    got = route(np.array([buy]), np.array([online]), np.array([usable]), np.array([urgent]),
                np.array([touch]), np.array([settle]), np.array([limit]))
    assert got.tolist() == [want]


def test_off_exchange_deals_are_tallied_by_product_member_and_side_per_day():
    off = OffExchange()
    off.add(2, 7, "buy", 1000, 40_000)
    off.add(2, 7, "buy", 500, 20_000)
    off.add(0, 0, "buy", 30, 9)
    off.add(2, 7, "sell", 10, 1)
    assert off.take_day() == [(0, 0, "buy", 30, 9), (2, 7, "buy", 1500, 60_000),
                              (2, 7, "sell", 10, 1)]
    assert off.take_day() == []
