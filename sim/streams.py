"""Common random numbers: every draw a pure function of the seed, who draws, and which draw.

Each member's stream is spawned from the scenario seed and the member's id
(`SeedSequence(seed, spawn_key=(MEMBER, id))`), each product's national noise from the seed and
the product's position, and so on. A draw is then a counter-based hash of that stream's key
and the draw's coordinates (the day, the decision step, what the draw is for), computed for
many keys at once with numpy (SplitMix64's finaliser, which passes BigCrush as a generator).
So a what-if that changes one member, adds members, or makes some members act differently
leaves every other member's draws exactly as they were: paired comparisons of two scenarios
under one seed measure the change, not the noise.
"""

from __future__ import annotations

import numpy as np
import numpy.random  # noqa: F401 (imported now: numpy would import it lazily mid-run)

__all__ = ["Streams", "counter", "mix", "normal", "normal2", "uniform"]

# what a spawned stream belongs to (the first element of its spawn key)
MEMBER, PRODUCT, EXCHANGE = 1, 2, 3
# The constants are 0-d uint64 arrays rather than numpy scalars: the same wrapping uint64
# arithmetic, but an array-with-array operation skips numpy's scalar conversion, which on
# the short arrays of one decision step costs as much as the operation itself.
_M1 = np.array(0xBF58476D1CE4E5B9, dtype=np.uint64)
_M2 = np.array(0x94D049BB133111EB, dtype=np.uint64)
_S30, _S27, _S31, _S11 = (np.array(s, dtype=np.uint64) for s in (30, 27, 31, 11))
# (float constants too: 0-d float64 arrays, the same float64 arithmetic as Python floats)
_TO_UNIT = np.array(2.0 ** -53)
_TO_UNIT32 = np.array(2.0 ** -32)
_HALF = np.array(0.5)
_MINUS_TWO = np.array(-2.0)
_TWO_PI = np.array(2.0 * np.pi)
_S32 = np.array(32, dtype=np.uint64)
_LOW32 = np.array(0xFFFFFFFF, dtype=np.uint64)


_MASK = (1 << 64) - 1
_GOLDEN_INT = 0x9E3779B97F4A7C15


def mix(keys: np.ndarray, counter: int) -> np.ndarray:
    """64 well-mixed bits per key for draw number `counter` (uint64 arrays, wrapping).

    Array arithmetic on uint64 wraps silently; the scalar offset is computed in Python.
    """
    z = keys + np.array((counter * _GOLDEN_INT) & _MASK, dtype=np.uint64)
    t = z >> _S30
    z ^= t
    z *= _M1
    np.right_shift(z, _S27, out=t)
    z ^= t
    z *= _M2
    np.right_shift(z, _S31, out=t)
    z ^= t
    return z


def _unit(keys: np.ndarray, lane: int) -> np.ndarray:
    # uint64 * float64 converts the integers to float64 first: astype's conversion, one call
    return np.multiply(mix(keys, lane) >> _S11, _TO_UNIT)


def uniform(keys: np.ndarray, counter: int) -> np.ndarray:
    """Uniform floats in [0, 1), one per key, for draw number `counter`."""
    return _unit(keys, counter << 2)


def normal(keys: np.ndarray, counter: int) -> np.ndarray:
    """Standard normal floats, one per key, for draw number `counter` (Box-Muller).

    Its two uniforms are the halves of one draw in a lane of its own, so `uniform(k, c)`
    and `normal(k, c)` are independent draws.
    """
    z = mix(keys, (counter << 2) | 1)  # two 32-bit uniforms from one draw
    u1 = np.add(z >> _S32, _HALF) * _TO_UNIT32  # in (0, 1) (the integers as float64, + 0.5)
    u2 = np.multiply(z & _LOW32, _TO_UNIT32)
    return np.sqrt(_MINUS_TWO * np.log(u1)) * np.cos(_TWO_PI * u2)


def normal2(keys: np.ndarray, counter: int) -> tuple[np.ndarray, np.ndarray]:
    """Two independent standard normal floats per key from one draw.

    Both Box-Muller outputs; the first is `normal(keys, counter)`.
    """
    z = mix(keys, (counter << 2) | 1)
    u1 = np.add(z >> _S32, _HALF) * _TO_UNIT32
    u2 = np.multiply(z & _LOW32, _TO_UNIT32)
    r = np.sqrt(_MINUS_TWO * np.log(u1))
    angle = _TWO_PI * u2
    return r * np.cos(angle), r * np.sin(angle)


def counter(*coordinates: int) -> int:
    """One draw number from its coordinates (day, step, purpose, ...).

    Each below 2**16, at most three of them, the first below 2**14, so lanes fit in 64 bits.
    """
    out = 0
    for c in coordinates:
        out = (out << 16) | (c & 0xFFFF)
    return out


class Streams:
    """The keys of every stream of one run, spawned from its seed."""

    __slots__ = ("seed",)

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def _key(self, kind: int, index: int) -> int:
        ss = np.random.SeedSequence(self.seed, spawn_key=(kind, index))
        return int(ss.generate_state(1, dtype=np.uint64)[0])

    def members(self, ids: np.ndarray) -> np.ndarray:
        """Each member's stream key, spawned from the seed and the member's id (uint64).

        Exactly `SeedSequence(seed, spawn_key=(MEMBER, id)).generate_state(1, np.uint64)`
        for each id, worked out for every id at once (`_spawned_keys`) where the id fits in
        32 bits, and one SeedSequence at a time otherwise.
        """
        ids = [int(i) for i in ids]
        if type(self.seed) is int and self.seed >= 0 and all(0 <= i <= _LOW32_INT for i in ids):
            return _spawned_keys(self.seed, MEMBER, ids)
        return np.array([self._key(MEMBER, i) for i in ids], dtype=np.uint64)

    def products(self, count: int) -> np.ndarray:
        """Each product's stream key (national noise), by the product's position."""
        return np.array([self._key(PRODUCT, j) for j in range(count)], dtype=np.uint64)

    def exchange(self) -> np.ndarray:
        """The key of draws that belong to no member (one element, uint64)."""
        return np.array([self._key(EXCHANGE, 0)], dtype=np.uint64)

    @staticmethod
    def sub(keys: np.ndarray, index: np.ndarray | int) -> np.ndarray:
        """Keys of sub-streams (a member's slot for one product and side), by index."""
        salt = mix(np.asarray(index, dtype=np.uint64) + np.uint64(1), 1)
        return mix(mix(keys, 0) ^ salt, 2)


# numpy's SeedSequence (numpy/random/bit_generator.pyx: the hash constants and the mixing of
# its entropy pool), for many spawn keys at once
_LOW32_INT = 0xFFFFFFFF
_POOL_SIZE = 4
_INIT_A, _MULT_A = 0x43B0D7E5, 0x931E8875
_INIT_B, _MULT_B = 0x8B51F9DD, 0x58F38DED
_MIX_L, _MIX_R = np.uint32(0xCA01F9DD), np.uint32(0x4973F715)
_S16 = np.uint32(16)


def _spawned_keys(seed: int, kind: int, ids: list[int]) -> np.ndarray:
    """`SeedSequence(seed, spawn_key=(kind, i)).generate_state(1, np.uint64)[0]` for each i.

    `seed` >= 0 and `kind` and every id in [0, 2**32): then every id's entropy (the seed's
    32-bit words padded to the pool size, then kind, then id) has the same length, so the
    hash constants run the same course for every id and the whole computation is one pass
    of uint32 arrays (wrapping arithmetic, as SeedSequence's own).
    """
    n = len(ids)
    words = []
    while True:  # the seed's 32-bit words, least significant first (0: one word)
        words.append(seed & _LOW32_INT)
        seed >>= 32
        if not seed:
            break
    words += [0] * (_POOL_SIZE - len(words))  # a spawned sequence pads its run entropy
    entropy = [np.full(n, w, dtype=np.uint32) for w in words + [kind]]
    entropy.append(np.array(ids, dtype=np.uint32))
    hash_const = _INIT_A

    def hashmix(value: np.ndarray) -> np.ndarray:
        nonlocal hash_const
        value = value ^ np.uint32(hash_const)
        hash_const = (hash_const * _MULT_A) & _LOW32_INT
        value = value * np.uint32(hash_const)
        return value ^ (value >> _S16)

    def mix32(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        result = _MIX_L * x - _MIX_R * y
        return result ^ (result >> _S16)

    pool = [hashmix(entropy[i]) for i in range(_POOL_SIZE)]
    for src in range(_POOL_SIZE):
        for dst in range(_POOL_SIZE):
            if src != dst:
                pool[dst] = mix32(pool[dst], hashmix(pool[src]))
    for src in range(_POOL_SIZE, len(entropy)):
        for dst in range(_POOL_SIZE):
            pool[dst] = mix32(pool[dst], hashmix(entropy[src]))
    # generate_state: two 32-bit words from the pool, the first the low half of the key
    hash_const = _INIT_B
    out = []
    for word in pool[:2]:
        value = word ^ np.uint32(hash_const)
        hash_const = (hash_const * _MULT_B) & _LOW32_INT
        value = value * np.uint32(hash_const)
        out.append(value ^ (value >> _S16))
    return out[0].astype(np.uint64) | (out[1].astype(np.uint64) << np.uint64(32))
