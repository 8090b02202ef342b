"""sim.limits: a run too large for its cap or the machine is refused, in one line, up front."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

import sim.limits as limits
import sim.runner
from sim import run
from sim.cli import main
from sim.errors import RunError
from sim.limits import MAX_RUN_MEMBERS, Need, check_size, estimate, expected_slots
from sim.runner import Simulation
from sim.scenario import load_scenario
from tests.sim.small import small_scenario

MB = 1_000_000


@pytest.fixture
def no_population(monkeypatch):
    """Fail the test if a run gets as far as drawing its population (allocating)."""
    def refuse(*args, **kwargs):
        raise AssertionError("the size check let the run start allocating")

    monkeypatch.setattr(sim.runner, "build_population", refuse)


@pytest.fixture
def memory(monkeypatch):
    """Pretend the machine has `memory(bytes)` available."""
    def set_available(n: int | None) -> None:
        monkeypatch.setattr(limits, "available_memory", lambda: n)

    return set_available


def big_members() -> object:
    return load_scenario("baotou-2024", ["population.members=1000000",
                                         "national.enterprises=1000000"])


def test_scale_beyond_the_cap_is_a_run_error_naming_scale(no_population):
    with pytest.raises(RunError) as info:
        run("baotou-2024", scale=1_000_000)
    exc = info.value
    assert exc.param == "scale" and exc.option == "--scale"
    assert str(exc).startswith("scale: a run of 1,000,000 x 987 members (population.members) "
                               "has 987,000,000 members, more than the 10,000,000")
    assert exc.for_cli().startswith("--scale: a run of 1,000,000 x 987 members")
    assert "\n" not in str(exc)


def test_cli_scale_1000000_exits_2_in_one_line_and_writes_nothing(tmp_path, capsys,
                                                                 monkeypatch, no_population):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--scale", "1000000"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("rexsim: --scale: a run of 1,000,000 x 987 members")
    assert captured.err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []  # not even out/ (the default --out's parent)


def test_refused_scale_suggests_the_largest_scale_that_fits(memory):
    memory(200 * MB)
    sc = load_scenario("baotou-2024")
    with pytest.raises(RunError) as info:
        check_size(sc, 64)
    suggested = int(str(info.value).rsplit("--scale ", 1)[1].split()[0].replace(",", ""))
    assert check_size(sc, suggested).bytes <= 200 * MB
    with pytest.raises(RunError):
        check_size(sc, suggested + 1)


def test_memory_beyond_the_machine_names_population_members(memory, no_population):
    memory(200 * MB)
    with pytest.raises(RunError) as info:
        run(big_members())
    exc = info.value
    assert exc.param == "population.members" and exc.option is None
    assert exc.for_cli() == str(exc)
    assert str(exc).startswith("population.members: a run of 1,000,000 members (")
    assert str(exc).endswith("more than the 200 MB this machine has available")


def test_quote_samples_of_a_long_calendar_name_steps_per_day(memory):
    memory(200 * MB)
    sc = load_scenario("baotou-2024", ["behaviour.steps_per_day=500", "calendar.end=2033-12-31",
                                       "population.members=20",
                                       "population.members_at_start=20"])
    with pytest.raises(RunError) as info:
        check_size(sc)
    assert info.value.param == "behaviour.steps_per_day"
    assert "500 steps a day over 2,591 trading days" in str(info.value)


def test_an_ordinary_run_fits_in_a_small_machine(memory):
    memory(150 * MB)
    need = check_size(load_scenario("baotou-2024"))
    assert 20 * MB < need.bytes < 60 * MB  # ~30 MB estimated, ~35 MB measured


def test_until_shortens_the_estimate():
    sc = load_scenario("baotou-2024")
    short = estimate(sc, until=dt.date(2024, 1, 31))
    full = estimate(sc)
    assert (short.days, short.months, full.days, full.months) == (22, 1, 200, 10)
    assert short.bytes < full.bytes


def test_unknown_memory_applies_only_the_cap(memory):
    memory(None)
    assert isinstance(check_size(big_members()), Need)
    with pytest.raises(RunError):
        check_size(load_scenario("baotou-2024"), MAX_RUN_MEMBERS // 987 + 1)
    assert check_size(load_scenario("baotou-2024"), MAX_RUN_MEMBERS // 987).members <= (
        MAX_RUN_MEMBERS)


def test_national_enterprises_costs_nothing_per_enterprise():
    """More enterprises for the same members mean fewer members trade each product."""
    base = load_scenario("baotou-2024")
    wide = load_scenario("baotou-2024", ["national.enterprises=1000000"])
    assert estimate(wide).bytes < estimate(base).bytes
    assert expected_slots(wide) < expected_slots(base)


@pytest.mark.parametrize("scale", [1, 3])
@pytest.mark.parametrize("variant", ["baotou-2024", "small", "many-members", "few-products"])
def test_expected_slots_match_the_built_agents(variant, scale, tmp_path):
    """The estimate follows sim.population's participation rule (drift shows up here)."""
    if variant == "small":
        sc = small_scenario()
    elif variant == "many-members":
        sc = load_scenario("baotou-2024", ["population.members=20000",
                                           "population.members_at_start=15000",
                                           "national.enterprises=80000"])
    elif variant == "few-products":
        sc = load_scenario("baotou-2024", ["products.*.monthly_tonnes=40",
                                           "roles.magnet_maker.buys=[\"PRND_OX\"]"])
    else:
        sc = load_scenario(variant)
    sc = msgspec.structs.replace(sc, calendar=msgspec.structs.replace(
        sc.calendar, end=min(sc.calendar.end, dt.date(2024, 3, 29))))
    # an expectation against draws: 150 members are too few for one membership to judge it
    # (their slots' sd over memberships is about 40, each market maker 28 slots), so the small
    # variant is judged on the mean of eight memberships
    memberships = [None] if variant != "small" else list(range(1, 9))
    counts = []
    for seed in memberships:
        drawn = sc if seed is None else msgspec.structs.replace(
            sc, population=msgspec.structs.replace(sc.population, seed=seed))
        (tmp_path / str(seed)).mkdir()
        built = Simulation(drawn, scale=scale, directory=tmp_path / str(seed))
        built.recorder.close()
        counts.append(built.agents.N)
    actual = sum(counts) / len(counts)
    assert abs(expected_slots(sc, scale) - actual) <= 0.06 * actual + 30


def test_available_memory_reads_meminfo(tmp_path, monkeypatch):
    info = tmp_path / "meminfo"
    info.write_text("MemTotal:       24683652 kB\nMemAvailable:    1234567 kB\n")
    monkeypatch.setattr(limits, "_MEMINFO", info)
    assert limits.available_memory() == 1234567 * 1024


def test_available_memory_is_none_without_meminfo_or_psutil(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "_MEMINFO", tmp_path / "absent")
    monkeypatch.setitem(sys.modules, "psutil", None)  # import psutil raises ImportError
    assert limits.available_memory() is None


def test_format_bytes():
    assert [limits.format_bytes(n) for n in (3, 870e6, 1.44e9, 2.3e12)] == [
        "1 MB", "870 MB", "1.4 GB", "2,300 GB"]


@pytest.mark.slow
@pytest.mark.skipif(not os.access("/proc/self/clear_refs", os.W_OK),
                    reason="needs Linux /proc to measure peak RSS")
def test_estimate_is_near_the_measured_peak(tmp_path):
    """The fit of sim.limits still holds for a scaled run (re-measure when this fails)."""
    proc = subprocess.run([sys.executable, "-m", "sim.limits", "--scale", "8", "--until",
                           "2024-01-31", "--measure"], capture_output=True, text=True,
                          cwd=tmp_path, check=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(Path(sim.__file__).parents[1])})
    need = json.loads(proc.stdout.splitlines()[0])
    ratio = float(proc.stdout.split("(x")[1].split(")")[0])
    assert need["members"] == 8 * 987
    assert 0.85 <= ratio <= 1.6, proc.stdout
