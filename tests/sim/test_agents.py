"""The agents' ledger of needs: each fill reaches its slot's need, in order."""

from __future__ import annotations

from engine import Side, Trade
from sim import Simulation
from tests.sim.small import small_scenario


def _filled(agents, slot: int, fills: int) -> None:
    """Fill a made-up open order of `slot` `fills` times, one lot each, as the exchange would."""
    lot = agents.lot[agents.slot_p_l[slot]]
    oid = 10**9 + slot
    agents.orders[oid] = [slot, 1000, lot * fills]
    taker = Side.SELL if agents.is_buy_l[slot] else Side.BUY
    for _ in range(fills):
        agents.apply([Trade(price=1000, qty=lot, maker_order_id=oid, taker_order_id=-1,
                            maker_owner=agents.slot_m_l[slot] + 1, taker_owner=0,
                            aggressor=taker)])


def test_fills_reduce_a_slots_need_in_order():
    sim = Simulation(small_scenario(), seed=1)
    sim.run_day()
    a = sim.agents
    slot = 0
    lot = a.lot[a.slot_p_l[slot]]
    before = float(a.need[slot])
    _filled(a, slot, 3)
    assert a.need[slot] == ((before - lot) - lot) - lot  # the same float steps, in order


def test_a_traders_purchase_becomes_its_resale_need():
    sim = Simulation(small_scenario(), seed=1)
    sim.run_day()
    a = sim.agents
    slot = next(s for s, r in enumerate(a.resell_l) if r >= 0)
    resale = a.resell_l[slot]
    lot = a.lot[a.slot_p_l[slot]]
    before = float(a.need[resale])
    _filled(a, slot, 2)
    assert a.need[resale] == (before + lot) + lot
