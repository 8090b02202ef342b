"""Products listed on the exchange: their grid (tick, lot), reference price and price band."""

from __future__ import annotations

import msgspec


def _check_int(name: str, value: object, minimum: int) -> None:
    if type(value) is not int:
        raise TypeError(f"Product.{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"Product.{name} must be >= {minimum}, got {value}")


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
        _check_int("tick", self.tick, 1)
        _check_int("lot", self.lot, 1)
        _check_int("reference_price", self.reference_price, 1)
        if self.reference_price % self.tick:
            raise ValueError(
                f"Product.reference_price {self.reference_price} is not a multiple of "
                f"tick {self.tick}"
            )
        if self.band_pct is not None:
            _check_int("band_pct", self.band_pct, 0)
            if self.band_pct >= 100:
                raise ValueError(f"Product.band_pct must be < 100, got {self.band_pct}")
        if self.band_abs is not None:
            _check_int("band_abs", self.band_abs, 0)
        if self.min_block is not None:
            _check_int("min_block", self.min_block, 1)
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
            return tick, 1 << 62
        low = max(tick, -(-low // tick) * tick)
        high = high // tick * tick
        if low > high:  # a band narrower than one tick: allow the grid price nearest the reference
            nearest = max(tick, (reference + tick // 2) // tick * tick)
            return nearest, nearest
        return low, high
