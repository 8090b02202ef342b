"""Conversions at the edge: exact integer amounts (kg, fen) printed as fixed decimals."""

from __future__ import annotations

__all__ = ["fixed"]


def fixed(amount: int, scale: int, places: int) -> str:
    """`amount` in 1/scale units as text with `places` decimals, rounded half away from zero.

    Exact for any integer (no float on the way): fixed(1_234_567, 1000, 1) == "1,234.6",
    fixed(-1_500, 100, 0) == "-15".
    """
    sign = "-" if amount < 0 else ""
    unit = scale // 10 ** places
    whole = (abs(amount) + unit // 2) // unit
    if places == 0:
        return f"{sign}{whole:,}" if whole else "0"
    a, b = divmod(whole, 10 ** places)
    return f"{sign if whole else ''}{a:,}.{b:0{places}d}"
