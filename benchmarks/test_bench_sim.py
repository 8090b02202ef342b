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



def test_a_recorded_run_replays_to_the_same_trades_without_its_agents() -> None:
    from benchmarks.sim_workload import check, record, replay_books, replay_exchange

    w = record(seed=2, until="2024-01-10")
    assert w.exchange_calls and w.book_calls and w.book_trades
    assert len(w.exchange_trades) > len(w.book_trades)  # negotiated deals skip the books
    check(w)
    assert replay_exchange(w) > 0 and replay_books(w) > 0


def test_a_replay_that_trades_differently_is_caught() -> None:
    from benchmarks.sim_workload import check, record

    w = record(seed=2, until="2024-01-05")
    w.book_calls = [c for c in w.book_calls if c[1] != "amend"]
    with pytest.raises(AssertionError, match="the book replay traded differently"):
        check(w)


def test_a_run_timed_part_by_part_covers_every_exchange_call_and_restores_its_methods() -> None:
    from benchmarks.sim_workload import SETUP, by_part, record, time_parts
    from sim.agents import Agents

    step = Agents.__dict__["step"]
    parts = time_parts(seed=2, until="2024-01-10")
    w = record(seed=2, until="2024-01-10")
    assert Agents.__dict__["step"] is step  # both put the methods back
    assert len(w.parts) == len(w.exchange_calls)
    assert SETUP in parts and all(s > 0 for s in parts.values())
    rows = by_part(parts, w, repeat=1)
    # every exchange call was made by a part the timed run also ran
    assert sum(r["exchange_calls"] for r in rows) == len(w.exchange_calls)
    makers = next(r for r in rows if r["part"] == "market makers' quotes")
    assert makers["exchange_calls"] > 0 and makers["exchange_seconds"] > 0
    assert sum(r["seconds"] for r in rows) == pytest.approx(sum(parts.values()))  # any order
