"""Every built-in scenario runs with its ledger audited after each day, and conserves.

Money and stock are conserved across exchange trades, off-exchange deals, output, use, fees
and carrying costs.
"""

from __future__ import annotations

import datetime as dt

import pytest

from sim import Simulation
from sim.scenario import builtin_scenarios, load_scenario
from tests.sim.conservation import assert_conserved

# Past every built-in event (2024-06-03) by a week: the default suite audits the shocks.
SHORT_UNTIL = dt.date(2024, 6, 10)


def _audited(name: str, until: dt.date | None) -> Simulation:
    sim = Simulation(load_scenario(name), seed=2, until=until)
    for _ in range(sim.ndays):
        sim.run_day(check=True)  # agents' ledger against the exchange, every book's invariants
    summary = sim.results().summary
    assert summary["tonnage_kg"] > 0 and summary["off_exchange"]["tonnage_kg"] > 0
    last = sim.calendar.days[sim.ndays - 1].isoformat()
    for event in summary["events"]:  # each event due by the end took effect, on or after its date
        if event["date"] <= last:
            assert event["applied"] is not None and event["applied"] >= event["date"], event
    return sim


@pytest.mark.parametrize("name", builtin_scenarios())
def test_every_builtin_scenario_passes_the_daily_audit_through_its_events(name):
    assert_conserved(_audited(name, SHORT_UNTIL))


@pytest.mark.slow
@pytest.mark.parametrize("name", builtin_scenarios())
def test_every_builtin_scenario_passes_the_daily_audit_over_its_whole_calendar(name):
    assert_conserved(_audited(name, None))
