"""Products listed on the exchange: their grid (tick, lot), reference price and price band."""

from __future__ import annotations

import msgspec

_INT64_MAX = (1 << 63) - 1  # as engine.book.INT64_MAX: what a journal record can hold


def _check_int(name: str, value: object, minimum: int) -> None:
    if type(value) is not int:
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if value > _INT64_MAX:
        raise ValueError(f"{name} must be below 2**63, got {value}")


def check_band(band_pct: object, band_abs: object, prefix: str = "") -> None:
    """Raise unless the band rule is valid: each None or an int, 0 <= band_pct < 100, band_abs >= 0.

    TypeError for a value that is neither None nor an int (a bool is not an int), ValueError
    for one out of range. `prefix` names the owner in messages ("Product.").
    """
    if band_pct is not None:
        _check_int(f"{prefix}band_pct", band_pct, 0)
        if band_pct >= 100:
            raise ValueError(f"{prefix}band_pct must be < 100, got {band_pct}")
    if band_abs is not None:
        _check_int(f"{prefix}band_abs", band_abs, 0)


NO_BAND_HIGH = 1 << 62  # the high of `Product.band` without a band rule: every price is allowed


class Product(msgspec.Struct, frozen=True, gc=False):
    """One tradable product: its code, price grid, lot, reference price and band rules.

    Units are the engine's integers (for the rare-earth catalog: yuan/t, kg). `band_pct` is a
    whole percentage of the reference price (the previous settlement), `band_abs` an absolute
    half-width in price units and takes precedence when set; both None means no band.
    `min_block` is the smallest quantity a negotiated trade may have (None: one lot).
    """

    code: str
    name: str
    tick: int
    lot: int
    reference_price: int
    band_pct: int | None = 5
    band_abs: int | None = None
    min_block: int | None = None

    def __post_init__(self) -> None:
        if type(self.code) is not str or not self.code:
            raise ValueError(f"Product.code must be a non-empty str, got {self.code!r}")
        if type(self.name) is not str:  # a journal's header could not be read back
            raise TypeError(f"Product.name must be a str, got {type(self.name).__name__}")
        _check_int("Product.tick", self.tick, 1)
        _check_int("Product.lot", self.lot, 1)
        _check_int("Product.reference_price", self.reference_price, 1)
        if self.reference_price % self.tick:
            raise ValueError(
                f"Product.reference_price {self.reference_price} is not a multiple of "
                f"tick {self.tick}"
            )
        check_band(self.band_pct, self.band_abs, "Product.")
        if self.min_block is not None:
            _check_int("Product.min_block", self.min_block, 1)
            if self.min_block % self.lot:
                raise ValueError(
                    f"Product.min_block {self.min_block} is not a multiple of lot {self.lot}"
                )

    @property
    def block_minimum(self) -> int:
        """Smallest negotiated-trade quantity: `min_block`, or one lot."""
        return self.min_block if self.min_block is not None else self.lot

    def band(self, reference: int) -> tuple[int, int]:
        """The (low, high) prices on the tick grid allowed on a day whose reference is given.

        The band's edges are rounded inwards onto the grid and the low edge is at least one
        tick. Without a band rule every positive price is allowed (high is a huge sentinel).
        """
        tick = self.tick
        if self.band_abs is not None:
            low, high = reference - self.band_abs, reference + self.band_abs
        elif self.band_pct is not None:
            # exact integer bounds: ceil(ref*(100-p)/100) and floor(ref*(100+p)/100)
            low = -((-reference * (100 - self.band_pct)) // 100)
            high = reference * (100 + self.band_pct) // 100
        else:
            return tick, NO_BAND_HIGH
        low = max(tick, -(-low // tick) * tick)
        high = high // tick * tick
        if low > high:  # a band narrower than one tick: allow the grid price nearest the reference
            nearest = max(tick, (reference + tick // 2) // tick * tick)
            return nearest, nearest
        return low, high
