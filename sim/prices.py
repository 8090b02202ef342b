"""Fundamental price paths: one seeded, mean-reverting log price per product and trading day.

Agents quote around what they believe, and their beliefs scatter around these paths. The path
is a discretised Ornstein-Uhlenbeck process in log price, anchored at the reference price, with
the product's daily volatility and, for products with long flat stretches (La, Ce), a share of
days on which it does not move at all (the moves that do happen are larger, so the daily
volatility is kept).
"""

from __future__ import annotations

import numpy as np

from sim.scenario import ProductSpec

__all__ = ["price_paths"]


def price_paths(products: list[ProductSpec], days: int, rng: np.random.Generator) -> np.ndarray:
    """Fundamental prices (yuan/t, float) of shape [days, products]; day 0 is the reference."""
    nprod = len(products)
    out = np.empty((max(days, 0), nprod))
    if days <= 0:
        return out
    anchor = np.log([float(p.reference_price) for p in products])
    sigma = np.array([p.volatility_bp / 10_000 for p in products])
    kappa = np.array([p.reversion_pct / 100 for p in products])
    flat = np.array([p.flat_pct / 100 for p in products])
    move_sigma = sigma / np.sqrt(np.maximum(1.0 - flat, 1e-9))
    shocks = rng.standard_normal((days, nprod)) * move_sigma
    still = rng.random((days, nprod)) < flat
    x = anchor.copy()
    out[0] = np.exp(x)
    for t in range(1, days):
        step = kappa * (anchor - x) + shocks[t]
        x = np.where(still[t], x, x + step)
        out[t] = np.exp(x)
    return out
