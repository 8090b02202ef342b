"""pytest-benchmark cases for the simulator: one month of baotou-2024 at scale 1 and 2.

Each round runs `sim.run` from scratch (population, exchange, agents, recorder); every case
asserts that trades happened and that the scaled run doubled the membership, so it can never
time nothing. The full-year numbers, efficiency and K = 1, 2, 4 are `python -m benchmarks sim`.
"""

from __future__ import annotations

import pytest

from sim import run

UNTIL = "2024-01-31"


@pytest.mark.parametrize("scale", [1, 2])
def test_one_month_of_baotou(benchmark, scale: int) -> None:
    res = benchmark.pedantic(run, args=("baotou-2024",),
                             kwargs={"seed": 1, "until": UNTIL, "scale": scale},
                             rounds=3, iterations=1)
    assert res.summary["trades"] > 0
    assert res.summary["members_start"] == scale * 760
