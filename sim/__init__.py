"""rexsim's simulator: agent-based enterprises trading on the exchange, scenarios and a recorder.

A script runs a scenario, changes it in code, and reads the recorder's results::

    import msgspec
    from sim import load_scenario, run

    sc = load_scenario("baotou-2024")                       # or a path to a TOML file
    sc = msgspec.structs.replace(sc, exchange=msgspec.structs.replace(
        sc.exchange, trade_price="median"))                  # scenarios are frozen structs,
                                                            # checked again when run
    res = run(sc, seed=2, until="2024-06-30")               # -> SimResults
    res.summary["tonnage_t"], res.trades.column("price")    # summary dict and tables
    res.write("out/median")                                 # summary.json, daily.csv, ...

A run's directory is read back, and its questions answered, with `load_run` and `analysis`::

    from sim import analysis, load_run

    r = load_run("out/median")                               # -> Run
    analysis.concentration(r).to_pandas()                    # HHI per product and side
    r.to_pandas("trades")                                    # DataFrame (rexsim[pandas])
"""

from importlib.metadata import PackageNotFoundError, version

from sim import analysis
from sim.errors import OutputError, RexsimError, RunError, RunFileError, ScenarioError
from sim.recorder import Recorder, SimResults, Table
from sim.runner import Simulation, run
from sim.runs import Run, Sweep, load_run
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
    "Run",
    "RunError",
    "RunFileError",
    "Scenario",
    "ScenarioError",
    "SimResults",
    "Simulation",
    "Sweep",
    "Table",
    "analysis",
    "builtin_scenarios",
    "load_run",
    "load_scenario",
    "parse_scenario",
    "run",
    "sensitivity",
    "sweep",
]
