"""Exact fixed-decimal printing of integer amounts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.units import fixed


@pytest.mark.parametrize("amount, scale, places, text", [
    (1_234_567, 1000, 1, "1,234.6"),
    (1_234_549, 1000, 1, "1,234.5"),
    (-1_500, 100, 0, "-15"),
    (-49, 100, 0, "0"),
    (-40, 1000, 1, "0.0"),
    (999_950, 1000, 1, "1,000.0"),
    (5, 100, 2, "0.05"),
])
def test_fixed_rounds_half_away_from_zero_without_a_negative_zero(amount, scale, places, text):
    assert fixed(amount, scale, places) == text


@given(st.integers(-10**15, 10**15))
def test_fixed_is_symmetric_in_sign(amount):
    text = fixed(amount, 1000, 1)
    assert fixed(-amount, 1000, 1) == (text[1:] if text.startswith("-") else
                                       text if text == "0.0" else "-" + text)
