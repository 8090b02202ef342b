"""rexsim's simulator: agent-based enterprises trading on the exchange, scenarios and a recorder.

A script runs a scenario, changes it in code, and reads the recorder's results::

    import msgspec
    from sim import load_scenario, run

    sc = load_scenario("baotou-2024")                       # or a path to a TOML file
    sc = msgspec.structs.replace(sc, exchange=msgspec.structs.replace(
        sc.exchange, trade_price="median"))                  # scenarios are frozen structs
    res = run(sc, seed=2, until="2024-06-30")               # -> SimResults
    res.summary["tonnage_t"], res.trades.column("price")    # summary dict and tables
    res.write("out/median")                                 # summary.json, daily.csv, ...
"""

from importlib.metadata import PackageNotFoundError, version

from sim.errors import OutputError, RexsimError, RunError, RunFileError, ScenarioError
from sim.recorder import Recorder, SimResults, Table
from sim.runner import Simulation, run
from sim.scenario import Scenario, builtin_scenarios, load_scenario, parse_scenario
from sim.sensitivity import sensitivity
from sim.sweep import sweep

# sim.sweep and sim.sensitivity are the functions; their modules' other names import as
# `from sim.sweep import load_sweep` (`import sim.sweep as m` would give the function)

try:
    __version__ = version("rexsim")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "OutputError",
    "Recorder",
    "RexsimError",
    "RunError",
    "RunFileError",
    "Scenario",
    "ScenarioError",
    "SimResults",
    "Simulation",
    "Table",
    "builtin_scenarios",
    "load_scenario",
    "parse_scenario",
    "run",
    "sensitivity",
    "sweep",
]
