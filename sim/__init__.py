"""rexsim's simulator: agent-based enterprises trading on the exchange, scenarios and a recorder."""

from sim.recorder import Recorder, SimResults, Table
from sim.runner import Simulation, run
from sim.scenario import Scenario, builtin_scenarios, load_scenario, parse_scenario

__all__ = [
    "Recorder",
    "Scenario",
    "SimResults",
    "Simulation",
    "Table",
    "builtin_scenarios",
    "load_scenario",
    "parse_scenario",
    "run",
]
