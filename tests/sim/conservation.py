"""The members' books balance: every fen and kg that entered or left them is accounted for."""

from __future__ import annotations


def assert_conserved(sim) -> None:
    """Cash and stock now equal the opening holdings plus every flow in, minus every flow out.

    Exchange trades move cash and stock between members only; what enters or leaves the
    members is income, fees, carrying costs, output, use and off-exchange deals.
    """
    a, rec = sim.agents, sim.recorder
    cash, stock = a.holdings()
    t = a.totals
    off_buy_kg, off_buy_fen = rec.off["buy"]
    off_sell_kg, off_sell_fen = rec.off["sell"]
    assert sum(cash) == (int(sim.population.cash.sum()) + t["income_fen"] - t["fees_fen"]
                         - t["carrying_cost_fen"] - sum(off_buy_fen) + sum(off_sell_fen))
    assert sum(map(sum, stock)) == (int(sim.population.stock.sum()) + sum(a.produced_kg)
                                    - t["used_kg"] + sum(off_buy_kg) - sum(off_sell_kg))
