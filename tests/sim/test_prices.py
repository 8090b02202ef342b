"""Fundamental price paths: seeded, anchored at the reference, with the product's volatility."""

from __future__ import annotations

import msgspec
import numpy as np

from sim.prices import price_paths
from sim.scenario import load_scenario


def test_paths_start_at_the_reference_and_repeat_with_the_seed():
    products = load_scenario().products
    a = price_paths(products, 50, np.random.default_rng(3))
    b = price_paths(products, 50, np.random.default_rng(3))
    assert a.shape == (50, len(products))
    assert np.array_equal(a, b)
    assert np.allclose(a[0], [p.reference_price for p in products])
    assert not np.array_equal(a, price_paths(products, 50, np.random.default_rng(4)))


def test_daily_volatility_is_the_products():
    prod = msgspec.structs.replace(load_scenario().products[0], reversion_pct=0.0, flat_pct=0.0)
    path = price_paths([prod], 20_000, np.random.default_rng(1))[:, 0]
    sigma = np.diff(np.log(path)).std()
    assert abs(sigma - prod.volatility_bp / 10_000) < 0.05 * prod.volatility_bp / 10_000


def test_flat_products_stay_still_on_their_share_of_days_but_keep_their_volatility():
    prod = msgspec.structs.replace(load_scenario().product("LA_OX"), reversion_pct=0.0)
    path = price_paths([prod], 20_000, np.random.default_rng(2))[:, 0]
    r = np.diff(np.log(path))
    assert abs((r == 0).mean() - prod.flat_pct / 100) < 0.02
    assert abs(r.std() - prod.volatility_bp / 10_000) < 0.06 * prod.volatility_bp / 10_000


def test_mean_reversion_keeps_the_path_near_the_reference():
    products = load_scenario().products
    paths = price_paths(products, 2_000, np.random.default_rng(5))
    ref = np.array([p.reference_price for p in products])
    assert np.all(np.abs(np.log(paths.mean(axis=0) / ref)) < 0.05)
